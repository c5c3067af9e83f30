package examples

import (
	"context"
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	staxv1alpha1 "github.com/stax-dev/blueprint-operator/api/v1alpha1"
	"github.com/stax-dev/blueprint-operator/internal/depgraph"
	"github.com/stax-dev/blueprint-operator/internal/render"
	"github.com/stax-dev/blueprint-operator/internal/status"
	"github.com/stax-dev/blueprint-operator/internal/validate"
)

func readFile(t *testing.T, path ...string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(append([]string{repo}, path...)...))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func parseDir(t *testing.T, dir string) []*ast.File {
	t.Helper()
	paths, err := filepath.Glob(filepath.Join(repo, dir, "*.go"))
	if err != nil {
		t.Fatal(err)
	}
	fset := token.NewFileSet()
	var files []*ast.File
	for _, p := range paths {
		if strings.HasSuffix(p, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, p, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		files = append(files, f)
	}
	if len(files) == 0 {
		t.Fatalf("no Go files in %s", dir)
	}
	return files
}

// The reasons are read from the source rather than listed here, so a reason
// added to api/v1alpha1 fails this test until the page explains it.
func TestTroubleshootingHasASectionPerReason(t *testing.T) {
	page := readFile(t, "docs", "troubleshooting.md")
	headings := map[string]bool{}
	for line := range strings.Lines(page) {
		if h, ok := strings.CutPrefix(strings.TrimRight(line, "\n"), "## "); ok {
			headings[h] = true
		}
	}

	reasons := codeReasons(t)
	for _, r := range append(reasons, "Rotation did not happen", "Pods did not restart after I changed a Secret") {
		if !headings[r] {
			t.Errorf("docs/troubleshooting.md has no section \"## %s\"", r)
		}
	}
}

// codeReasons returns the value of every Reason* constant of api/v1alpha1,
// read from the source, so a reason added there is required of every page
// that lists them.
func codeReasons(t *testing.T) []string {
	t.Helper()
	var reasons []string
	for _, f := range parseDir(t, filepath.Join("api", "v1alpha1")) {
		for _, decl := range f.Decls {
			gd, ok := decl.(*ast.GenDecl)
			if !ok || gd.Tok != token.CONST {
				continue
			}
			for _, spec := range gd.Specs {
				vs := spec.(*ast.ValueSpec)
				for i, name := range vs.Names {
					if !strings.HasPrefix(name.Name, "Reason") || i >= len(vs.Values) {
						continue
					}
					lit, ok := vs.Values[i].(*ast.BasicLit)
					if !ok || lit.Kind != token.STRING {
						t.Errorf("%s is not a string literal; this test cannot read it", name.Name)
						continue
					}
					reason, _ := strconv.Unquote(lit.Value)
					reasons = append(reasons, reason)
				}
			}
		}
	}
	// The reasons known when this test was written must be among those
	// found, or the parsing above has stopped seeing them.
	for _, r := range []string{staxv1alpha1.ReasonAvailable, staxv1alpha1.ReasonProgressing, staxv1alpha1.ReasonSecretNotFound,
		staxv1alpha1.ReasonSecretKeyNotFound, staxv1alpha1.ReasonInvalidReference, staxv1alpha1.ReasonDependencyCycle,
		staxv1alpha1.ReasonConflict, staxv1alpha1.ReasonReconcileError, staxv1alpha1.ReasonSecretNotReferenceable} {
		if !slices.Contains(reasons, r) {
			t.Errorf("reason %s not found by parsing api/v1alpha1", r)
		}
	}
	return reasons
}

// formatRegexp turns a fmt format into a pattern that matches what it
// prints. Arguments in this code are names (of services, Secrets, keys) and
// lists of names, so %s and %v match a run of characters up to a space or a
// semicolon: enough to tie the literal text on both sides together.
func formatRegexp(format string) string {
	var b strings.Builder
	for i := 0; i < len(format); i++ {
		if format[i] != '%' || i+1 == len(format) {
			b.WriteString(regexp.QuoteMeta(format[i : i+1]))
			continue
		}
		i++
		switch format[i] {
		case 'd':
			b.WriteString(`\d+`)
		case 'q':
			b.WriteString(`"[^"]*"`)
		case '%':
			b.WriteString("%")
		default:
			b.WriteString(`[^\s;]+`)
		}
	}
	return b.String()
}

// messageRegexp returns the pattern of what expression e prints, and false
// when e is not built from literal text (err.Error(), say).
func messageRegexp(e ast.Expr) (string, bool) {
	switch e := e.(type) {
	case *ast.BasicLit:
		s, err := strconv.Unquote(e.Value)
		return regexp.QuoteMeta(s), err == nil
	case *ast.BinaryExpr:
		if e.Op != token.ADD {
			return "", false
		}
		x, okX := messageRegexp(e.X)
		y, okY := messageRegexp(e.Y)
		if !okX && !okY {
			return "", false
		}
		if !okX {
			x = `.+`
		}
		if !okY {
			y = `.+`
		}
		return x + y, true
	case *ast.CallExpr:
		if sel, ok := e.Fun.(*ast.SelectorExpr); ok && sel.Sel.Name == "Sprintf" && len(e.Args) > 0 {
			if lit, ok := e.Args[0].(*ast.BasicLit); ok {
				s, err := strconv.Unquote(lit.Value)
				return formatRegexp(s), err == nil
			}
		}
	}
	return "", false
}

// Every condition message and event the operator writes from literal text
// (worded in internal/status and internal/values, see wordingDirs) must be
// quoted on the page in a form that matches it, so that rewording one in
// the code fails here until the page is updated.
func TestTroubleshootingQuotesControllerMessages(t *testing.T) {
	page := readFile(t, "docs", "troubleshooting.md")
	type message struct{ what, pattern string }
	var messages []message
	reasons := map[string]bool{}

	for _, p := range problemLiterals(t) {
		if pattern, ok := messageRegexp(p.message); ok {
			messages = append(messages, message{"status.Problem " + p.reason, pattern})
			reasons[p.reason] = true
		}
	}
	for _, e := range eventLiterals(t) {
		// The Ready-reason event's note is the Ready message, quoted
		// above; it has no text of its own to check.
		if p, ok := messageRegexp(e.note); ok {
			messages = append(messages, message{"event " + e.reason, p})
		}
	}

	// The parsing must keep finding what it was written for.
	for _, r := range []string{"ReasonSecretNotFound", "ReasonSecretKeyNotFound", "ReasonConflict", "ReasonDependencyCycle", "ReasonProgressing"} {
		if !reasons[r] {
			t.Errorf("no status.Problem with %s found in %v", r, wordingDirs)
		}
	}
	if len(messages) < 10 {
		t.Errorf("found only %d messages in %v; has the code's shape changed?", len(messages), wordingDirs)
	}
	for _, m := range messages {
		if !regexp.MustCompile(m.pattern).MatchString(page) {
			t.Errorf("docs/troubleshooting.md quotes no message of %s matching %s", m.what, m.pattern)
		}
	}
}

// payments is the Blueprint of the README and config/samples, which the page
// uses throughout.
func payments(t *testing.T) string {
	return readFile(t, "config", "samples", "stax_v1alpha1_blueprint.yaml")
}

func replace(t *testing.T, s, old, new string) string {
	t.Helper()
	if !strings.Contains(s, old) {
		t.Fatalf("%q not found: the sample Blueprint changed; update this test and docs/troubleshooting.md", old)
	}
	return strings.Replace(s, old, new, 1)
}

func validated(t *testing.T, manifest string) validate.Result {
	t.Helper()
	results, err := validate.Documents(context.Background(), strings.NewReader(manifest))
	if err != nil || len(results) != 1 {
		t.Fatalf("validate: %d results, %v", len(results), err)
	}
	return results[0]
}

// Messages that pure code computes are computed here and must appear on the
// page (or in the example that quotes one) verbatim.
func TestTroubleshootingQuotesComputedMessages(t *testing.T) {
	page := readFile(t, "docs", "troubleshooting.md")
	quoted := func(where, text, msg string) {
		t.Helper()
		if !strings.Contains(text, msg) {
			t.Errorf("%s does not quote:\n%s", where, msg)
		}
	}
	sample := payments(t)

	// InvalidReference: the controller's message is render.Build's error.
	for name, edit := range map[string]func(bp *staxv1alpha1.Blueprint){
		"undeclared managed secret": func(bp *staxv1alpha1.Blueprint) {
			bp.Spec.Services[1].Env["DATABASE_URL"] = "postgres://postgres:${secret:db-pasword}@db:5432/payments"
		},
		"namespace in a reference": func(bp *staxv1alpha1.Blueprint) {
			bp.Spec.Services[1].Env["STRIPE_KEY"] = "${secret:shared/stripe/api-key}"
		},
		"reserved variable name": func(bp *staxv1alpha1.Blueprint) {
			bp.Spec.Services[1].Env["STAX_REF_TOKEN"] = "x"
		},
	} {
		res := validated(t, sample)
		if res.Blueprint == nil {
			t.Fatalf("the sample Blueprint has problems: %+v", res.Problems)
		}
		edit(res.Blueprint)
		_, errs := render.Build(res.Blueprint)
		if len(errs) != 1 {
			t.Fatalf("%s: got %d render errors, want 1", name, len(errs))
		}
		quoted("docs/troubleshooting.md ("+name+")", page, errs[0].Error())
	}

	// What kubectl blueprint validate prints for the same mistakes, in its
	// FILE: blueprint/NAME: FIELD: message form.
	typo := validated(t, replace(t, sample, "${secret:db-password}@db", "${secret:db-pasword}@db"))
	cycle := validated(t, replace(t, sample, "dependsOn: [db]", "dependsOn: [db, worker]")+
		"    - name: worker\n      image: ghcr.io/example/payments-worker:1.4.2\n      dependsOn: [api]\n")
	for _, res := range []validate.Result{typo, cycle} {
		if len(res.Problems) != 1 {
			t.Fatalf("got problems %+v, want one", res.Problems)
		}
		p := res.Problems[0]
		quoted("docs/troubleshooting.md (kubectl blueprint validate)", page,
			"blueprint.yaml: blueprint/"+res.Name+": "+p.Field+": "+p.Message)
	}

	// PlaintextSecret: a pasted key, as the controller (render.Build's
	// error) and kubectl blueprint validate word it. The key is assembled
	// here so this file holds no token a scanner would flag.
	pasted := "sk_live_" + "4eC39HqLyjWDarjtT1zdp7dcAbCdEfGh"
	withKey := validated(t, sample).Blueprint
	withKey.Spec.Services[1].Env["STRIPE_KEY"] = staxv1alpha1.EnvValue(pasted)
	if _, errs := render.Build(withKey); len(errs) != 1 || len(errs[0].Plaintext) == 0 {
		t.Errorf("a pasted key: render errors %v, want one PlaintextSecret", errs)
	} else {
		quoted("docs/troubleshooting.md (PlaintextSecret)", page, errs[0].Error())
	}
	if res := validated(t, replace(t, sample, "${secret:stripe/api-key}", pasted)); len(res.Problems) != 1 {
		t.Errorf("a pasted key: validate found %+v, want one problem", res.Problems)
	} else {
		quoted("docs/troubleshooting.md (kubectl blueprint validate, PlaintextSecret)", page,
			"blueprint.yaml: blueprint/"+res.Name+": "+res.Problems[0].Field+": "+res.Problems[0].Message)
	}

	// SecretNotFound, SecretKeyNotFound and SecretNotReferenceable, for a
	// value read by an env var and by another field, as status words them
	// for the controller.
	for _, state := range []status.ReferenceState{status.ReferenceSecretNotFound, status.ReferenceKeyNotFound, status.ReferenceNotReferenceable} {
		for _, use := range []status.ReferenceUse{{EnvKey: "STRIPE_KEY"}, {Field: "args[1]"}} {
			use.Service, use.Secret, use.Key, use.Namespace = "api", "stripe", "api-key", "payments"
			p, ok := status.ReferenceProblem(use, state)
			if !ok {
				t.Fatalf("status.ReferenceProblem(%+v, %v) reports no problem", use, state)
			}
			quoted("docs/troubleshooting.md ("+p.Reason+")", page, p.Message)
		}
	}

	// DependencyCycle, spelled by depgraph as the controller spells it.
	cyclic := validated(t, sample).Blueprint
	cyclic.Spec.Services[1].DependsOn = []string{"db", "worker"}
	cyclic.Spec.Services = append(cyclic.Spec.Services, staxv1alpha1.BlueprintService{Name: "worker", DependsOn: []string{"api"}})
	quoted("docs/troubleshooting.md", page, "dependsOn forms a cycle: "+depgraph.Format(depgraph.Cycle(cyclic.Spec.Services)))

	// Available and Progressing, as status computes them.
	ready := func(obs ...status.ServiceObservation) string {
		st := &staxv1alpha1.BlueprintStatus{}
		status.Apply(st, status.Observation{Services: obs})
		return st.Conditions[0].Message
	}
	quoted("docs/troubleshooting.md", page, ready(
		status.ServiceObservation{Name: "db", Desired: 1, Ready: 1, Available: true},
		status.ServiceObservation{Name: "api", Desired: 2, Ready: 2, Available: true}))
	quoted("docs/troubleshooting.md", page, ready(
		status.ServiceObservation{Name: "db", Desired: 1, Ready: 1, Available: true},
		status.ServiceObservation{Name: "api", Desired: 2}))
	quoted("docs/troubleshooting.md", page, ready(
		status.ServiceObservation{Name: "db", Desired: 1},
		status.ServiceObservation{Name: "api", Desired: 2, WaitingFor: []string{"db"}}))
	// examples/three-service-app.yaml right after it is applied: nothing is
	// available, and each service but db waits for what it depends on.
	quoted("examples/three-service-app.yaml", readFile(t, "examples", "three-service-app.yaml"), ready(
		status.ServiceObservation{Name: "web", Desired: 3, WaitingFor: []string{"api"}},
		status.ServiceObservation{Name: "api", Desired: 2, WaitingFor: []string{"db"}},
		status.ServiceObservation{Name: "db", Desired: 1}))
}
