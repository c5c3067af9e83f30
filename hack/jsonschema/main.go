// Command jsonschema writes the Blueprint's JSON Schema, derived from the
// CRD's OpenAPI schema, for editors (yaml-language-server) to complete and
// check Blueprint files. make manifests runs it; make verify fails when the
// committed file differs.
package main

import (
	"encoding/json"
	"fmt"
	"os"

	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	"sigs.k8s.io/yaml"

	staxv1alpha1 "github.com/stax-dev/blueprint-operator/api/v1alpha1"
)

func main() {
	if len(os.Args) != 3 {
		fmt.Fprintln(os.Stderr, "usage: jsonschema CRD.yaml OUT.json")
		os.Exit(2)
	}
	if err := run(os.Args[1], os.Args[2]); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}

func run(in, out string) error {
	raw, err := os.ReadFile(in)
	if err != nil {
		return err
	}
	crd := &apiextensionsv1.CustomResourceDefinition{}
	if err := yaml.UnmarshalStrict(raw, crd); err != nil {
		return fmt.Errorf("%s: %w", in, err)
	}
	var version *apiextensionsv1.CustomResourceDefinitionVersion
	for i := range crd.Spec.Versions {
		if crd.Spec.Versions[i].Name == staxv1alpha1.GroupVersion.Version {
			version = &crd.Spec.Versions[i]
		}
	}
	if version == nil || version.Schema == nil || version.Schema.OpenAPIV3Schema == nil {
		return fmt.Errorf("%s has no schema for %s", in, staxv1alpha1.GroupVersion)
	}
	b, err := json.Marshal(version.Schema.OpenAPIV3Schema)
	if err != nil {
		return err
	}
	var schema map[string]any
	if err := json.Unmarshal(b, &schema); err != nil {
		return err
	}
	// The CRD leaves apiVersion and kind open (every object has them); a
	// file's schema pins them, so an editor offers exactly these.
	props := schema["properties"].(map[string]any)
	props["apiVersion"].(map[string]any)["enum"] = []string{staxv1alpha1.GroupVersion.String()}
	props["kind"].(map[string]any)["enum"] = []string{"Blueprint"}
	// status is the operator's to write, never a file's.
	delete(props, "status")
	closeObjects(schema)
	schema["required"] = []string{"apiVersion", "kind", "metadata", "spec"}
	schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
	schema["$id"] = "https://stax.dev/schemas/blueprint-" + staxv1alpha1.GroupVersion.Version + ".json"
	schema["title"] = "Blueprint (" + staxv1alpha1.GroupVersion.String() + "), generated from the CRD by hack/jsonschema"
	b, err = json.MarshalIndent(schema, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(out, append(b, '\n'), 0o644)
}

// closeObjects marks every object schema that lists its properties as
// allowing no others, so that an editor flags a misspelt field as the API
// server's strict field validation (kubectl apply's default) does.
func closeObjects(schema any) {
	switch s := schema.(type) {
	case map[string]any:
		if _, ok := s["properties"]; ok {
			_, open := s["additionalProperties"]
			_, preserve := s["x-kubernetes-preserve-unknown-fields"]
			if !open && !preserve {
				s["additionalProperties"] = false
			}
		}
		for _, v := range s {
			closeObjects(v)
		}
	case []any:
		for _, v := range s {
			closeObjects(v)
		}
	}
}
