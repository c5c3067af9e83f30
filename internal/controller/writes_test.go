package controller

import (
	"context"
	"sync"
	"sync/atomic"

	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	staxv1alpha1 "github.com/stax-dev/blueprint-operator/api/v1alpha1"
)

// countingClient counts every write the reconciler sends, including writes
// the API server would treat as no-ops (an unchanged server-side apply keeps
// the resourceVersion, so only counting requests shows it was sent).
type countingClient struct {
	client.Client
	writes *writeCounter
	// statusWrites counts the status writes among writes.
	statusWrites *writeCounter
}

// writeCounter counts writes in all and per namespace: specs run beside
// Blueprints other specs left behind, whose scheduled requeues may write,
// so a spec that says "nothing was written" counts in its own namespace.
type writeCounter struct {
	total        atomic.Int64
	perNamespace sync.Map // namespace -> *atomic.Int64

	mu sync.Mutex
	// readyReasons: per namespace, the Ready condition ("True/Available")
	// each Blueprint status write carried, in order.
	readyReasons map[string][]string
}

func (w *writeCounter) addReadyReason(namespace, reason string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.readyReasons == nil {
		w.readyReasons = map[string][]string{}
	}
	w.readyReasons[namespace] = append(w.readyReasons[namespace], reason)
}

// ReadyReasonsIn lists the Ready condition of every Blueprint status write
// to namespace, in order.
func (w *writeCounter) ReadyReasonsIn(namespace string) []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]string(nil), w.readyReasons[namespace]...)
}

func (w *writeCounter) add(namespace string) {
	w.total.Add(1)
	n, _ := w.perNamespace.LoadOrStore(namespace, new(atomic.Int64))
	n.(*atomic.Int64).Add(1)
}

// Load is every write the manager sent.
func (w *writeCounter) Load() int64 { return w.total.Load() }

// In is every write the manager sent to objects of namespace.
func (w *writeCounter) In(namespace string) int64 {
	if n, ok := w.perNamespace.Load(namespace); ok {
		return n.(*atomic.Int64).Load()
	}
	return 0
}

// namespaceOf is the namespace of an object or an apply configuration.
func namespaceOf(obj any) string {
	switch o := obj.(type) {
	case client.Object:
		return o.GetNamespace()
	case interface{ GetNamespace() *string }:
		if ns := o.GetNamespace(); ns != nil {
			return *ns
		}
	}
	return ""
}

// Get lets a spec make the cache late (statuslag_test.go).
func (c countingClient) Get(ctx context.Context, key client.ObjectKey, obj client.Object, opts ...client.GetOption) error {
	if err := c.Client.Get(ctx, key, obj, opts...); err != nil {
		return err
	}
	lagRead(obj)
	return nil
}

func (c countingClient) Create(ctx context.Context, obj client.Object, opts ...client.CreateOption) error {
	c.writes.add(namespaceOf(obj))
	return c.Client.Create(ctx, obj, opts...)
}

func (c countingClient) Update(ctx context.Context, obj client.Object, opts ...client.UpdateOption) error {
	c.writes.add(namespaceOf(obj))
	return c.Client.Update(ctx, obj, opts...)
}

func (c countingClient) Patch(ctx context.Context, obj client.Object, patch client.Patch, opts ...client.PatchOption) error {
	c.writes.add(namespaceOf(obj))
	return c.Client.Patch(ctx, obj, patch, opts...)
}

func (c countingClient) Apply(ctx context.Context, obj runtime.ApplyConfiguration, opts ...client.ApplyOption) error {
	c.writes.add(namespaceOf(obj))
	return c.Client.Apply(ctx, obj, opts...)
}

func (c countingClient) Delete(ctx context.Context, obj client.Object, opts ...client.DeleteOption) error {
	c.writes.add(namespaceOf(obj))
	return c.Client.Delete(ctx, obj, opts...)
}

func (c countingClient) Status() client.SubResourceWriter {
	return countingStatusWriter{SubResourceWriter: c.Client.Status(), writes: c.writes, statusWrites: c.statusWrites, cache: c.Client}
}

type countingStatusWriter struct {
	client.SubResourceWriter
	writes, statusWrites *writeCounter
	// cache is the manager's client, unlagged (statuslag_test.go).
	cache client.Reader
}

func (w countingStatusWriter) add(obj any) {
	w.writes.add(namespaceOf(obj))
	w.statusWrites.add(namespaceOf(obj))
	if bp, ok := obj.(*staxv1alpha1.Blueprint); ok {
		reason := "none"
		if c := meta.FindStatusCondition(bp.Status.Conditions, staxv1alpha1.ConditionReady); c != nil {
			reason = string(c.Status) + "/" + c.Reason
		}
		w.statusWrites.addReadyReason(bp.Namespace, reason)
	}
}

func (w countingStatusWriter) Update(ctx context.Context, obj client.Object, opts ...client.SubResourceUpdateOption) error {
	w.add(obj)
	return w.SubResourceWriter.Update(ctx, obj, opts...)
}

func (w countingStatusWriter) Patch(ctx context.Context, obj client.Object, patch client.Patch, opts ...client.SubResourcePatchOption) error {
	w.add(obj)
	return lagStatusPatch(ctx, w.cache, obj, func() error { return w.SubResourceWriter.Patch(ctx, obj, patch, opts...) })
}

func (w countingStatusWriter) Apply(ctx context.Context, obj runtime.ApplyConfiguration, opts ...client.SubResourceApplyOption) error {
	w.add(obj)
	return w.SubResourceWriter.Apply(ctx, obj, opts...)
}
