package controller

import (
	"context"
	"sync"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
)

// secretMemo holds the Secrets reconciles read or wrote (the generated
// Secrets and the referenced ones: never any other), by namespace and name,
// with their resourceVersion. The operator does not cache Secrets, which
// would hold every Secret of the cluster; it watches their metadata, and a
// Secret the metadata cache shows at the resourceVersion held here has not
// changed since it was read, so the read is answered from here. This is the
// cache-only-what-is-yours rule applied to Secrets: without it, every
// reconcile of a Blueprint read its Secrets again (two reads per reconcile
// in the benchmark's Blueprints).
//
// A stale answer costs no safety: the metadata cache moves on when the
// Secret changes and its watch reconciles again; every write of the
// generated Secret carries the resourceVersion it read, so a stale copy
// fails with a conflict, and the retry reads from the API server.
type secretMemo struct {
	mu      sync.Mutex
	secrets map[types.NamespacedName]*corev1.Secret
}

func newSecretMemo() *secretMemo {
	return &secretMemo{secrets: map[types.NamespacedName]*corev1.Secret{}}
}

// get copies into out the Secret held for key at resourceVersion, and
// reports whether there was one.
func (m *secretMemo) get(key types.NamespacedName, resourceVersion string, out *corev1.Secret) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	s, ok := m.secrets[key]
	if !ok || resourceVersion == "" || s.ResourceVersion != resourceVersion {
		return false
	}
	s.DeepCopyInto(out)
	return true
}

// put holds a copy of s, as read from or written to the API server,
// without its managedFields (nothing reads them; an Update without them
// leaves the server's as they are).
func (m *secretMemo) put(s *corev1.Secret) {
	c := s.DeepCopy()
	c.ManagedFields = nil
	m.mu.Lock()
	defer m.mu.Unlock()
	m.secrets[types.NamespacedName{Namespace: s.Namespace, Name: s.Name}] = c
}

func (m *secretMemo) forget(key types.NamespacedName) {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.secrets, key)
}

// readSecret reads the Secret key into out: from the memo when the Secret
// metadata cache shows it at the resourceVersion the memo holds, else from
// the API server, and then remembers it. fresh skips the memo (a retry
// after a conflict).
func (r *BlueprintReconciler) readSecret(ctx context.Context, key types.NamespacedName, out *corev1.Secret, fresh bool) error {
	if !fresh && r.secretMetadata != nil {
		m := &metav1.PartialObjectMetadata{}
		m.SetGroupVersionKind(corev1.SchemeGroupVersion.WithKind("Secret"))
		err := r.secretMetadata.Get(ctx, key, m)
		if err == nil && r.secrets.get(key, m.ResourceVersion, out) {
			return nil
		}
	}
	if err := r.APIReader.Get(ctx, key, out); err != nil {
		if apierrors.IsNotFound(err) {
			r.secrets.forget(key)
		}
		return err
	}
	r.secrets.put(out)
	return nil
}
