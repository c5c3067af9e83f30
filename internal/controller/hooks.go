package controller

import (
	"context"

	batchv1 "k8s.io/api/batch/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	staxv1alpha1 "github.com/stax-dev/blueprint-operator/api/v1alpha1"
	"github.com/stax-dev/blueprint-operator/internal/apierror"
	"github.com/stax-dev/blueprint-operator/internal/digest"
	"github.com/stax-dev/blueprint-operator/internal/observe"
	"github.com/stax-dev/blueprint-operator/internal/ownership"
	"github.com/stax-dev/blueprint-operator/internal/render"
	"github.com/stax-dev/blueprint-operator/internal/status"
	"github.com/stax-dev/blueprint-operator/internal/values"
)

// +kubebuilder:rbac:groups=batch,resources=jobs,verbs=get;list;watch;create;delete

// observeHookJobs reads, from the API server (a Job created moments ago may
// not be in the cache yet, and an absent Job fails a running rotation), the
// Job of every hooked rotation in flight in st, for values.Sync.
func (r *BlueprintReconciler) observeHookJobs(ctx context.Context, sc *scope, st *values.State) (map[string]observe.JobState, error) {
	jobs := map[string]observe.JobState{}
	for _, m := range sc.plan.Managed {
		h := st.Values[m.Name].Hook
		if !h.InFlight() {
			continue
		}
		name := h.JobName(sc.bp.Name, m.Name)
		job := &batchv1.Job{}
		err := r.apiReader.Get(ctx, types.NamespacedName{Namespace: sc.bp.Namespace, Name: name}, job)
		switch {
		case apierrors.IsNotFound(err):
			job = nil
		case err != nil:
			return nil, apierror.Wrap(apierror.OpRead, "Job", name, err)
		}
		jobs[m.Name] = observe.Job(job, hookJobMark(sc.bp, st, m.Name, h))
		if job != nil {
			if sc.hookJobs == nil {
				sc.hookJobs = map[string]types.UID{}
			}
			sc.hookJobs[name] = job.UID
		}
	}
	return jobs, nil
}

// hookJobMark is what marks the Job of rotation h of secret as the one the
// operator created.
func hookJobMark(bp *staxv1alpha1.Blueprint, st *values.State, secret string, h *values.HookState) observe.HookJob {
	want := observe.HookJob{Owner: bp.UID, Label: render.HookLabelValue(bp.Name, secret)}
	if h.Marked {
		want.Token = digest.HookToken(st.Data[staxv1alpha1.DigestKey], string(bp.UID), secret, h.Attempt)
	}
	return want
}

// runHooks runs after the generated Secret is written with the staged
// values: it creates the Job of every staged rotation whose Job was not
// seen (Create, never Apply: AlreadyExists means it is there, and the next
// reconcile reads what it is), then deletes this Blueprint's hook Jobs that
// no rotation needs any more.
func (r *BlueprintReconciler) runHooks(ctx context.Context, sc *scope, st *values.State, change values.Change) error {
	byName := map[string]render.ManagedSecret{}
	for _, m := range sc.plan.Managed {
		byName[m.Name] = m
	}
	for _, name := range change.StopJobs {
		// The rotation failed while its Job ran (values.Sync observed it,
		// as ours, active): delete it with its pods before anything else,
		// so that it cannot carry on with the value just discarded.
		job := &batchv1.Job{ObjectMeta: metav1.ObjectMeta{Namespace: sc.bp.Namespace, Name: st.Values[name].Hook.JobName(sc.bp.Name, name)}}
		uid := sc.hookJobs[job.Name]
		if err := r.Delete(ctx, job, client.Preconditions{UID: &uid}, client.PropagationPolicy(metav1.DeletePropagationForeground)); client.IgnoreNotFound(err) != nil {
			return apierror.Wrap(apierror.OpDelete, "Job", job.Name, err)
		}
	}
	for _, name := range change.CreateJobs {
		if sc.heldHooks[name] {
			// Its env names a Secret that is missing or may not be read
			// (checkReferences reported it): no Job reads it. The
			// rotation stays staged, and fails at its deadline unless
			// the reference resolves and a reconcile creates the Job.
			continue
		}
		m := byName[name]
		h := st.Values[name].Hook
		job, err := render.HookJob(sc.bp, sc.plan, m, h.JobName(sc.bp.Name, name), values.HookJobDeadline(h, m.HookTimeout(), r.clock.Now()),
			digest.HookToken(st.Data[staxv1alpha1.DigestKey], string(sc.bp.UID), name, h.Attempt))
		if err != nil {
			// render.Build reported it, by service: the Job waits for a fix
			// and the rotation times out if none comes.
			continue
		}
		if err := r.Create(ctx, job); err != nil && !apierrors.IsAlreadyExists(err) {
			return apierror.Wrap(apierror.OpCreate, "Job", job.Name, err)
		}
	}
	keep := map[string]bool{}
	for _, m := range sc.plan.Managed {
		if h := st.Values[m.Name].Hook; h != nil && h.Phase != staxv1alpha1.RotationStateCommitted {
			// In flight, or failed and kept for inspection until the next
			// attempt.
			keep[h.JobName(sc.bp.Name, m.Name)] = true
		}
	}
	jobs := &batchv1.JobList{}
	if err := r.List(ctx, jobs, client.InNamespace(sc.bp.Namespace),
		client.MatchingLabels{staxv1alpha1.LabelBlueprint: sc.bp.Name}, client.HasLabels{staxv1alpha1.LabelRotationHook}); err != nil {
		return apierror.Wrap(apierror.OpList, "Jobs", "", err)
	}
	for i := range jobs.Items {
		job := &jobs.Items[i]
		if keep[job.Name] || ownership.Rendered(job, sc.bp) != ownership.Owned {
			continue
		}
		uid := job.UID
		// Background: a Job's pods go with it (the API's default for Jobs
		// orphans them).
		if err := r.Delete(ctx, job, client.Preconditions{UID: &uid}, client.PropagationPolicy(metav1.DeletePropagationBackground)); client.IgnoreNotFound(err) != nil {
			return apierror.Wrap(apierror.OpDelete, "Job", job.Name, err)
		}
	}
	return nil
}

// recordHooks reports hooked rotations: status per hooked secret, and a
// RotationFailed problem while the latest rotation of a secret failed.
// Their events are values.Events'.
func (r *BlueprintReconciler) recordHooks(sc *scope, st *values.State) {
	for i := range sc.secrets {
		s := &sc.secrets[i]
		h := st.Values[s.Name].Hook
		if h == nil {
			continue
		}
		job := h.JobName(sc.bp.Name, s.Name)
		s.Hook = &staxv1alpha1.RotationHookStatus{State: h.Phase, JobName: job}
		if h.Phase == staxv1alpha1.RotationStateFailed {
			sc.problem(status.RotationFailedProblem(sc.bp.Name, s.Name, h.Failure, job))
		}
	}
}
