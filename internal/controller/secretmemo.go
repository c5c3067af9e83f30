package controller

import (
	"container/list"
	"context"
	"slices"
	"strconv"
	"sync"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
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
//
// It is bounded twice: an entry goes once no Blueprint reads it any more
// (retain, after each reconcile's references are read, and when a
// Blueprint goes), and the least recently used entries go while the memo
// holds more than maxBytes of Secret data (a Blueprint can reference
// Secrets of up to 1 MiB each, Helm's release Secrets for one). An evicted
// Secret costs one read on its next use.
type secretMemo struct {
	mu       sync.Mutex
	maxBytes int
	bytes    int
	entries  map[types.NamespacedName]*memoEntry
	// recent orders the entries' keys, most recently used first.
	recent *list.List
	// reads holds, by Blueprint, the Secrets it read in its last reconcile.
	reads map[types.NamespacedName][]types.NamespacedName
}

type memoEntry struct {
	secret *corev1.Secret
	size   int
	// readers are the Blueprints whose last reconcile read it.
	readers map[types.NamespacedName]bool
	at      *list.Element
}

// secretMemoMaxBytes bounds the Secret data the memo holds: about 16,000
// generated Secrets of the benchmark's size, a forty-eighth of the
// manager's shipped memory limit (768 MiB).
const secretMemoMaxBytes = 16 << 20

func newSecretMemo() *secretMemo {
	return newBoundedSecretMemo(secretMemoMaxBytes)
}

func newBoundedSecretMemo(maxBytes int) *secretMemo {
	return &secretMemo{
		maxBytes: maxBytes,
		entries:  map[types.NamespacedName]*memoEntry{},
		recent:   list.New(),
		reads:    map[types.NamespacedName][]types.NamespacedName{},
	}
}

// secretSize is what a Secret costs the memo, roughly: its keys, values,
// labels and annotations, and a fixed overhead.
func secretSize(s *corev1.Secret) int {
	n := 512 + len(s.Name) + len(s.Namespace)
	for k, v := range s.Data {
		n += len(k) + len(v)
	}
	for k, v := range s.StringData {
		n += len(k) + len(v)
	}
	for k, v := range s.Labels {
		n += len(k) + len(v)
	}
	for k, v := range s.Annotations {
		n += len(k) + len(v)
	}
	return n
}

// get copies into out the Secret held for key at resourceVersion, and
// reports whether there was one.
func (m *secretMemo) get(key types.NamespacedName, resourceVersion string, out *corev1.Secret) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	e, ok := m.entries[key]
	if !ok || resourceVersion == "" || e.secret.ResourceVersion != resourceVersion {
		return false
	}
	m.recent.MoveToFront(e.at)
	e.secret.DeepCopyInto(out)
	return true
}

// version is the resourceVersion of the Secret held for key, or "".
func (m *secretMemo) version(key types.NamespacedName) string {
	m.mu.Lock()
	defer m.mu.Unlock()
	if e, ok := m.entries[key]; ok {
		return e.secret.ResourceVersion
	}
	return ""
}

// put holds a copy of s, as read from or written to the API server,
// without its managedFields (nothing reads them; an Update without them
// leaves the server's as they are). A Secret larger than the whole bound
// is not held.
func (m *secretMemo) put(s *corev1.Secret) {
	c := s.DeepCopy()
	c.ManagedFields = nil
	key := types.NamespacedName{Namespace: s.Namespace, Name: s.Name}
	size := secretSize(c)
	m.mu.Lock()
	defer m.mu.Unlock()
	readers := map[types.NamespacedName]bool{}
	if old, ok := m.entries[key]; ok {
		readers = old.readers
		m.removeLocked(key)
	}
	if size > m.maxBytes {
		return
	}
	m.entries[key] = &memoEntry{secret: c, size: size, readers: readers, at: m.recent.PushFront(key)}
	m.bytes += size
	for m.bytes > m.maxBytes {
		m.removeLocked(m.recent.Back().Value.(types.NamespacedName))
	}
}

func (m *secretMemo) forget(key types.NamespacedName) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.removeLocked(key)
}

func (m *secretMemo) removeLocked(key types.NamespacedName) {
	e, ok := m.entries[key]
	if !ok {
		return
	}
	m.recent.Remove(e.at)
	m.bytes -= e.size
	delete(m.entries, key)
}

// retain records that Blueprint bp now reads exactly keys (none when it is
// gone), and lets go of every held Secret no Blueprint reads any more.
func (m *secretMemo) retain(bp types.NamespacedName, keys []types.NamespacedName) {
	m.mu.Lock()
	defer m.mu.Unlock()
	previous := m.reads[bp]
	for _, key := range previous {
		if e, ok := m.entries[key]; ok {
			delete(e.readers, bp)
		}
	}
	if len(keys) == 0 {
		delete(m.reads, bp)
	} else {
		m.reads[bp] = slices.Clone(keys)
	}
	for _, key := range keys {
		if e, ok := m.entries[key]; ok {
			e.readers[bp] = true
		}
	}
	for _, key := range previous {
		if e, ok := m.entries[key]; ok && len(e.readers) == 0 {
			m.removeLocked(key)
		}
	}
}

// heldBytes is how much Secret data the memo holds.
func (m *secretMemo) heldBytes() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.bytes
}

// readSecret reads the Secret key into out: from the memo when the Secret
// metadata cache shows it at the resourceVersion the memo holds, else from
// the API server, and then remembers it. fresh skips the memo (a retry
// after a conflict).
//
// A read from the API server asks for the Secret at least as new as the
// metadata cache shows it, or as the memo holds it when that is newer (a
// Secret this manager wrote or read since the watch last reported it), which
// the API server answers from its watch cache instead of etcd
// (secretReadOptions): after a restart the memo is empty and every Blueprint
// reads its Secrets once, and those reads wait on etcd otherwise. The
// answer is never older than anything this manager has seen of the Secret,
// so a value never goes back to an earlier one; a newer change reaches the
// metadata cache and reconciles again, as a memoised answer does.
func (r *BlueprintReconciler) readSecret(ctx context.Context, key types.NamespacedName, out *corev1.Secret, fresh bool) error {
	cachedVersion := ""
	if !fresh && r.secretMetadata != nil {
		m := &metav1.PartialObjectMetadata{}
		m.SetGroupVersionKind(corev1.SchemeGroupVersion.WithKind("Secret"))
		err := r.secretMetadata.Get(ctx, key, m)
		if err == nil && r.secrets.get(key, m.ResourceVersion, out) {
			return nil
		}
		if err == nil {
			cachedVersion = newerVersion(m.ResourceVersion, r.secrets.version(key))
		}
	}
	if err := r.apiReader.Get(ctx, key, out, secretReadOptions(cachedVersion)...); err != nil {
		if apierrors.IsNotFound(err) {
			r.secrets.forget(key)
		}
		return err
	}
	r.secrets.put(out)
	return nil
}

// secretReadOptions are the options of a Secret read from the API server
// when the metadata cache shows the Secret at cachedVersion: "not older
// than" that version, served from the API server's watch cache. With no
// version (the Secret is not in the cache yet, or the read must be the
// latest: a retry after a conflict) the read is a quorum read from etcd.
func secretReadOptions(cachedVersion string) []client.GetOption {
	if cachedVersion == "" {
		return nil
	}
	return []client.GetOption{&client.GetOptions{Raw: &metav1.GetOptions{ResourceVersion: cachedVersion}}}
}

// newerVersion is the newer of two resourceVersions of one object: a, when
// either is not a number (the API server's are etcd revisions; one that is
// not cannot be compared) or b is empty.
func newerVersion(a, b string) string {
	av, errA := strconv.ParseUint(a, 10, 64)
	bv, errB := strconv.ParseUint(b, 10, 64)
	if errA != nil || errB != nil || bv <= av {
		return a
	}
	return b
}

// retainSecrets tells the memo which Secrets sc's Blueprint reads now: its
// generated Secret and the referenced Secrets that exist.
func (r *BlueprintReconciler) retainSecrets(sc *scope) {
	keys := []types.NamespacedName{{Namespace: sc.bp.Namespace, Name: sc.plan.GeneratedSecretName}}
	for name, secret := range sc.referenced {
		if secret != nil {
			keys = append(keys, types.NamespacedName{Namespace: sc.bp.Namespace, Name: name})
		}
	}
	r.secrets.retain(client.ObjectKeyFromObject(sc.bp), keys)
}
