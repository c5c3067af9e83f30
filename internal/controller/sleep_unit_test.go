package controller

import (
	"context"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	clocktesting "k8s.io/utils/clock/testing"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"

	staxv1alpha1 "github.com/stax-dev/blueprint-operator/api/v1alpha1"
)

// Requeue at the next sleep or wake moment, and nowhere else: no polling.
func TestDecideSleepRequeuesAtTheNextMoment(t *testing.T) {
	now := time.Date(2026, 12, 7, 10, 0, 0, 0, time.UTC) // a Monday
	stored := func(lastActivity time.Time) staxv1alpha1.BlueprintStatus {
		return staxv1alpha1.BlueprintStatus{
			ObservedGeneration: ptr.To[int64](1),
			Sleep:              staxv1alpha1.SleepStatus{State: staxv1alpha1.SleepStateAwake, LastActivityTime: &metav1.Time{Time: lastActivity}},
		}
	}
	for name, c := range map[string]struct {
		sleep        staxv1alpha1.Sleep
		suspend      bool
		status       staxv1alpha1.BlueprintStatus
		requeueAfter time.Duration // set by an earlier phase
		wantAsleep   bool
		wantRequeue  time.Duration
	}{
		"idle clock running: when it runs out":      {sleep: staxv1alpha1.Sleep{AfterIdle: "3h"}, status: stored(now.Add(-time.Hour)), wantRequeue: 2 * time.Hour},
		"an earlier requeue is kept":                {sleep: staxv1alpha1.Sleep{AfterIdle: "3h"}, status: stored(now.Add(-time.Hour)), requeueAfter: time.Minute, wantRequeue: time.Minute},
		"asleep when idle: only activity wakes it":  {sleep: staxv1alpha1.Sleep{AfterIdle: "3h"}, status: stored(now.Add(-4 * time.Hour)), wantAsleep: true},
		"inside uptime: at its end":                 {sleep: staxv1alpha1.Sleep{Uptime: "Mon-Fri 08:00-20:00 UTC"}, status: stored(now.Add(-time.Hour)), wantRequeue: 10 * time.Hour},
		"outside uptime: at the next start":         {sleep: staxv1alpha1.Sleep{Uptime: "Mon-Fri 12:00-20:00 UTC"}, status: stored(now.Add(-time.Hour)), wantAsleep: true, wantRequeue: 2 * time.Hour},
		"suspended: no timer":                       {suspend: true, status: stored(now.Add(-time.Hour)), wantAsleep: true},
		"a new Blueprint starts its clock now":      {sleep: staxv1alpha1.Sleep{AfterIdle: "90m"}, wantRequeue: 90 * time.Minute},
		"nothing configured: no sleep and no timer": {status: stored(now.Add(-time.Hour))},
	} {
		t.Run(name, func(t *testing.T) {
			bp := &staxv1alpha1.Blueprint{
				ObjectMeta: metav1.ObjectMeta{Name: "shop", Namespace: "dev", Generation: 1},
				Spec:       staxv1alpha1.BlueprintSpec{Sleep: c.sleep, Suspend: ptr.To(c.suspend)},
				Status:     c.status,
			}
			r := &BlueprintReconciler{clock: clocktesting.NewFakePassiveClock(now)}
			sc := &scope{bp: bp, blocked: map[string]bool{}}
			res, err := r.decideSleep(context.Background(), sc)
			if err != nil {
				t.Fatal(err)
			}
			// Merged with the result of an earlier phase, as Reconcile does.
			res = lowestNonZero(ctrl.Result{RequeueAfter: c.requeueAfter}, res)
			if sc.asleep() != c.wantAsleep {
				t.Errorf("asleep = %v, want %v", sc.asleep(), c.wantAsleep)
			}
			if res.RequeueAfter != c.wantRequeue {
				t.Errorf("requeueAfter = %v, want %v", res.RequeueAfter, c.wantRequeue)
			}
			if len(sc.problems) > 0 {
				t.Errorf("problems: %+v", sc.problems)
			}
		})
	}
}
