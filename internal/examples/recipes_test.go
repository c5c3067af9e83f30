package examples

import (
	"slices"
	"strings"
	"testing"

	"github.com/stax-dev/blueprint-operator/internal/render"
)

// fencedBlocks returns the ```yaml blocks of a Markdown page under each
// "## " heading.
func fencedBlocks(page string) map[string][]string {
	out := map[string][]string{}
	heading := ""
	var block *strings.Builder
	for line := range strings.Lines(page) {
		trimmed := strings.TrimRight(line, "\n")
		switch {
		case block == nil && strings.HasPrefix(trimmed, "## "):
			heading = strings.TrimPrefix(trimmed, "## ")
		case block == nil && trimmed == "```yaml":
			block = &strings.Builder{}
		case block != nil && trimmed == "```":
			out[heading] = append(out[heading], block.String())
			block = nil
		case block != nil:
			block.WriteString(line)
		}
	}
	return out
}

// The MySQL and Redis recipes of docs/rotation-hooks.md are services as a
// user pastes them under spec.services: each must pass the API server's
// schema and CEL rules and the operator's checks (as kubectl blueprint
// validate runs them), and render a hook Job that gets CURRENT_VALUE and
// NEW_VALUE from the generated Secret. The Postgres recipe is the tested
// examples/postgres-rotation-hook.yaml, whose hook it must quote.
func TestRotationHookRecipes(t *testing.T) {
	page := readFile(t, "docs", "rotation-hooks.md")
	blocks := fencedBlocks(page)

	for _, recipe := range []struct{ heading, service, secret string }{
		{"MySQL", "mysql", "mysql-root-password"},
		{"Redis", "redis", "redis-password"},
	} {
		t.Run(recipe.heading, func(t *testing.T) {
			if len(blocks[recipe.heading]) != 1 {
				t.Fatalf("docs/rotation-hooks.md: %d yaml blocks under ## %s, want 1", len(blocks[recipe.heading]), recipe.heading)
			}
			var indented strings.Builder
			for line := range strings.Lines(blocks[recipe.heading][0]) {
				indented.WriteString("    " + line)
			}
			manifest := "apiVersion: stax.dev/v1alpha1\nkind: Blueprint\nmetadata:\n  name: shop\n  namespace: shop\nspec:\n  services:\n" + indented.String()
			res := validated(t, manifest)
			for _, p := range res.Problems {
				t.Errorf("%s: %s", p.Field, p.Message)
			}
			if res.Blueprint == nil {
				t.FailNow()
			}
			plan, errs := render.Build(res.Blueprint)
			if len(errs) > 0 {
				t.Fatalf("render: %v", errs)
			}
			i := slices.IndexFunc(plan.Managed, func(m render.ManagedSecret) bool { return m.Name == recipe.secret })
			if i < 0 || plan.Managed[i].Hook == nil {
				t.Fatalf("no managed secret %s with a hook in %+v", recipe.secret, plan.Managed)
			}
			job, err := render.HookJob(res.Blueprint, plan, plan.Managed[i], render.HookJobName(res.Blueprint.Name, plan.Managed[i].Name, 1), int64(plan.Managed[i].HookTimeout().Seconds()), "token")
			if err != nil {
				t.Fatal(err)
			}
			c := job.Spec.Template.Spec.Containers[0]
			// The recipe's command reaches the hook's container, with both
			// values from the generated Secret.
			if !strings.Contains(strings.Join(c.Command, " "), "$NEW_VALUE") {
				t.Errorf("the hook's command %q does not use NEW_VALUE", c.Command)
			}
			refs := map[string]string{}
			for _, e := range c.Env {
				if e.ValueFrom != nil && e.ValueFrom.SecretKeyRef != nil {
					refs[e.Name] = e.ValueFrom.SecretKeyRef.Name + "/" + e.ValueFrom.SecretKeyRef.Key
				}
			}
			want := map[string]string{
				render.HookEnvCurrentValue: "shop-generated/" + recipe.secret,
				render.HookEnvNewValue:     "shop-generated/" + render.StagedKey(recipe.secret),
			}
			for k, v := range want {
				if refs[k] != v {
					t.Errorf("%s = secretKeyRef %q, want %q", k, refs[k], v)
				}
			}
			// The recipe's service renders too, with the value in its env.
			var found bool
			for _, svc := range plan.Services {
				if svc.Name != recipe.service {
					continue
				}
				for _, e := range svc.Deployment.Spec.Template.Spec.Containers[0].Env {
					found = found || (e.ValueFrom != nil && e.ValueFrom.SecretKeyRef != nil && *e.ValueFrom.SecretKeyRef.Key == recipe.secret)
				}
			}
			if !found {
				t.Errorf("Deployment %s does not get %s as a secretKeyRef", recipe.service, recipe.secret)
			}
		})
	}

	// Postgres: the page's hook is the example's, line for line.
	pg := blocks["Postgres"]
	if len(pg) != 1 {
		t.Fatalf("docs/rotation-hooks.md: %d yaml blocks under ## Postgres, want 1", len(pg))
	}
	example := readFile(t, "examples", "postgres-rotation-hook.yaml")
	for line := range strings.Lines(pg[0]) {
		line = strings.TrimSpace(line)
		if line != "" && !strings.Contains(example, line) {
			t.Errorf("docs/rotation-hooks.md's Postgres hook has %q, which examples/postgres-rotation-hook.yaml does not", line)
		}
	}
}
