package examples

import (
	"flag"
	"fmt"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"

	rbacv1 "k8s.io/api/rbac/v1"
	ctrlmetrics "sigs.k8s.io/controller-runtime/pkg/metrics"
	"sigs.k8s.io/yaml"

	"github.com/stax-dev/blueprint-operator/internal/managerflags"
	// Registers the operator's metrics in controller-runtime's registry, as
	// the manager does.
	_ "github.com/stax-dev/blueprint-operator/internal/metrics"
)

// The README's tables of flags, Ready reasons, RBAC grants and metrics are
// read here and compared with what the code declares: the manager's FlagSet
// (internal/managerflags, which cmd/main.go parses), the Reason constants of
// api/v1alpha1, config/rbac/role.yaml, and the metrics registry. Each list
// is read from the code, so something added there fails here until the
// README says it.

func managerFlagSet() *flag.FlagSet {
	fs := flag.NewFlagSet("manager", flag.ContinueOnError)
	managerflags.Bind(fs)
	return fs
}

var backticked = regexp.MustCompile("`([^`]+)`")

func backtickedIn(cell string) []string {
	var out []string
	for _, m := range backticked.FindAllStringSubmatch(cell, -1) {
		out = append(out, m[1])
	}
	return out
}

// inlineCode returns the `code` spans of a Markdown page, line by line,
// outside fenced code blocks.
func inlineCode(text string) []string {
	var out []string
	fenced := false
	for line := range strings.Lines(text) {
		if strings.HasPrefix(strings.TrimSpace(line), "```") {
			fenced = !fenced
			continue
		}
		if !fenced {
			out = append(out, backtickedIn(line)...)
		}
	}
	return out
}

// Every row of the README's flag tables names flags of the manager, and its
// default is the flag's, as the flag parses it: `168h` is 168h0m0s.
func TestREADMEFlagDefaults(t *testing.T) {
	readme := readFile(t, "README.md")
	rows := append(tableRows(t, readme, "| flag | default | meaning |"), tableRows(t, readme, "| flag | default | why |")...)
	checked := 0
	for _, row := range rows {
		var names []string
		for _, n := range backtickedIn(row[0]) {
			names = append(names, strings.TrimPrefix(n, "--"))
		}
		// `--kube-api-qps` / `--kube-api-burst` | -1 (off) / 0
		defaults := strings.Split(row[1], " / ")
		if len(names) == 0 || len(defaults) != len(names) {
			t.Errorf("README flag row %q: %d flags, %d defaults", row[0], len(names), len(defaults))
			continue
		}
		for i, name := range names {
			def := strings.Trim(strings.TrimSpace(regexp.MustCompile(`\s*\([^)]*\)$`).ReplaceAllString(defaults[i], "")), "`")
			fs := managerFlagSet()
			f := fs.Lookup(name)
			if f == nil {
				t.Errorf("README's flag table lists --%s, which the manager does not have", name)
				continue
			}
			if err := fs.Set(name, def); err != nil {
				t.Errorf("README gives --%s the default %q, which the flag refuses: %v", name, def, err)
				continue
			}
			if got := f.Value.String(); got != f.DefValue {
				t.Errorf("README gives --%s the default %q (%s); the manager's is %s", name, def, got, f.DefValue)
			}
			checked++
		}
	}
	if checked < 9 {
		t.Errorf("only %d flag defaults checked: has the README's table changed shape?", checked)
	}
}

// otherCommandsFlags are flags the pages name in backticks that are not the
// manager's.
var otherCommandsFlags = map[string]string{
	"context":     "kubectl's, which the plugin takes",
	"kubeconfig":  "kubectl's, which the plugin takes",
	"plan":        "kubectl blueprint render",
	"wait":        "kubectl blueprint rotate",
	"for":         "kubectl blueprint wake",
	"set":         "helm install",
	"password":    "an argument of an example container",
	"build-arg":   "docker build",
	"db-password": "an argument of an example container (the plaintext guard)",
	"keep-values": "kubectl blueprint import",
	"dry-run":     "kubectl blueprint import",
	"name":        "kubectl blueprint import",
	"no-masking":  "kubectl blueprint run",
	"files":       "kubectl blueprint run",
	"requirepass": "an argument of redis-server (kubectl blueprint import)",
}

// Every flag the pages name exists, and every flag of the manager is named
// in the README (the zap logging flags as a family).
func TestREADMENamesEveryFlag(t *testing.T) {
	fs := managerFlagSet()
	named := map[string]bool{}
	for _, page := range handWrittenPages {
		for _, tok := range inlineCode(readFile(t, page)) {
			name, ok := strings.CutPrefix(tok, "--")
			if !ok {
				continue
			}
			name = regexp.MustCompile(`^[a-z0-9-]+`).FindString(name)
			if page == "README.md" {
				named[name] = true
			}
			if fs.Lookup(name) == nil && otherCommandsFlags[name] == "" {
				t.Errorf("%s names --%s, which the manager does not have", page, name)
			}
		}
	}
	n := 0
	fs.VisitAll(func(f *flag.Flag) {
		n++
		if !named[f.Name] && !(strings.HasPrefix(f.Name, "zap-") && named["zap-log-level"]) {
			t.Errorf("the manager has --%s, which the README does not name", f.Name)
		}
	})
	if n < 20 {
		t.Errorf("the manager's FlagSet has only %d flags", n)
	}
}

// The README's Ready-reason table has a row for every reason the code
// declares (read from api/v1alpha1, so a new reason is required here too),
// and none other.
func TestREADMEReasonTable(t *testing.T) {
	var listed []string
	for _, row := range tableRows(t, readFile(t, "README.md"), "| Ready reason | means | what to do |") {
		listed = append(listed, strings.Trim(row[0], "`"))
	}
	reasons := codeReasons(t)
	for _, r := range reasons {
		if !slices.Contains(listed, r) {
			t.Errorf("README's Ready-reason table has no row for %s", r)
		}
	}
	for _, r := range listed {
		if !slices.Contains(reasons, r) {
			t.Errorf("README's Ready-reason table lists %s, which api/v1alpha1 does not declare", r)
		}
	}
}

// The README's table of the manager's ClusterRole grants exactly the verbs of
// config/rbac/role.yaml, resource by resource.
func TestREADMERBACTable(t *testing.T) {
	var role rbacv1.ClusterRole
	if err := yaml.UnmarshalStrict([]byte(readFile(t, "config", "rbac", "role.yaml")), &role); err != nil {
		t.Fatal(err)
	}
	// kubectl's spelling: resource.group, or resource for the core group.
	granted := map[string][]string{}
	for _, r := range role.Rules {
		for _, g := range r.APIGroups {
			for _, res := range r.Resources {
				name := res
				if g != "" {
					base, sub, _ := strings.Cut(res, "/")
					name = base + "." + g
					if sub != "" {
						name += "/" + sub
					}
				}
				granted[name] = append(granted[name], r.Verbs...)
			}
		}
	}
	if len(granted) < 10 {
		t.Fatalf("role.yaml grants on %d resources: has its shape changed?", len(granted))
	}
	listed := map[string][]string{}
	for _, row := range tableRows(t, readFile(t, "README.md"), "| resource | verbs | what for |") {
		for _, res := range backtickedIn(row[0]) {
			if _, dup := listed[res]; dup {
				t.Errorf("README's RBAC table lists %s twice", res)
			}
			listed[res] = backtickedIn(row[1])
		}
	}
	for res, verbs := range granted {
		sort.Strings(verbs)
		want := listed[res]
		sort.Strings(want)
		if !slices.Equal(verbs, want) {
			t.Errorf("README's RBAC table gives %s the verbs %v; role.yaml grants %v", res, want, verbs)
		}
	}
	for res := range listed {
		if _, ok := granted[res]; !ok {
			t.Errorf("README's RBAC table lists %s, on which role.yaml grants nothing", res)
		}
	}
}

// The README's metrics table lists every stax_ metric the manager registers,
// with its type, label and every label value (all exported from the start,
// at zero), and none other.
func TestREADMEMetricsTable(t *testing.T) {
	families, err := ctrlmetrics.Registry.Gather()
	if err != nil {
		t.Fatal(err)
	}
	type metric struct {
		kind   string
		labels map[string][]string
	}
	registered := map[string]metric{}
	for _, f := range families {
		if !strings.HasPrefix(f.GetName(), "stax_") {
			continue
		}
		m := metric{kind: strings.ToLower(f.GetType().String()), labels: map[string][]string{}}
		for _, s := range f.GetMetric() {
			for _, l := range s.GetLabel() {
				if !slices.Contains(m.labels[l.GetName()], l.GetValue()) {
					m.labels[l.GetName()] = append(m.labels[l.GetName()], l.GetValue())
				}
			}
		}
		registered[f.GetName()] = m
	}
	if len(registered) < 4 {
		t.Fatalf("only %d stax_ metrics registered: is internal/metrics imported?", len(registered))
	}

	listed := map[string]bool{}
	for _, row := range tableRows(t, readFile(t, "README.md"), "| metric | type | labels | counts |") {
		name := strings.Trim(row[0], "`")
		listed[name] = true
		m, ok := registered[name]
		if !ok {
			t.Errorf("README's metrics table lists %s, which the manager does not register", name)
			continue
		}
		if row[1] != m.kind {
			t.Errorf("README says %s is a %s; it is a %s", name, row[1], m.kind)
		}
		// `trigger`: `field`, `annotation`, `schedule`
		var label string
		var values []string
		if words := backtickedIn(row[2]); len(words) > 0 {
			label, values = words[0], words[1:]
		}
		if len(m.labels) > 1 {
			t.Errorf("%s has labels %v; this test reads one per metric", name, m.labels)
		}
		for l, vs := range m.labels {
			sort.Strings(vs)
			sort.Strings(values)
			if l != label || !slices.Equal(vs, values) {
				t.Errorf("README gives %s the label %q with values %v; the manager exports %q with %v", name, label, values, l, vs)
			}
		}
		if len(m.labels) == 0 && label != "" {
			t.Errorf("README gives %s the label %q; it has none", name, label)
		}
	}
	for name := range registered {
		if !listed[name] {
			t.Errorf("the manager registers %s, which README's metrics table does not list", name)
		}
	}
}

// The README's table of Helm values gives each value's default as
// dist/chart/values.yaml sets it.
func TestREADMEHelmValuesTable(t *testing.T) {
	var values map[string]any
	if err := yaml.Unmarshal([]byte(readFile(t, "dist", "chart", "values.yaml")), &values); err != nil {
		t.Fatal(err)
	}
	lookup := func(path string) (any, bool) {
		var v any = values
		for _, seg := range strings.Split(path, ".") {
			m, ok := v.(map[string]any)
			if !ok {
				return nil, false
			}
			if v, ok = m[seg]; !ok {
				return nil, false
			}
		}
		return v, true
	}
	format := func(v any) string {
		switch v := v.(type) {
		case string:
			if v == "" {
				return `""`
			}
		case []any:
			if len(v) == 0 {
				return "[]"
			}
		case map[string]any:
			// manager.resources: "10m/64Mi requested, 500m/256Mi limit"
			r, _ := v["requests"].(map[string]any)
			l, _ := v["limits"].(map[string]any)
			return fmt.Sprintf("%v/%v requested, %v/%v limit", r["cpu"], r["memory"], l["cpu"], l["memory"])
		}
		return fmt.Sprint(v)
	}
	checked := 0
	for _, row := range tableRows(t, readFile(t, "README.md"), "| value | default | meaning |") {
		names := backtickedIn(row[0])
		var defaults []string
		if strings.Contains(row[1], "requested") {
			defaults = []string{row[1]}
		} else {
			for _, d := range strings.Split(row[1], ", ") {
				defaults = append(defaults, strings.Trim(d, "`"))
			}
		}
		if len(names) == 0 || len(names) != len(defaults) {
			t.Errorf("README Helm row %q: %d values, %d defaults", row[0], len(names), len(defaults))
			continue
		}
		parent := ""
		for i, name := range names {
			if strings.HasPrefix(name, ".") {
				name = parent + name
			} else if j := strings.LastIndex(name, "."); j >= 0 {
				parent = name[:j]
			}
			v, ok := lookup(name)
			if !ok {
				t.Errorf("README's Helm table lists %s, which dist/chart/values.yaml does not set", name)
				continue
			}
			if got := format(v); got != defaults[i] {
				t.Errorf("README gives Helm value %s the default %q; values.yaml sets %q", name, defaults[i], got)
			}
			checked++
		}
	}
	if checked < 12 {
		t.Errorf("only %d Helm values checked: has the README's table changed shape?", checked)
	}
}
