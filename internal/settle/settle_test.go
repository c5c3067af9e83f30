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

func TestStamp(t *testing.T) {
	const quiet, maxWait = 500 * time.Millisecond, 5 * time.Second
	t0 := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	ms := time.Millisecond
	type step struct {
		at        time.Duration
		services  []Service
		immediate bool
		want      map[string]string
		wantHold  time.Duration
	}
	for _, tc := range []struct {
		name  string
		steps []step
	}{
		{"nothing changed: each service keeps its digest", []step{{
			0, []Service{{"a", "d1", "d1"}, {"plain", "", ""}}, false,
			map[string]string{"a": "d1", "plain": ""}, 0,
		}}},
		{"a new service gets its digest at once", []step{{
			0, []Service{{"new", "", "d1"}}, false, map[string]string{"new": "d1"}, 0,
		}}},
		{"a changed value is held for the quiet period, others roll as usual", []step{
			{0, []Service{{"a", "d1", "d2"}, {"b", "e1", "e1"}, {"new", "", "n1"}}, false,
				map[string]string{"a": "d1", "b": "e1", "new": "n1"}, quiet},
			{quiet, []Service{{"a", "d1", "d2"}, {"b", "e1", "e1"}, {"new", "n1", "n1"}}, false,
				map[string]string{"a": "d2", "b": "e1", "new": "n1"}, 0},
		}},
		{"a new spec or a rotation rolls out the values read at once and ends the burst", []step{
			{0, []Service{{"a", "d1", "d2"}}, false, map[string]string{"a": "d1"}, quiet},
			{100 * ms, []Service{{"a", "d1", "d3"}}, true, map[string]string{"a": "d3"}, 0},
			{200 * ms, []Service{{"a", "d3", "d4"}}, false, map[string]string{"a": "d3"}, quiet},
		}},
		{"churn is rolled out at the cap", []step{
			{0, []Service{{"a", "d0", "d1"}}, false, map[string]string{"a": "d0"}, quiet},
			{4800 * ms, []Service{{"a", "d0", "d33"}}, false, map[string]string{"a": "d0"}, 200 * ms},
			{5 * time.Second, []Service{{"a", "d0", "d34"}}, false, map[string]string{"a": "d34"}, 0},
		}},
		{"two services changing together roll out together", []step{
			{0, []Service{{"a", "a0", "a1"}, {"b", "b0", "b0"}}, false, map[string]string{"a": "a0", "b": "b0"}, quiet},
			{200 * ms, []Service{{"a", "a0", "a1"}, {"b", "b0", "b1"}}, false, map[string]string{"a": "a0", "b": "b0"}, quiet},
			{700 * ms, []Service{{"a", "a0", "a1"}, {"b", "b0", "b1"}}, false, map[string]string{"a": "a1", "b": "b1"}, 0},
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := New(quiet, maxWait)
			for i, s := range tc.steps {
				got, hold := w.Stamp("ns/bp", s.services, s.immediate, t0.Add(s.at))
				if hold != s.wantHold {
					t.Errorf("step %d: hold %v, want %v", i, hold, s.wantHold)
				}
				if len(got) != len(s.want) {
					t.Errorf("step %d: stamp %v, want %v", i, got, s.want)
				}
				for name, d := range s.want {
					if got[name] != d {
						t.Errorf("step %d: %s stamped %q, want %q", i, name, got[name], d)
					}
				}
			}
		})
	}
}
