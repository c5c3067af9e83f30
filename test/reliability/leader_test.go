//go:build reliability

package reliability

import (
	"bufio"
	"encoding/json"
	"fmt"
	"math/rand"
	"os"
	"sort"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	coordinationv1 "k8s.io/api/coordination/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	auditv1 "k8s.io/apiserver/pkg/apis/audit/v1"
	"k8s.io/utils/ptr"

	staxv1alpha1 "github.com/stax-dev/blueprint-operator/api/v1alpha1"
)

// Leader election timing for the test: short, so a takeover is quick, and
// with a renew deadline that tolerates a loaded CI machine.
const (
	leaseDuration = 6 * time.Second
	renewDeadline = 4 * time.Second
	retryPeriod   = time.Second
	// client-go's candidates retry every retryPeriod with a jitter factor of
	// 1.2: up to 2.2 retry periods between two attempts.
	maxRetryInterval = retryPeriod * 22 / 10
	leaseName        = "blueprint-operator.stax.dev"
)

func isWriteVerb(verb string) bool {
	switch verb {
	case "create", "update", "patch", "delete", "deletecollection":
		return true
	}
	return false
}

// readAudit reads the audit log: every completed request of the audited
// users (see the policy in suite_test.go), in order.
func readAudit() []auditv1.Event {
	f, err := os.Open(auditLogPath)
	Expect(err).NotTo(HaveOccurred())
	defer f.Close()
	var out []auditv1.Event
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<24)
	for sc.Scan() {
		var ev auditv1.Event
		Expect(json.Unmarshal(sc.Bytes(), &ev)).To(Succeed())
		if ev.Stage == auditv1.StageResponseComplete {
			out = append(out, ev)
		}
	}
	Expect(sc.Err()).NotTo(HaveOccurred())
	sort.SliceStable(out, func(i, j int) bool {
		return out[i].RequestReceivedTimestamp.Before(&out[j].RequestReceivedTimestamp)
	})
	return out
}

func isLease(ev auditv1.Event) bool {
	return ev.ObjectRef != nil && ev.ObjectRef.Resource == "leases" && ev.ObjectRef.APIGroup == "coordination.k8s.io"
}

func succeeded(ev auditv1.Event) bool {
	return ev.ResponseStatus != nil && ev.ResponseStatus.Code >= 200 && ev.ResponseStatus.Code < 300
}

func describe(ev auditv1.Event) string {
	r := ev.ObjectRef
	if r == nil {
		return ev.Verb + " " + ev.RequestURI
	}
	res := r.Resource
	if r.Subresource != "" {
		res += "/" + r.Subresource
	}
	return fmt.Sprintf("%s %s %s/%s at %s", ev.Verb, res, r.Namespace, r.Name, ev.RequestReceivedTimestamp.Format(time.RFC3339Nano))
}

var _ = Describe("Leader election", func() {
	It("lets only the leader write, and hands over to the other manager after the leader is SIGKILLed", func(ctx SpecContext) {
		ns := newNamespace("leader")
		leaseNS := newNamespace("leases")
		a, b := addUser(leaderUserA), addUser(leaderUserB)
		args := []string{
			"--leader-elect", "--leader-election-namespace=" + leaseNS,
			"--leader-election-lease-duration=" + leaseDuration.String(),
			"--leader-election-renew-deadline=" + renewDeadline.String(),
			"--leader-election-retry-period=" + retryPeriod.String(),
		}
		holder := func(g Gomega) string {
			lease := &coordinationv1.Lease{}
			g.Expect(k8sClient.Get(ctx, types.NamespacedName{Namespace: leaseNS, Name: leaseName}, lease)).To(Succeed())
			return ptr.Deref(lease.Spec.HolderIdentity, "")
		}

		By("starting manager A, which becomes the leader, then manager B")
		managerA := startManager("leader-a", a.kubeconfig, args...)
		var leaderA string
		Eventually(func(g Gomega) { leaderA = holder(g); g.Expect(leaderA).NotTo(BeEmpty()) }).
			WithContext(ctx).WithTimeout(30 * time.Second).WithPolling(100 * time.Millisecond).Should(Succeed())
		managerB := startManager("leader-b", b.kubeconfig, args...)

		By("giving the leader work while B is a candidate: creates, an edit, a rotation")
		names := []string{}
		for i := range 4 {
			bp := faultBlueprint(ns, i, newRand(int64(i)))
			Expect(k8sClient.Create(ctx, bp)).To(Succeed())
			names = append(names, bp.Name)
		}
		waitReady := func(names ...string) {
			Eventually(func(g Gomega) {
				_, notReady, err := readiness(ctx, ns)
				g.Expect(err).NotTo(HaveOccurred())
				for _, n := range names {
					g.Expect(notReady).NotTo(ContainElement(n))
				}
			}).WithContext(ctx).WithTimeout(time.Minute).WithPolling(250 * time.Millisecond).Should(Succeed())
		}
		waitReady(names...)
		update := func(name string, mutate func(*staxv1alpha1.Blueprint)) {
			Eventually(func() error {
				bp := &staxv1alpha1.Blueprint{}
				if err := k8sClient.Get(ctx, types.NamespacedName{Namespace: ns, Name: name}, bp); err != nil {
					return err
				}
				mutate(bp)
				return k8sClient.Update(ctx, bp)
			}).WithContext(ctx).Should(Succeed())
		}
		update(names[0], func(bp *staxv1alpha1.Blueprint) { bp.Spec.Services[0].Image = "postgres:17-alpine" })
		update(names[1], func(bp *staxv1alpha1.Blueprint) {
			bp.Annotations = map[string]string{staxv1alpha1.RotateAnnotation: "pw", staxv1alpha1.RotateRequestedAtAnnotation: "leader-test"}
		})
		waitReady(names...)
		By("keeping A the leader for two lease durations while B campaigns")
		Consistently(func(g Gomega) {
			g.Expect(holder(g)).To(Equal(leaderA))
			g.Expect(managerA.exited()).To(BeFalse(), "the leader exited")
			g.Expect(managerB.exited()).To(BeFalse(), "the candidate exited")
		}).WithContext(ctx).WithTimeout(2 * leaseDuration).WithPolling(250 * time.Millisecond).Should(Succeed())

		By("SIGKILLing the leader, and creating a Blueprint right after")
		killed := time.Now()
		managerA.kill()
		afterKill := faultBlueprint(ns, 100, newRand(100))
		Expect(k8sClient.Create(ctx, afterKill)).To(Succeed())
		var leaderB string
		Eventually(func(g Gomega) { leaderB = holder(g); g.Expect(leaderB).NotTo(Equal(leaderA)) }).
			WithContext(ctx).WithTimeout(3 * leaseDuration).WithPolling(50 * time.Millisecond).Should(Succeed())
		takeover := time.Since(killed)
		waitReady(afterKill.Name)
		readyAfter := time.Since(killed)
		GinkgoWriter.Printf("B took the lease %s after the kill (lease %s, retry %s); the new Blueprint was Ready %s after the kill\n",
			takeover.Round(10*time.Millisecond), leaseDuration, retryPeriod, readyAfter.Round(10*time.Millisecond))
		// client-go's bound: B takes over a lease duration after the last
		// renewal it observed; it observes within a jittered retry interval
		// and acts at the next. One second more for a loaded CI machine.
		Expect(takeover).To(BeNumerically("<=", leaseDuration+2*maxRetryInterval+time.Second))

		By("reading the audit log: who wrote what, and when")
		events := readAudit()
		var aWrites, bWritesBefore, bWritesAfter []string
		var aLastRenew, bAcquired *metav1.MicroTime
		bLeaseReads := 0
		for i := range events {
			ev := events[i]
			at := ev.RequestReceivedTimestamp
			switch ev.User.Username {
			case leaderUserA:
				if isLease(ev) && isWriteVerb(ev.Verb) && succeeded(ev) {
					aLastRenew = &at
				}
				if isWriteVerb(ev.Verb) && !isLease(ev) {
					aWrites = append(aWrites, describe(ev))
				}
				Expect(at.Time.Before(killed)).To(BeTrue(), "a request from the killed leader: %s", describe(ev))
			case leaderUserB:
				if isLease(ev) && !isWriteVerb(ev.Verb) && bAcquired == nil {
					bLeaseReads++
				}
				if isLease(ev) && isWriteVerb(ev.Verb) && succeeded(ev) && bAcquired == nil {
					bAcquired = &at
				}
				if isWriteVerb(ev.Verb) && !isLease(ev) {
					if bAcquired == nil {
						bWritesBefore = append(bWritesBefore, describe(ev))
					} else {
						bWritesAfter = append(bWritesAfter, describe(ev))
					}
				}
			}
		}
		Expect(aWrites).NotTo(BeEmpty(), "the audit log shows no write by the leader: it cannot attribute writes")
		Expect(bLeaseReads).To(BeNumerically(">=", 3), "B did not campaign while A led")
		Expect(bAcquired).NotTo(BeNil(), "the audit log shows no lease write by B")
		Expect(bAcquired.Time.After(killed)).To(BeTrue(), "B wrote the lease before the leader was killed")
		Expect(bWritesBefore).To(BeEmpty(), "writes by B while it was not the leader")
		Expect(bWritesAfter).NotTo(BeEmpty(), "B took the lease but did no work")
		Expect(aLastRenew).NotTo(BeNil())
		gap := bAcquired.Sub(aLastRenew.Time)
		GinkgoWriter.Printf("audit: A sent %d writes besides the lease; B none before it acquired the lease and %d after; B acquired %s after A's last renewal\n",
			len(aWrites), len(bWritesAfter), gap.Round(10*time.Millisecond))
		Expect(gap).To(BeNumerically(">=", leaseDuration), "B took the lease before A's lease had expired")
		managerB.stop()
	}, SpecTimeout(5*time.Minute))
})

func newRand(seed int64) *rand.Rand { return rand.New(rand.NewSource(GinkgoRandomSeed() + seed)) }
