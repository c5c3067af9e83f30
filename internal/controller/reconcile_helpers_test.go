package controller

import (
	"strconv"
	"sync"
	"time"

	. "github.com/onsi/gomega"
	"k8s.io/apimachinery/pkg/types"
)

// reconcileLog keeps every completed reconcile (Options.Reconciled), so a
// spec that says a reconcile changed nothing can first prove that one ran,
// and saw what the spec changed.
var reconcileLog = struct {
	sync.Mutex
	records map[types.NamespacedName][]ReconcileRecord
}{records: map[types.NamespacedName][]ReconcileRecord{}}

func recordReconcile(rec ReconcileRecord) {
	reconcileLog.Lock()
	defer reconcileLog.Unlock()
	reconcileLog.records[rec.Key] = append(reconcileLog.records[rec.Key], rec)
}

// reconciledSince reports whether a reconcile of Blueprint ns/name that
// began after since, on a Blueprint at least as new as resourceVersion (""
// for any), has completed.
func reconciledSince(ns, name string, since time.Time, resourceVersion string) bool {
	reconcileLog.Lock()
	defer reconcileLog.Unlock()
	want, _ := strconv.ParseUint(resourceVersion, 10, 64)
	for _, rec := range reconcileLog.records[types.NamespacedName{Namespace: ns, Name: name}] {
		// envtest's etcd makes resourceVersions increasing integers.
		rv, _ := strconv.ParseUint(rec.ResourceVersion, 10, 64)
		if rec.Began.After(since) && rv >= want {
			return true
		}
	}
	return false
}

// reconcilesBegunBefore counts the completed reconciles of Blueprint ns/name
// that began before t.
func reconcilesBegunBefore(ns, name string, t time.Time) int {
	reconcileLog.Lock()
	defer reconcileLog.Unlock()
	n := 0
	for _, rec := range reconcileLog.records[types.NamespacedName{Namespace: ns, Name: name}] {
		if rec.Began.Before(t) {
			n++
		}
	}
	return n
}

// expectReconciled waits until a reconcile of Blueprint ns/name that began
// after since, and saw the Blueprint at resourceVersion or later, completed.
// Secrets are read from the API server, so such a reconcile saw every Secret
// change made before since.
func expectReconciled(ns, name string, since time.Time, resourceVersion string) {
	EventuallyWithOffset(1, func() bool { return reconciledSince(ns, name, since, resourceVersion) }, timeout, interval).
		Should(BeTrue(), "no reconcile of Blueprint %s/%s began after %s", ns, name, since.Format(time.RFC3339Nano))
}

// pausableClock is the settle window's clock in the suite: real time, until
// a spec pauses it to drive a burst of edits at its own pace; stepped while
// paused, and resumed from where it stands.
type pausableClock struct {
	mu     sync.Mutex
	offset time.Duration
	paused *time.Time
}

func (c *pausableClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.paused != nil {
		return *c.paused
	}
	return time.Now().Add(c.offset)
}

func (c *pausableClock) Since(t time.Time) time.Duration { return c.Now().Sub(t) }

// Pause stops the clock at its current time.
func (c *pausableClock) Pause() {
	now := c.Now()
	c.mu.Lock()
	defer c.mu.Unlock()
	c.paused = &now
}

// Step moves a paused clock forward by d.
func (c *pausableClock) Step(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.paused == nil {
		panic("Step on a running pausableClock")
	}
	t := c.paused.Add(d)
	c.paused = &t
}

// Resume runs the clock again from where it stands.
func (c *pausableClock) Resume() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.paused == nil {
		return
	}
	c.offset = time.Until(*c.paused)
	c.paused = nil
}

var settleClock = &pausableClock{}
