package controller

import (
	"context"
	"time"

	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/log"

	staxv1alpha1 "github.com/stax-dev/blueprint-operator/api/v1alpha1"
	"github.com/stax-dev/blueprint-operator/internal/apierror"
	"github.com/stax-dev/blueprint-operator/internal/metrics"
	"github.com/stax-dev/blueprint-operator/internal/render"
	"github.com/stax-dev/blueprint-operator/internal/status"
)

// observe summarises the reconcile for status.
func (sc *scope) observe(reconcileErr error) status.Observation {
	obs := status.Observation{
		Generation: sc.bp.Generation,
		Problems:   sc.problems,
		Err:        reconcileErr,
	}
	if sc.generatedSecret != nil {
		obs.GeneratedSecretName = sc.generatedSecret.Name
	}
	// Replicas as the selected plan sets them.
	for _, svc := range render.Effective(sc.bp).Spec.Services {
		o := status.ServiceObservation{Name: svc.Name, Desired: status.DesiredReplicas(svc.Replicas, nil)}
		if dep, ok := sc.deployments[svc.Name]; ok {
			o.Desired = status.DesiredReplicas(svc.Replicas, dep.Spec.Replicas)
			o.Ready = dep.Status.ReadyReplicas
			o.Available = !sc.applied[svc.Name] && !sc.blocked[svc.Name] && len(sc.waitingFor[svc.Name]) == 0 &&
				sc.available(svc.Name, dep)
			o.SecretsDigest = dep.Spec.Template.Annotations[staxv1alpha1.SecretsDigestAnnotation]
		}
		if d, ok := sc.digests[svc.Name]; ok {
			o.SecretsDigest = d
		}
		o.WaitingFor = sc.waitingFor[svc.Name]
		o.URL = sc.urls[svc.Name]
		if _, o.Suspended = sc.suspended[svc.Name]; o.Suspended {
			// What it is asked to run now; the count it returns to is on
			// its Deployment (SuspendedReplicasAnnotation).
			o.Desired = 0
		}
		obs.Services = append(obs.Services, o)
	}
	obs.Secrets = sc.secrets
	obs.PendingRemovals = sc.pendingRemovals
	obs.UndeclaredClaims = sc.undeclaredClaims
	if sc.sleep != nil {
		obs.Sleep = sc.sleep.status
		obs.SleepMessage = sc.sleep.message
	}
	return obs
}

// patchStatus writes the status computed from this reconcile, once, and only
// if it differs from what is stored. While the first status write waits for
// the rollout (status.FirstWriteHold), it comes back by then.
func (r *BlueprintReconciler) patchStatus(ctx context.Context, sc *scope, reconcileErr error) (ctrl.Result, error) {
	if ctx.Err() != nil {
		// The manager is stopping: what the reconcile saw says nothing
		// final about the Blueprint.
		return ctrl.Result{}, nil //nolint:nilerr // a stopping manager's context error is not the reconcile's
	}
	var saved int64
	for _, n := range sc.suspended {
		saved += int64(n)
	}
	metrics.SetAsleep(client.ObjectKeyFromObject(sc.bp), sc.asleep(), saved)
	before := sc.bp.DeepCopy()
	status.Apply(&sc.bp.Status, sc.observe(reconcileErr))
	// status.Apply always sets Ready.
	newReady := meta.FindStatusCondition(sc.bp.Status.Conditions, staxv1alpha1.ConditionReady)
	key := client.ObjectKeyFromObject(sc.bp)
	if held := status.FirstWriteHold(&before.Status, &sc.bp.Status, sc.rolloutStarted(), time.Now(), r.progressStatusDelay); held > 0 {
		// Wall-clock time, as the Deployments' creationTimestamps are.
		metrics.SetReady(key, newReady.Status)
		return ctrl.Result{RequeueAfter: held}, nil
	}
	if equality.Semantic.DeepEqual(before.Status, sc.bp.Status) {
		// Reported even when nothing changed: after a restart the gauge
		// starts empty and learns every Blueprint from the initial reconciles.
		metrics.SetReady(key, newReady.Status)
		return ctrl.Result{}, nil
	}
	if err := r.Status().Patch(ctx, sc.bp, client.MergeFrom(before)); err != nil {
		if apierrors.IsNotFound(err) {
			metrics.Forget(key)
		}
		return ctrl.Result{}, apierror.Wrap(apierror.OpPatch, "Blueprint status", sc.bp.Name, client.IgnoreNotFound(err))
	}
	metrics.SetReady(key, newReady.Status)
	r.awaitStatusSeen(ctx, sc.bp)
	if e, ok := status.ReadyEvent(meta.FindStatusCondition(before.Status.Conditions, staxv1alpha1.ConditionReady), newReady); ok {
		r.emit(sc, e)
	}
	log.FromContext(ctx).V(1).Info("status updated", "ready", readyString(newReady), "readyServices", sc.bp.Status.ReadyServices)
	return ctrl.Result{}, nil
}

// emit records events on the Blueprint, as the pure packages word them.
func (r *BlueprintReconciler) emit(sc *scope, events ...status.Event) {
	for _, e := range events {
		r.recorder.Eventf(sc.bp, nil, e.Type, e.Reason, e.Action, "%s", e.Note)
	}
}

// rolloutStarted is when the first of the Blueprint's Deployments was
// created; zero when it has none.
func (sc *scope) rolloutStarted() time.Time {
	var first time.Time
	for _, dep := range sc.deployments {
		if t := dep.CreationTimestamp.Time; !t.IsZero() && (first.IsZero() || t.Before(first)) {
			first = t
		}
	}
	return first
}

func readyString(c *metav1.Condition) string {
	if c == nil {
		return "Unknown"
	}
	return string(c.Status) + "/" + c.Reason
}
