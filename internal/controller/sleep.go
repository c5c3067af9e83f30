package controller

import (
	"context"
	"encoding/json"
	"strconv"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/log"

	staxv1alpha1 "github.com/stax-dev/blueprint-operator/api/v1alpha1"
	"github.com/stax-dev/blueprint-operator/internal/apierror"
	"github.com/stax-dev/blueprint-operator/internal/sleep"
	"github.com/stax-dev/blueprint-operator/internal/status"
)

// ResumeFieldOwner is the field manager of the one write that brings a
// service whose Blueprint declares no replicas back to the count recorded
// when it was suspended. It is not FieldOwner, so the operator's applies do
// not own spec.replicas afterwards: an autoscaler or kubectl scale does. It
// also scales down, and back, the Deployment of a service the operator
// cannot render (a problem holds it back), which no apply may write.
const ResumeFieldOwner = "stax-blueprint-operator-resume"

// sleepState is what decideSleep found.
type sleepState struct {
	asleep  bool
	message string
	status  staxv1alpha1.SleepStatus
}

// decideSleep asks internal/sleep whether the environment runs, from the
// spec, the clock kept in status.sleep, the wake and sleep requests and
// the time; and comes back when that may change.
func (r *BlueprintReconciler) decideSleep(ctx context.Context, sc *scope) (ctrl.Result, error) {
	spec, err := sleep.SpecOf(sc.bp)
	if err != nil {
		sc.problem(status.ScheduleProblem(err.Error()))
	}
	events := sleep.EventsOf(sc.bp)
	if !spec.Configured() && events.SleepRequest == "" {
		return ctrl.Result{}, nil
	}
	now := r.clock.Now()
	rec, err := sleep.Update(sleep.FromStatus(sc.bp.Status.Sleep), events, now)
	if err != nil {
		log.FromContext(ctx).Info("wake request", "problem", err.Error())
	}
	d, nextSleep, nextWake := sleep.Outlook(spec, rec, now)
	sc.sleep = &sleepState{asleep: d.Asleep, status: sleep.Status(rec, d, nextSleep, nextWake)}
	if d.Asleep {
		sc.sleep.message = sleep.Message(spec, d, sc.bp.Name)
	}
	if d.Next.IsZero() {
		return ctrl.Result{}, nil
	}
	return ctrl.Result{RequeueAfter: max(d.Next.Sub(now), time.Second)}, nil
}

// asleep reports whether this reconcile scales the Blueprint to 0.
func (s *scope) asleep() bool {
	return s.sleep != nil && s.sleep.asleep
}

// ownsReplicas reports whether the operator's applies own dep's
// spec.replicas: it renders them (declared, or a start-order hold).
func ownsReplicas(dep *appsv1.Deployment) bool {
	for _, e := range dep.GetManagedFields() {
		if e.Manager != FieldOwner || e.FieldsV1 == nil {
			continue
		}
		set := fieldSetOf(e)
		var fields struct {
			Spec map[string]json.RawMessage `json:"f:spec"`
		}
		if json.Unmarshal(set, &fields) == nil {
			if _, ok := fields.Spec["f:replicas"]; ok {
				return true
			}
		}
	}
	return false
}

// resumeReplicas sets dep's replicas to n, the count recorded when it was
// suspended, and removes the record, under ResumeFieldOwner and dep's
// resourceVersion (a conflict re-reads), before the apply that drops the
// hold: the apply then no longer owns spec.replicas, and whoever scales the
// Deployment takes it from n. A service the operator cannot render gets
// this write alone.
func (r *BlueprintReconciler) resumeReplicas(ctx context.Context, dep *appsv1.Deployment, n int32) error {
	return r.patchReplicas(ctx, dep, n, nil)
}

// scaleDownUnrendered scales the Deployment of a service the operator
// cannot render (and so cannot apply) to 0, recording resumeTo, with a
// patch of those two fields alone.
func (r *BlueprintReconciler) scaleDownUnrendered(ctx context.Context, dep *appsv1.Deployment, resumeTo int32) error {
	return r.patchReplicas(ctx, dep, 0, &resumeTo)
}

// patchReplicas writes dep's replicas and its SuspendedReplicasAnnotation
// (recorded; nil removes it) under ResumeFieldOwner.
func (r *BlueprintReconciler) patchReplicas(ctx context.Context, dep *appsv1.Deployment, n int32, recorded *int32) error {
	var record any // JSON null removes the annotation
	if recorded != nil {
		record = strconv.Itoa(int(*recorded))
	}
	patch, err := json.Marshal(map[string]any{
		"metadata": map[string]any{
			"resourceVersion": dep.ResourceVersion,
			"annotations":     map[string]any{staxv1alpha1.SuspendedReplicasAnnotation: record},
		},
		"spec": map[string]any{"replicas": n},
	})
	if err != nil {
		return err
	}
	target := &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Namespace: dep.Namespace, Name: dep.Name}}
	if err := r.Patch(ctx, target, client.RawPatch(types.MergePatchType, patch), client.FieldOwner(ResumeFieldOwner)); err != nil {
		return apierror.Wrap(apierror.OpPatch, "Deployment", dep.Name, err)
	}
	return nil
}
