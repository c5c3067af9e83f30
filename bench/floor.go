package main

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	corev1ac "k8s.io/client-go/applyconfigurations/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	staxv1alpha1 "github.com/stax-dev/blueprint-operator/api/v1alpha1"
	"github.com/stax-dev/blueprint-operator/bench/internal/audit"
)

// floorPhase is what the operator cannot avoid, done by a plain client at
// the manager's concurrency and rate limits: server-side apply each
// Blueprint's Secret, Deployments and Services, and once its Deployments
// are available (the bench plays their controller, as for the operator),
// write its status once (Ready). The bench creates the Blueprints in the
// timed window, as in the operator's phase, and the phase ends as the
// operator's does: when the bench sees the last Blueprint Ready. The curve
// then replaces the control plane, so the manager never sees the floor's
// objects.
type floorPhase struct {
	refs    []bpRef
	workers int
	plain   client.Client
	// applies are each Blueprint's objects as the plain client applies
	// them, deps its Deployments, secretNames its generated Secret.
	applies     [][]runtime.ApplyConfiguration
	deps        [][]types.NamespacedName
	secretNames []string

	// The timed run's state: each Blueprint's generation once created,
	// the workers' queue, the Blueprints whose objects are applied, and the
	// first error, which cancels the run.
	gens     []atomic.Int64
	jobs     chan floorJob
	applied  chan int
	once     sync.Once
	firstErr error
	cancel   context.CancelFunc
}

// floorJob is one Blueprint's objects to apply, or its status to write.
type floorJob struct {
	i      int
	status bool
}

// floorRefs are main's Blueprints in namespaces of the floor's own.
func floorRefs(main []bpRef) []bpRef {
	out := make([]bpRef, len(main))
	for i, ref := range main {
		ref.Namespace = "floor-" + strings.TrimPrefix(ref.Namespace, "bp-")
		out[i] = ref
	}
	return out
}

// prepareFloor creates the floor's namespaces and renders its objects, and
// has the plain client discover its REST mappings: the manager has them
// before its phase, too.
func prepareFloor(ctx context.Context, e *env) (*floorPhase, error) {
	refs := floorRefs(e.main)
	n := len(refs)
	f := &floorPhase{
		refs: refs, workers: max(e.knobs.MaxConcurrentReconciles, 1),
		applies: make([][]runtime.ApplyConfiguration, n), deps: make([][]types.NamespacedName, n), secretNames: make([]string, n),
	}
	if err := createNamespaces(ctx, e.c.bench, namespacesOf(refs)...); err != nil {
		return nil, err
	}
	for i, ref := range refs {
		objs, acs, err := renderPlain(ref, ref.Namespace)
		if err != nil {
			return nil, err
		}
		s := objs[0].(*corev1.Secret)
		f.secretNames[i] = s.Name
		f.applies[i] = append([]runtime.ApplyConfiguration{
			corev1ac.Secret(s.Name, s.Namespace).WithLabels(s.Labels).WithAnnotations(s.Annotations).WithType(s.Type).WithData(s.Data),
		}, acs...)
		for _, o := range objs {
			if _, ok := o.(*appsv1.Deployment); ok {
				f.deps[i] = append(f.deps[i], types.NamespacedName{Namespace: o.GetNamespace(), Name: o.GetName()})
			}
		}
	}
	var err error
	if f.plain, err = e.plainClient(); err != nil {
		return nil, err
	}
	for _, obj := range []client.Object{&corev1.Secret{}, &appsv1.Deployment{}, &corev1.Service{}, &staxv1alpha1.Blueprint{}} {
		gvk, err := f.plain.GroupVersionKindFor(obj)
		if err != nil {
			return nil, err
		}
		if _, err := f.plain.RESTMapper().RESTMapping(gvk.GroupKind(), gvk.Version); err != nil {
			return nil, err
		}
	}
	return f, nil
}

// run times the floor: from the first Blueprint create until the bench
// sees the last one Ready.
func (f *floorPhase) run(ctx context.Context, e *env) (phase, error) {
	n := len(f.refs)
	if _, err := e.c.audit.WaitQuiet(ctx, userBench, time.Second, e.cfg.waitTimeout); err != nil {
		return phase{}, err
	}
	ctx, f.cancel = context.WithCancel(ctx)
	defer f.cancel()
	f.gens = make([]atomic.Int64, n)
	f.applied = make(chan int, n)
	f.jobs = make(chan floorJob, 2*n)
	for i := range n {
		f.jobs <- floorJob{i: i}
	}
	cpu0 := e.c.cpu(nil)
	t0 := time.Now()
	var wg sync.WaitGroup
	wg.Go(func() { f.createBlueprints(ctx, e) })
	for range f.workers {
		wg.Go(func() { f.work(ctx) })
	}
	wg.Go(func() { f.writeStatusWhenAvailable(ctx, e) })
	ready, err := e.obs.waitReady(ctx, keysOf(f.refs), e.timeoutFor(n))
	if err != nil {
		f.fail(err)
	}
	wg.Wait()
	if f.firstErr != nil {
		return phase{}, f.firstErr
	}
	used := e.c.cpu(nil).sub(cpu0)
	plainEv, err := e.c.audit.Between(userBaseline, t0, ready)
	if err != nil {
		return phase{}, err
	}
	benchEv, err := e.c.audit.Between(userBench, t0, ready)
	if err != nil {
		return phase{}, err
	}
	ph := newPhase(n, ready.Sub(t0), used, e.obs.readyTimes(keysOf(f.refs), t0), audit.Summarize(plainEv), audit.Summarize(benchEv))
	logf("floor: %d Blueprints Ready in %s; plain client %s; kube-apiserver %.1f ms per Blueprint",
		n, ready.Sub(t0).Round(time.Millisecond), ph.Requests.TopKinds(6), ph.APIServerCPUPerBlueprintMs)
	return ph, nil
}

// fail records the run's first error and stops the run.
func (f *floorPhase) fail(err error) {
	f.once.Do(func() { f.firstErr = err; f.cancel() })
}

// createBlueprints is the bench creating the Blueprints, as in the
// operator's phase.
func (f *floorPhase) createBlueprints(ctx context.Context, e *env) {
	if err := parallel(ctx, len(f.refs), e.cfg.benchWorkers, func(ctx context.Context, i int) error {
		bp := blueprint(f.refs[i])
		if err := e.c.bench.Create(ctx, bp); err != nil {
			return err
		}
		f.gens[i].Store(bp.Generation)
		return nil
	}); err != nil {
		f.fail(err)
	}
}

// work is one of the plain client's workers: it applies a Blueprint's
// objects, or writes its status once writeStatusWhenAvailable found its
// Deployments available.
func (f *floorPhase) work(ctx context.Context) {
	for {
		var j floorJob
		var ok bool
		select {
		case <-ctx.Done():
			return
		case j, ok = <-f.jobs:
			if !ok {
				return
			}
		}
		if j.status {
			bp, patch := floorStatusEdit(f.refs[j.i].key(), f.gens[j.i].Load(), f.secretNames[j.i], metav1.Now())
			if err := f.plain.Status().Patch(ctx, bp, patch); err != nil {
				f.fail(fmt.Errorf("plain client writing status of %s: %w", f.refs[j.i].key(), err))
				return
			}
			continue
		}
		for _, ac := range f.applies[j.i] {
			if err := f.plain.Apply(ctx, ac, client.FieldOwner("bench-floor")); err != nil {
				f.fail(fmt.Errorf("plain client applying for %s: %w", f.refs[j.i].key(), err))
				return
			}
		}
		f.applied <- j.i
	}
}

// writeStatusWhenAvailable queues a Blueprint's status write once its
// objects are applied, it exists, and the bench sees its Deployments
// rolled out; it closes the queue when every status is queued.
func (f *floorPhase) writeStatusWhenAvailable(ctx context.Context, e *env) {
	defer close(f.jobs)
	var pending []int
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for done := 0; done < len(f.refs); {
		select {
		case <-ctx.Done():
			return
		case i := <-f.applied:
			pending = append(pending, i)
			continue
		case <-tick.C:
		}
		kept := pending[:0]
		for _, i := range pending {
			if f.gens[i].Load() > 0 && e.available(ctx, f.deps[i]) {
				f.jobs <- floorJob{i: i, status: true}
				done++
			} else {
				kept = append(kept, i)
			}
		}
		pending = kept
	}
}

// floorStatusEdit is the Blueprint and merge patch of its status subresource
// that the floor writes once the Blueprint's three Deployments are
// available: the Ready status the operator writes then.
func floorStatusEdit(key types.NamespacedName, gen int64, secretName string, now metav1.Time) (*staxv1alpha1.Blueprint, client.Patch) {
	bp := &staxv1alpha1.Blueprint{ObjectMeta: metav1.ObjectMeta{Namespace: key.Namespace, Name: key.Name}}
	patch := client.MergeFrom(bp.DeepCopy())
	bp.Status = staxv1alpha1.BlueprintStatus{
		ObservedGeneration:  ptrTo(gen),
		GeneratedSecretName: secretName,
		ServiceCount:        ptrTo(int32(3)),
		ReadyServiceCount:   ptrTo(int32(3)),
		ReadyServices:       "3/3",
		Conditions: []metav1.Condition{{
			Type: staxv1alpha1.ConditionReady, Status: metav1.ConditionTrue, Reason: staxv1alpha1.ReasonAvailable,
			Message: "all 3 services available", ObservedGeneration: gen, LastTransitionTime: now,
		}},
	}
	return bp, patch
}
