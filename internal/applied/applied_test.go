package applied

import (
	"encoding/json"
	"strings"
	"testing"

	"sigs.k8s.io/structured-merge-diff/v6/fieldpath"
	"sigs.k8s.io/structured-merge-diff/v6/value"
)

// fieldSet is the field set our apply of desired (below) records, as the
// API server writes it: the container list keyed by name, the env list by
// name, ports by containerPort and protocol (defaulted to TCP, which
// desired leaves out), args an atomic list, finalizers a set.
const fieldSet = `{
 "f:metadata":{"f:annotations":{"f:stax.dev/rendered-fingerprint":{}},"f:labels":{"f:app":{}},"f:finalizers":{"v:\"stax.dev/x\"":{}},
  "f:ownerReferences":{"k:{\"uid\":\"u1\"}":{}}},
 "f:spec":{"f:replicas":{},"f:selector":{},"f:template":{"f:spec":{"f:containers":{"k:{\"name\":\"api\"}":{".":{},"f:name":{},"f:image":{},"f:args":{},
  "f:env":{"k:{\"name\":\"A\"}":{".":{},"f:name":{},"f:value":{}},"k:{\"name\":\"B\"}":{".":{},"f:name":{},"f:valueFrom":{"f:secretKeyRef":{}}}},
  "f:ports":{"k:{\"containerPort\":8080,\"protocol\":\"TCP\"}":{".":{},"f:containerPort":{}}}}},"f:volumes":{"k:{\"name\":\"tmp\"}":{".":{},"f:name":{},"f:emptyDir":{}}}}}}
}`

var ownerRef = map[string]any{"apiVersion": "stax.dev/v1alpha1", "kind": "Blueprint", "name": "shop", "uid": "u1", "controller": true}

func desiredObject() map[string]any {
	return map[string]any{
		"apiVersion": "apps/v1", "kind": "Deployment",
		"metadata": map[string]any{"name": "api", "namespace": "shop", "labels": map[string]any{"app": "api"}, "finalizers": []any{"stax.dev/x"}, "ownerReferences": []any{ownerRef}, "annotations": nil},
		"spec": map[string]any{
			"replicas": 2,
			"selector": map[string]any{"matchLabels": map[string]any{"app": "api"}},
			"template": map[string]any{"spec": map[string]any{
				"containers": []any{map[string]any{
					"name": "api", "image": "api:1", "args": []any{"--port", "8080"},
					"env": []any{
						map[string]any{"name": "A", "value": "1"},
						map[string]any{"name": "B", "valueFrom": map[string]any{"secretKeyRef": map[string]any{"name": "s", "key": "k"}}},
					},
					"ports": []any{map[string]any{"containerPort": 8080}},
				}},
				"volumes": []any{map[string]any{"name": "tmp", "emptyDir": map[string]any{}}},
			}},
		},
	}
}

func TestUpToDate(t *testing.T) {
	desired, err := NewDesired(desiredObject())
	if err != nil {
		t.Fatal(err)
	}
	fp := desired.Fingerprint
	live := func(sets ...string) Live {
		l := Live{Fingerprint: fp, OwnerReferences: []any{ownerRef, map[string]any{"uid": "u2", "name": "other"}}}
		for _, s := range sets {
			l.FieldSets = append(l.FieldSets, []byte(s))
		}
		return l
	}
	without := func(path ...string) string {
		var set map[string]any
		if err := json.Unmarshal([]byte(fieldSet), &set); err != nil {
			t.Fatal(err)
		}
		// As the API server does, a field left with nothing under it
		// goes too: {} would own it whole.
		var remove func(m map[string]any, path []string)
		remove = func(m map[string]any, path []string) {
			if len(path) == 1 {
				delete(m, path[0])
				return
			}
			child := m[path[0]].(map[string]any)
			remove(child, path[1:])
			if len(child) == 0 {
				delete(m, path[0])
			}
		}
		remove(set, path)
		raw, _ := json.Marshal(set)
		return string(raw)
	}
	container := []string{"f:spec", "f:template", "f:spec", "f:containers", `k:{"name":"api"}`}
	tests := map[string]struct {
		desired map[string]any
		live    Live
		want    bool
	}{
		"every rendered field still ours":               {desiredObject(), live(fieldSet), true},
		"split over an earlier create's entry and ours": {desiredObject(), live(without("f:spec", "f:replicas"), `{"f:spec":{"f:replicas":{}}}`), true},
		"rendered differently since":                    {desiredObject(), func() Live { l := live(fieldSet); l.Fingerprint = "sha256:other"; return l }(), false},
		"no entry of ours":                              {desiredObject(), live(), false},
		"replicas taken by another manager":             {desiredObject(), live(without("f:spec", "f:replicas")), false},
		"a label taken":                                 {desiredObject(), live(without("f:metadata", "f:labels", "f:app")), false},
		"an image taken":                                {desiredObject(), live(without(append(container, "f:image")...)), false},
		"an env value taken":                            {desiredObject(), live(without(append(container, "f:env", `k:{"name":"A"}`, "f:value")...)), false},
		"an env var removed":                            {desiredObject(), live(without(append(container, "f:env", `k:{"name":"B"}`)...)), false},
		"a port removed":                                {desiredObject(), live(without(append(container, "f:ports")...)), false},
		"a set item removed":                            {desiredObject(), live(without("f:metadata", "f:finalizers", `v:"stax.dev/x"`)), false},
		"an env var rendered that the entry does not have": {func() map[string]any {
			d := desiredObject()
			c := d["spec"].(map[string]any)["template"].(map[string]any)["spec"].(map[string]any)["containers"].([]any)[0].(map[string]any)
			c["env"] = append(c["env"].([]any), map[string]any{"name": "C", "value": "3"})
			return d
		}(), live(fieldSet), false},
		"our owner reference changed": {desiredObject(), func() Live {
			l := live(fieldSet)
			l.OwnerReferences = []any{map[string]any{"apiVersion": "stax.dev/v1alpha1", "kind": "Blueprint", "name": "shop", "uid": "u1", "controller": false}}
			return l
		}(), false},
		"our owner reference gone": {desiredObject(), func() Live { l := live(fieldSet); l.OwnerReferences = nil; return l }(), false},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			desired, err := NewDesired(tc.desired)
			if err != nil {
				t.Fatal(err)
			}
			if name != "an env var rendered that the entry does not have" {
				desired.Fingerprint = fp
			} else {
				tc.live.Fingerprint = desired.Fingerprint
			}
			got, err := UpToDate(desired, tc.live)
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
	fingerprint := func(obj any) string {
		d, err := NewDesired(obj)
		if err != nil {
			t.Fatal(err)
		}
		return d.Fingerprint
	}
	a := fingerprint(map[string]any{"b": 1, "a": []any{"x", "y"}})
	b := fingerprint(map[string]any{"a": []any{"x", "y"}, "b": 1})
	c := fingerprint(map[string]any{"a": []any{"y", "x"}, "b": 1})
	if a != b {
		t.Errorf("same content, different fingerprints: %s %s", a, b)
	}
	if a == c {
		t.Errorf("different content, same fingerprint %s", a)
	}
}

// TestRemovalsReadAsDrift: another manager's update that removes a field
// leaves it in our entry; Present drops it, so UpToDate sees the drift.
func TestRemovalsReadAsDrift(t *testing.T) {
	desired, err := NewDesired(desiredObject())
	if err != nil {
		t.Fatal(err)
	}
	fp := desired.Fingerprint
	set := &fieldpath.Set{}
	if err := set.FromJSON(strings.NewReader(fieldSet)); err != nil {
		t.Fatal(err)
	}
	container := func(o map[string]any) map[string]any {
		return o["spec"].(map[string]any)["template"].(map[string]any)["spec"].(map[string]any)["containers"].([]any)[0].(map[string]any)
	}
	for name, tc := range map[string]struct {
		remove func(live map[string]any)
		want   bool
	}{
		"nothing removed, defaults added": {func(o map[string]any) { container(o)["imagePullPolicy"] = "IfNotPresent" }, true},
		"an env var removed":              {func(o map[string]any) { c := container(o); c["env"] = c["env"].([]any)[:1] }, false},
		"a port's number changed": {func(o map[string]any) {
			container(o)["ports"].([]any)[0].(map[string]any)["containerPort"] = float64(1234)
		}, false},
		"a label removed":        {func(o map[string]any) { delete(o["metadata"].(map[string]any)["labels"].(map[string]any), "app") }, false},
		"a set item removed":     {func(o map[string]any) { o["metadata"].(map[string]any)["finalizers"] = []any{} }, false},
		"an atomic list removed": {func(o map[string]any) { delete(container(o), "args") }, false},
	} {
		t.Run(name, func(t *testing.T) {
			var live map[string]any
			raw, _ := json.Marshal(desiredObject())
			if err := json.Unmarshal(raw, &live); err != nil {
				t.Fatal(err)
			}
			container(live)["ports"].([]any)[0].(map[string]any)["protocol"] = "TCP" // the API server's default
			tc.remove(live)
			present, err := Present(set, value.NewValueInterface(live)).ToJSON()
			if err != nil {
				t.Fatal(err)
			}
			got, err := UpToDate(desired, Live{Fingerprint: fp, FieldSets: [][]byte{present}, OwnerReferences: []any{ownerRef}})
			if err != nil {
				t.Fatal(err)
			}
			if got != tc.want {
				t.Errorf("UpToDate = %v, want %v (present: %s)", got, tc.want, present)
			}
		})
	}
}

func TestAnEmptyValueATypedObjectDropsIsNoDrift(t *testing.T) {
	desired, err := NewDesired(map[string]any{"spec": map[string]any{"env": []any{map[string]any{"name": "EMPTY", "value": ""}}}})
	if err != nil {
		t.Fatal(err)
	}
	desired.Fingerprint = "fp"
	set := &fieldpath.Set{}
	if err := set.FromJSON(strings.NewReader(`{"f:spec":{"f:env":{"k:{\"name\":\"EMPTY\"}":{".":{},"f:name":{},"f:value":{}}}}}`)); err != nil {
		t.Fatal(err)
	}
	// The typed object the cache decodes has no "value" for "".
	live := map[string]any{"spec": map[string]any{"env": []any{map[string]any{"name": "EMPTY"}}}}
	present, err := Present(set, value.NewValueInterface(live)).ToJSON()
	if err != nil {
		t.Fatal(err)
	}
	got, err := UpToDate(desired, Live{Fingerprint: "fp", FieldSets: [][]byte{present}})
	if err != nil || !got {
		t.Errorf("UpToDate = %v, %v; want true (present: %s)", got, err, present)
	}
}
