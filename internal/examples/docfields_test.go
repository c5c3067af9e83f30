package examples

import (
	"maps"
	"regexp"
	"slices"
	"strings"
	"testing"

	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	"sigs.k8s.io/yaml"
)

// The hand-written pages name Blueprint fields (`services[].probes`,
// `status.secrets[].lastRotated`) and chart values (`manager.logLevel`), and
// sometimes say what a Blueprint lacks. docs/troubleshooting.md once said a
// Blueprint "defines no readiness probes" and "has no `imagePullSecrets`
// field" long after both were added. These tests hold every such name to the
// CRD (and the chart's values.yaml), and fail on a sentence that says a
// Blueprint has no X where X is one of its fields.

// handWrittenPages are the pages people write; docs/api.md is generated and
// checked against the CRD by apidocs_test.go.
var handWrittenPages = []string{
	"README.md",
	"docs/architecture.md",
	"docs/reliability.md",
	"docs/rotation-hooks.md",
	"docs/troubleshooting.md",
}

// notBlueprintFields are dotted names the pages use for another object's
// field, with whose field it is. Each must still occur on some page.
var notBlueprintFields = map[string]string{
	"spec.replicas": "the Deployment's spec.replicas (README, services[].replicas)",
}

func blueprintSchema(t *testing.T) *apiextensionsv1.JSONSchemaProps {
	t.Helper()
	var crd apiextensionsv1.CustomResourceDefinition
	if err := yaml.Unmarshal([]byte(readFile(t, "config", "crd", "bases", "stax.dev_blueprints.yaml")), &crd); err != nil {
		t.Fatal(err)
	}
	if len(crd.Spec.Versions) != 1 {
		t.Fatalf("the CRD has %d versions; this test reads one", len(crd.Spec.Versions))
	}
	return crd.Spec.Versions[0].Schema.OpenAPIV3Schema
}

// schemaIndex maps every property name of the schema, at any depth, to the
// schemas of the properties of that name.
func schemaIndex(s *apiextensionsv1.JSONSchemaProps) map[string][]*apiextensionsv1.JSONSchemaProps {
	out := map[string][]*apiextensionsv1.JSONSchemaProps{}
	var walk func(s *apiextensionsv1.JSONSchemaProps)
	walk = func(s *apiextensionsv1.JSONSchemaProps) {
		for _, name := range slices.Sorted(maps.Keys(s.Properties)) {
			p := s.Properties[name]
			out[name] = append(out[name], &p)
			walk(&p)
		}
		if s.Items != nil && s.Items.Schema != nil {
			walk(s.Items.Schema)
		}
		if s.AdditionalProperties != nil && s.AdditionalProperties.Schema != nil {
			walk(s.AdditionalProperties.Schema)
		}
	}
	walk(s)
	return out
}

// resolve follows segments ("services[]", "probes") from s; "x[]" must be a
// list (its items are followed) and a map's values are followed by any key.
func resolve(s *apiextensionsv1.JSONSchemaProps, segments []string) bool {
	for _, seg := range segments {
		name, list := strings.CutSuffix(seg, "[]")
		p, ok := s.Properties[name]
		if !ok {
			return false
		}
		s = &p
		if list {
			if s.Items == nil || s.Items.Schema == nil {
				return false
			}
			s = s.Items.Schema
		}
		if len(s.Properties) == 0 && s.AdditionalProperties != nil && s.AdditionalProperties.Schema != nil {
			s = s.AdditionalProperties.Schema
		}
	}
	return true
}

// fieldName is a dotted name of lowercase-led segments, such as
// services[].secrets[].mountPath; Go names (render.Build, status.Problem)
// have a capital after the dot, and file names a known extension.
var (
	fieldName = regexp.MustCompile("`([a-z][A-Za-z]*(?:\\[\\])?(?:\\.[a-z][A-Za-z]*(?:\\[\\])?)+)`")
	fileName  = regexp.MustCompile(`\.(go|md|ya?ml|json|sh|svg|txt)$`)
)

type fieldChecker struct {
	root   *apiextensionsv1.JSONSchemaProps
	index  map[string][]*apiextensionsv1.JSONSchemaProps
	values map[string]any // dist/chart/values.yaml
}

// check says whether a dotted name is a Blueprint field or a chart value, and
// whether it was judged at all (names rooted in neither are not).
func (c *fieldChecker) check(name string) (judged, ok bool) {
	segs := strings.Split(name, ".")
	first := strings.TrimSuffix(segs[0], "[]")
	switch {
	case first == "spec" || first == "status":
		return true, resolve(c.root, segs)
	case first == "metadata":
		// ObjectMeta, which the CRD does not spell out.
		return false, false
	case len(c.index[first]) > 0:
		for _, s := range c.index[first] {
			// Re-root at the property: a parent schema holding only it.
			parent := &apiextensionsv1.JSONSchemaProps{Properties: map[string]apiextensionsv1.JSONSchemaProps{first: *s}}
			if resolve(parent, segs) {
				return true, true
			}
		}
		return true, false
	case c.values[first] != nil:
		var v any = c.values
		for _, seg := range segs {
			m, isMap := v.(map[string]any)
			if !isMap {
				return true, false
			}
			if v, ok = m[seg]; !ok {
				return true, false
			}
		}
		return true, true
	}
	return false, false
}

func newFieldChecker(t *testing.T) *fieldChecker {
	t.Helper()
	root := blueprintSchema(t)
	c := &fieldChecker{root: root, index: schemaIndex(root)}
	if err := yaml.Unmarshal([]byte(readFile(t, "dist", "chart", "values.yaml")), &c.values); err != nil {
		t.Fatal(err)
	}
	return c
}

func TestDocsNameOnlyExistingFields(t *testing.T) {
	c := newFieldChecker(t)
	// The checker must tell a field from a misspelt one, or everything below
	// passes by saying nothing.
	for name, want := range map[string]bool{
		"services[].imagePullSecrets":     true,
		"services[].imagePullSecret":      false,
		"status.secrets[].hook.jobName":   true,
		"status.secrets[].hook.job":       false,
		"secrets[].onRotate":              true,
		"spec.services":                   true,
		"spec.replicas":                   false,
		"securityContext.fsGroup":         true,
		"manager.image.repository":        true,
		"manager.image.registry":          false,
		"services[].probes.readiness":     true,
		"services[].probes.readyness":     false,
		"spec.plans":                      true,
		"status.services[].secretsDigest": true,
	} {
		if judged, ok := c.check(name); !judged || ok != want {
			t.Errorf("checker: %s judged %v, exists %v; want judged, exists %v", name, judged, ok, want)
		}
	}

	judged := 0
	for _, page := range handWrittenPages {
		text := readFile(t, page)
		for _, m := range fieldName.FindAllStringSubmatch(text, -1) {
			name := m[1]
			if fileName.MatchString(name) {
				continue
			}
			if _, ok := notBlueprintFields[name]; ok {
				continue
			}
			j, ok := c.check(name)
			if !j {
				continue
			}
			judged++
			if !ok {
				t.Errorf("%s names `%s`, which is no field of the Blueprint CRD nor a value of dist/chart/values.yaml", page, name)
			}
		}
	}
	// The README's field table alone names over 30.
	if judged < 60 {
		t.Errorf("only %d field names judged on the pages: has the pattern stopped matching?", judged)
	}
	for name, why := range notBlueprintFields {
		found := false
		for _, page := range handWrittenPages {
			found = found || strings.Contains(readFile(t, page), "`"+name+"`")
		}
		if !found {
			t.Errorf("notBlueprintFields lists %s (%s), which no page names any more: drop it", name, why)
		}
	}
}

// absence finds sentences that say a Blueprint or a service lacks something:
// "a Blueprint defines no readiness probes", "sets no `securityContext`",
// "there is no `imagePullSecrets` field".
var absence = []*regexp.Regexp{
	regexp.MustCompile(`(?i)\b(?:blueprints?|services?|specs?)\s+(?:has|have|defines?|sets?|takes?|carr(?:y|ies)|supports?|declares?|offers?|allows?)\s+no\s+([^.;:()]+)`),
	regexp.MustCompile("(?i)\\bno\\s+(`[A-Za-z.\\[\\]]+`)\\s+field"),
	regexp.MustCompile("(?i)\\bthere\\s+is\\s+no\\s+(`[A-Za-z.\\[\\]]+`)"),
}

var word = regexp.MustCompile(`[A-Za-z]+`)

// absentFields returns the Blueprint fields (each once) that sentences of
// text say a Blueprint lacks. Paragraphs are joined, so a sentence broken across lines
// is read whole.
func absentFields(text string, fields map[string]bool) []string {
	text = strings.Join(strings.Fields(text), " ")
	var out []string
	seen := map[string]bool{}
	for _, re := range absence {
		for _, m := range re.FindAllStringSubmatch(text, -1) {
			for _, w := range word.FindAllString(m[1], -1) {
				lw := strings.ToLower(w)
				if !seen[lw] && (fields[lw] || fields[strings.TrimSuffix(lw, "s")] || fields[lw+"s"]) {
					seen[lw] = true
					out = append(out, w+" (in: "+m[0]+")")
				}
			}
		}
	}
	return out
}

func TestDocsDenyNoExistingField(t *testing.T) {
	fields := map[string]bool{}
	for name := range schemaIndex(blueprintSchema(t)) {
		fields[strings.ToLower(name)] = true
	}
	// What docs/troubleshooting.md said before issue 25, and sentences that
	// deny nothing the CRD has.
	for text, want := range map[string]int{
		"What it does not mean: a Blueprint defines no readiness probes, so a pod counts":                   2,
		"A\n  Blueprint has no `imagePullSecrets` field; pods run as the namespace's":                       1,
		"refuses the pods, because a Blueprint sets no\n  `securityContext`; a ResourceQuota":               1,
		"a Blueprint sets a CPU request and no CPU limit (a LimitRange with a default CPU limit satisfies)": 0,
		"A Blueprint has no finalizer of its own.":                                                          0,
	} {
		if got := absentFields(text, fields); len(got) != want {
			t.Errorf("absentFields(%q) = %q, want %d", text, got, want)
		}
	}

	for _, page := range handWrittenPages {
		for _, f := range absentFields(readFile(t, page), fields) {
			t.Errorf("%s says a Blueprint lacks %s, which is a field of the CRD", page, f)
		}
	}
}

// Every field of a Blueprint's spec, of a service and of a service's secret
// has a row in the README's field table, so a new field is documented where
// users look.
func TestREADMEFieldTableCoversSpec(t *testing.T) {
	readme := readFile(t, "README.md")
	var firstCells []string
	for _, row := range tableRows(t, readme, "| field | meaning |") {
		firstCells = append(firstCells, row[0])
	}
	spec := blueprintSchema(t).Properties["spec"]
	service := spec.Properties["services"].Items.Schema
	check := func(prefix string, s *apiextensionsv1.JSONSchemaProps) {
		if len(s.Properties) < 5 {
			t.Fatalf("%s has %d properties in the CRD: the walk lost its way", prefix, len(s.Properties))
		}
		for name := range s.Properties {
			found := false
			for _, c := range firstCells {
				found = found || strings.Contains(c, "`"+prefix+name+"`") || strings.Contains(c, "`"+prefix+name+"[]`")
			}
			if !found {
				t.Errorf("README's field table has no row for `%s%s`", prefix, name)
			}
		}
	}
	check("spec.", &spec)
	check("services[].", service)
	check("secrets[].", service.Properties["secrets"].Items.Schema)
}

// tableRows returns the cells of each row of the first Markdown table of
// text whose header line starts with header.
func tableRows(t *testing.T, text, header string) [][]string {
	t.Helper()
	var rows [][]string
	in := false
	for line := range strings.Lines(text) {
		line = strings.TrimRight(line, "\n")
		switch {
		case !in && strings.HasPrefix(line, header):
			in = true
		case in && strings.HasPrefix(line, "|---"):
		case in && strings.HasPrefix(line, "|"):
			rows = append(rows, cells(line))
		case in:
			return rows
		}
	}
	if !in {
		t.Fatalf("no table with header %q", header)
	}
	return rows
}
