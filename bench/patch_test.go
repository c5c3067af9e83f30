package main

import (
	"encoding/json"
	"reflect"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	staxv1alpha1 "github.com/stax-dev/blueprint-operator/api/v1alpha1"
)

// TestEditPatches: each typed edit sends a merge patch of exactly the fields
// it sets, as the hand-written JSON it replaced did.
func TestEditPatches(t *testing.T) {
	key := types.NamespacedName{Namespace: "bp-00", Name: "bp-0001"}
	now := metav1.NewTime(time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC))
	for name, tc := range map[string]struct {
		edit func() (client.Object, client.Patch)
		want string
	}{
		"secret": {
			edit: func() (client.Object, client.Patch) { return secretEdit("ns", "s", "v1") },
			want: `{"stringData":{"token":"v1"}}`,
		},
		"digest": {
			edit: func() (client.Object, client.Patch) { return digestEdit(key, "d1") },
			want: `{"spec":{"template":{"metadata":{"annotations":{"` + staxv1alpha1.SecretsDigestAnnotation + `":"d1"}}}}}`,
		},
		"floor status": {
			edit: func() (client.Object, client.Patch) { return floorStatusEdit(key, 4, "bp-0001-generated", now) },
			want: `{"status":{"observedGeneration":4,"generatedSecretName":"bp-0001-generated","serviceCount":3,"readyServiceCount":3,"readyServices":"3/3",` +
				`"conditions":[{"type":"Ready","status":"True","reason":"Available","message":"all 3 services available","observedGeneration":4,"lastTransitionTime":"2026-01-02T03:04:05Z"}]}}`,
		},
	} {
		t.Run(name, func(t *testing.T) {
			obj, patch := tc.edit()
			if patch.Type() != types.MergePatchType {
				t.Errorf("patch type %s", patch.Type())
			}
			raw, err := patch.Data(obj)
			if err != nil {
				t.Fatal(err)
			}
			var got, want any
			if err := json.Unmarshal(raw, &got); err != nil {
				t.Fatal(err)
			}
			if err := json.Unmarshal([]byte(tc.want), &want); err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("patch\n%s\nwant\n%s", raw, tc.want)
			}
		})
	}
}

// TestFloorStatusReady: the status the floor writes is Ready to the
// bench's observer for the generation it names, and for no later one.
func TestFloorStatusReady(t *testing.T) {
	for _, tc := range []struct {
		written, current int64
		ready            bool
	}{{1, 1, true}, {3, 3, true}, {1, 2, false}} {
		bp, _ := floorStatusEdit(types.NamespacedName{Namespace: "ns", Name: "bp"}, tc.written, "bp-generated", metav1.Now())
		bp.Generation = tc.current
		if got := blueprintReady(bp); got != tc.ready {
			t.Errorf("status for generation %d at generation %d: ready %v, want %v", tc.written, tc.current, got, tc.ready)
		}
	}
}
