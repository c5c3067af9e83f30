package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
)

func TestKubectlApplied(t *testing.T) {
	for _, k := range unrelatedKinds(config{unrelatedSecrets: 1, secretSize: 64, unrelatedDeployments: 1, unrelatedServices: 1, unrelatedClaims: 1, unrelatedIngresses: 1}) {
		t.Run(k.Name, func(t *testing.T) {
			obj := k.make(7)
			obj.SetNamespace("noise-00")
			if err := kubectlApplied(obj); err != nil {
				t.Fatal(err)
			}
			raw := obj.GetAnnotations()[corev1.LastAppliedConfigAnnotation]
			var applied map[string]any
			if err := json.Unmarshal([]byte(raw), &applied); err != nil {
				t.Fatalf("annotation is not JSON: %v\n%s", err, raw)
			}
			if applied["kind"] != k.Name || applied["apiVersion"] == nil {
				t.Errorf("annotation names no kind %s: %s", k.Name, raw)
			}
			md := applied["metadata"].(map[string]any)
			if md["name"] != obj.GetName() || md["namespace"] != "noise-00" {
				t.Errorf("annotation metadata %v", md)
			}
			if _, ok := applied["status"]; ok || strings.Contains(raw, "creationTimestamp") {
				t.Errorf("annotation holds server-set fields: %s", raw)
			}
			if _, ok := md["annotations"]; ok && k.Name != "Ingress" {
				t.Errorf("annotation holds annotations it never had: %s", raw)
			}
			if strings.Contains(raw, corev1.LastAppliedConfigAnnotation) {
				t.Errorf("annotation holds itself: %s", raw)
			}
			if len(raw) < 200 {
				t.Errorf("a %s of %d bytes is not a realistic copy: %s", k.Name, len(raw), raw)
			}
		})
	}
}

func TestUnrelatedPlacement(t *testing.T) {
	bp := []string{"bp-00", "bp-01"}
	got := map[string]int{}
	for i := range 25 {
		got[unrelatedPlacement(i, 5, 10, bp)]++
	}
	want := map[string]int{"bp-00": 3, "bp-01": 2, "noise-00": 10, "noise-01": 10}
	for ns, n := range want {
		if got[ns] != n {
			t.Errorf("%s: %d objects, want %d (%v)", ns, got[ns], n, got)
		}
	}
	if len(got) != len(want) {
		t.Errorf("namespaces %v, want %v", got, want)
	}
	if ns := unrelatedPlacement(0, 5, 10, nil); ns != "noise-00" {
		t.Errorf("without Blueprint namespaces: %s", ns)
	}
}

func TestSmokeDropsPeer(t *testing.T) {
	cfg := config{scenarios: "peer,convergence,memory"}
	smoke := map[string]func(){}
	smokeUnrelated(&cfg, smoke)
	smoke["scenarios"]()
	if cfg.scenarios != "convergence,memory" {
		t.Errorf("smoke scenarios %q", cfg.scenarios)
	}
	smoke["unrelated-deployments"]()
	if cfg.unrelatedDeployments != 100 {
		t.Errorf("smoke Deployments %d", cfg.unrelatedDeployments)
	}
}

func TestReloaderVersion(t *testing.T) {
	dir := t.TempDir()
	target := filepath.Join(dir, "reloader-v1.4.14")
	if err := os.WriteFile(target, nil, 0o755); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(dir, "reloader")
	if err := os.Symlink("reloader-v1.4.14", link); err != nil {
		t.Fatal(err)
	}
	if v := reloaderVersion(link); v != "v1.4.14" {
		t.Errorf("version %q", v)
	}
	if v := reloaderVersion(filepath.Join(dir, "missing")); v != "(version unknown)" {
		t.Errorf("missing: %q", v)
	}
}
