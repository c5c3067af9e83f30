package controller

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
)

func TestSecretMemo(t *testing.T) {
	key := types.NamespacedName{Namespace: "ns", Name: "db"}
	m := newSecretMemo()
	var out corev1.Secret
	if m.get(key, "1", &out) {
		t.Fatal("an empty memo answered")
	}
	s := &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "db", ResourceVersion: "7",
			ManagedFields: []metav1.ManagedFieldsEntry{{Manager: "kubectl"}}},
		Data: map[string][]byte{"password": []byte("x")},
	}
	m.put(s)
	s.Data["password"][0] = 'y' // the caller's copy changes after put
	tests := map[string]struct {
		rv   string
		want bool
	}{
		"same resourceVersion":          {"7", true},
		"the Secret changed since":      {"8", false},
		"the metadata cache has no RV":  {"", false},
		"an older cache than the write": {"6", false},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			var out corev1.Secret
			if got := m.get(key, tc.rv, &out); got != tc.want {
				t.Fatalf("get = %v, want %v", got, tc.want)
			}
			if !tc.want {
				return
			}
			if string(out.Data["password"]) != "x" {
				t.Errorf("got %q: the memo shares the caller's data", out.Data["password"])
			}
			if out.ManagedFields != nil {
				t.Errorf("managedFields kept: %v", out.ManagedFields)
			}
			out.Data["password"][0] = 'z'
			var again corev1.Secret
			m.get(key, "7", &again)
			if string(again.Data["password"]) != "x" {
				t.Errorf("a reader's change reached the memo: %q", again.Data["password"])
			}
		})
	}
	m.forget(key)
	if m.get(key, "7", &out) {
		t.Error("answered after forget")
	}
}
