package applied

import "testing"

func TestUpToDate(t *testing.T) {
	desired := map[string]any{
		"metadata": map[string]any{"name": "api", "labels": map[string]any{"app": "api"}},
		"spec": map[string]any{
			"replicas": 2,
			"ports":    []any{map[string]any{"port": 8080}},
		},
	}
	fp, err := Fingerprint(desired)
	if err != nil {
		t.Fatal(err)
	}
	live := func(mutate func(spec map[string]any, meta map[string]any)) map[string]any {
		meta := map[string]any{"name": "api", "uid": "u1", "labels": map[string]any{"app": "api", "team": "x"}}
		spec := map[string]any{
			"replicas": 2, "revisionHistoryLimit": 10,
			"ports": []any{map[string]any{"port": 8080, "protocol": "TCP"}},
		}
		if mutate != nil {
			mutate(spec, meta)
		}
		return map[string]any{"metadata": meta, "spec": spec, "status": map[string]any{"replicas": 2}}
	}
	tests := map[string]struct {
		live        map[string]any
		fingerprint string
		want        bool
	}{
		"defaults and others' fields added": {live(nil), fp, true},
		"rendered differently since":        {live(nil), "sha256:other", false},
		"no fingerprint":                    {live(nil), "", false},
		"a rendered value edited":           {live(func(s, _ map[string]any) { s["replicas"] = 3 }), fp, false},
		"a rendered field removed":          {live(func(s, _ map[string]any) { delete(s, "replicas") }), fp, false},
		"a rendered label removed":          {live(func(_, m map[string]any) { delete(m, "labels") }), fp, false},
		"an item added to a rendered list": {live(func(s, _ map[string]any) {
			s["ports"] = append(s["ports"].([]any), map[string]any{"port": 9090})
		}), fp, false},
		"a rendered list item changed": {live(func(s, _ map[string]any) {
			s["ports"] = []any{map[string]any{"port": 8081, "protocol": "TCP"}}
		}), fp, false},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			got, err := UpToDate(desired, tc.live, fp, tc.fingerprint)
			if err != nil {
				t.Fatal(err)
			}
			if got != tc.want {
				t.Errorf("UpToDate = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestFingerprintIsDeterministic(t *testing.T) {
	a, _ := Fingerprint(map[string]any{"b": 1, "a": []any{"x", "y"}})
	b, _ := Fingerprint(map[string]any{"a": []any{"x", "y"}, "b": 1})
	c, _ := Fingerprint(map[string]any{"a": []any{"y", "x"}, "b": 1})
	if a != b {
		t.Errorf("same content, different fingerprints: %s %s", a, b)
	}
	if a == c {
		t.Errorf("different content, same fingerprint %s", a)
	}
}
