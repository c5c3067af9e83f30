package controller

import (
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"
)

// docs/troubleshooting.md (ReconcileError): a failing reconcile is retried
// with exponential backoff, up to about 17 minutes between attempts. The
// controller's own rate limiter is asked for the delays of one Blueprint
// failing again and again.
func TestRetryBackoff(t *testing.T) {
	limiter := DefaultOptions().controllerOptions().RateLimiter
	if limiter == nil {
		t.Fatal("the controller has no rate limiter of its own")
	}
	req := reconcile.Request{NamespacedName: types.NamespacedName{Namespace: "payments", Name: "payments-dev"}}
	var delays []time.Duration
	for range 40 {
		delays = append(delays, limiter.When(req))
	}
	if delays[0] > 10*time.Millisecond || delays[1] != 2*delays[0] {
		t.Errorf("first delays %v: want a few milliseconds, doubling", delays[:3])
	}
	ceiling := delays[len(delays)-1]
	if ceiling < 16*time.Minute || ceiling > 18*time.Minute || delays[len(delays)-2] != ceiling {
		t.Errorf("the delay levels off at %v (then %v): the docs say about 17 minutes", delays[len(delays)-2], ceiling)
	}
	// Another Blueprint is not slowed down by this one's failures.
	if d := limiter.When(reconcile.Request{NamespacedName: types.NamespacedName{Namespace: "payments", Name: "other"}}); d != delays[0] {
		t.Errorf("another Blueprint's first retry waits %v", d)
	}
}
