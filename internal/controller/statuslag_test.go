package controller

import (
	"context"
	"fmt"
	"strconv"
	"sync"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	staxv1alpha1 "github.com/stax-dev/blueprint-operator/api/v1alpha1"
)

// statusLag makes the suite manager's cache late for the Blueprints of one
// namespace, as an informer that has not delivered a write yet is: for
// lagFor after each status write of one of them, a cached read of it
// returns the copy from before the write. Meanwhile it records every status
// patch the reconciler computed from a copy older than a status write it
// had already made, which is what a merge patch must never be based on
// (awaitStatusSeen).
type statusLag struct {
	namespace string
	lagFor    time.Duration

	mu sync.Mutex
	// before holds, by Blueprint, its cached copy from before its last
	// status write, and until when reads see it.
	before map[types.NamespacedName]lateCopy
	// written is the resourceVersion the last status write of each
	// Blueprint returned.
	written map[types.NamespacedName]uint64
	// writes counts the status writes; staleServed the cached reads that
	// were answered with a copy from before a write.
	writes, staleServed int
	// staleBases describes each status patch computed from a copy older
	// than the last status write.
	staleBases []string
}

type lateCopy struct {
	bp    *staxv1alpha1.Blueprint
	until time.Time
}

// activeStatusLag is the lag in force, if any (lagStatusIn).
var activeStatusLag struct {
	sync.Mutex
	lag *statusLag
}

// lagStatusIn makes the cache late after each status write of a Blueprint
// of namespace, until the spec ends.
func lagStatusIn(namespace string, lagFor time.Duration) *statusLag {
	l := &statusLag{namespace: namespace, lagFor: lagFor,
		before: map[types.NamespacedName]lateCopy{}, written: map[types.NamespacedName]uint64{}}
	activeStatusLag.Lock()
	activeStatusLag.lag = l
	activeStatusLag.Unlock()
	DeferCleanup(func() {
		activeStatusLag.Lock()
		activeStatusLag.lag = nil
		activeStatusLag.Unlock()
	})
	return l
}

// statusLagFor is the lag in force for obj, or nil.
func statusLagFor(obj client.Object) *statusLag {
	if _, ok := obj.(*staxv1alpha1.Blueprint); !ok {
		return nil
	}
	activeStatusLag.Lock()
	defer activeStatusLag.Unlock()
	if l := activeStatusLag.lag; l != nil && l.namespace == obj.GetNamespace() {
		return l
	}
	return nil
}

// read replaces what the cache answered for bp with the copy from before
// its last status write while that write is still "in flight".
func (l *statusLag) read(bp *staxv1alpha1.Blueprint) {
	l.mu.Lock()
	defer l.mu.Unlock()
	late, ok := l.before[client.ObjectKeyFromObject(bp)]
	if !ok || time.Now().After(late.until) {
		return
	}
	l.staleServed++
	late.bp.DeepCopyInto(bp)
}

// patching records a status patch of bp computed from a copy older than
// the last status write of it.
func (l *statusLag) patching(bp *staxv1alpha1.Blueprint) {
	l.mu.Lock()
	defer l.mu.Unlock()
	key := client.ObjectKeyFromObject(bp)
	base, _ := strconv.ParseUint(bp.ResourceVersion, 10, 64)
	if last, ok := l.written[key]; ok && base < last {
		l.staleBases = append(l.staleBases, fmt.Sprintf("%s: a status patch from resourceVersion %d, after a status write returned %d", key, base, last))
	}
}

// wrote records a status write of bp, which returned bp, and makes the
// cache answer with before, its copy from before the write, for lagFor.
func (l *statusLag) wrote(bp, before *staxv1alpha1.Blueprint) {
	l.mu.Lock()
	defer l.mu.Unlock()
	key := client.ObjectKeyFromObject(bp)
	rv, _ := strconv.ParseUint(bp.ResourceVersion, 10, 64)
	l.written[key] = rv
	l.writes++
	l.before[key] = lateCopy{bp: before, until: time.Now().Add(l.lagFor)}
}

func (l *statusLag) counts() (writes, staleServed int, staleBases []string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.writes, l.staleServed, append([]string(nil), l.staleBases...)
}

var _ = Describe("A status write the cache does not show yet", func() {
	It("is never left out of the next status patch: the reconcile waits for the cache before the next one starts", func(ctx SpecContext) {
		ns := newNamespace()
		bp := oneServiceBlueprint(ns, "lagged")
		Expect(k8sClient.Create(ctx, bp)).To(Succeed())
		rollOut(ns, bp.Name)

		By("the cache shows each status write of the Blueprint 3 s late")
		lag := lagStatusIn(ns, 3*time.Second)

		By("a new image: Progressing is written, then the rollout makes it Ready")
		updateBlueprint(ns, bp.Name, func(b *staxv1alpha1.Blueprint) { b.Spec.Services[0].Image = "nginx:1.28" })
		Eventually(readyCondition(ns, bp.Name), timeout, interval).Should(haveReason(metav1.ConditionFalse, staxv1alpha1.ReasonProgressing))
		rollOut(ns, bp.Name)

		writes, staleServed, staleBases := lag.counts()
		By(fmt.Sprintf("%d status writes, %d cached reads answered late", writes, staleServed))
		Expect(writes).To(BeNumerically(">=", 2), "Progressing and Ready were both written under the lag")
		Expect(staleServed).To(BeNumerically(">", 0), "the cache did answer late")
		Expect(staleBases).To(BeEmpty())
	})
})

// lagRead is countingClient.Get's hook: the late copy, when the lag says so.
func lagRead(obj client.Object) {
	if l := statusLagFor(obj); l != nil {
		l.read(obj.(*staxv1alpha1.Blueprint))
	}
}

// lagStatusPatch is countingStatusWriter.Patch's hook around the write.
func lagStatusPatch(ctx context.Context, cache client.Reader, obj client.Object, write func() error) error {
	l := statusLagFor(obj)
	if l == nil {
		return write()
	}
	bp := obj.(*staxv1alpha1.Blueprint)
	l.patching(bp)
	before := &staxv1alpha1.Blueprint{}
	if err := cache.Get(ctx, client.ObjectKeyFromObject(bp), before); err != nil {
		return write()
	}
	if err := write(); err != nil {
		return err
	}
	l.wrote(bp, before)
	return nil
}
