package sleep

import (
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	staxv1alpha1 "github.com/stax-dev/blueprint-operator/api/v1alpha1"
)

func at(s string) time.Time {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		panic(err)
	}
	return t
}

func mustUptime(t *testing.T, s string) *Schedule {
	t.Helper()
	sched, err := ParseUptime(s)
	if err != nil {
		t.Fatalf("ParseUptime(%q): %v", s, err)
	}
	return sched
}

func TestParseUptime(t *testing.T) {
	for text, want := range map[string]string{
		"Mon-Fri 08:00-20:00 Europe/Berlin":                          "",
		"mon-fri 08:00-20:00 Europe/Berlin":                          "",
		"Sat-Sun 00:00-24:00 UTC, Mon-Fri 09:00-17:00 Asia/Kolkata":  "",
		"Fri-Mon 10:00-11:30 America/Argentina/Buenos_Aires":         "",
		"Mon-Fri 08:00-20:00 Mars/Olympus":                           `unknown time zone "Mars/Olympus"`,
		"Mon-Fri 08:00-20:00 Local":                                  `unknown time zone "Local"`,
		"Mon-Fri 20:00-08:00 Europe/Berlin":                          "time range 20:00-08:00 does not end after it starts",
		"Mon-Fri 08:00-08:00 Europe/Berlin":                          "time range 08:00-08:00 does not end after it starts",
		"Mon-Fry 08:00-20:00 Europe/Berlin":                          `"Mon-Fry" is not a day range`,
		"Mon-Fri 8:00-20:00 Europe/Berlin":                           `"8:00-20:00" is not a time range`,
		"Mon-Fri 24:00-24:00 Europe/Berlin":                          `"24:00-24:00" is not a time range`,
		"Mon-Fri 08:00-20:00":                                        "is not DAY-DAY HH:MM-HH:MM TIMEZONE",
		"Mon-Fri 08:00-20:00 Europe/Berlin, Sat 10:00-12:00 Etc/UTC": `"Sat" is not a day range`,
	} {
		_, err := ParseUptime(text)
		switch {
		case want == "" && err != nil:
			t.Errorf("ParseUptime(%q): %v", text, err)
		case want != "" && err == nil:
			t.Errorf("ParseUptime(%q) parsed; want an error containing %q", text, want)
		case want != "" && (!strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), `"`+text+`"`)):
			t.Errorf("ParseUptime(%q) = %q; want it to name the text and say %q", text, err, want)
		}
	}
}

func TestScheduleUpAndChanges(t *testing.T) {
	berlin := "Mon-Fri 08:00-20:00 Europe/Berlin"
	cases := map[string]struct {
		uptime     string
		now        string
		up         bool
		next, last string
	}{
		"Monday morning in Berlin, winter (UTC+1)": {berlin, "2026-12-07T07:30:00Z", true, "2026-12-07T19:00:00Z", "2026-12-07T07:00:00Z"},
		"the first minute is up":                   {berlin, "2026-12-07T07:00:00Z", true, "2026-12-07T19:00:00Z", "2026-12-07T07:00:00Z"},
		"the end minute is down":                   {berlin, "2026-12-07T19:00:00Z", false, "2026-12-08T07:00:00Z", "2026-12-07T19:00:00Z"},
		"a second before the end is up":            {berlin, "2026-12-07T18:59:59Z", true, "2026-12-07T19:00:00Z", "2026-12-07T07:00:00Z"},
		"Saturday: down since Friday 20:00":        {berlin, "2026-12-05T22:05:00Z", false, "2026-12-07T07:00:00Z", "2026-12-04T19:00:00Z"},
		// Summer time begins in the EU on Sunday 29 March 2026: Friday
		// ends at 19:00 UTC (CET), Monday starts at 06:00 UTC (CEST).
		"over the spring change": {berlin, "2026-03-28T12:00:00Z", false, "2026-03-30T06:00:00Z", "2026-03-27T19:00:00Z"},
		// It ends on Sunday 25 October 2026: Friday ends at 18:00 UTC
		// (CEST), Monday starts at 07:00 UTC (CET).
		"over the autumn change": {berlin, "2026-10-24T12:00:00Z", false, "2026-10-26T07:00:00Z", "2026-10-23T18:00:00Z"},
		// US summer time begins on Sunday 8 March 2026, two weeks before
		// the EU's: New York is UTC-5, then UTC-4.
		"New York over its spring change": {"Mon-Fri 09:00-17:00 America/New_York", "2026-03-07T12:00:00Z", false, "2026-03-09T13:00:00Z", "2026-03-06T22:00:00Z"},
		"a half-hour zone":                {"Mon-Fri 09:00-17:00 Asia/Kolkata", "2026-12-07T03:00:00Z", false, "2026-12-07T03:30:00Z", "2026-12-04T11:30:00Z"},
		"a day range that wraps":          {"Fri-Mon 10:00-12:00 UTC", "2026-12-06T11:00:00Z", true, "2026-12-06T12:00:00Z", "2026-12-06T10:00:00Z"},
		"outside a wrapping range":        {"Fri-Mon 10:00-12:00 UTC", "2026-12-08T11:00:00Z", false, "2026-12-11T10:00:00Z", "2026-12-07T12:00:00Z"},
		"two ranges, the later zone":      {"Mon-Fri 09:00-10:00 UTC, Mon-Fri 12:00-13:00 Asia/Tokyo", "2026-12-07T09:30:00Z", true, "2026-12-07T10:00:00Z", "2026-12-07T09:00:00Z"},
		"always up never changes":         {"Mon-Sun 00:00-24:00 UTC", "2026-12-07T09:30:00Z", true, "", ""},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			s := mustUptime(t, c.uptime)
			now := at(c.now)
			if got := s.Up(now); got != c.up {
				t.Errorf("Up = %v, want %v", got, c.up)
			}
			if got := s.NextChange(now); !sameTime(got, c.next) {
				t.Errorf("NextChange = %v, want %s", got, c.next)
			}
			if got := s.LastChange(now); !sameTime(got, c.last) {
				t.Errorf("LastChange = %v, want %s", got, c.last)
			}
		})
	}
}

func sameTime(got time.Time, want string) bool {
	if want == "" {
		return got.IsZero()
	}
	return got.Equal(at(want))
}

func TestDecide(t *testing.T) {
	berlin := "Mon-Fri 08:00-20:00 Europe/Berlin"
	type want struct {
		asleep bool
		cause  Cause
		since  string
		next   string
	}
	cases := map[string]struct {
		suspend   bool
		afterIdle time.Duration
		uptime    string
		rec       Record
		now       string
		want      want
	}{
		"nothing configured runs": {
			now: "2026-12-07T10:00:00Z", want: want{},
		},
		"suspend wins over a wake period": {
			suspend: true, rec: Record{AwakeUntil: at("2026-12-07T12:00:00Z")}, now: "2026-12-07T10:00:00Z",
			want: want{asleep: true, cause: CauseSuspended},
		},
		"idle clock running: look again when it runs out": {
			afterIdle: 3 * time.Hour, rec: Record{LastActivity: at("2026-12-07T08:00:00Z")}, now: "2026-12-07T10:59:59Z",
			want: want{next: "2026-12-07T11:00:00Z"},
		},
		"idle clock run out: asleep since then, only activity wakes it": {
			afterIdle: 3 * time.Hour, rec: Record{LastActivity: at("2026-12-07T08:00:00Z")}, now: "2026-12-07T11:00:00Z",
			want: want{asleep: true, cause: CauseIdle, since: "2026-12-07T11:00:00Z"},
		},
		"a wake period outlasts the idle clock": {
			afterIdle: time.Minute, rec: Record{LastActivity: at("2026-12-07T08:00:00Z"), AwakeUntil: at("2026-12-07T10:00:00Z")}, now: "2026-12-07T09:00:00Z",
			want: want{next: "2026-12-07T10:00:00Z"},
		},
		"after the wake period it sleeps since its end": {
			afterIdle: time.Minute, rec: Record{LastActivity: at("2026-12-07T08:00:00Z"), AwakeUntil: at("2026-12-07T10:00:00Z")}, now: "2026-12-07T10:00:00Z",
			want: want{asleep: true, cause: CauseIdle, since: "2026-12-07T10:00:00Z"},
		},
		"inside uptime: look again at its end": {
			uptime: berlin, now: "2026-12-07T10:00:00Z",
			want: want{next: "2026-12-07T19:00:00Z"},
		},
		"outside uptime: asleep since its end, wakes at the next start": {
			uptime: berlin, now: "2026-12-05T22:05:00Z",
			want: want{asleep: true, cause: CauseUptime, since: "2026-12-04T19:00:00Z", next: "2026-12-07T07:00:00Z"},
		},
		"outside uptime over the spring change": {
			uptime: berlin, now: "2026-03-29T12:00:00Z",
			want: want{asleep: true, cause: CauseUptime, since: "2026-03-27T19:00:00Z", next: "2026-03-30T06:00:00Z"},
		},
		"a wake period keeps it up outside uptime": {
			uptime: berlin, rec: Record{LastActivity: at("2026-12-05T22:00:00Z"), AwakeUntil: at("2026-12-05T23:00:00Z")}, now: "2026-12-05T22:05:00Z",
			want: want{next: "2026-12-05T23:00:00Z"},
		},
		"the start of an uptime range restarts the idle clock": {
			afterIdle: time.Hour, uptime: berlin, rec: Record{LastActivity: at("2026-12-04T10:00:00Z")}, now: "2026-12-07T07:30:00Z",
			want: want{next: "2026-12-07T08:00:00Z"},
		},
		"idle inside uptime: asleep, the next range start wakes it": {
			afterIdle: time.Hour, uptime: berlin, rec: Record{LastActivity: at("2026-12-04T10:00:00Z")}, now: "2026-12-07T08:30:00Z",
			want: want{asleep: true, cause: CauseIdle, since: "2026-12-07T08:00:00Z", next: "2026-12-08T07:00:00Z"},
		},
		"idle before uptime ended: the earlier cause is told": {
			afterIdle: time.Hour, uptime: berlin, rec: Record{LastActivity: at("2026-12-04T10:00:00Z")}, now: "2026-12-05T10:00:00Z",
			want: want{asleep: true, cause: CauseIdle, since: "2026-12-04T11:00:00Z", next: "2026-12-07T07:00:00Z"},
		},
		"uptime ended before idle: the earlier cause is told": {
			afterIdle: 3 * time.Hour, uptime: berlin, rec: Record{LastActivity: at("2026-12-04T18:00:00Z")}, now: "2026-12-05T10:00:00Z",
			want: want{asleep: true, cause: CauseUptime, since: "2026-12-04T19:00:00Z", next: "2026-12-07T07:00:00Z"},
		},
		"put to sleep by request": {
			afterIdle: 3 * time.Hour, rec: Record{LastActivity: at("2026-12-07T08:00:00Z"), SleptAt: at("2026-12-07T09:00:00Z")}, now: "2026-12-07T09:00:00Z",
			want: want{asleep: true, cause: CauseRequested, since: "2026-12-07T09:00:00Z"},
		},
		"a request's sleep lasts until the next uptime start": {
			uptime: berlin, rec: Record{LastActivity: at("2026-12-07T08:00:00Z"), SleptAt: at("2026-12-07T09:00:00Z")}, now: "2026-12-07T10:00:00Z",
			want: want{asleep: true, cause: CauseRequested, since: "2026-12-07T09:00:00Z", next: "2026-12-08T07:00:00Z"},
		},
		"activity after a sleep request wakes": {
			afterIdle: 3 * time.Hour, rec: Record{LastActivity: at("2026-12-07T09:30:00Z"), SleptAt: at("2026-12-07T09:00:00Z")}, now: "2026-12-07T10:00:00Z",
			want: want{next: "2026-12-07T12:30:00Z"},
		},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			spec := Spec{Suspend: c.suspend, AfterIdle: c.afterIdle}
			if c.uptime != "" {
				spec.Uptime = mustUptime(t, c.uptime)
			}
			d := Decide(spec, c.rec, at(c.now))
			if d.Asleep != c.want.asleep || d.Cause != c.want.cause || !sameTime(d.Since, c.want.since) || !sameTime(d.Next, c.want.next) {
				t.Errorf("Decide = %+v, want %+v", d, c.want)
			}
		})
	}
}

func TestUpdate(t *testing.T) {
	now := at("2026-12-07T10:00:00Z")
	before := Record{LastActivity: at("2026-12-07T08:00:00Z"), WakeRequest: "w1", SleepRequest: "s1"}
	cases := map[string]struct {
		rec     Record
		ev      Events
		want    Record
		wantErr string
	}{
		"nothing new changes nothing": {
			rec: before, ev: Events{WakeRequest: "w1", SleepRequest: "s1"}, want: before,
		},
		"a new generation is activity and ends a requested sleep": {
			rec:  Record{LastActivity: at("2026-12-07T08:00:00Z"), SleptAt: at("2026-12-07T09:00:00Z")},
			ev:   Events{NewGeneration: true},
			want: Record{LastActivity: now},
		},
		"a wake request is activity, awake for an hour by default, handled once": {
			rec: before, ev: Events{WakeRequest: "w2", SleepRequest: "s1"},
			want: Record{LastActivity: now, AwakeUntil: now.Add(time.Hour), WakeRequest: "w2", SleepRequest: "s1"},
		},
		"a wake request for a period": {
			rec: before, ev: Events{WakeRequest: "w2", WakeFor: "8h"},
			want: Record{LastActivity: now, AwakeUntil: now.Add(8 * time.Hour), WakeRequest: "w2", SleepRequest: "s1"},
		},
		"a wake period that is not a duration is an hour, and said": {
			rec: before, ev: Events{WakeRequest: "w2", WakeFor: "forever"},
			want:    Record{LastActivity: now, AwakeUntil: now.Add(time.Hour), WakeRequest: "w2", SleepRequest: "s1"},
			wantErr: `stax.dev/wake-for "forever" is not a duration`,
		},
		"a sleep request ends a wake period": {
			rec: Record{LastActivity: at("2026-12-07T08:00:00Z"), AwakeUntil: at("2026-12-07T12:00:00Z")}, ev: Events{SleepRequest: "s2"},
			want: Record{LastActivity: at("2026-12-07T08:00:00Z"), SleptAt: now, SleepRequest: "s2"},
		},
		"wake and sleep both new: the later request wins (sleep)": {
			rec: Record{}, ev: Events{WakeRequest: "2026-12-07T09:00:00Z", SleepRequest: "2026-12-07T09:30:00Z"},
			want: Record{LastActivity: now, SleptAt: now, WakeRequest: "2026-12-07T09:00:00Z", SleepRequest: "2026-12-07T09:30:00Z"},
		},
		"wake and sleep both new: the later request wins (wake)": {
			rec: Record{}, ev: Events{WakeRequest: "2026-12-07T09:30:00Z", SleepRequest: "2026-12-07T09:00:00Z"},
			want: Record{LastActivity: now, AwakeUntil: now.Add(time.Hour), WakeRequest: "2026-12-07T09:30:00Z", SleepRequest: "2026-12-07T09:00:00Z"},
		},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			got, err := Update(c.rec, c.ev, now.Add(300*time.Millisecond))
			if got != c.want {
				t.Errorf("Update = %+v\nwant %+v", got, c.want)
			}
			if (err == nil) != (c.wantErr == "") || (err != nil && !strings.Contains(err.Error(), c.wantErr)) {
				t.Errorf("err = %v, want %q", err, c.wantErr)
			}
		})
	}
}

func TestOutlook(t *testing.T) {
	berlin := mustUptime(t, "Mon-Fri 08:00-20:00 Europe/Berlin")
	// Woken until 12:00 inside uptime: the end of the wake period changes
	// nothing, so the next sleep is the end of uptime.
	d, nextSleep, nextWake := Outlook(Spec{Uptime: berlin}, Record{AwakeUntil: at("2026-12-07T12:00:00Z")}, at("2026-12-07T10:00:00Z"))
	if d.Asleep || !nextSleep.Equal(at("2026-12-07T19:00:00Z")) || !nextWake.IsZero() {
		t.Errorf("awake: %+v, next sleep %v, next wake %v", d, nextSleep, nextWake)
	}
	d, nextSleep, nextWake = Outlook(Spec{Uptime: berlin}, Record{}, at("2026-12-05T22:00:00Z"))
	if !d.Asleep || !nextSleep.IsZero() || !nextWake.Equal(at("2026-12-07T07:00:00Z")) {
		t.Errorf("asleep: %+v, next sleep %v, next wake %v", d, nextSleep, nextWake)
	}
	d, nextSleep, nextWake = Outlook(Spec{AfterIdle: time.Hour}, Record{LastActivity: at("2026-12-07T08:00:00Z")}, at("2026-12-07T12:00:00Z"))
	if !d.Asleep || !nextSleep.IsZero() || !nextWake.IsZero() {
		t.Errorf("idle: %+v, next sleep %v, next wake %v", d, nextSleep, nextWake)
	}
}

func TestMessage(t *testing.T) {
	spec := Spec{AfterIdle: 3 * time.Hour, AfterIdleText: "3h", Uptime: mustUptime(t, "Mon-Fri 08:00-20:00 Europe/Berlin")}
	since := at("2026-12-07T11:00:00Z")
	for cause, want := range map[Cause]string{
		CauseSuspended: "suspended by spec; set spec.suspend to false to resume",
		CauseIdle:      "asleep since 2026-12-07T11:00:00Z: idle for 3h; kubectl blueprint wake shop",
		CauseUptime:    "asleep since 2026-12-07T11:00:00Z: outside uptime Mon-Fri 08:00-20:00 Europe/Berlin; kubectl blueprint wake shop",
		CauseRequested: "asleep since 2026-12-07T11:00:00Z: put to sleep by request; kubectl blueprint wake shop",
	} {
		if got := Message(spec, Decision{Asleep: true, Cause: cause, Since: since}, "shop"); got != want {
			t.Errorf("%s: %q, want %q", cause, got, want)
		}
	}
	// A Spec not read from a Blueprint spells its duration as Go does.
	if got, want := Message(Spec{AfterIdle: 90 * time.Minute}, Decision{Asleep: true, Cause: CauseIdle, Since: since}, "shop"),
		"asleep since 2026-12-07T11:00:00Z: idle for 1h30m0s; kubectl blueprint wake shop"; got != want {
		t.Errorf("%q, want %q", got, want)
	}
}

func TestSpecOfAndEventsOf(t *testing.T) {
	bp := &staxv1alpha1.Blueprint{}
	bp.Generation = 2
	bp.Spec.Suspend = ptr.To(true)
	bp.Spec.Sleep = staxv1alpha1.Sleep{AfterIdle: "90m", Uptime: "Mon-Fri 08:00-20:00 Nowhere/Land"}
	spec, err := SpecOf(bp)
	if err == nil || !strings.Contains(err.Error(), `sleep.uptime "Mon-Fri 08:00-20:00 Nowhere/Land": unknown time zone "Nowhere/Land"`) {
		t.Errorf("err = %v", err)
	}
	if !spec.Suspend || spec.AfterIdle != 90*time.Minute || spec.AfterIdleText != "90m" || spec.Uptime != nil {
		t.Errorf("spec = %+v", spec)
	}
	if ev := EventsOf(bp); !ev.NewGeneration {
		t.Errorf("a Blueprint without status.sleep starts its clock: %+v", ev)
	}
	bp.Status.ObservedGeneration = ptr.To[int64](2)
	bp.Status.Sleep = staxv1alpha1.SleepStatus{State: staxv1alpha1.SleepStateAwake}
	bp.Annotations = map[string]string{staxv1alpha1.WakeRequestedAtAnnotation: "w", staxv1alpha1.WakeForAnnotation: "2h", staxv1alpha1.SleepRequestedAtAnnotation: "s"}
	if ev := EventsOf(bp); ev != (Events{WakeRequest: "w", WakeFor: "2h", SleepRequest: "s"}) {
		t.Errorf("events = %+v", ev)
	}
	bp.Generation = 3
	if ev := EventsOf(bp); !ev.NewGeneration {
		t.Errorf("a new generation is activity: %+v", ev)
	}
	// A request status could not record as handled is ignored, or it
	// would be carried out again on every reconcile (and the status write
	// refused).
	bp.Annotations[staxv1alpha1.WakeRequestedAtAnnotation] = strings.Repeat("w", MaxRequestLength+1)
	bp.Annotations[staxv1alpha1.SleepRequestedAtAnnotation] = strings.Repeat("s", MaxRequestLength)
	if ev := EventsOf(bp); ev.WakeRequest != "" || ev.SleepRequest != strings.Repeat("s", MaxRequestLength) {
		t.Errorf("events = %+v", ev)
	}
}

// TestStatusRoundTrip: what status.sleep stores reads back as the same
// Record, so a restarted manager decides the same.
func TestStatusRoundTrip(t *testing.T) {
	rec := Record{
		LastActivity: at("2026-12-07T08:00:00Z"), AwakeUntil: at("2026-12-07T09:00:00Z"), SleptAt: at("2026-12-07T10:00:00Z"),
		WakeRequest: "w", SleepRequest: "s",
	}
	st := Status(rec, Decision{Asleep: true, Cause: CauseRequested, Since: rec.SleptAt}, time.Time{}, at("2026-12-08T07:00:00Z"))
	if got := FromStatus(st); got != rec {
		t.Errorf("FromStatus(Status(rec)) = %+v, want %+v", got, rec)
	}
	if st.State != staxv1alpha1.SleepStateAsleep || !st.AsleepSince.Equal(&metav1.Time{Time: rec.SleptAt}) || st.NextWakeTime == nil || st.NextSleepTime != nil {
		t.Errorf("status = %+v", st)
	}
	if st := Status(Record{}, Decision{Asleep: true, Cause: CauseSuspended}, time.Time{}, time.Time{}); st.State != staxv1alpha1.SleepStateSuspended || st.AsleepSince != nil {
		t.Errorf("suspended status = %+v", st)
	}
}

func TestResumeTo(t *testing.T) {
	recorded := map[string]string{staxv1alpha1.SuspendedReplicasAnnotation: "5"}
	for name, c := range map[string]struct {
		annotations    map[string]string
		live, declared *int32
		ownHold        bool
		want           int32
	}{
		"recorded already: kept while asleep":          {annotations: recorded, live: ptr.To[int32](0), want: 5},
		"declared replicas":                            {live: ptr.To[int32](2), declared: ptr.To[int32](2), want: 2},
		"declared replicas changed while asleep":       {annotations: recorded, live: ptr.To[int32](0), declared: ptr.To[int32](2), want: 2},
		"an autoscaler's count":                        {live: ptr.To[int32](7), want: 7},
		"scaled to 0 by hand stays 0":                  {live: ptr.To[int32](0), want: 0},
		"held at 0 for start order returns to 1":       {live: ptr.To[int32](0), ownHold: true, want: 1},
		"no Deployment yet: Kubernetes' default":       {want: 1},
		"an annotation that is not a count is ignored": {annotations: map[string]string{staxv1alpha1.SuspendedReplicasAnnotation: "x"}, live: ptr.To[int32](3), want: 3},
	} {
		if got := ResumeTo(c.annotations, c.live, c.declared, c.ownHold); got != c.want {
			t.Errorf("%s: %d, want %d", name, got, c.want)
		}
	}
}

func TestPlan(t *testing.T) {
	recorded := map[string]string{staxv1alpha1.SuspendedReplicasAnnotation: "3"}
	for name, c := range map[string]struct {
		s    Service
		want Step
	}{
		"awake, nothing to do":                          {s: Service{Live: ptr.To[int32](2)}, want: Step{}},
		"start order holds a new service":               {s: Service{Waiting: true}, want: Step{Hold: true}},
		"asleep: scaled down, recording the live count": {s: Service{Asleep: true, Live: ptr.To[int32](4)}, want: Step{ScaleDown: true, ResumeTo: 4}},
		"asleep and waiting: asleep wins":               {s: Service{Asleep: true, Waiting: true, Annotations: recorded, Live: ptr.To[int32](0)}, want: Step{ScaleDown: true, ResumeTo: 3}},
		"resuming, still waiting: keeps the record":     {s: Service{Waiting: true, Annotations: recorded, Live: ptr.To[int32](0)}, want: Step{ScaleDown: true, ResumeTo: 3}},
		"resuming, autoscaled: restores the count":      {s: Service{Annotations: recorded, Live: ptr.To[int32](0)}, want: Step{Restore: true, RestoreTo: 3}},
		"resuming, declared: the apply sets them":       {s: Service{Annotations: recorded, Live: ptr.To[int32](0), Declared: ptr.To[int32](2)}, want: Step{}},
		"unrendered, asleep: a patch scales it down":    {s: Service{Unrendered: true, Asleep: true, Live: ptr.To[int32](2)}, want: Step{ScaleDown: true, ResumeTo: 2, Patch: true}},
		"unrendered, asleep and scaled: no write":       {s: Service{Unrendered: true, Asleep: true, Annotations: recorded, Live: ptr.To[int32](0)}, want: Step{ScaleDown: true, ResumeTo: 3}},
		"unrendered, scaled by hand while asleep":       {s: Service{Unrendered: true, Asleep: true, Annotations: recorded, Live: ptr.To[int32](1)}, want: Step{ScaleDown: true, ResumeTo: 3, Patch: true}},
		"unrendered, resuming: the recorded count":      {s: Service{Unrendered: true, Annotations: recorded, Live: ptr.To[int32](0)}, want: Step{Restore: true, RestoreTo: 3}},
		"unrendered, resuming, declared":                {s: Service{Unrendered: true, Annotations: recorded, Live: ptr.To[int32](0), Declared: ptr.To[int32](2)}, want: Step{Restore: true, RestoreTo: 2}},
		"unrendered, awake: left as it runs":            {s: Service{Unrendered: true, Live: ptr.To[int32](2)}, want: Step{}},
	} {
		if got := Plan(c.s); got != c.want {
			t.Errorf("%s: %+v, want %+v", name, got, c.want)
		}
	}
}
