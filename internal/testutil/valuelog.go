package testutil

import (
	"bytes"
	"context"
	"fmt"
	"sort"
	"sync"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/cache"
	watchtools "k8s.io/client-go/tools/watch"
)

// ValueLog records every version of every Secret matching a label selector,
// as the API server's watch delivers them, from the moment it starts: the
// first value it holds for a key is the first value the server ever stored
// for it. It must run against the API server directly, not through a proxy
// that could drop events: a RetryWatcher resumes from the last
// resourceVersion it saw, so no version is skipped; if the server cannot
// resume (410 Gone), Err reports it and the log is incomplete.
type ValueLog struct {
	mu      sync.Mutex
	secrets map[types.NamespacedName]*SecretHistory
	events  int
	err     error
}

// SecretHistory is what a ValueLog saw of one Secret. It holds values: never
// print it.
type SecretHistory struct {
	// Values holds, per key, the successive values the key had: a new entry
	// each time the value differs from the previous one.
	Values map[string][][]byte
	// UIDs lists the Secret's UIDs in order: more than one means it was
	// deleted and created again.
	UIDs []types.UID
	// Deleted is true when the last event was a deletion.
	Deleted bool
	// Versions counts the versions seen.
	Versions int
}

// Changed lists, sorted, the keys whose value changed at least once.
func (h *SecretHistory) Changed() []string {
	var out []string
	for k, vs := range h.Values {
		if len(vs) > 1 {
			out = append(out, k)
		}
	}
	sort.Strings(out)
	return out
}

// StartValueLog lists the matching Secrets and watches them from that list's
// resourceVersion until ctx ends.
func StartValueLog(ctx context.Context, cs kubernetes.Interface, labelSelector string) (*ValueLog, error) {
	l := &ValueLog{secrets: map[types.NamespacedName]*SecretHistory{}}
	list, err := cs.CoreV1().Secrets("").List(ctx, metav1.ListOptions{LabelSelector: labelSelector})
	if err != nil {
		return nil, err
	}
	for i := range list.Items {
		l.record(watch.Added, &list.Items[i])
	}
	lw := cache.NewFilteredListWatchFromClient(cs.CoreV1().RESTClient(), "secrets", metav1.NamespaceAll,
		func(o *metav1.ListOptions) { o.LabelSelector = labelSelector })
	w, err := watchtools.NewRetryWatcherWithContext(ctx, list.ResourceVersion, lw)
	if err != nil {
		return nil, err
	}
	go func() {
		defer w.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case ev, ok := <-w.ResultChan():
				if !ok {
					l.fail(fmt.Errorf("the Secret watch ended"))
					return
				}
				switch ev.Type {
				case watch.Added, watch.Modified, watch.Deleted:
					if s, ok := ev.Object.(*corev1.Secret); ok {
						l.record(ev.Type, s)
					}
				case watch.Error:
					l.fail(fmt.Errorf("the Secret watch failed; versions may be missing: %v", ev.Object))
					return
				}
			}
		}
	}()
	return l, nil
}

func (l *ValueLog) fail(err error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.err == nil {
		l.err = err
	}
}

func (l *ValueLog) record(typ watch.EventType, s *corev1.Secret) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.events++
	key := types.NamespacedName{Namespace: s.Namespace, Name: s.Name}
	h := l.secrets[key]
	if h == nil {
		h = &SecretHistory{Values: map[string][][]byte{}}
		l.secrets[key] = h
	}
	h.Versions++
	if n := len(h.UIDs); n == 0 || h.UIDs[n-1] != s.UID {
		h.UIDs = append(h.UIDs, s.UID)
	}
	h.Deleted = typ == watch.Deleted
	for k, v := range s.Data {
		vs := h.Values[k]
		if len(vs) == 0 || !bytes.Equal(vs[len(vs)-1], v) {
			h.Values[k] = append(vs, bytes.Clone(v))
		}
	}
}

// Err is non-nil once the log may have missed versions.
func (l *ValueLog) Err() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.err
}

// Events is how many watch events the log recorded.
func (l *ValueLog) Events() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.events
}

// History returns a copy of what the log saw of one Secret.
func (l *ValueLog) History(key types.NamespacedName) (SecretHistory, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	h, ok := l.secrets[key]
	if !ok {
		return SecretHistory{}, false
	}
	out := SecretHistory{Values: map[string][][]byte{}, UIDs: append([]types.UID(nil), h.UIDs...), Deleted: h.Deleted, Versions: h.Versions}
	for k, vs := range h.Values {
		out.Values[k] = append([][]byte(nil), vs...)
	}
	return out, true
}

// Secrets lists the Secrets the log saw in a namespace ("" for all).
func (l *ValueLog) Secrets(namespace string) []types.NamespacedName {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []types.NamespacedName
	for k := range l.secrets {
		if namespace == "" || k.Namespace == namespace {
			out = append(out, k)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].String() < out[j].String() })
	return out
}

// AllValues returns every value the log saw, for leak checks.
func (l *ValueLog) AllValues() [][]byte {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out [][]byte
	for _, h := range l.secrets {
		for _, vs := range h.Values {
			out = append(out, vs...)
		}
	}
	return out
}
