// Package settle decides when a change of the values a Blueprint reads from
// Secrets is rolled out: after the values have been quiet for a quiet period,
// or after a maximum wait however busy the Secrets are.
//
// It decides on what the reconcile read, not on watch events: the reconcile
// passes a fingerprint of the consumed values that differ from what runs (the
// secrets digests it would stamp on pod templates whose current digest is
// different). A label or annotation change of a Secret, or a change of a key
// nobody consumes, leaves the fingerprint as it was, so it restarts nothing;
// a data change of a consumed key, a Secret created or deleted, changes it.
//
// Pure: time is passed in, there is no clock, no client and no logging.
package settle

import (
	"slices"
	"strings"
	"sync"
	"time"
)

// Window tracks, per key (a Blueprint), the pending change of the values it
// consumes. It is safe for concurrent use.
type Window struct {
	quiet, maxWait time.Duration

	mu      sync.Mutex
	pending map[string]burst
}

// burst is a pending change: the fingerprint last seen, when the burst began
// and when the fingerprint last changed.
type burst struct {
	fingerprint string
	first, last time.Time
}

// New returns a window that holds a change back until its values have been
// quiet for quiet, but never longer than maxWait after the burst began.
// A maxWait below quiet is raised to quiet.
func New(quiet, maxWait time.Duration) *Window {
	return &Window{quiet: quiet, maxWait: max(quiet, maxWait), pending: map[string]burst{}}
}

// Observe records that a reconcile at now found the pending change
// fingerprint for key ("" when the values running are the values read) and
// says how long to hold it back: 0 means roll it out now. Once it returns 0
// the burst is over: the next change starts a new one.
func (w *Window) Observe(key, fingerprint string, now time.Time) time.Duration {
	w.mu.Lock()
	defer w.mu.Unlock()
	if fingerprint == "" {
		delete(w.pending, key)
		return 0
	}
	b, ok := w.pending[key]
	switch {
	case !ok:
		b = burst{fingerprint: fingerprint, first: now, last: now}
	case b.fingerprint != fingerprint:
		b.fingerprint, b.last = fingerprint, now
	}
	deadline := b.last.Add(w.quiet)
	if capped := b.first.Add(w.maxWait); capped.Before(deadline) {
		deadline = capped
	}
	hold := deadline.Sub(now)
	if hold <= 0 {
		delete(w.pending, key)
		return 0
	}
	w.pending[key] = b
	return hold
}

// Forget ends key's burst: its values were rolled out for another reason (a
// spec edit or a rotation), or the Blueprint is gone.
func (w *Window) Forget(key string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	delete(w.pending, key)
}

// Service is one service's secrets digest: the one its running pod template
// carries ("" when it has no Deployment yet, or none) and the one the values
// this reconcile read give.
type Service struct {
	Name, Running, Read string
}

// Stamp decides which digest each service's pod template gets in a
// reconcile at now, and how long until a held-back change is due (0 when
// nothing is held). A service whose read digest differs from the one it runs
// is a pending change of values; while the window holds it, the service
// keeps the digest it runs, so its pods are not rolled, and everything else
// about it is applied as usual. immediate ends the burst and rolls out the
// values read at once: the reconcile saw a new spec generation, or
// generated or rotated a value itself.
func (w *Window) Stamp(key string, services []Service, immediate bool, now time.Time) (map[string]string, time.Duration) {
	stamp := make(map[string]string, len(services))
	var pending []string
	for _, s := range services {
		stamp[s.Name] = s.Read
		if s.Running != "" && s.Running != s.Read {
			pending = append(pending, s.Name+"="+s.Read)
		}
	}
	if immediate {
		w.Forget(key)
		return stamp, 0
	}
	slices.Sort(pending)
	hold := w.Observe(key, strings.Join(pending, ","), now)
	if hold == 0 {
		return stamp, 0
	}
	for _, s := range services {
		if s.Running != "" && s.Running != s.Read {
			stamp[s.Name] = s.Running
		}
	}
	return stamp, hold
}
