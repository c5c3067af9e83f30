package controller

import (
	"fmt"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	ctrlmetrics "sigs.k8s.io/controller-runtime/pkg/metrics"
)

// reconcilePanicsMetric is controller-runtime's count of reconciles that
// panicked. It recovers them (RecoverPanic defaults to true): the reconcile
// returns an error and is retried, so a panic shows in no spec unless
// something looks for it.
const reconcilePanicsMetric = "controller_runtime_reconcile_panics_total"

// reconcilePanics sums reconcilePanicsMetric over every controller, from the
// registry the manager serves, and says whether the family is there at all:
// each controller sets its series to 0 when it starts, so by the end of the
// suite a missing family means the name is wrong and the check proves
// nothing.
func reconcilePanics() (float64, bool) {
	GinkgoHelper()
	families, err := ctrlmetrics.Registry.Gather()
	Expect(err).NotTo(HaveOccurred())
	for _, f := range families {
		if f.GetName() != reconcilePanicsMetric {
			continue
		}
		total := 0.0
		for _, m := range f.GetMetric() {
			total += m.GetCounter().GetValue()
		}
		return total, true
	}
	return 0, false
}

// panicsSeen is the count the last check saw.
var panicsSeen float64

// Every spec fails if a reconcile panicked while it ran (or since the
// previous spec ended: a reconcile of a spec's leftovers may run later); the
// suite fails if any did at all (expectNoReconcilePanicked). The failure
// names the spec, and the manager's log (GinkgoWriter) holds the stack.
var _ = AfterEach(func() {
	now, _ := reconcilePanics()
	if now > panicsSeen {
		seen := panicsSeen
		panicsSeen = now
		Fail(fmt.Sprintf("a reconcile panicked during this spec or since the previous one ended: %s rose from %v to %v; the manager's log holds the stack",
			reconcilePanicsMetric, seen, now))
	}
})

// expectNoReconcilePanicked fails the suite (AfterSuite) if any reconcile
// panicked, including after the last spec.
func expectNoReconcilePanicked() {
	GinkgoHelper()
	total, found := reconcilePanics()
	Expect(found).To(BeTrue(), "no %s in controller-runtime's registry", reconcilePanicsMetric)
	Expect(total).To(BeZero(), "reconciles panicked during the suite (%s); the manager's log holds the stack", reconcilePanicsMetric)
}
