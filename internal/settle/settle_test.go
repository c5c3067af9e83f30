package settle

import (
	"testing"
	"time"
)

func TestObserve(t *testing.T) {
	const quiet, maxWait = 500 * time.Millisecond, 5 * time.Second
	t0 := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	at := func(d time.Duration) time.Time { return t0.Add(d) }
	type step struct {
		at          time.Duration
		fingerprint string
		want        time.Duration
	}
	ms := time.Millisecond
	for _, tc := range []struct {
		name  string
		steps []step
	}{
		{"nothing pending rolls nothing and holds nothing", []step{{0, "", 0}, {time.Second, "", 0}}},
		{"a new change waits one quiet period", []step{{0, "a", quiet}}},
		{"the same fingerprint again does not restart the quiet period", []step{
			{0, "a", quiet}, {200 * ms, "a", 300 * ms}, {499 * ms, "a", 1 * ms}, {500 * ms, "a", 0},
		}},
		{"a changed fingerprint restarts the quiet period", []step{
			{0, "a", quiet}, {300 * ms, "b", quiet}, {700 * ms, "b", 100 * ms}, {800 * ms, "b", 0},
		}},
		{"a change every 150 ms is rolled out at the cap, not held forever", []step{
			{0, "v0", quiet}, {150 * ms, "v1", quiet}, {4800 * ms, "v32", 200 * ms},
			{4950 * ms, "v33", 50 * ms}, {5 * time.Second, "v34", 0},
		}},
		{"after the cap the next change starts a new burst", []step{
			{0, "v0", quiet}, {4900 * ms, "v1", 100 * ms}, {5 * time.Second, "v2", 0},
			{5100 * ms, "v3", quiet}, {5600 * ms, "v3", 0},
		}},
		{"values back to what runs end the burst", []step{
			{0, "a", quiet}, {100 * ms, "", 0}, {200 * ms, "a", quiet},
		}},
		{"a reconcile late after the quiet period rolls out at once", []step{{0, "a", quiet}, {time.Minute, "a", 0}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := New(quiet, maxWait)
			for i, s := range tc.steps {
				if got := w.Observe("ns/bp", s.fingerprint, at(s.at)); got != s.want {
					t.Fatalf("step %d (%v, %q): hold %v, want %v", i, s.at, s.fingerprint, got, s.want)
				}
			}
		})
	}
}

func TestKeysAreIndependent(t *testing.T) {
	w := New(time.Second, 10*time.Second)
	t0 := time.Now()
	w.Observe("a", "x", t0)
	if got := w.Observe("b", "x", t0.Add(900*time.Millisecond)); got != time.Second {
		t.Fatalf("b held %v by a's burst, want its own quiet period", got)
	}
}

func TestForget(t *testing.T) {
	w := New(time.Second, 10*time.Second)
	t0 := time.Now()
	w.Observe("a", "x", t0)
	w.Forget("a")
	if got := w.Observe("a", "x", t0.Add(900*time.Millisecond)); got != time.Second {
		t.Fatalf("after Forget: hold %v, want a new quiet period", got)
	}
}

func TestMaxWaitBelowQuietIsRaised(t *testing.T) {
	w := New(time.Second, 0)
	t0 := time.Now()
	if got := w.Observe("a", "x", t0); got != time.Second {
		t.Fatalf("hold %v, want the quiet period", got)
	}
}
