package examples

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"sigs.k8s.io/yaml"
)

// The published JSON Schema (dist/schema, for editors) accepts every
// Blueprint the repository ships and refuses what the CRD's schema refuses.
func TestJSONSchemaForEditors(t *testing.T) {
	path := filepath.Join(repo, "dist", "schema", "blueprint-v1alpha1.json")
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	doc, err := jsonschema.UnmarshalJSON(f)
	if err != nil {
		t.Fatal(err)
	}
	c := jsonschema.NewCompiler()
	if err := c.AddResource(path, doc); err != nil {
		t.Fatal(err)
	}
	schema, err := c.Compile(path)
	if err != nil {
		t.Fatal(err)
	}
	validate := func(manifest string) error {
		j, err := yaml.YAMLToJSON([]byte(manifest))
		if err != nil {
			t.Fatal(err)
		}
		v, err := jsonschema.UnmarshalJSON(bytes.NewReader(j))
		if err != nil {
			t.Fatal(err)
		}
		return schema.Validate(v)
	}

	files, err := filepath.Glob(filepath.Join(repo, "examples", "*.yaml"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no examples: %v", err)
	}
	files = append(files, filepath.Join(repo, "config", "samples", "stax_v1alpha1_blueprint.yaml"))
	checked := 0
	for _, file := range files {
		b, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		for _, doc := range strings.Split(string(b), "\n---\n") {
			if !strings.Contains(doc, "kind: Blueprint") {
				continue
			}
			checked++
			if err := validate(doc); err != nil {
				t.Errorf("%s: %v", file, err)
			}
		}
	}
	if checked < 8 {
		t.Errorf("only %d Blueprints checked", checked)
	}

	sample := payments(t)
	for name, bad := range map[string]string{
		"replicas over 1000":      strings.Replace(sample, "replicas: 2", "replicas: 5000", 1),
		"an unknown charset":      strings.Replace(sample, "length: 32", "length: 32\n          charset: emoji", 1),
		"a service name":          strings.Replace(sample, "- name: api", "- name: API", 1),
		"another kind":            strings.Replace(sample, "kind: Blueprint", "kind: Deployment", 1),
		"an unknown field":        strings.Replace(sample, "replicas: 2", "replica: 2", 1),
		"a service without image": strings.Replace(sample, "      image: ghcr.io/example/payments-api:1.4.2\n", "", 1),
	} {
		if bad == sample {
			t.Fatalf("%s: the sample Blueprint changed; update this test", name)
		}
		if validate(bad) == nil {
			t.Errorf("%s: the JSON Schema accepts it", name)
		}
	}
}
