package values

import (
	"math/rand"
	"reflect"
	"slices"
	"testing"
	"time"

	"k8s.io/utils/ptr"

	staxv1alpha1 "github.com/stax-dev/blueprint-operator/api/v1alpha1"
	"github.com/stax-dev/blueprint-operator/internal/observe"
	"github.com/stax-dev/blueprint-operator/internal/render"
)

const (
	staged     = staxv1alpha1.StagedValuePrefix + "pw"
	hookTimeot = 60 * time.Second
)

// hm is a managed secret with an onRotate hook of hookTimeout.
func hm(rotation string, every time.Duration) render.ManagedSecret {
	m := ms("pw", rotation, every)
	m.Hook = &staxv1alpha1.RotationHook{Image: "postgres:16-alpine", Command: []string{"true"}, TimeoutSeconds: 60}
	return m
}

func hs(phase staxv1alpha1.RotationState, attempt int64, trigger, rotation string, at time.Time) *HookState {
	return &HookState{Phase: phase, Attempt: attempt, Job: render.HookJobName("bp", "pw", attempt), Trigger: trigger, Rotation: rotation, StagedAt: at, Deadline: at.Add(hookTimeot + HookGrace), Marked: true}
}

// A rotation staged before Job names were recorded keeps the name the rule
// of then gave its Job; one staged since keeps the name it recorded, even
// if the rule changes again.
func TestHookStateJobName(t *testing.T) {
	old := &HookState{Attempt: 4}
	if got, want := old.JobName("bp", "pw"), render.NarrowHookJobName("bp", "pw", 4); got != want {
		t.Errorf("unrecorded: JobName = %q, want %q", got, want)
	}
	recorded := &HookState{Attempt: 4, Job: "bp-pw-recorded-4"}
	if got := recorded.JobName("bp", "pw"); got != "bp-pw-recorded-4" {
		t.Errorf("recorded: JobName = %q, want the recorded name", got)
	}
}

func finished(h *HookState, at time.Time, failure string) *HookState {
	h.FinishedAt, h.Failure = &at, failure
	return h
}

func queued(h *HookState, trigger string) *HookState {
	h.Queued = trigger
	return h
}

func withHook(m ValueMeta, h *HookState, attempts int64) ValueMeta {
	m.Hook, m.HookAttempts = h, attempts
	return m
}

// TestSyncHook walks the two-phase rotation of a hooked secret through
// every state the generated Secret can be left in, a crash between any two
// writes included: each row starts from what a previous write (or none)
// left on the Secret and from what the cluster reports of the Job.
func TestSyncHook(t *testing.T) {
	t1 := t0.Add(time.Hour)
	t2 := t1.Add(10 * time.Second)
	late := t1.Add(hookTimeot + HookGrace)
	type wantHook struct {
		data       map[string]string
		meta       ValueMeta
		staged     []string
		committed  []string
		failed     []string
		failure    string
		createJobs []string
		stopJobs   []string
		rotated    map[string][]string
		generated  []string
		calls      int
		modified   bool
		deadline   time.Time
		handled    string
	}
	running := func(at time.Time) *HookState {
		return hs(staxv1alpha1.RotationStateHookRunning, 1, TriggerField, "r2", at)
	}
	stagedAt := func(at time.Time) *HookState { return hs(staxv1alpha1.RotationStateStaged, 1, TriggerField, "r2", at) }
	inUse := map[string]string{"pw": "old", staged: "new"}
	cases := []struct {
		name     string
		data     map[string]string
		meta     *ValueMeta // nil: no metadata for pw
		managed  []render.ManagedSecret
		jobs     map[string]observe.JobState
		rotate   []string
		rotateID string
		handled  string
		now      time.Time
		want     wantHook
	}{
		{
			name: "first generation runs no hook", data: map[string]string{}, managed: []render.ManagedSecret{hm("r1", 0)}, now: t1,
			want: wantHook{data: map[string]string{"pw": "v1"}, meta: meta("r1", t1), generated: []string{"pw"}, calls: 1, modified: true},
		},
		{
			name: "a changed rotation token stages the new value; the value in use stays", data: map[string]string{"pw": "old"},
			meta: ptr.To(meta("r1", t0)), managed: []render.ManagedSecret{hm("r2", 0)}, now: t1,
			want: wantHook{
				data: map[string]string{"pw": "old", staged: "v1"}, meta: withHook(meta("r1", t0), stagedAt(t1), 1),
				staged: []string{"pw"}, createJobs: []string{"pw"}, calls: 1, modified: true, deadline: late,
			},
		},
		{
			name: "crash after staging, before the Job: the Job is created, nothing generated", data: inUse,
			meta: ptr.To(withHook(meta("r1", t0), stagedAt(t1), 1)), managed: []render.ManagedSecret{hm("r2", 0)},
			jobs: map[string]observe.JobState{"pw": observe.JobAbsent}, now: t2,
			want: wantHook{data: inUse, meta: withHook(meta("r1", t0), stagedAt(t1), 1), createJobs: []string{"pw"}, deadline: late},
		},
		{
			name: "the Job seen running: HookRunning", data: inUse,
			meta: ptr.To(withHook(meta("r1", t0), stagedAt(t1), 1)), managed: []render.ManagedSecret{hm("r2", 0)},
			jobs: map[string]observe.JobState{"pw": observe.JobActive}, now: t2,
			want: wantHook{data: inUse, meta: withHook(meta("r1", t0), running(t1), 1), modified: true, deadline: late},
		},
		{
			name: "running, still running: nothing changes", data: inUse,
			meta: ptr.To(withHook(meta("r1", t0), running(t1), 1)), managed: []render.ManagedSecret{hm("r2", 0)},
			jobs: map[string]observe.JobState{"pw": observe.JobActive}, now: t2,
			want: wantHook{data: inUse, meta: withHook(meta("r1", t0), running(t1), 1), deadline: late},
		},
		{
			name: "running, Job not looked at: nothing is decided", data: inUse,
			meta: ptr.To(withHook(meta("r1", t0), running(t1), 1)), managed: []render.ManagedSecret{hm("r2", 0)}, now: t2,
			want: wantHook{data: inUse, meta: withHook(meta("r1", t0), running(t1), 1), deadline: late},
		},
		{
			name: "Job complete: commit, the old value moves to .previous", data: inUse,
			meta: ptr.To(withHook(meta("r1", t0), running(t1), 1)), managed: []render.ManagedSecret{hm("r2", 0)},
			jobs: map[string]observe.JobState{"pw": observe.JobComplete}, now: t2,
			want: wantHook{
				data:      map[string]string{"pw": "new", "pw" + prev: "old"},
				meta:      withHook(meta("r2", t2), finished(hs(staxv1alpha1.RotationStateCommitted, 1, TriggerField, "r2", t1), t2, ""), 1),
				committed: []string{"pw"}, rotated: map[string][]string{TriggerField: {"pw"}}, modified: true,
			},
		},
		{
			name: "crash before HookRunning was written, Job complete since: commit", data: inUse,
			meta: ptr.To(withHook(meta("r1", t0), stagedAt(t1), 1)), managed: []render.ManagedSecret{hm("r2", 0)},
			jobs: map[string]observe.JobState{"pw": observe.JobComplete}, now: t2,
			want: wantHook{
				data:      map[string]string{"pw": "new", "pw" + prev: "old"},
				meta:      withHook(meta("r2", t2), finished(hs(staxv1alpha1.RotationStateCommitted, 1, TriggerField, "r2", t1), t2, ""), 1),
				committed: []string{"pw"}, rotated: map[string][]string{TriggerField: {"pw"}}, modified: true,
			},
		},
		{
			name: "committed: steady, whatever the Job", data: map[string]string{"pw": "new", "pw" + prev: "old"},
			meta:    ptr.To(withHook(meta("r2", t2), finished(hs(staxv1alpha1.RotationStateCommitted, 1, TriggerField, "r2", t1), t2, ""), 1)),
			managed: []render.ManagedSecret{hm("r2", 0)}, now: late.Add(time.Hour),
			want: wantHook{
				data: map[string]string{"pw": "new", "pw" + prev: "old"},
				meta: withHook(meta("r2", t2), finished(hs(staxv1alpha1.RotationStateCommitted, 1, TriggerField, "r2", t1), t2, ""), 1),
			},
		},
		{
			name: "Job failed: the staged value goes, the value in use stays", data: inUse,
			meta: ptr.To(withHook(meta("r1", t0), running(t1), 1)), managed: []render.ManagedSecret{hm("r2", 0)},
			jobs: map[string]observe.JobState{"pw": observe.JobFailed}, now: t2,
			want: wantHook{
				data:   map[string]string{"pw": "old"},
				meta:   withHook(meta("r1", t0), finished(hs(staxv1alpha1.RotationStateFailed, 1, TriggerField, "r2", t1), t2, FailureJobFailed), 1),
				failed: []string{"pw"}, failure: FailureJobFailed, modified: true,
			},
		},
		{
			name: "Job deleted while running: failed, never created again", data: inUse,
			meta: ptr.To(withHook(meta("r1", t0), running(t1), 1)), managed: []render.ManagedSecret{hm("r2", 0)},
			jobs: map[string]observe.JobState{"pw": observe.JobAbsent}, now: t2,
			want: wantHook{
				data:   map[string]string{"pw": "old"},
				meta:   withHook(meta("r1", t0), finished(hs(staxv1alpha1.RotationStateFailed, 1, TriggerField, "r2", t1), t2, FailureJobDeleted), 1),
				failed: []string{"pw"}, failure: FailureJobDeleted, modified: true,
			},
		},
		{
			name: "a foreign Job under the rotation's name: failed, never trusted", data: inUse,
			meta: ptr.To(withHook(meta("r1", t0), stagedAt(t1), 1)), managed: []render.ManagedSecret{hm("r2", 0)},
			jobs: map[string]observe.JobState{"pw": observe.JobForeign}, now: t2,
			want: wantHook{
				data:   map[string]string{"pw": "old"},
				meta:   withHook(meta("r1", t0), finished(hs(staxv1alpha1.RotationStateFailed, 1, TriggerField, "r2", t1), t2, FailureForeignJob), 1),
				failed: []string{"pw"}, failure: FailureForeignJob, modified: true,
			},
		},
		{
			name: "timeout: running past the deadline fails", data: inUse,
			meta: ptr.To(withHook(meta("r1", t0), running(t1), 1)), managed: []render.ManagedSecret{hm("r2", 0)},
			jobs: map[string]observe.JobState{"pw": observe.JobActive}, now: late,
			want: wantHook{
				data:   map[string]string{"pw": "old"},
				meta:   withHook(meta("r1", t0), finished(hs(staxv1alpha1.RotationStateFailed, 1, TriggerField, "r2", t1), late, FailureTimeout), 1),
				failed: []string{"pw"}, failure: FailureTimeout, modified: true,
				// The Job still runs: it is stopped, so that it cannot
				// carry on with the value just discarded.
				stopJobs: []string{"pw"},
			},
		},
		{
			name: "timeout before the Job was seen: failed, nothing to stop", data: inUse,
			meta: ptr.To(withHook(meta("r1", t0), stagedAt(t1), 1)), managed: []render.ManagedSecret{hm("r2", 0)},
			jobs: map[string]observe.JobState{"pw": observe.JobAbsent}, now: late,
			want: wantHook{
				data:   map[string]string{"pw": "old"},
				meta:   withHook(meta("r1", t0), finished(hs(staxv1alpha1.RotationStateFailed, 1, TriggerField, "r2", t1), late, FailureTimeout), 1),
				failed: []string{"pw"}, failure: FailureTimeout, modified: true,
			},
		},
		{
			name: "just before the deadline: still running", data: inUse,
			meta: ptr.To(withHook(meta("r1", t0), running(t1), 1)), managed: []render.ManagedSecret{hm("r2", 0)},
			jobs: map[string]observe.JobState{"pw": observe.JobActive}, now: late.Add(-time.Nanosecond),
			want: wantHook{data: inUse, meta: withHook(meta("r1", t0), running(t1), 1), deadline: late},
		},
		{
			name: "the staged value removed by hand: failed, nothing committed", data: map[string]string{"pw": "old"},
			meta: ptr.To(withHook(meta("r1", t0), running(t1), 1)), managed: []render.ManagedSecret{hm("r2", 0)},
			jobs: map[string]observe.JobState{"pw": observe.JobComplete}, now: t2,
			want: wantHook{
				data:   map[string]string{"pw": "old"},
				meta:   withHook(meta("r1", t0), finished(hs(staxv1alpha1.RotationStateFailed, 1, TriggerField, "r2", t1), t2, FailureStagedLost), 1),
				failed: []string{"pw"}, failure: FailureStagedLost, modified: true,
			},
		},
		{
			name: "failed for a token: not retried while the token stays", data: map[string]string{"pw": "old"},
			meta:    ptr.To(withHook(meta("r1", t0), finished(hs(staxv1alpha1.RotationStateFailed, 1, TriggerField, "r2", t1), t2, FailureJobFailed), 1)),
			managed: []render.ManagedSecret{hm("r2", 0)}, now: late.Add(time.Hour),
			want: wantHook{
				data: map[string]string{"pw": "old"},
				meta: withHook(meta("r1", t0), finished(hs(staxv1alpha1.RotationStateFailed, 1, TriggerField, "r2", t1), t2, FailureJobFailed), 1),
			},
		},
		{
			name: "failed, then a new request: a fresh value, attempt 2", data: map[string]string{"pw": "old"},
			meta:    ptr.To(withHook(meta("r1", t0), finished(hs(staxv1alpha1.RotationStateFailed, 1, TriggerField, "r2", t1), t2, FailureJobFailed), 1)),
			managed: []render.ManagedSecret{hm("r2", 0)}, rotate: []string{"pw"}, rotateID: "req-1", now: late,
			want: wantHook{
				data:   map[string]string{"pw": "old", staged: "v1"},
				meta:   withHook(meta("r1", t0), hs(staxv1alpha1.RotationStateStaged, 2, TriggerAnnotation, "r2", late), 2),
				staged: []string{"pw"}, createJobs: []string{"pw"}, calls: 1, modified: true, deadline: late.Add(hookTimeot + HookGrace), handled: "req-1",
			},
		},
		{
			name: "a request while the hook runs is queued, not staged", data: inUse,
			meta: ptr.To(withHook(meta("r1", t0), running(t1), 1)), managed: []render.ManagedSecret{hm("r2", 0)},
			jobs: map[string]observe.JobState{"pw": observe.JobActive}, rotate: []string{"pw"}, rotateID: "req-1", now: t2,
			want: wantHook{data: inUse, meta: withHook(meta("r1", t0), queued(running(t1), TriggerAnnotation), 1), modified: true, deadline: late, handled: "req-1"},
		},
		{
			name: "a further request while one is queued: queued once", data: inUse,
			meta: ptr.To(withHook(meta("r1", t0), queued(running(t1), TriggerAnnotation), 1)), managed: []render.ManagedSecret{hm("r2", 0)},
			jobs: map[string]observe.JobState{"pw": observe.JobActive}, rotate: []string{"pw"}, rotateID: "req-2", handled: "req-1", now: t2,
			want: wantHook{data: inUse, meta: withHook(meta("r1", t0), queued(running(t1), TriggerAnnotation), 1), modified: true, deadline: late, handled: "req-2"},
		},
		{
			name: "commit with a queued request: the next rotation is staged at once", data: inUse,
			meta: ptr.To(withHook(meta("r1", t0), queued(running(t1), TriggerAnnotation), 1)), managed: []render.ManagedSecret{hm("r2", 0)},
			jobs: map[string]observe.JobState{"pw": observe.JobComplete}, now: t2,
			want: wantHook{
				data:      map[string]string{"pw": "new", "pw" + prev: "old", staged: "v1"},
				meta:      withHook(meta("r2", t2), hs(staxv1alpha1.RotationStateStaged, 2, TriggerAnnotation, "r2", t2), 2),
				committed: []string{"pw"}, rotated: map[string][]string{TriggerField: {"pw"}}, staged: []string{"pw"}, createJobs: []string{"pw"},
				calls: 1, modified: true, deadline: t2.Add(hookTimeot + HookGrace),
			},
		},
		{
			name: "failure with a queued request: tried again at once with a fresh value", data: inUse,
			meta: ptr.To(withHook(meta("r1", t0), queued(running(t1), TriggerAnnotation), 1)), managed: []render.ManagedSecret{hm("r2", 0)},
			jobs: map[string]observe.JobState{"pw": observe.JobFailed}, now: t2,
			want: wantHook{
				data:   map[string]string{"pw": "old", staged: "v1"},
				meta:   withHook(meta("r1", t0), hs(staxv1alpha1.RotationStateStaged, 2, TriggerAnnotation, "r2", t2), 2),
				failed: []string{"pw"}, failure: FailureJobFailed, staged: []string{"pw"}, createJobs: []string{"pw"},
				calls: 1, modified: true, deadline: t2.Add(hookTimeot + HookGrace),
			},
		},
		{
			name: "the token changed again while running: after the commit, the newer token is staged", data: inUse,
			meta: ptr.To(withHook(meta("r1", t0), running(t1), 1)), managed: []render.ManagedSecret{hm("r3", 0)},
			jobs: map[string]observe.JobState{"pw": observe.JobComplete}, now: t2,
			want: wantHook{
				data:      map[string]string{"pw": "new", "pw" + prev: "old", staged: "v1"},
				meta:      withHook(meta("r2", t2), hs(staxv1alpha1.RotationStateStaged, 2, TriggerField, "r3", t2), 2),
				committed: []string{"pw"}, rotated: map[string][]string{TriggerField: {"pw"}}, staged: []string{"pw"}, createJobs: []string{"pw"},
				calls: 1, modified: true, deadline: t2.Add(hookTimeot + HookGrace),
			},
		},
		{
			name: "the token changed again while running: nothing until the Job ends", data: inUse,
			meta: ptr.To(withHook(meta("r1", t0), running(t1), 1)), managed: []render.ManagedSecret{hm("r3", 0)},
			jobs: map[string]observe.JobState{"pw": observe.JobActive}, now: t2,
			want: wantHook{data: inUse, meta: withHook(meta("r1", t0), running(t1), 1), deadline: late},
		},
		{
			name: "onRotate removed while running: the staged value goes, the rotation is done unhooked", data: inUse,
			meta: ptr.To(withHook(meta("r1", t0), running(t1), 1)), managed: []render.ManagedSecret{ms("pw", "r2", 0)},
			jobs: map[string]observe.JobState{"pw": observe.JobActive}, now: t2,
			want: wantHook{
				data: map[string]string{"pw": "v1", "pw" + prev: "old"}, meta: withHook(meta("r2", t2), nil, 1),
				rotated: map[string][]string{TriggerField: {"pw"}}, calls: 1, modified: true,
			},
		},
		{
			name: "the value in use deleted by hand while running: generated afresh, no hook", data: map[string]string{staged: "new"},
			meta: ptr.To(withHook(meta("r1", t0), running(t1), 1)), managed: []render.ManagedSecret{hm("r2", 0)},
			jobs: map[string]observe.JobState{"pw": observe.JobComplete}, now: t2,
			want: wantHook{data: map[string]string{"pw": "v1"}, meta: withHook(meta("r2", t2), nil, 1), generated: []string{"pw"}, calls: 1, modified: true},
		},
		{
			name: "a scheduled rotation is staged", data: map[string]string{"pw": "old"},
			meta: ptr.To(meta("r1", t0)), managed: []render.ManagedSecret{hm("r1", time.Hour)}, now: t1,
			want: wantHook{
				data: map[string]string{"pw": "old", staged: "v1"}, meta: withHook(meta("r1", t0), hs(staxv1alpha1.RotationStateStaged, 1, TriggerSchedule, "r1", t1), 1),
				staged: []string{"pw"}, createJobs: []string{"pw"}, calls: 1, modified: true, deadline: late,
			},
		},
		{
			name: "a failed scheduled rotation waits for the next schedule", data: map[string]string{"pw": "old"},
			meta:    ptr.To(withHook(meta("r1", t0), finished(hs(staxv1alpha1.RotationStateFailed, 1, TriggerSchedule, "r1", t1), t2, FailureJobFailed), 1)),
			managed: []render.ManagedSecret{hm("r1", time.Hour)}, now: t2.Add(time.Hour - time.Second),
			want: wantHook{
				data: map[string]string{"pw": "old"},
				meta: withHook(meta("r1", t0), finished(hs(staxv1alpha1.RotationStateFailed, 1, TriggerSchedule, "r1", t1), t2, FailureJobFailed), 1),
			},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			st := State{Data: bytesMap(tc.data), Values: map[string]ValueMeta{}, RotateHandled: tc.handled}
			st.Data[staxv1alpha1.DigestKey] = []byte("dk")
			if tc.meta != nil {
				st.Values["pw"] = *tc.meta
			}
			g := &fakeGen{}
			ch, err := Sync(&st, Request{Managed: tc.managed, Jobs: tc.jobs, RotateNames: tc.rotate, RotateID: tc.rotateID, Now: tc.now, Blueprint: "bp"}, g.gen)
			if err != nil {
				t.Fatal(err)
			}
			w := tc.want
			wantData := map[string]string{staxv1alpha1.DigestKey: "dk"}
			for k, v := range w.data {
				wantData[k] = v
			}
			if got := stringMap(st.Data); !reflect.DeepEqual(got, wantData) {
				t.Errorf("data = %v, want %v", got, wantData)
			}
			if got := st.Values["pw"]; !reflect.DeepEqual(got, w.meta) {
				t.Errorf("meta = %+v (hook %+v), want %+v (hook %+v)", got, got.Hook, w.meta, w.meta.Hook)
			}
			if len(g.calls) != w.calls {
				t.Errorf("generator called %d times, want %d", len(g.calls), w.calls)
			}
			var failed []string
			for _, f := range ch.HookFailed {
				failed = append(failed, f.Name)
				if f.Failure != w.failure {
					t.Errorf("failure = %q, want %q", f.Failure, w.failure)
				}
				if want := render.HookJobName("bp", "pw", 1); f.Job != want {
					t.Errorf("failed Job = %q, want %q", f.Job, want)
				}
			}
			for _, c := range []struct {
				what      string
				got, want []string
			}{
				{"staged", ch.Staged, w.staged}, {"committed", ch.Committed, w.committed}, {"failed", failed, w.failed},
				{"createJobs", ch.CreateJobs, w.createJobs}, {"stopJobs", ch.StopJobs, w.stopJobs}, {"generated", ch.Generated, w.generated},
			} {
				if !slices.Equal(c.got, c.want) {
					t.Errorf("%s = %v, want %v", c.what, c.got, c.want)
				}
			}
			wantRotated := w.rotated
			if wantRotated == nil {
				wantRotated = map[string][]string{}
			}
			if !reflect.DeepEqual(ch.Rotated, wantRotated) {
				t.Errorf("rotated = %v, want %v", ch.Rotated, wantRotated)
			}
			if ch.Modified != w.modified {
				t.Errorf("modified = %v, want %v", ch.Modified, w.modified)
			}
			if !ch.NextHookDeadline.Equal(w.deadline) {
				t.Errorf("next hook deadline = %v, want %v", ch.NextHookDeadline, w.deadline)
			}
			if st.RotateHandled != w.handled {
				t.Errorf("rotate handled = %q, want %q", st.RotateHandled, w.handled)
			}
		})
	}
}

// A Job created late ends by the operator's deadline: its
// activeDeadlineSeconds counts what is left of timeoutSeconds since staging.
func TestHookJobDeadline(t *testing.T) {
	h := &HookState{StagedAt: t0}
	for _, c := range []struct {
		now  time.Time
		want int64
	}{
		{t0, 300},
		{t0.Add(100 * time.Millisecond), 300},
		{t0.Add(120 * time.Second), 180},
		{t0.Add(299*time.Second + time.Millisecond), 1},
		{t0.Add(400 * time.Second), 1},
	} {
		if got := HookJobDeadline(h, 300*time.Second, c.now); got != c.want {
			t.Errorf("%v after staging: %d s, want %d s", c.now.Sub(t0), got, c.want)
		}
	}
}

// TestSyncHookRemoval: a hooked secret removed from the spec while its hook
// runs never commits; its staged value goes at once, and with the value on
// prune.
func TestSyncHookRemoval(t *testing.T) {
	t1 := t0.Add(time.Hour)
	st := State{
		Data:   bytesMap(map[string]string{staxv1alpha1.DigestKey: "dk", "pw": "old", staged: "new"}),
		Values: map[string]ValueMeta{"pw": withHook(meta("r1", t0), hs(staxv1alpha1.RotationStateHookRunning, 1, TriggerField, "r2", t0), 1)},
	}
	g := &fakeGen{}
	ch, err := Sync(&st, Request{Retention: time.Hour, Now: t1, Blueprint: "bp"}, g.gen)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := stringMap(st.Data), map[string]string{staxv1alpha1.DigestKey: "dk", "pw": "old"}; !reflect.DeepEqual(got, want) {
		t.Errorf("data = %v, want %v", got, want)
	}
	if h := st.Values["pw"].Hook; h.Phase != staxv1alpha1.RotationStateFailed || h.Failure != FailureRemoved {
		t.Errorf("hook = %+v, want Failed (%s)", h, FailureRemoved)
	}
	if len(ch.HookFailed) != 0 || len(ch.CreateJobs) != 0 || !ch.Modified {
		t.Errorf("change = %+v: want no reported failure, no Job, modified", ch)
	}
}

// TestSyncHookCrashes plays random runs of hooked rotations against a model
// of the cluster: after each Sync the write is lost (a crash before the
// Update) or kept, the Job controller finishes Jobs at random, requests
// arrive at random. Whatever happens, the value in use changes only by
// committing a staged value whose Job completed, every staged value that
// was written is generated once, and no rotation gets two Jobs.
func TestSyncHookCrashes(t *testing.T) {
	rng := rand.New(rand.NewSource(13)) //nolint:gosec // test schedule, not a value
	var commits, failures, recreated int
	for run := range 300 {
		stagedFor := map[int64]string{} // attempt -> the staged value written for it
		g := &fakeGen{}
		now := t0
		saved := State{Data: bytesMap(map[string]string{"pw": "first"}), Values: map[string]ValueMeta{"pw": meta("r0", t0)}}
		jobs := map[string]observe.JobState{} // the cluster: Job name -> state
		created := map[string]int{}
		rotation, reqN := 0, 0
		committedFrom := map[string]string{} // Job name -> staged value it was created for
		for range 40 {
			now = now.Add(time.Duration(rng.Intn(40)) * time.Second)
			switch rng.Intn(6) {
			case 0:
				rotation++
			case 1:
				reqN++
			}
			// The Job controller.
			for name, s := range jobs {
				if s == observe.JobActive {
					switch rng.Intn(4) {
					case 0:
						jobs[name] = observe.JobComplete
					case 1:
						jobs[name] = observe.JobFailed
					}
				}
			}
			st := cloneHooked(saved)
			m := hm("r"+string(rune('0'+rotation%10)), 0)
			obs := map[string]observe.JobState{}
			if h := st.Values["pw"].Hook; h.InFlight() {
				s, ok := jobs[render.HookJobName("bp", "pw", h.Attempt)]
				if !ok {
					s = observe.JobAbsent
				}
				obs["pw"] = s
			}
			req := Request{Managed: []render.ManagedSecret{m}, Jobs: obs, Now: now, Blueprint: "bp"}
			if reqN > 0 {
				req.RotateNames, req.RotateID = []string{"pw"}, "req-"+string(rune('a'+reqN%26))
			}
			before := string(saved.Data["pw"])
			ch, err := Sync(&st, req, g.gen)
			if err != nil {
				t.Fatal(err)
			}
			if after := string(st.Data["pw"]); after != before {
				h := saved.Values["pw"].Hook
				job := render.HookJobName("bp", "pw", h.Attempt)
				if !h.InFlight() || obs["pw"] != observe.JobComplete || after != committedFrom[job] {
					t.Fatalf("run %d: value changed from %q to %q without a completed hook (hook %+v, Job %s)", run, before, after, h, obs["pw"])
				}
			}
			if rng.Intn(4) == 0 {
				continue // crash before the write: nothing of this Sync is kept
			}
			saved = cloneHooked(st)
			commits += len(ch.Committed)
			failures += len(ch.HookFailed)
			if h := saved.Values["pw"].Hook; h.InFlight() {
				v := string(saved.Data[staged])
				if first, ok := stagedFor[h.Attempt]; ok && first != v {
					t.Fatalf("run %d: attempt %d staged %q, then %q: a second new value", run, h.Attempt, first, v)
				}
				stagedFor[h.Attempt] = v
				if h.Phase == staxv1alpha1.RotationStateStaged && len(ch.Staged) == 0 {
					recreated++
				}
			}
			// The Jobs, created after the write; a crash may come first.
			if rng.Intn(4) == 0 {
				continue
			}
			for _, n := range ch.CreateJobs {
				h := st.Values[n].Hook
				name := render.HookJobName("bp", n, h.Attempt)
				if _, exists := jobs[name]; exists {
					continue // AlreadyExists
				}
				created[name]++
				if created[name] > 1 {
					t.Fatalf("run %d: a second Job %s for one rotation", run, name)
				}
				jobs[name] = observe.JobActive
				committedFrom[name] = string(st.Data[staged])
			}
		}
		_ = now
	}
	// The walk must have reached what it checks.
	if commits == 0 || failures == 0 || recreated == 0 {
		t.Fatalf("commits %d, failures %d, Jobs created after a crash %d: the walk missed a state", commits, failures, recreated)
	}
	t.Logf("%d commits, %d failures, %d staged rotations carried on after a crash", commits, failures, recreated)
}

// cloneHooked is cloneState with the hook state copied too, as a fresh
// read of the Secret would give it.
func cloneHooked(st State) State {
	out := cloneState(st)
	for k, v := range out.Values {
		if v.Hook != nil {
			h := *v.Hook
			v.Hook = &h
			out.Values[k] = v
		}
	}
	return out
}
