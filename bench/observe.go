package main

import (
	"context"
	"fmt"
	"sync"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	toolscache "k8s.io/client-go/tools/cache"
	"k8s.io/client-go/util/workqueue"
	"sigs.k8s.io/controller-runtime/pkg/client"

	staxv1alpha1 "github.com/stax-dev/blueprint-operator/api/v1alpha1"
	"github.com/stax-dev/blueprint-operator/internal/testutil"
)

// observer watches Blueprints and the operator's Deployments through the
// bench's cache: it tells when Blueprints are Ready, when a Deployment's pod
// template gets a new secrets digest, and it plays the Deployment controller.
type observer struct {
	c     client.Client
	cache interface {
		Get(ctx context.Context, key client.ObjectKey, obj client.Object, opts ...client.GetOption) error
	}

	mu    sync.Mutex
	ready map[types.NamespacedName]bool
	// readyAt is when the bench saw each Ready Blueprint become Ready.
	readyAt map[types.NamespacedName]time.Time
	digests map[types.NamespacedName]string
	waiters map[types.NamespacedName][]digestWaiter

	// rollout is the Deployment controller's queue; only Deployments in
	// namespaces the operator serves are rolled out.
	rollout     workqueue.TypedRateLimitingInterface[types.NamespacedName]
	rolloutNS   func(ns string) bool
	statusFails int
}

type digestWaiter struct {
	old string
	ch  chan time.Time
}

func digestOf(d *appsv1.Deployment) string {
	return d.Spec.Template.Annotations[staxv1alpha1.SecretsDigestAnnotation]
}

func blueprintReady(bp *staxv1alpha1.Blueprint) bool {
	cond := meta.FindStatusCondition(bp.Status.Conditions, staxv1alpha1.ConditionReady)
	return cond != nil && cond.Status == metav1.ConditionTrue && cond.ObservedGeneration == bp.Generation
}

func (c *cluster) observe(ctx context.Context, rolloutNS func(string) bool, workers int) (*observer, error) {
	o := &observer{
		c: c.bench, cache: c.cache,
		ready:     map[types.NamespacedName]bool{},
		readyAt:   map[types.NamespacedName]time.Time{},
		digests:   map[types.NamespacedName]string{},
		waiters:   map[types.NamespacedName][]digestWaiter{},
		rollout:   workqueue.NewTypedRateLimitingQueue(workqueue.NewTypedItemExponentialFailureRateLimiter[types.NamespacedName](20*time.Millisecond, time.Second)),
		rolloutNS: rolloutNS,
	}
	bps, err := c.cache.GetInformer(ctx, &staxv1alpha1.Blueprint{})
	if err != nil {
		return nil, err
	}
	if _, err := bps.AddEventHandler(toolscache.ResourceEventHandlerFuncs{
		AddFunc:    o.onBlueprint,
		UpdateFunc: func(_, obj any) { o.onBlueprint(obj) },
		DeleteFunc: o.onBlueprintDeleted,
	}); err != nil {
		return nil, err
	}
	deps, err := c.cache.GetInformer(ctx, &appsv1.Deployment{})
	if err != nil {
		return nil, err
	}
	if _, err := deps.AddEventHandler(toolscache.ResourceEventHandlerFuncs{
		AddFunc:    o.onDeployment,
		UpdateFunc: func(_, obj any) { o.onDeployment(obj) },
	}); err != nil {
		return nil, err
	}
	go func() { _ = c.cache.Start(ctx) }()
	if !c.cache.WaitForCacheSync(ctx) {
		return nil, ctx.Err()
	}
	for range workers {
		go o.rolloutWorker(ctx)
	}
	go func() {
		<-ctx.Done()
		o.rollout.ShutDown()
	}()
	return o, nil
}

// onBlueprint notes whether a Blueprint is Ready, and when it became so.
func (o *observer) onBlueprint(obj any) {
	bp, ok := obj.(*staxv1alpha1.Blueprint)
	if !ok {
		return
	}
	key := types.NamespacedName{Namespace: bp.Namespace, Name: bp.Name}
	ready := blueprintReady(bp)
	o.mu.Lock()
	if ready && !o.ready[key] {
		o.readyAt[key] = time.Now()
	}
	o.ready[key] = ready
	o.mu.Unlock()
}

func (o *observer) onBlueprintDeleted(obj any) {
	if bp, ok := obj.(*staxv1alpha1.Blueprint); ok {
		o.mu.Lock()
		delete(o.ready, types.NamespacedName{Namespace: bp.Namespace, Name: bp.Name})
		o.mu.Unlock()
	}
}

// onDeployment tells the waiters for a new secrets digest of a Deployment
// when it has one, and queues its rollout if it needs one.
func (o *observer) onDeployment(obj any) {
	d, ok := obj.(*appsv1.Deployment)
	if !ok {
		return
	}
	key := types.NamespacedName{Namespace: d.Namespace, Name: d.Name}
	now := time.Now()
	digest := digestOf(d)
	o.mu.Lock()
	o.digests[key] = digest
	kept := o.waiters[key][:0]
	for _, w := range o.waiters[key] {
		if digest != w.old {
			w.ch <- now
		} else {
			kept = append(kept, w)
		}
	}
	if len(kept) == 0 {
		delete(o.waiters, key)
	} else {
		o.waiters[key] = kept
	}
	o.mu.Unlock()
	if o.rolloutNS(d.Namespace) && testutil.NeedsRollout(d) {
		o.rollout.Add(key)
	}
}

// rolloutWorker does what the Deployment controller and kubelets would:
// report the current generation rolled out and every replica available.
func (o *observer) rolloutWorker(ctx context.Context) {
	for {
		key, shutdown := o.rollout.Get()
		if shutdown {
			return
		}
		err := o.markAvailable(ctx, key)
		switch {
		case err == nil || apierrors.IsNotFound(err) || apierrors.IsConflict(err):
			// A conflict means a newer version is on its way to the cache,
			// and its event queues the Deployment again if it needs it.
			o.rollout.Forget(key)
		default:
			o.mu.Lock()
			o.statusFails++
			o.mu.Unlock()
			o.rollout.AddRateLimited(key)
		}
		o.rollout.Done(key)
	}
}

func (o *observer) markAvailable(ctx context.Context, key types.NamespacedName) error {
	cached := &appsv1.Deployment{}
	if err := o.cache.Get(ctx, key, cached); err != nil {
		return err
	}
	if !testutil.NeedsRollout(cached) {
		return nil
	}
	d := cached.DeepCopy()
	d.Status = testutil.AvailableStatus(d)
	return o.c.Status().Update(ctx, d)
}

// failures counts the Deployment status writes that failed and were
// retried.
func (o *observer) failures() int {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.statusFails
}

// blueprints counts the Blueprints the bench sees.
func (o *observer) blueprints() int {
	o.mu.Lock()
	defer o.mu.Unlock()
	return len(o.ready)
}

// readyCount counts the Ready Blueprints among keys.
func (o *observer) readyCount(keys []types.NamespacedName) int {
	o.mu.Lock()
	defer o.mu.Unlock()
	n := 0
	for _, k := range keys {
		if o.ready[k] {
			n++
		}
	}
	return n
}

// readyTimes returns when each of keys became Ready, after t0.
func (o *observer) readyTimes(keys []types.NamespacedName, t0 time.Time) []time.Duration {
	o.mu.Lock()
	defer o.mu.Unlock()
	out := make([]time.Duration, 0, len(keys))
	for _, k := range keys {
		if t, ok := o.readyAt[k]; ok && o.ready[k] {
			out = append(out, t.Sub(t0))
		}
	}
	return out
}

// waitReady waits until every Blueprint of keys is Ready for its current
// generation, and returns when the bench saw the last one.
func (o *observer) waitReady(ctx context.Context, keys []types.NamespacedName, timeout time.Duration) (time.Time, error) {
	deadline := time.Now().Add(timeout)
	for {
		n := o.readyCount(keys)
		if n == len(keys) {
			return time.Now(), nil
		}
		if time.Now().After(deadline) {
			return time.Time{}, &timeoutError{what: "Blueprints Ready", got: n, want: len(keys), after: timeout}
		}
		select {
		case <-ctx.Done():
			return time.Time{}, ctx.Err()
		case <-time.After(10 * time.Millisecond):
		}
	}
}

// expectNewDigest returns a channel that receives the time the bench sees
// Deployment key with a secrets digest other than the current one.
func (o *observer) expectNewDigest(key types.NamespacedName) (<-chan time.Time, string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	ch := make(chan time.Time, 1)
	old := o.digests[key]
	o.waiters[key] = append(o.waiters[key], digestWaiter{old: old, ch: ch})
	return ch, old
}

type timeoutError struct {
	what      string
	got, want int
	after     time.Duration
}

func (e *timeoutError) Error() string {
	return fmt.Sprintf("timed out after %s waiting for %s: %d of %d", e.after, e.what, e.got, e.want)
}

func keysOf(refs []bpRef) []types.NamespacedName {
	out := make([]types.NamespacedName, len(refs))
	for i, r := range refs {
		out[i] = r.key()
	}
	return out
}
