package values

import (
	"errors"
	"fmt"
	"math/rand"
	"reflect"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	staxv1alpha1 "github.com/stax-dev/blueprint-operator/api/v1alpha1"
	"github.com/stax-dev/blueprint-operator/internal/render"
)

var t0 = time.Date(2024, 3, 4, 5, 6, 7, 0, time.UTC)

const prev = staxv1alpha1.PreviousValueSuffix

// fakeGen returns "v1", "v2", ... one per call and records what it was asked
// for. It fails for the name in failOn.
type fakeGen struct {
	n      int
	calls  []render.ManagedSecret
	draws  []Draw
	failOn string
}

var errBoom = errors.New("entropy source exhausted")

func (f *fakeGen) gen(d Draw) (map[string][]byte, error) {
	m := d.Secret
	if d.CA {
		m = render.ManagedSecret{Name: "CA"}
	}
	f.calls = append(f.calls, m)
	f.draws = append(f.draws, d)
	if f.failOn != "" && m.Name == f.failOn {
		return nil, errBoom
	}
	f.n++
	v := fmt.Sprintf("v%d", f.n)
	if d.CA {
		return map[string][]byte{"": []byte("ca-key-" + v), staxv1alpha1.PartCert: []byte("ca-crt-" + v)}, nil
	}
	out := map[string][]byte{"": []byte(v)}
	for _, p := range render.Parts(render.TypeOrDefault(m.Type)) {
		out[p] = []byte(v + p)
	}
	if render.TypeOrDefault(m.Type) == staxv1alpha1.SecretTypeTLS {
		out[staxv1alpha1.PartCA] = d.CACert
	}
	return out, nil
}

func (f *fakeGen) names() []string {
	var out []string
	for _, c := range f.calls {
		out = append(out, c.Name)
	}
	return out
}

func ms(name, rotation string, every time.Duration) render.ManagedSecret {
	return render.ManagedSecret{Name: name, Charset: staxv1alpha1.CharsetAlphanumeric, Length: 32, Rotation: rotation, RotateEvery: every}
}

func meta(rotation string, at time.Time) ValueMeta {
	return ValueMeta{Rotation: rotation, GeneratedAt: at}
}

func removedMeta(rotation string, at, removed time.Time) ValueMeta {
	return ValueMeta{Rotation: rotation, GeneratedAt: at, RemovedAt: &removed}
}

func bytesMap(m map[string]string) map[string][]byte {
	out := map[string][]byte{}
	for k, v := range m {
		out[k] = []byte(v)
	}
	return out
}

func stringMap(m map[string][]byte) map[string]string {
	out := map[string]string{}
	for k, v := range m {
		out[k] = string(v)
	}
	return out
}

func cloneState(st State) State {
	out := State{Data: map[string][]byte{}, Values: map[string]ValueMeta{}, RotateHandled: st.RotateHandled, PruneHandled: st.PruneHandled}
	for k, v := range st.Data {
		out.Data[k] = slices.Clone(v)
	}
	for k, v := range st.Values {
		out.Values[k] = v
	}
	return out
}

// want is the full expected outcome of one Sync.
type want struct {
	generated []string
	rotated   map[string][]string
	pruned    map[string][]string
	removed   []Removal
	pending   []Removal
	restored  []string
	unknown   []string
	unknownP  []string
	nextPrune time.Time
	pHandled  string
	next      time.Time
	modified  bool
	calls     []string // names the generator was called for, in order
	data      map[string]string
	values    map[string]ValueMeta
	handled   string
}

type step struct {
	req  Request
	want want
}

func emptyIfNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

func checkStep(t *testing.T, i int, st *State, ch Change, g *fakeGen, w want) {
	t.Helper()
	if got, exp := emptyIfNil(ch.Generated), emptyIfNil(w.generated); !reflect.DeepEqual(got, exp) {
		t.Errorf("step %d: Generated = %q, want %q", i, got, exp)
	}
	gotRot := map[string][]string{}
	for k, v := range ch.Rotated {
		if len(v) > 0 {
			gotRot[k] = v
		}
	}
	expRot := w.rotated
	if expRot == nil {
		expRot = map[string][]string{}
	}
	if !reflect.DeepEqual(gotRot, expRot) {
		t.Errorf("step %d: Rotated = %v, want %v", i, gotRot, expRot)
	}
	gotPruned := map[string][]string{}
	for k, v := range ch.Pruned {
		if len(v) > 0 {
			gotPruned[k] = v
		}
	}
	if exp := w.pruned; !reflect.DeepEqual(gotPruned, exp) && (len(gotPruned) != 0 || len(exp) != 0) {
		t.Errorf("step %d: Pruned = %v, want %v", i, gotPruned, exp)
	}
	if got, exp := emptyIfNil(ch.Removed), emptyIfNil(w.removed); !reflect.DeepEqual(got, exp) {
		t.Errorf("step %d: Removed = %+v, want %+v", i, got, exp)
	}
	if got, exp := emptyIfNil(ch.Pending), emptyIfNil(w.pending); !reflect.DeepEqual(got, exp) {
		t.Errorf("step %d: Pending = %+v, want %+v", i, got, exp)
	}
	if got, exp := emptyIfNil(ch.Restored), emptyIfNil(w.restored); !reflect.DeepEqual(got, exp) {
		t.Errorf("step %d: Restored = %q, want %q", i, got, exp)
	}
	if got, exp := emptyIfNil(ch.UnknownPruneNames), emptyIfNil(w.unknownP); !reflect.DeepEqual(got, exp) {
		t.Errorf("step %d: UnknownPruneNames = %q, want %q", i, got, exp)
	}
	if !ch.NextPrune.Equal(w.nextPrune) {
		t.Errorf("step %d: NextPrune = %v, want %v", i, ch.NextPrune, w.nextPrune)
	}
	if st.PruneHandled != w.pHandled {
		t.Errorf("step %d: PruneHandled = %q, want %q", i, st.PruneHandled, w.pHandled)
	}
	if got, exp := emptyIfNil(ch.UnknownRotateNames), emptyIfNil(w.unknown); !reflect.DeepEqual(got, exp) {
		t.Errorf("step %d: UnknownRotateNames = %q, want %q", i, got, exp)
	}
	if !ch.NextRotation.Equal(w.next) {
		t.Errorf("step %d: NextRotation = %v, want %v", i, ch.NextRotation, w.next)
	}
	if ch.Modified != w.modified {
		t.Errorf("step %d: Modified = %v, want %v", i, ch.Modified, w.modified)
	}
	if got, exp := emptyIfNil(g.names()), emptyIfNil(w.calls); !reflect.DeepEqual(got, exp) {
		t.Errorf("step %d: generator called for %q, want %q", i, got, exp)
	}
	if got := stringMap(st.Data); !reflect.DeepEqual(got, w.data) {
		t.Errorf("step %d: Data = %v, want %v", i, got, w.data)
	}
	if !reflect.DeepEqual(st.Values, w.values) {
		t.Errorf("step %d: Values = %v, want %v", i, st.Values, w.values)
	}
	if st.RotateHandled != w.handled {
		t.Errorf("step %d: RotateHandled = %q, want %q", i, st.RotateHandled, w.handled)
	}
}

func TestSync(t *testing.T) {
	h := time.Hour
	t1 := t0.Add(10 * time.Minute)
	t2 := t0.Add(20 * time.Minute)
	t3 := t0.Add(30 * time.Minute)
	t4 := t0.Add(40 * time.Minute)
	ab := []render.ManagedSecret{ms("b", "", 0), ms("a", "", 0)}
	// The state Sync leaves after generating b then a from empty at t0.
	abData := map[string]string{staxv1alpha1.DigestKey: "v1", "b": "v2", "a": "v3"}
	abValues := map[string]ValueMeta{"a": meta("", t0), "b": meta("", t0)}

	tests := map[string]struct {
		initial State
		steps   []step
	}{
		"empty state generates every value and the digest key, in declared order": {
			steps: []step{
				{Request{Managed: ab, Now: t0}, want{
					generated: []string{"b", "a"}, modified: true,
					calls: []string{staxv1alpha1.DigestKey, "b", "a"}, data: abData, values: abValues,
				}},
				// Generate once: the same request later changes nothing.
				{Request{Managed: ab, Now: t0.Add(24 * h)}, want{data: abData, values: abValues}},
			},
		},
		"rotation token recorded on generation": {
			steps: []step{
				{Request{Managed: []render.ManagedSecret{ms("a", "r1", 0)}, Now: t0}, want{
					generated: []string{"a"}, modified: true, calls: []string{staxv1alpha1.DigestKey, "a"},
					data:   map[string]string{staxv1alpha1.DigestKey: "v1", "a": "v2"},
					values: map[string]ValueMeta{"a": meta("r1", t0)},
				}},
			},
		},
		"missing digest key alone is generated, values kept": {
			initial: State{Data: bytesMap(map[string]string{"a": "keep"}), Values: map[string]ValueMeta{"a": meta("", t0)}},
			steps: []step{
				{Request{Managed: []render.ManagedSecret{ms("a", "", 0)}, Now: t1}, want{
					modified: true, calls: []string{staxv1alpha1.DigestKey},
					data:   map[string]string{staxv1alpha1.DigestKey: "v1", "a": "keep"},
					values: map[string]ValueMeta{"a": meta("", t0)},
				}},
			},
		},
		"value deleted by hand is generated again, its previous value kept": {
			initial: State{Data: bytesMap(map[string]string{staxv1alpha1.DigestKey: "k", "a" + prev: "old"}), Values: map[string]ValueMeta{"a": meta("r1", t0)}},
			steps: []step{
				{Request{Managed: []render.ManagedSecret{ms("a", "r1", 0)}, Now: t1}, want{
					generated: []string{"a"}, modified: true, calls: []string{"a"},
					data:   map[string]string{staxv1alpha1.DigestKey: "k", "a": "v1", "a" + prev: "old"},
					values: map[string]ValueMeta{"a": meta("r1", t1)},
				}},
			},
		},
		"legacy value without metadata is adopted, not regenerated": {
			initial: State{Data: bytesMap(map[string]string{staxv1alpha1.DigestKey: "k", "a": "legacy"})},
			steps: []step{
				{Request{Managed: []render.ManagedSecret{ms("a", "r1", 0)}, Now: t1}, want{
					modified: true,
					data:     map[string]string{staxv1alpha1.DigestKey: "k", "a": "legacy"},
					values:   map[string]ValueMeta{"a": meta("r1", t1)},
				}},
				{Request{Managed: []render.ManagedSecret{ms("a", "r1", 0)}, Now: t2}, want{
					data:   map[string]string{staxv1alpha1.DigestKey: "k", "a": "legacy"},
					values: map[string]ValueMeta{"a": meta("r1", t1)},
				}},
			},
		},
		"legacy value on a schedule is adopted and its rotation scheduled": {
			initial: State{Data: bytesMap(map[string]string{staxv1alpha1.DigestKey: "k", "a": "legacy"})},
			steps: []step{
				{Request{Managed: []render.ManagedSecret{ms("a", "", h)}, Now: t1}, want{
					modified: true, next: t1.Add(h),
					data:   map[string]string{staxv1alpha1.DigestKey: "k", "a": "legacy"},
					values: map[string]ValueMeta{"a": meta("", t1)},
				}},
			},
		},
		"legacy value requested for rotation is adopted and rotated": {
			initial: State{Data: bytesMap(map[string]string{staxv1alpha1.DigestKey: "k", "a": "legacy", "b": "legacy-b"})},
			steps: []step{
				{Request{Managed: []render.ManagedSecret{ms("a", "", 0), ms("b", "", 0)}, RotateNames: []string{"a"}, RotateID: "a", Now: t1}, want{
					rotated: map[string][]string{TriggerAnnotation: {"a"}}, modified: true, calls: []string{"a"}, handled: "a",
					data:   map[string]string{staxv1alpha1.DigestKey: "k", "a": "v1", "a" + prev: "legacy", "b": "legacy-b"},
					values: map[string]ValueMeta{"a": meta("", t1), "b": meta("", t1)},
				}},
			},
		},
		"rotation token change rotates once, keeping the previous value": {
			steps: []step{
				{Request{Managed: []render.ManagedSecret{ms("a", "r1", 0), ms("b", "r1", 0)}, Now: t0}, want{
					generated: []string{"a", "b"}, modified: true, calls: []string{staxv1alpha1.DigestKey, "a", "b"},
					data:   map[string]string{staxv1alpha1.DigestKey: "v1", "a": "v2", "b": "v3"},
					values: map[string]ValueMeta{"a": meta("r1", t0), "b": meta("r1", t0)},
				}},
				{Request{Managed: []render.ManagedSecret{ms("a", "r2", 0), ms("b", "r1", 0)}, Now: t1}, want{
					rotated: map[string][]string{TriggerField: {"a"}}, modified: true, calls: []string{"a"},
					data:   map[string]string{staxv1alpha1.DigestKey: "v1", "a": "v4", "a" + prev: "v2", "b": "v3"},
					values: map[string]ValueMeta{"a": meta("r2", t1), "b": meta("r1", t0)},
				}},
				{Request{Managed: []render.ManagedSecret{ms("a", "r2", 0), ms("b", "r1", 0)}, Now: t2}, want{
					data:   map[string]string{staxv1alpha1.DigestKey: "v1", "a": "v4", "a" + prev: "v2", "b": "v3"},
					values: map[string]ValueMeta{"a": meta("r2", t1), "b": meta("r1", t0)},
				}},
			},
		},
		// docs/troubleshooting.md: any change counts; removing the field
		// rotates too, once.
		"rotation field removed rotates once": {
			initial: State{Data: bytesMap(map[string]string{staxv1alpha1.DigestKey: "k", "a": "first"}), Values: map[string]ValueMeta{"a": meta("r1", t0)}},
			steps: []step{
				{Request{Managed: []render.ManagedSecret{ms("a", "", 0)}, Now: t1}, want{
					rotated: map[string][]string{TriggerField: {"a"}}, modified: true, calls: []string{"a"},
					data:   map[string]string{staxv1alpha1.DigestKey: "k", "a": "v1", "a" + prev: "first"},
					values: map[string]ValueMeta{"a": meta("", t1)},
				}},
				{Request{Managed: []render.ManagedSecret{ms("a", "", 0)}, Now: t2}, want{
					data:   map[string]string{staxv1alpha1.DigestKey: "k", "a": "v1", "a" + prev: "first"},
					values: map[string]ValueMeta{"a": meta("", t1)},
				}},
			},
		},
		"two rotations in a row: previous holds the value before the latest": {
			initial: State{Data: bytesMap(map[string]string{staxv1alpha1.DigestKey: "k", "a": "first"}), Values: map[string]ValueMeta{"a": meta("r1", t0)}},
			steps: []step{
				{Request{Managed: []render.ManagedSecret{ms("a", "r2", 0)}, Now: t1}, want{
					rotated: map[string][]string{TriggerField: {"a"}}, modified: true, calls: []string{"a"},
					data:   map[string]string{staxv1alpha1.DigestKey: "k", "a": "v1", "a" + prev: "first"},
					values: map[string]ValueMeta{"a": meta("r2", t1)},
				}},
				{Request{Managed: []render.ManagedSecret{ms("a", "r3", 0)}, Now: t2}, want{
					rotated: map[string][]string{TriggerField: {"a"}}, modified: true, calls: []string{"a"},
					data:   map[string]string{staxv1alpha1.DigestKey: "k", "a": "v2", "a" + prev: "v1"},
					values: map[string]ValueMeta{"a": meta("r3", t2)},
				}},
			},
		},
		"rotate annotation rotates once; cleared, the same id rotates again": {
			initial: State{Data: bytesMap(map[string]string{staxv1alpha1.DigestKey: "k", "a": "A", "b": "B"}), Values: map[string]ValueMeta{"a": meta("", t0), "b": meta("", t0)}},
			steps: []step{
				{Request{Managed: []render.ManagedSecret{ms("a", "", 0), ms("b", "", 0)}, RotateNames: []string{"a"}, RotateID: "a@T1", Now: t1}, want{
					rotated: map[string][]string{TriggerAnnotation: {"a"}}, modified: true, calls: []string{"a"}, handled: "a@T1",
					data:   map[string]string{staxv1alpha1.DigestKey: "k", "a": "v1", "a" + prev: "A", "b": "B"},
					values: map[string]ValueMeta{"a": meta("", t1), "b": meta("", t0)},
				}},
				// A re-sync of the same request does not rotate again.
				{Request{Managed: []render.ManagedSecret{ms("a", "", 0), ms("b", "", 0)}, RotateNames: []string{"a"}, RotateID: "a@T1", Now: t2}, want{
					handled: "a@T1",
					data:    map[string]string{staxv1alpha1.DigestKey: "k", "a": "v1", "a" + prev: "A", "b": "B"},
					values:  map[string]ValueMeta{"a": meta("", t1), "b": meta("", t0)},
				}},
				// Removing the annotation clears the record.
				{Request{Managed: []render.ManagedSecret{ms("a", "", 0), ms("b", "", 0)}, Now: t3}, want{
					modified: true,
					data:     map[string]string{staxv1alpha1.DigestKey: "k", "a": "v1", "a" + prev: "A", "b": "B"},
					values:   map[string]ValueMeta{"a": meta("", t1), "b": meta("", t0)},
				}},
				// So the same request is a new one.
				{Request{Managed: []render.ManagedSecret{ms("a", "", 0), ms("b", "", 0)}, RotateNames: []string{"a"}, RotateID: "a@T1", Now: t4}, want{
					rotated: map[string][]string{TriggerAnnotation: {"a"}}, modified: true, calls: []string{"a"}, handled: "a@T1",
					data:   map[string]string{staxv1alpha1.DigestKey: "k", "a": "v2", "a" + prev: "v1", "b": "B"},
					values: map[string]ValueMeta{"a": meta("", t4), "b": meta("", t0)},
				}},
			},
		},
		"rotate annotation with a new requested-at rotates again": {
			initial: State{Data: bytesMap(map[string]string{staxv1alpha1.DigestKey: "k", "a": "A"}), Values: map[string]ValueMeta{"a": meta("", t0)}, RotateHandled: "a@T1"},
			steps: []step{
				{Request{Managed: []render.ManagedSecret{ms("a", "", 0)}, RotateNames: []string{"a"}, RotateID: "a@T2", Now: t1}, want{
					rotated: map[string][]string{TriggerAnnotation: {"a"}}, modified: true, calls: []string{"a"}, handled: "a@T2",
					data:   map[string]string{staxv1alpha1.DigestKey: "k", "a": "v1", "a" + prev: "A"},
					values: map[string]ValueMeta{"a": meta("", t1)},
				}},
			},
		},
		"rotate annotation with unknown names: reported sorted, others untouched": {
			initial: State{Data: bytesMap(map[string]string{staxv1alpha1.DigestKey: "k", "a": "A", "b": "B"}), Values: map[string]ValueMeta{"a": meta("", t0), "b": meta("", t0)}},
			steps: []step{
				{Request{Managed: []render.ManagedSecret{ms("a", "", 0), ms("b", "", 0)}, RotateNames: []string{"zz", "a", "mm", staxv1alpha1.DigestKey}, RotateID: "zz,a,mm", Now: t1}, want{
					rotated: map[string][]string{TriggerAnnotation: {"a"}}, unknown: []string{staxv1alpha1.DigestKey, "mm", "zz"},
					modified: true, calls: []string{"a"}, handled: "zz,a,mm",
					data:   map[string]string{staxv1alpha1.DigestKey: "k", "a": "v1", "a" + prev: "A", "b": "B"},
					values: map[string]ValueMeta{"a": meta("", t1), "b": meta("", t0)},
				}},
				// Reported once: a handled request is not reported again.
				{Request{Managed: []render.ManagedSecret{ms("a", "", 0), ms("b", "", 0)}, RotateNames: []string{"zz", "a", "mm", staxv1alpha1.DigestKey}, RotateID: "zz,a,mm", Now: t2}, want{
					handled: "zz,a,mm",
					data:    map[string]string{staxv1alpha1.DigestKey: "k", "a": "v1", "a" + prev: "A", "b": "B"},
					values:  map[string]ValueMeta{"a": meta("", t1), "b": meta("", t0)},
				}},
			},
		},
		"rotate annotation naming only unknown names rotates nothing": {
			initial: State{Data: bytesMap(map[string]string{staxv1alpha1.DigestKey: "k", "a": "A"}), Values: map[string]ValueMeta{"a": meta("", t0)}},
			steps: []step{
				{Request{Managed: []render.ManagedSecret{ms("a", "", 0)}, RotateNames: []string{"x"}, RotateID: "x", Now: t1}, want{
					unknown: []string{"x"}, modified: true, handled: "x",
					data:   map[string]string{staxv1alpha1.DigestKey: "k", "a": "A"},
					values: map[string]ValueMeta{"a": meta("", t0)},
				}},
			},
		},
		"schedule: not due before RotateEvery, due at it": {
			initial: State{Data: bytesMap(map[string]string{staxv1alpha1.DigestKey: "k", "a": "A"}), Values: map[string]ValueMeta{"a": meta("", t0)}},
			steps: []step{
				{Request{Managed: []render.ManagedSecret{ms("a", "", h)}, Now: t0.Add(59 * time.Minute)}, want{
					next: t0.Add(h),
					data: map[string]string{staxv1alpha1.DigestKey: "k", "a": "A"}, values: map[string]ValueMeta{"a": meta("", t0)},
				}},
				{Request{Managed: []render.ManagedSecret{ms("a", "", h)}, Now: t0.Add(h)}, want{
					rotated: map[string][]string{TriggerSchedule: {"a"}}, modified: true, calls: []string{"a"},
					next:   t0.Add(2 * h),
					data:   map[string]string{staxv1alpha1.DigestKey: "k", "a": "v1", "a" + prev: "A"},
					values: map[string]ValueMeta{"a": meta("", t0.Add(h))},
				}},
				{Request{Managed: []render.ManagedSecret{ms("a", "", h)}, Now: t0.Add(h + time.Minute)}, want{
					next: t0.Add(2 * h),
					data: map[string]string{staxv1alpha1.DigestKey: "k", "a": "v1", "a" + prev: "A"}, values: map[string]ValueMeta{"a": meta("", t0.Add(h))},
				}},
			},
		},
		"schedule overdue rotates once and schedules from now": {
			initial: State{Data: bytesMap(map[string]string{staxv1alpha1.DigestKey: "k", "a": "A"}), Values: map[string]ValueMeta{"a": meta("", t0)}},
			steps: []step{
				{Request{Managed: []render.ManagedSecret{ms("a", "", h)}, Now: t0.Add(5 * h)}, want{
					rotated: map[string][]string{TriggerSchedule: {"a"}}, modified: true, calls: []string{"a"},
					next:   t0.Add(6 * h),
					data:   map[string]string{staxv1alpha1.DigestKey: "k", "a": "v1", "a" + prev: "A"},
					values: map[string]ValueMeta{"a": meta("", t0.Add(5*h))},
				}},
			},
		},
		"schedule: several managed secrets, NextRotation is the earliest": {
			initial: State{
				Data:   bytesMap(map[string]string{staxv1alpha1.DigestKey: "k", "a": "A", "b": "B", "c": "C"}),
				Values: map[string]ValueMeta{"a": meta("", t0), "b": meta("", t1), "c": meta("", t0)},
			},
			steps: []step{
				{Request{Managed: []render.ManagedSecret{ms("a", "", 2*h), ms("b", "", h), ms("c", "", 0)}, Now: t2}, want{
					next:   t1.Add(h),
					data:   map[string]string{staxv1alpha1.DigestKey: "k", "a": "A", "b": "B", "c": "C"},
					values: map[string]ValueMeta{"a": meta("", t0), "b": meta("", t1), "c": meta("", t0)},
				}},
				// b rotates at its due time; a is now the earliest.
				{Request{Managed: []render.ManagedSecret{ms("a", "", 2*h), ms("b", "", h), ms("c", "", 0)}, Now: t1.Add(h)}, want{
					rotated: map[string][]string{TriggerSchedule: {"b"}}, modified: true, calls: []string{"b"},
					next:   t0.Add(2 * h),
					data:   map[string]string{staxv1alpha1.DigestKey: "k", "a": "A", "b": "v1", "b" + prev: "B", "c": "C"},
					values: map[string]ValueMeta{"a": meta("", t0), "b": meta("", t1.Add(h)), "c": meta("", t0)},
				}},
			},
		},
		"no schedule: NextRotation is zero": {
			steps: []step{
				{Request{Managed: []render.ManagedSecret{ms("a", "", 0)}, Now: t0}, want{
					generated: []string{"a"}, modified: true, calls: []string{staxv1alpha1.DigestKey, "a"},
					data:   map[string]string{staxv1alpha1.DigestKey: "v1", "a": "v2"},
					values: map[string]ValueMeta{"a": meta("", t0)},
				}},
			},
		},
		"several triggers at once rotate only once": {
			initial: State{Data: bytesMap(map[string]string{staxv1alpha1.DigestKey: "k", "a": "A", "a" + prev: "older"}), Values: map[string]ValueMeta{"a": meta("r1", t0)}},
			steps: []step{
				// Token changed, rotation requested and schedule due.
				{Request{Managed: []render.ManagedSecret{ms("a", "r2", h)}, RotateNames: []string{"a", "a"}, RotateID: "a,a", Now: t0.Add(2 * h)}, want{
					rotated: map[string][]string{TriggerField: {"a"}}, modified: true, calls: []string{"a"}, handled: "a,a",
					next:   t0.Add(3 * h),
					data:   map[string]string{staxv1alpha1.DigestKey: "k", "a": "v1", "a" + prev: "A"},
					values: map[string]ValueMeta{"a": meta("r2", t0.Add(2*h))},
				}},
				{Request{Managed: []render.ManagedSecret{ms("a", "r2", h)}, RotateNames: []string{"a", "a"}, RotateID: "a,a", Now: t0.Add(2 * h)}, want{
					handled: "a,a", next: t0.Add(3 * h),
					data:   map[string]string{staxv1alpha1.DigestKey: "k", "a": "v1", "a" + prev: "A"},
					values: map[string]ValueMeta{"a": meta("r2", t0.Add(2*h))},
				}},
			},
		},
		"annotation and schedule at once rotate only once": {
			initial: State{Data: bytesMap(map[string]string{staxv1alpha1.DigestKey: "k", "a": "A"}), Values: map[string]ValueMeta{"a": meta("", t0)}},
			steps: []step{
				{Request{Managed: []render.ManagedSecret{ms("a", "", h)}, RotateNames: []string{"a"}, RotateID: "a", Now: t0.Add(h)}, want{
					rotated: map[string][]string{TriggerAnnotation: {"a"}}, modified: true, calls: []string{"a"}, handled: "a",
					next:   t0.Add(2 * h),
					data:   map[string]string{staxv1alpha1.DigestKey: "k", "a": "v1", "a" + prev: "A"},
					values: map[string]ValueMeta{"a": meta("", t0.Add(h))},
				}},
			},
		},
		"retention 0: removal prunes a value, its previous value and its metadata at once, never the digest key nor a key it did not write": {
			initial: State{
				Data: bytesMap(map[string]string{
					staxv1alpha1.DigestKey: "k", "a": "A", "a" + prev: "A0", "b": "B", "b" + prev: "B0", "c": "C", "stray": "S", "stray" + prev: "S0",
				}),
				Values: map[string]ValueMeta{"a": meta("", t0), "b": meta("", t0), "c": meta("", t0), "gone": meta("", t0)},
			},
			steps: []step{
				{Request{Managed: []render.ManagedSecret{ms("b", "", 0)}, Now: t1}, want{
					pruned: map[string][]string{PruneExpired: {"a", "c", "gone"}}, modified: true,
					data:   map[string]string{staxv1alpha1.DigestKey: "k", "b": "B", "b" + prev: "B0", "stray": "S", "stray" + prev: "S0"},
					values: map[string]ValueMeta{"b": meta("", t0)},
				}},
				{Request{Now: t2}, want{
					pruned: map[string][]string{PruneExpired: {"b"}}, modified: true,
					data:   map[string]string{staxv1alpha1.DigestKey: "k", "stray": "S", "stray" + prev: "S0"},
					values: map[string]ValueMeta{},
				}},
				{Request{Now: t3}, want{
					data:   map[string]string{staxv1alpha1.DigestKey: "k", "stray": "S", "stray" + prev: "S0"},
					values: map[string]ValueMeta{},
				}},
			},
		},
		"orphan metadata alone is dropped": {
			initial: State{Data: bytesMap(map[string]string{staxv1alpha1.DigestKey: "k"}), Values: map[string]ValueMeta{"gone": meta("", t0)}},
			steps: []step{
				{Request{Now: t1}, want{
					pruned:   map[string][]string{PruneExpired: {"gone"}},
					modified: true,
					data:     map[string]string{staxv1alpha1.DigestKey: "k"},
					values:   map[string]ValueMeta{},
				}},
			},
		},
		"removed value is kept for the retention period, reported pending, then pruned when due": {
			initial: State{
				Data:   bytesMap(map[string]string{staxv1alpha1.DigestKey: "k", "a": "A", "a" + prev: "A0", "b": "B"}),
				Values: map[string]ValueMeta{"a": meta("r1", t0), "b": meta("", t0)},
			},
			steps: []step{
				{Request{Managed: []render.ManagedSecret{ms("b", "", 0)}, Retention: h, Now: t1}, want{
					removed:   []Removal{{Name: "a", RemovedAt: t1, PruneAfter: t1.Add(h)}},
					pending:   []Removal{{Name: "a", RemovedAt: t1, PruneAfter: t1.Add(h)}},
					nextPrune: t1.Add(h), modified: true,
					data:   map[string]string{staxv1alpha1.DigestKey: "k", "a": "A", "a" + prev: "A0", "b": "B"},
					values: map[string]ValueMeta{"a": removedMeta("r1", t0, t1), "b": meta("", t0)},
				}},
				// Later, still within the period: pending, nothing written,
				// the removal time is the first one.
				{Request{Managed: []render.ManagedSecret{ms("b", "", 0)}, Retention: h, Now: t1.Add(h - time.Second)}, want{
					pending:   []Removal{{Name: "a", RemovedAt: t1, PruneAfter: t1.Add(h)}},
					nextPrune: t1.Add(h),
					data:      map[string]string{staxv1alpha1.DigestKey: "k", "a": "A", "a" + prev: "A0", "b": "B"},
					values:    map[string]ValueMeta{"a": removedMeta("r1", t0, t1), "b": meta("", t0)},
				}},
				// Due: pruned with its previous value and metadata.
				{Request{Managed: []render.ManagedSecret{ms("b", "", 0)}, Retention: h, Now: t1.Add(h)}, want{
					pruned: map[string][]string{PruneExpired: {"a"}}, modified: true,
					data:   map[string]string{staxv1alpha1.DigestKey: "k", "b": "B"},
					values: map[string]ValueMeta{"b": meta("", t0)},
				}},
			},
		},
		"declared again within the period: value, previous value and rotation state come back unchanged": {
			initial: State{
				Data:   bytesMap(map[string]string{staxv1alpha1.DigestKey: "k", "a": "A", "a" + prev: "A0"}),
				Values: map[string]ValueMeta{"a": meta("r1", t0)},
			},
			steps: []step{
				{Request{Retention: h, Now: t1}, want{
					removed:   []Removal{{Name: "a", RemovedAt: t1, PruneAfter: t1.Add(h)}},
					pending:   []Removal{{Name: "a", RemovedAt: t1, PruneAfter: t1.Add(h)}},
					nextPrune: t1.Add(h), modified: true,
					data:   map[string]string{staxv1alpha1.DigestKey: "k", "a": "A", "a" + prev: "A0"},
					values: map[string]ValueMeta{"a": removedMeta("r1", t0, t1)},
				}},
				{Request{Managed: []render.ManagedSecret{ms("a", "r1", 2*h)}, Retention: h, Now: t2}, want{
					restored: []string{"a"}, modified: true, next: t0.Add(2 * h),
					data:   map[string]string{staxv1alpha1.DigestKey: "k", "a": "A", "a" + prev: "A0"},
					values: map[string]ValueMeta{"a": meta("r1", t0)},
				}},
				// Removed again later: a new removal time, a new period.
				{Request{Retention: h, Now: t4}, want{
					removed:   []Removal{{Name: "a", RemovedAt: t4, PruneAfter: t4.Add(h)}},
					pending:   []Removal{{Name: "a", RemovedAt: t4, PruneAfter: t4.Add(h)}},
					nextPrune: t4.Add(h), modified: true,
					data:   map[string]string{staxv1alpha1.DigestKey: "k", "a": "A", "a" + prev: "A0"},
					values: map[string]ValueMeta{"a": removedMeta("r1", t0, t4)},
				}},
			},
		},
		"declared again with another rotation token: restored, then rotated as the token asks": {
			initial: State{
				Data:   bytesMap(map[string]string{staxv1alpha1.DigestKey: "k", "a": "A"}),
				Values: map[string]ValueMeta{"a": removedMeta("r1", t0, t1)},
			},
			steps: []step{
				{Request{Managed: []render.ManagedSecret{ms("a", "r2", 0)}, Retention: h, Now: t2}, want{
					restored: []string{"a"}, rotated: map[string][]string{TriggerField: {"a"}}, modified: true, calls: []string{"a"},
					data:   map[string]string{staxv1alpha1.DigestKey: "k", "a": "v1", "a" + prev: "A"},
					values: map[string]ValueMeta{"a": meta("r2", t2)},
				}},
			},
		},
		"prune request: named values go at once, others stay, unknown names reported, a re-sync prunes nothing more": {
			initial: State{
				Data:   bytesMap(map[string]string{staxv1alpha1.DigestKey: "k", "a": "A", "a" + prev: "A0", "b": "B", "c": "C"}),
				Values: map[string]ValueMeta{"a": removedMeta("", t0, t1), "b": removedMeta("", t0, t1), "c": meta("", t0)},
			},
			steps: []step{
				{Request{Managed: []render.ManagedSecret{ms("c", "", 0)}, PruneNames: []string{"a", "c", "zz"}, PruneID: "a,c,zz@1", Retention: h, Now: t2}, want{
					pruned:   map[string][]string{PruneRequested: {"a"}},
					pending:  []Removal{{Name: "b", RemovedAt: t1, PruneAfter: t1.Add(h)}},
					unknownP: []string{"c", "zz"}, nextPrune: t1.Add(h), modified: true, pHandled: "a,c,zz@1",
					data:   map[string]string{staxv1alpha1.DigestKey: "k", "b": "B", "c": "C"},
					values: map[string]ValueMeta{"b": removedMeta("", t0, t1), "c": meta("", t0)},
				}},
				// The same request again (a GitOps re-sync) with b removed
				// since: b is kept, not pruned.
				{Request{PruneNames: []string{"a", "c", "zz"}, PruneID: "a,c,zz@1", Retention: h, Now: t3}, want{
					removed:   []Removal{{Name: "c", RemovedAt: t3, PruneAfter: t3.Add(h)}},
					pending:   []Removal{{Name: "b", RemovedAt: t1, PruneAfter: t1.Add(h)}, {Name: "c", RemovedAt: t3, PruneAfter: t3.Add(h)}},
					nextPrune: t1.Add(h), modified: true, pHandled: "a,c,zz@1",
					data:   map[string]string{staxv1alpha1.DigestKey: "k", "b": "B", "c": "C"},
					values: map[string]ValueMeta{"b": removedMeta("", t0, t1), "c": removedMeta("", t0, t3)},
				}},
				// A request with no names prunes every pending value; the
				// handled request is recorded.
				{Request{PruneID: "*@2", Retention: h, Now: t3}, want{
					pruned: map[string][]string{PruneRequested: {"b", "c"}}, modified: true, pHandled: "*@2",
					data:   map[string]string{staxv1alpha1.DigestKey: "k"},
					values: map[string]ValueMeta{},
				}},
				// The request gone: the record is cleared.
				{Request{Retention: h, Now: t3}, want{
					modified: true,
					data:     map[string]string{staxv1alpha1.DigestKey: "k"},
					values:   map[string]ValueMeta{},
				}},
			},
		},
		"a secret removed and pruned in the same edit goes at once": {
			initial: State{
				Data:   bytesMap(map[string]string{staxv1alpha1.DigestKey: "k", "a": "A"}),
				Values: map[string]ValueMeta{"a": meta("", t0)},
			},
			steps: []step{
				{Request{PruneNames: []string{"a"}, PruneID: "a", Retention: h, Now: t1}, want{
					pruned: map[string][]string{PruneRequested: {"a"}}, modified: true, pHandled: "a",
					data:   map[string]string{staxv1alpha1.DigestKey: "k"},
					values: map[string]ValueMeta{},
				}},
			},
		},
		"a shorter retention set later applies from the recorded removal": {
			initial: State{
				Data:   bytesMap(map[string]string{staxv1alpha1.DigestKey: "k", "a": "A"}),
				Values: map[string]ValueMeta{"a": removedMeta("", t0, t1)},
			},
			steps: []step{
				{Request{Retention: 15 * time.Minute, Now: t3}, want{
					pruned: map[string][]string{PruneExpired: {"a"}}, modified: true,
					data:   map[string]string{staxv1alpha1.DigestKey: "k"},
					values: map[string]ValueMeta{},
				}},
			},
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			st := cloneState(tc.initial)
			if tc.initial.Data == nil {
				st.Data = nil
			}
			if tc.initial.Values == nil {
				st.Values = nil
			}
			g := &fakeGen{}
			for i, s := range tc.steps {
				g.calls = nil
				ch, err := Sync(&st, s.req, g.gen)
				if err != nil {
					t.Fatalf("step %d: Sync: %v", i, err)
				}
				checkStep(t, i, &st, ch, g, s.want)
			}
		})
	}
}

// TestSyncIdempotent: a second Sync of the same request leaves the data
// byte-identical, calls no generator and reports nothing.
func TestSyncIdempotent(t *testing.T) {
	managed := []render.ManagedSecret{ms("a", "r1", time.Hour), ms("b", "", 0)}
	tests := map[string]Request{
		"plain":            {Managed: managed, Now: t0},
		"rotate requested": {Managed: managed, RotateNames: []string{"a", "nope"}, RotateID: "a,nope@x", Now: t0},
	}
	for name, req := range tests {
		t.Run(name, func(t *testing.T) {
			st := State{}
			g := &fakeGen{}
			if _, err := Sync(&st, req, g.gen); err != nil {
				t.Fatal(err)
			}
			before := cloneState(st)
			g.calls = nil
			ch, err := Sync(&st, req, g.gen)
			if err != nil {
				t.Fatal(err)
			}
			if ch.Modified || len(ch.Generated) > 0 || len(ch.Rotated) > 0 || len(ch.Removed) > 0 || len(ch.UnknownRotateNames) > 0 || len(ch.Pruned) > 0 || len(ch.Restored) > 0 {
				t.Errorf("second Sync reported a change: %+v", ch)
			}
			if len(g.calls) > 0 {
				t.Errorf("generator called for %q", g.names())
			}
			if !reflect.DeepEqual(st, before) {
				t.Errorf("state changed:\n got %+v\nwant %+v", st, before)
			}
		})
	}
}

// TestSyncGeneratorInput: the generator gets each managed secret as declared,
// and a base64url key of 43 characters (256 bits) for the digest.
func TestSyncGeneratorInput(t *testing.T) {
	a := render.ManagedSecret{Name: "a", Charset: staxv1alpha1.CharsetHex, Length: 17, Rotation: "r", RotateEvery: time.Minute}
	g := &fakeGen{}
	if _, err := Sync(&State{}, Request{Managed: []render.ManagedSecret{a}, Now: t0}, g.gen); err != nil {
		t.Fatal(err)
	}
	wantCalls := []render.ManagedSecret{{Name: staxv1alpha1.DigestKey, Charset: staxv1alpha1.CharsetBase64URL, Length: 43}, a}
	if !reflect.DeepEqual(g.calls, wantCalls) {
		t.Errorf("generator calls = %+v, want %+v", g.calls, wantCalls)
	}
}

func TestSyncGeneratorError(t *testing.T) {
	existing := func() State {
		return State{
			Data:          bytesMap(map[string]string{staxv1alpha1.DigestKey: "digest-secret", "a": "secret-a", "b": "secret-b"}),
			Values:        map[string]ValueMeta{"a": meta("r1", t0), "b": meta("", t0)},
			RotateHandled: "old",
		}
	}
	tests := map[string]struct {
		st       State
		req      Request
		failOn   string
		wantName string
	}{
		"digest key": {
			st: State{}, req: Request{Managed: []render.ManagedSecret{ms("a", "", 0)}, Now: t0}, failOn: staxv1alpha1.DigestKey, wantName: "digest key",
		},
		"new value": {
			st: existing(), req: Request{Managed: []render.ManagedSecret{ms("a", "r1", 0), ms("b", "", 0), ms("c", "", 0)}, Now: tLater()}, failOn: "c", wantName: "c",
		},
		"rotation by field": {
			st: existing(), req: Request{Managed: []render.ManagedSecret{ms("a", "r2", 0), ms("b", "", 0)}, Now: tLater()}, failOn: "a", wantName: "a",
		},
		"rotation by annotation": {
			st: existing(), req: Request{Managed: []render.ManagedSecret{ms("a", "r1", 0), ms("b", "", 0)}, RotateNames: []string{"b"}, RotateID: "b", Now: tLater()}, failOn: "b", wantName: "b",
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			st := cloneState(tc.st)
			g := &fakeGen{failOn: tc.failOn}
			_, err := Sync(&st, tc.req, g.gen)
			if err == nil {
				t.Fatal("Sync succeeded, want an error")
			}
			if !errors.Is(err, errBoom) {
				t.Errorf("error %q does not wrap the generator's error", err)
			}
			if !strings.Contains(err.Error(), tc.wantName) {
				t.Errorf("error %q does not name %q", err, tc.wantName)
			}
			for k, v := range st.Data {
				if strings.Contains(err.Error(), string(v)) {
					t.Errorf("error %q contains the value of %s", err, k)
				}
			}
			// A failed request is not recorded as handled.
			if st.RotateHandled != tc.st.RotateHandled {
				t.Errorf("RotateHandled = %q after an error, want %q", st.RotateHandled, tc.st.RotateHandled)
			}
		})
	}
}

func tLater() time.Time { return t0.Add(time.Minute) }

func TestParseRotateRequest(t *testing.T) {
	const at = "2024-03-04T05:06:07Z"
	tests := map[string]struct {
		annotations map[string]string
		wantNames   []string
		wantID      string
	}{
		"nil annotations":    {annotations: nil},
		"missing annotation": {annotations: map[string]string{"other": "x", staxv1alpha1.RotateRequestedAtAnnotation: at}},
		"empty":              {annotations: map[string]string{staxv1alpha1.RotateAnnotation: ""}},
		"blank":              {annotations: map[string]string{staxv1alpha1.RotateAnnotation: "  \t ", staxv1alpha1.RotateRequestedAtAnnotation: at}},
		"one name":           {annotations: map[string]string{staxv1alpha1.RotateAnnotation: "a"}, wantNames: []string{"a"}, wantID: "a"},
		"list with blanks": {
			annotations: map[string]string{staxv1alpha1.RotateAnnotation: "a, b,,c"},
			wantNames:   []string{"a", "b", "c"}, wantID: "a, b,,c",
		},
		"with requested-at": {
			annotations: map[string]string{staxv1alpha1.RotateAnnotation: "a, b,,c", staxv1alpha1.RotateRequestedAtAnnotation: at},
			wantNames:   []string{"a", "b", "c"}, wantID: "a, b,,c@" + at,
		},
		"empty requested-at": {
			annotations: map[string]string{staxv1alpha1.RotateAnnotation: "a", staxv1alpha1.RotateRequestedAtAnnotation: ""},
			wantNames:   []string{"a"}, wantID: "a",
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			names, id := ParseRotateRequest(tc.annotations)
			if !reflect.DeepEqual(names, tc.wantNames) {
				t.Errorf("names = %q, want %q", names, tc.wantNames)
			}
			if id != tc.wantID {
				t.Errorf("id = %q, want %q", id, tc.wantID)
			}
		})
	}
	// Different requested-at times make different requests.
	_, id1 := ParseRotateRequest(map[string]string{staxv1alpha1.RotateAnnotation: "a", staxv1alpha1.RotateRequestedAtAnnotation: "t1"})
	_, id2 := ParseRotateRequest(map[string]string{staxv1alpha1.RotateAnnotation: "a", staxv1alpha1.RotateRequestedAtAnnotation: "t2"})
	if id1 == id2 {
		t.Errorf("requests at different times have the same id %q", id1)
	}
}

func TestEncodeDecodeValues(t *testing.T) {
	tests := map[string]map[string]ValueMeta{
		"empty": {},
		"one":   {"a": meta("r1", t0)},
		"several": {
			"a": meta("r1", t0), "b": meta("", t0.Add(time.Hour+123*time.Nanosecond)),
			"c.d_e": meta("token with \"quotes\" and ,commas", time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)),
		},
	}
	for name, values := range tests {
		t.Run(name, func(t *testing.T) {
			enc := EncodeValues(values)
			got := DecodeValues(map[string]string{staxv1alpha1.ValuesAnnotation: enc})
			if len(got) != len(values) {
				t.Fatalf("decoded %v, want %v", got, values)
			}
			for k, v := range values {
				g, ok := got[k]
				if !ok || g.Rotation != v.Rotation || !g.GeneratedAt.Equal(v.GeneratedAt) {
					t.Errorf("decoded %s = %+v, want %+v", k, g, v)
				}
			}
			if again := EncodeValues(got); again != enc {
				t.Errorf("re-encoding differs:\n%s\n%s", again, enc)
			}
		})
	}
}

func TestEncodeValuesDeterministic(t *testing.T) {
	keys := []string{"a", "b", "c", "d", "e", "f", "g", "h"}
	var first string
	for i := 0; i < 20; i++ {
		// Build equal maps in different insertion orders.
		m := map[string]ValueMeta{}
		for _, j := range rand.New(rand.NewSource(int64(i))).Perm(len(keys)) {
			m[keys[j]] = meta("r-"+keys[j], t0.Add(time.Duration(j)*time.Minute))
		}
		enc := EncodeValues(m)
		if i == 0 {
			first = enc
		} else if enc != first {
			t.Fatalf("equal maps encode differently:\n%s\n%s", enc, first)
		}
	}
}

func TestDecodeValues(t *testing.T) {
	tests := map[string]struct {
		annotations map[string]string
		want        map[string]ValueMeta
	}{
		"nil annotations": {annotations: nil, want: map[string]ValueMeta{}},
		"missing":         {annotations: map[string]string{"x": "y"}, want: map[string]ValueMeta{}},
		"empty":           {annotations: map[string]string{staxv1alpha1.ValuesAnnotation: ""}, want: map[string]ValueMeta{}},
		"malformed":       {annotations: map[string]string{staxv1alpha1.ValuesAnnotation: `{"a":{"rotation":`}, want: map[string]ValueMeta{}},
		"wrong type":      {annotations: map[string]string{staxv1alpha1.ValuesAnnotation: `["a"]`}, want: map[string]ValueMeta{}},
		"partly wrong":    {annotations: map[string]string{staxv1alpha1.ValuesAnnotation: `{"a":{"rotation":"r"},"b":{"generatedAt":"not a time"}}`}, want: map[string]ValueMeta{}},
		"null":            {annotations: map[string]string{staxv1alpha1.ValuesAnnotation: `null`}, want: map[string]ValueMeta{}},
		"valid": {
			annotations: map[string]string{staxv1alpha1.ValuesAnnotation: `{"a":{"rotation":"r","generatedAt":"2024-03-04T05:06:07Z"},"b":{"generatedAt":"2024-03-04T05:06:07Z"}}`},
			want:        map[string]ValueMeta{"a": meta("r", t0), "b": meta("", t0)},
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			got := DecodeValues(tc.annotations)
			if got == nil {
				t.Fatal("DecodeValues returned nil")
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("DecodeValues = %v, want %v", got, tc.want)
			}
		})
	}
}

// TestSyncProperty runs random sequences of requests and hand edits and
// checks, after every Sync, that a value's bytes only change when the Change
// reports it, that a reported value did change, that the digest key never
// changes, and that the Secret holds exactly what is declared.
func TestSyncProperty(t *testing.T) {
	pool := []string{"a", "b", "c", "d"}
	tokens := []string{"", "r1", "r2"}
	everies := []time.Duration{0, 0, time.Hour, 30 * time.Minute}
	retentions := []time.Duration{0, time.Hour, 3 * time.Hour}
	for seq := 0; seq < 200; seq++ {
		rng := rand.New(rand.NewSource(int64(seq)))
		st := State{}
		g := &fakeGen{}
		now := t0
		var digest []byte
		rotateID, rotateNames := "", []string(nil)
		pruneID, pruneNames := "", []string(nil)
		for op := 0; op < 30; op++ {
			// Random hand edits between syncs.
			switch rng.Intn(10) {
			case 0: // metadata lost (malformed annotation)
				st.Values = DecodeValues(map[string]string{staxv1alpha1.ValuesAnnotation: "{broken"})
			case 1: // a value deleted by hand
				if len(st.Data) > 0 {
					delete(st.Data, pool[rng.Intn(len(pool))])
				}
			}
			var managed []render.ManagedSecret
			for _, n := range pool {
				if rng.Intn(4) > 0 {
					managed = append(managed, ms(n, tokens[rng.Intn(len(tokens))], everies[rng.Intn(len(everies))]))
				}
			}
			switch rng.Intn(4) {
			case 0:
				rotateID, rotateNames = "", nil
			case 1:
				rotateNames = nil
				for _, n := range append(slices.Clone(pool), "zz") {
					if rng.Intn(3) == 0 {
						rotateNames = append(rotateNames, n)
					}
				}
				rotateID = strings.Join(rotateNames, ",") + fmt.Sprintf("@%d", rng.Intn(3))
			}
			switch rng.Intn(4) {
			case 0:
				pruneID, pruneNames = "", nil
			case 1:
				pruneNames = nil
				for _, n := range append(slices.Clone(pool), "zz") {
					if rng.Intn(3) == 0 {
						pruneNames = append(pruneNames, n)
					}
				}
				pruneID = strings.Join(pruneNames, ",") + fmt.Sprintf("@%d", rng.Intn(3))
			}
			now = now.Add(time.Duration(rng.Intn(90)) * time.Minute)
			req := Request{
				Managed: managed, RotateNames: rotateNames, RotateID: rotateID,
				PruneNames: pruneNames, PruneID: pruneID, Retention: retentions[rng.Intn(len(retentions))], Now: now,
			}

			before := cloneState(st)
			g.calls = nil
			ch, err := Sync(&st, req, g.gen)
			if err != nil {
				t.Fatalf("seq %d op %d: %v", seq, op, err)
			}
			where := fmt.Sprintf("seq %d op %d", seq, op)

			reported := map[string]int{}
			for _, n := range ch.Generated {
				reported[n]++
			}
			for _, names := range ch.Rotated {
				for _, n := range names {
					reported[n]++
				}
			}
			for n, c := range reported {
				if c > 1 {
					t.Fatalf("%s: %s reported %d times: %+v", where, n, c, ch)
				}
			}
			declared := map[string]bool{}
			for _, m := range managed {
				declared[m.Name] = true
				old, had := before.Data[m.Name]
				cur, has := st.Data[m.Name]
				if !has {
					t.Fatalf("%s: declared %s missing after Sync", where, m.Name)
				}
				changed := !had || string(old) != string(cur)
				if changed && reported[m.Name] == 0 {
					t.Fatalf("%s: %s changed %q -> %q without being reported: %+v", where, m.Name, old, cur, ch)
				}
				if !changed && reported[m.Name] > 0 {
					t.Fatalf("%s: %s reported but unchanged: %+v", where, m.Name, ch)
				}
				oldPrev, hadPrev := before.Data[m.Name+prev]
				curPrev, hasPrev := st.Data[m.Name+prev]
				prevChanged := hadPrev != hasPrev || string(oldPrev) != string(curPrev)
				rotated := reported[m.Name] > 0 && !slices.Contains(ch.Generated, m.Name)
				if prevChanged != rotated {
					t.Fatalf("%s: %s.previous changed=%v but rotated=%v", where, m.Name, prevChanged, rotated)
				}
				if rotated && string(curPrev) != string(old) {
					t.Fatalf("%s: %s.previous = %q, want the value before rotation %q", where, m.Name, curPrev, old)
				}
				if _, ok := st.Values[m.Name]; !ok {
					t.Fatalf("%s: no metadata for %s", where, m.Name)
				}
				if m.RotateEvery > 0 && !ch.NextRotation.IsZero() && st.Values[m.Name].GeneratedAt.Add(m.RotateEvery).Before(ch.NextRotation) {
					t.Fatalf("%s: NextRotation %v is after %s's due time", where, ch.NextRotation, m.Name)
				}
				if m.RotateEvery > 0 && ch.NextRotation.IsZero() {
					t.Fatalf("%s: %s is scheduled but NextRotation is zero", where, m.Name)
				}
			}
			pruned := map[string]bool{}
			for _, names := range ch.Pruned {
				for _, n := range names {
					pruned[n] = true
				}
			}
			for k, v := range before.Data {
				base := strings.TrimSuffix(k, prev)
				if k == staxv1alpha1.DigestKey || declared[base] {
					continue
				}
				_, tracked := before.Values[base]
				cur, kept := st.Data[k]
				switch {
				case !tracked && !kept:
					t.Fatalf("%s: key %s the operator did not write was deleted", where, k)
				case kept && string(cur) != string(v):
					t.Fatalf("%s: undeclared key %s changed", where, k)
				case tracked && kept == pruned[base]:
					t.Fatalf("%s: tracked undeclared key %s kept=%v, reported pruned=%v", where, k, kept, pruned[base])
				}
			}
			pending := map[string]Removal{}
			for _, r := range ch.Pending {
				pending[r.Name] = r
			}
			for k, m := range st.Values {
				if declared[k] {
					if m.RemovedAt != nil {
						t.Fatalf("%s: declared %s marked removed", where, k)
					}
					continue
				}
				r, ok := pending[k]
				switch {
				case m.RemovedAt == nil || !ok:
					t.Fatalf("%s: undeclared %s kept but not pending: %+v", where, k, m)
				case !r.RemovedAt.Equal(*m.RemovedAt) || !r.PruneAfter.Equal(m.RemovedAt.Add(req.Retention)) || !now.Before(r.PruneAfter):
					t.Fatalf("%s: pending %s reported %+v for metadata %+v at %v", where, k, r, m, now)
				case ch.NextPrune.After(r.PruneAfter):
					t.Fatalf("%s: NextPrune %v is after %s's due time", where, ch.NextPrune, k)
				}
				if pruneID != "" && pruneID != before.PruneHandled && (len(pruneNames) == 0 || slices.Contains(pruneNames, k)) {
					t.Fatalf("%s: %s requested for pruning but kept", where, k)
				}
			}
			if len(pending) != len(ch.Pending) || (len(pending) > 0) == ch.NextPrune.IsZero() {
				t.Fatalf("%s: pending %+v, NextPrune %v", where, ch.Pending, ch.NextPrune)
			}
			if digest == nil {
				digest = st.Data[staxv1alpha1.DigestKey]
			} else if string(st.Data[staxv1alpha1.DigestKey]) != string(digest) {
				t.Fatalf("%s: digest key changed", where)
			}
			if len(g.calls) != len(reported)+boolInt(before.Data[staxv1alpha1.DigestKey] == nil) {
				t.Fatalf("%s: generator called for %q, reported %v", where, g.names(), reported)
			}
			if !sort.StringsAreSorted(ch.UnknownRotateNames) || !sort.StringsAreSorted(ch.UnknownPruneNames) {
				t.Fatalf("%s: unsorted lists in %+v", where, ch)
			}
			if unchanged := reflect.DeepEqual(st, before); unchanged == ch.Modified {
				t.Fatalf("%s: Modified = %v but state unchanged = %v", where, ch.Modified, unchanged)
			}
			if st.RotateHandled != rotateID {
				t.Fatalf("%s: RotateHandled = %q, want %q", where, st.RotateHandled, rotateID)
			}
			if st.PruneHandled != pruneID {
				t.Fatalf("%s: PruneHandled = %q, want %q", where, st.PruneHandled, pruneID)
			}

			// Generate once: the same request again changes nothing.
			after := cloneState(st)
			g.calls = nil
			ch2, err := Sync(&st, req, g.gen)
			if err != nil {
				t.Fatalf("%s (repeat): %v", where, err)
			}
			if ch2.Modified || len(g.calls) > 0 || !reflect.DeepEqual(st, after) {
				t.Fatalf("%s: repeated Sync changed something: %+v, calls %q", where, ch2, g.names())
			}
		}
	}
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// TestNextDue: the reconciler requeues at the earlier of the next rotation
// and the next prune.
func TestNextDue(t *testing.T) {
	t1, t2 := t0.Add(time.Hour), t0.Add(2*time.Hour)
	tests := map[string]struct {
		ch   Change
		want time.Time
	}{
		"nothing due":    {},
		"rotation only":  {ch: Change{NextRotation: t1}, want: t1},
		"prune only":     {ch: Change{NextPrune: t1}, want: t1},
		"rotation first": {ch: Change{NextRotation: t1, NextPrune: t2}, want: t1},
		"prune first":    {ch: Change{NextRotation: t2, NextPrune: t1}, want: t1},
		"both at once":   {ch: Change{NextRotation: t1, NextPrune: t1}, want: t1},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			if got := tt.ch.NextDue(); !got.Equal(tt.want) {
				t.Errorf("NextDue = %v, want %v", got, tt.want)
			}
		})
	}
}

// triggerFor is Sync's trigger step: why a value is made anew, in order of
// precedence.
func TestTriggerFor(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	hourly := ms("pw", "r1", time.Hour)
	running := &HookState{Phase: staxv1alpha1.RotationStateHookRunning}
	failedR2 := &HookState{Phase: staxv1alpha1.RotationStateFailed, Rotation: "r2"}
	for name, tc := range map[string]struct {
		m                        render.ManagedSecret
		meta                     ValueMeta
		known, exists, requested bool
		pending                  string
		now                      time.Time
		want                     string
	}{
		"missing: generated, whatever else":         {m: hourly, known: true, requested: true, pending: TriggerSchedule, want: "generate"},
		"adopted, not requested: kept":              {m: hourly, exists: true, meta: meta("r1", t0.Add(-2*time.Hour)), now: t0},
		"adopted, requested":                        {m: hourly, exists: true, requested: true, want: TriggerAnnotation},
		"a hook runs: nothing starts":               {m: ms("pw", "r2", time.Hour), known: true, exists: true, requested: true, meta: ValueMeta{Rotation: "r1", Hook: running}, now: t0.Add(48 * time.Hour)},
		"rotation token changed":                    {m: ms("pw", "r2", 0), known: true, exists: true, meta: meta("r1", t0), now: t0, want: TriggerField},
		"token changed, but its hook failed for it": {m: ms("pw", "r2", 0), known: true, exists: true, meta: ValueMeta{Rotation: "r1", GeneratedAt: t0, Hook: failedR2}, now: t0},
		"requested":                             {m: ms("pw", "r1", 0), known: true, exists: true, requested: true, meta: meta("r1", t0), now: t0, want: TriggerAnnotation},
		"pending after a hooked rotation ended": {m: ms("pw", "r1", 0), known: true, exists: true, pending: TriggerSchedule, meta: meta("r1", t0), now: t0, want: TriggerSchedule},
		"schedule due":                          {m: hourly, known: true, exists: true, meta: meta("r1", t0), now: t0.Add(time.Hour), want: TriggerSchedule},
		"schedule not yet due":                  {m: hourly, known: true, exists: true, meta: meta("r1", t0), now: t0.Add(59 * time.Minute)},
		"token change outranks a request":       {m: ms("pw", "r2", 0), known: true, exists: true, requested: true, meta: meta("r1", t0), now: t0, want: TriggerField},
	} {
		t.Run(name, func(t *testing.T) {
			if got := triggerFor(tc.m, tc.meta, tc.known, tc.exists, tc.requested, tc.pending, tc.now); got != tc.want {
				t.Errorf("triggerFor = %q, want %q", got, tc.want)
			}
		})
	}
}
