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

func memoSecret(name, rv string, dataBytes int) *corev1.Secret {
	return &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: name, ResourceVersion: rv},
		Data:       map[string][]byte{"v": make([]byte, dataBytes)},
	}
}

// The memo holds at most maxBytes, letting the least recently used Secret
// go first, and never holds one larger than the bound.
func TestSecretMemoBytesBound(t *testing.T) {
	size := secretSize(memoSecret("a", "1", 1000))
	m := newBoundedSecretMemo(3 * size)
	key := func(n string) types.NamespacedName { return types.NamespacedName{Namespace: "ns", Name: n} }
	var out corev1.Secret
	for _, n := range []string{"a", "b", "c"} {
		m.put(memoSecret(n, "1", 1000))
	}
	if got := m.heldBytes(); got != 3*size {
		t.Fatalf("held %d bytes, want %d", got, 3*size)
	}
	if !m.get(key("a"), "1", &out) { // a is now the most recent
		t.Fatal("a not held")
	}
	m.put(memoSecret("d", "1", 1000))
	for n, want := range map[string]bool{"a": true, "b": false, "c": true, "d": true} {
		if got := m.get(key(n), "1", &out); got != want {
			t.Errorf("%s held = %v, want %v", n, got, want)
		}
	}
	if got := m.heldBytes(); got > 3*size {
		t.Errorf("held %d bytes, more than the bound %d", got, 3*size)
	}
	m.put(memoSecret("huge", "1", 4*size))
	if m.get(key("huge"), "1", &out) {
		t.Error("a Secret larger than the bound is held")
	}
	if got := m.heldBytes(); got > 3*size || got == 0 {
		t.Errorf("held %d bytes after a too-large put; want the others kept within %d", got, 3*size)
	}
	// Replacing an entry counts its new size once.
	m.put(memoSecret("d", "2", 1000))
	if got := m.heldBytes(); got > 3*size {
		t.Errorf("held %d bytes after a replace, more than %d", got, 3*size)
	}
}

// A Secret goes once no Blueprint reads it any more.
func TestSecretMemoRetain(t *testing.T) {
	m := newSecretMemo()
	key := func(n string) types.NamespacedName { return types.NamespacedName{Namespace: "ns", Name: n} }
	a, b := key("bp-a"), key("bp-b")
	for _, n := range []string{"shared", "only-a", "helm-release"} {
		m.put(memoSecret(n, "1", 100))
	}
	m.retain(a, []types.NamespacedName{key("shared"), key("only-a"), key("helm-release")})
	m.retain(b, []types.NamespacedName{key("shared")})
	held := func(n string) bool { var out corev1.Secret; return m.get(key(n), "1", &out) }
	if !held("shared") || !held("only-a") || !held("helm-release") {
		t.Fatal("a Secret read by a Blueprint was let go")
	}
	// a stops referencing the release Secret.
	m.retain(a, []types.NamespacedName{key("shared"), key("only-a")})
	if held("helm-release") {
		t.Error("a Secret no Blueprint reads is still held")
	}
	if !held("shared") || !held("only-a") {
		t.Error("a Secret still read was let go")
	}
	// a goes: what only it read goes, what b reads stays.
	m.retain(a, nil)
	if held("only-a") || !held("shared") {
		t.Errorf("after a went: only-a held %v (want false), shared held %v (want true)", held("only-a"), held("shared"))
	}
	m.retain(b, nil)
	if got := m.heldBytes(); got != 0 {
		t.Errorf("%d bytes held with no Blueprint left", got)
	}
}
