package main

import (
	"path/filepath"
	"testing"
)

func TestShippedMemoryLimit(t *testing.T) {
	const ns = "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: system\n---\n"
	deployment := func(containers string) string {
		return "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: controller-manager\nspec:\n  template:\n    spec:\n      containers:\n" + containers
	}
	for _, tc := range []struct {
		name, manifest string
		wantBytes      int64 // 0: an error
	}{
		{"256Mi after a Namespace", ns + deployment("      - name: manager\n        resources:\n          limits:\n            memory: 256Mi\n"), 256 << 20},
		{"1Gi", deployment("      - name: manager\n        resources:\n          limits:\n            memory: 1Gi\n"), 1 << 30},
		{"decimal 300M", deployment("      - name: manager\n        resources:\n          limits:\n            memory: 300M\n"), 300e6},
		{"the manager among others", deployment("      - name: proxy\n        resources:\n          limits:\n            memory: 64Mi\n      - name: manager\n        resources:\n          limits:\n            memory: 128Mi\n"), 128 << 20},
		{"a request only", deployment("      - name: manager\n        resources:\n          requests:\n            memory: 64Mi\n"), 0},
		{"no manager container", deployment("      - name: proxy\n        resources:\n          limits:\n            memory: 64Mi\n"), 0},
		{"no Deployment", ns, 0},
		{"not a quantity", deployment("      - name: manager\n        resources:\n          limits:\n            memory: lots\n"), 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			q, err := shippedMemoryLimit([]byte(tc.manifest))
			switch {
			case tc.wantBytes == 0 && err == nil:
				t.Errorf("accepted, limit %s", q.String())
			case tc.wantBytes != 0 && err != nil:
				t.Errorf("error %v", err)
			case tc.wantBytes != 0 && q.Value() != tc.wantBytes:
				t.Errorf("limit %s = %d bytes, want %d", q.String(), q.Value(), tc.wantBytes)
			}
		})
	}
}

// TestShippedManifestHasLimit: the plot's limit line reads the manifest
// the project ships.
func TestShippedManifestHasLimit(t *testing.T) {
	q, err := readShippedMemoryLimit(filepath.Join("..", "config", "manager", "manager.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if q.Value() <= 0 {
		t.Errorf("limit %s", q.String())
	}
}

func TestLimitLabel(t *testing.T) {
	for mib, want := range map[float64]string{256: "shipped limit 256 MiB", 1024: "shipped limit 1024 MiB", 286.102294921875: "shipped limit 286.1 MiB"} {
		if got := limitLabel(mib); got != want {
			t.Errorf("%v MiB: %q, want %q", mib, got, want)
		}
	}
}

func TestLogTicks(t *testing.T) {
	for _, tc := range []struct {
		lo, hi float64
		want   []float64
	}{
		{35, 2100, []float64{50, 100, 200, 500, 1000, 2000}},
		{1, 10, []float64{1, 2, 5, 10}},
		{2.5, 4, nil},
		{0, 10, nil},
		{10, 1, nil},
	} {
		var got []float64
		for _, tk := range logTicks(tc.lo, tc.hi) {
			got = append(got, tk.Value)
		}
		if len(got) != len(tc.want) {
			t.Errorf("%v–%v: %v, want %v", tc.lo, tc.hi, got, tc.want)
			continue
		}
		for i := range got {
			if got[i] != tc.want[i] {
				t.Errorf("%v–%v: %v, want %v", tc.lo, tc.hi, got, tc.want)
				break
			}
		}
	}
}
