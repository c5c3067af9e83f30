package controller

import (
	"testing"
	"time"

	ctrl "sigs.k8s.io/controller-runtime"
)

// Phases' results merge into the one that comes back soonest; no timer (0)
// never wins over one.
func TestLowestNonZero(t *testing.T) {
	after := func(d time.Duration) ctrl.Result { return ctrl.Result{RequeueAfter: d} }
	for name, c := range map[string]struct{ a, b, want ctrl.Result }{
		"neither":           {want: ctrl.Result{}},
		"only the first":    {a: after(time.Minute), want: after(time.Minute)},
		"only the second":   {b: after(time.Minute), want: after(time.Minute)},
		"the first sooner":  {a: after(time.Second), b: after(time.Hour), want: after(time.Second)},
		"the second sooner": {a: after(time.Hour), b: after(time.Second), want: after(time.Second)},
		"equal":             {a: after(time.Minute), b: after(time.Minute), want: after(time.Minute)},
	} {
		t.Run(name, func(t *testing.T) {
			if got := lowestNonZero(c.a, c.b); got != c.want {
				t.Errorf("lowestNonZero(%+v, %+v) = %+v, want %+v", c.a, c.b, got, c.want)
			}
			if got := lowestNonZero(c.b, c.a); got != c.want {
				t.Errorf("lowestNonZero(%+v, %+v) = %+v, want %+v (commuted)", c.b, c.a, got, c.want)
			}
		})
	}
}
