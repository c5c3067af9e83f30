package examples

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/stax-dev/blueprint-operator/internal/validate"
)

// repo is the repository root, seen from this package's directory (go test
// runs tests there).
var repo = filepath.Join("..", "..")

// The examples the README and the docs point to. Listing them keeps a
// wrong glob, or a removed file, from passing as "nothing to check".
var wantExamples = []string{
	"external-secret.yaml",
	"jwt-and-tls.yaml",
	"postgres-api.yaml",
	"postgres-rotation-hook.yaml",
	"redis-worker.yaml",
	"retained-values.yaml",
	"three-service-app.yaml",
}

func TestExamplesAndSamplesPassValidation(t *testing.T) {
	var files []string
	for _, pattern := range []string{"examples/*.yaml", "config/samples/*.yaml"} {
		matches, err := filepath.Glob(filepath.Join(repo, pattern))
		if err != nil {
			t.Fatal(err)
		}
		files = append(files, matches...)
	}
	for _, name := range wantExamples {
		if _, err := os.Stat(filepath.Join(repo, "examples", name)); err != nil {
			t.Errorf("example missing: %v", err)
		}
	}

	for _, file := range files {
		rel, _ := filepath.Rel(repo, file)
		// config/samples/kustomization.yaml is kustomize's list of the
		// samples, not a manifest.
		if filepath.Base(file) == "kustomization.yaml" {
			continue
		}
		t.Run(filepath.ToSlash(rel), func(t *testing.T) {
			f, err := os.Open(file)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			results, err := validate.Documents(context.Background(), f)
			if err != nil {
				t.Fatal(err)
			}
			if len(results) == 0 {
				t.Fatal("no stax.dev/v1alpha1 Blueprint in the file")
			}
			for _, res := range results {
				for _, p := range res.Problems {
					t.Errorf("blueprint/%s (document %d): %s: %s", res.Name, res.Document, p.Field, p.Message)
				}
			}
		})
	}
}
