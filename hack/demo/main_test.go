package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/hex"
	"os"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/stax-dev/blueprint-operator/internal/render"
)

// The README: `make demo` prints the generated Secret's key names, never
// values. The demo runs whole, on its own control plane; before it stops,
// the test reads every value of the generated Secret and of the referenced
// Secret stripe from the API server, then searches what the demo printed for
// each, raw, base64 and hex.
func TestDemoPrintsKeyNamesNeverValues(t *testing.T) {
	if os.Getenv("KUBEBUILDER_ASSETS") == "" {
		t.Skip("needs the envtest binaries: KUBEBUILDER_ASSETS=$(hack/envtest-binaries.sh) go test ./hack/demo/")
	}
	t.Setenv("DEMO_KEEP", "")
	// The demo reads config/ relative to the repository root, as make runs it.
	t.Chdir("../..")
	var printed bytes.Buffer
	out = &printed
	values := map[string][]byte{}
	beforeStop = func(ctx context.Context, c client.Client) error {
		for _, name := range []string{render.GeneratedSecretName("payments-dev"), "stripe"} {
			s := &corev1.Secret{}
			if err := c.Get(ctx, types.NamespacedName{Namespace: namespace, Name: name}, s); err != nil {
				return err
			}
			for k, v := range s.Data {
				values[name+"/"+k] = v
			}
		}
		return nil
	}
	t.Cleanup(func() { out, beforeStop = os.Stdout, nil })

	if err := run(); err != nil {
		t.Fatalf("the demo failed: %v\n%s", err, printed.String())
	}
	text := printed.String()
	t.Log(text)

	// What it must print: every key of the generated Secret, by name and
	// size; and the secretKeyRefs of the Deployments.
	generated := render.GeneratedSecretName("payments-dev")
	keys := 0
	for name, v := range values {
		secret, key, _ := strings.Cut(name, "/")
		if secret != generated {
			continue
		}
		keys++
		if !strings.Contains(text, "key "+key) {
			t.Errorf("the demo does not print key %s of %s", key, generated)
		}
		if len(v) < 16 {
			t.Errorf("value %s has %d bytes: too short to search for", name, len(v))
		}
	}
	if keys < 2 || len(values) <= keys {
		t.Fatalf("read %d values (%d generated): the demo's Secrets were not seen", len(values), keys)
	}
	if !strings.Contains(text, "<- secretKeyRef stripe/api-key") {
		t.Error("the demo does not print the secretKeyRef of STRIPE_KEY")
	}

	// What it must never print: any value.
	for name, v := range values {
		for form, s := range map[string]string{
			"raw":    string(v),
			"base64": base64.StdEncoding.EncodeToString(v),
			"hex":    hex.EncodeToString(v),
		} {
			if strings.Contains(text, s) {
				t.Errorf("the demo printed the value of %s (%s)", name, form)
			}
		}
	}
}
