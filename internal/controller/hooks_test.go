package controller

import (
	"sync"
	"time"

	. "github.com/onsi/gomega"
	"k8s.io/apimachinery/pkg/types"
)

// reconcileCounts counts the reconciles of each Blueprint that completed
// (Options.Reconciled), so a spec that says a reconcile changed nothing can
// first prove that it ran.
var reconcileCounts = struct {
	sync.Mutex
	n map[types.NamespacedName]int
}{n: map[types.NamespacedName]int{}}

func countReconcile(key types.NamespacedName) {
	reconcileCounts.Lock()
	defer reconcileCounts.Unlock()
	reconcileCounts.n[key]++
}

// reconciles is how many reconciles of Blueprint ns/name have completed.
func reconciles(ns, name string) int {
	reconcileCounts.Lock()
	defer reconcileCounts.Unlock()
	return reconcileCounts.n[types.NamespacedName{Namespace: ns, Name: name}]
}

// expectReconciledSince waits until Blueprint ns/name completed more than
// before reconciles, and returns the count.
func expectReconciledSince(ns, name string, before int) int {
	var now int
	EventuallyWithOffset(1, func() int { now = reconciles(ns, name); return now }, timeout, interval).Should(BeNumerically(">", before),
		"Blueprint %s/%s was not reconciled", ns, name)
	return now
}

// pausableClock is the settle window's clock in the suite: real time, until
// a spec pauses it to drive a burst of edits at its own pace, then resumes it
// where it stopped plus what the spec stepped.
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
	c.offset = c.paused.Sub(time.Now())
	c.paused = nil
}

var settleClock = &pausableClock{}
