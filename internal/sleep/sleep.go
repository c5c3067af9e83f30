// Package sleep decides whether a Blueprint's environment runs: suspended by
// spec.suspend, asleep after spec.sleep.afterIdle without activity or
// outside spec.sleep.uptime, put to sleep or woken by request. It is pure:
// the time is passed in, and what it must remember across restarts (the
// Record) lives in the Blueprint's status.sleep.
//
// Activity, which restarts the idle clock and wakes a sleeping environment,
// is a new generation of the Blueprint, a wake request, and the start of an
// uptime range. Traffic is not observed.
package sleep

import (
	"errors"
	"fmt"
	"strconv"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	staxv1alpha1 "github.com/stax-dev/blueprint-operator/api/v1alpha1"
)

// DefaultWakeFor is how long a wake request without
// staxv1alpha1.WakeForAnnotation keeps the environment awake, even outside
// uptime.
const DefaultWakeFor = time.Hour

// MaxWakeFor bounds WakeForAnnotation, as afterIdle is bounded.
const MaxWakeFor = 8760 * time.Hour

// Spec is what the Blueprint's spec asks for.
type Spec struct {
	Suspend bool
	// AfterIdle is 0 when unset; AfterIdleText is how the spec spells it.
	AfterIdle     time.Duration
	AfterIdleText string
	// Uptime is nil when unset.
	Uptime *Schedule
}

// Configured reports whether the spec asks for anything: only then does the
// Blueprint have a status.sleep.
func (s Spec) Configured() bool {
	return s.Suspend || s.AfterIdle > 0 || s.Uptime != nil
}

// Record is what the operator remembers of an environment's clock.
type Record struct {
	LastActivity time.Time
	// AwakeUntil ends the period of the last wake request.
	AwakeUntil time.Time
	// SleptAt is when the last sleep request was handled; zero when there
	// has been activity since.
	SleptAt time.Time
	// WakeRequest and SleepRequest are the annotation values last handled.
	WakeRequest, SleepRequest string
}

// Events is what a reconcile found that may change the Record.
type Events struct {
	// NewGeneration: the spec changed since the status was last written,
	// or the Blueprint has no record yet.
	NewGeneration bool
	// WakeRequest is WakeRequestedAtAnnotation's value, WakeFor
	// WakeForAnnotation's ("" for DefaultWakeFor).
	WakeRequest, WakeFor string
	// SleepRequest is SleepRequestedAtAnnotation's value.
	SleepRequest string
}

// Update returns rec with the events of a reconcile at now applied: a new
// generation or a new wake request is activity (a wake request also keeps
// the environment awake for its period); a new sleep request puts it to
// sleep until the next activity. A request is new when its value differs
// from the one handled last. When a wake and a sleep request are both new,
// the later one by its RFC 3339 time wins (the sleep request when a time
// does not parse). The error says what was wrong with WakeFor, which is then
// DefaultWakeFor.
func Update(rec Record, ev Events, now time.Time) (Record, error) {
	// Stored to the second, as the API serialises times.
	now = now.UTC().Truncate(time.Second)
	var err error
	if ev.NewGeneration {
		rec.LastActivity = now
		rec.SleptAt = time.Time{}
	}
	wake := ev.WakeRequest != "" && ev.WakeRequest != rec.WakeRequest
	sleep := ev.SleepRequest != "" && ev.SleepRequest != rec.SleepRequest
	applyWake := func() {
		rec.WakeRequest = ev.WakeRequest
		rec.LastActivity = now
		rec.SleptAt = time.Time{}
		var period time.Duration
		period, err = WakeFor(ev.WakeFor)
		rec.AwakeUntil = now.Add(period)
	}
	applySleep := func() {
		rec.SleepRequest = ev.SleepRequest
		rec.SleptAt = now
		rec.AwakeUntil = time.Time{}
	}
	switch {
	case wake && sleep && laterRequest(ev.WakeRequest, ev.SleepRequest):
		applySleep()
		applyWake()
	case wake && sleep:
		applyWake()
		applySleep()
	case wake:
		applyWake()
	case sleep:
		applySleep()
	}
	return rec, err
}

// laterRequest reports whether request a is later than b by their RFC 3339
// times; false when either does not parse.
func laterRequest(a, b string) bool {
	ta, errA := time.Parse(time.RFC3339, a)
	tb, errB := time.Parse(time.RFC3339, b)
	return errA == nil && errB == nil && ta.After(tb)
}

// WakeFor reads WakeForAnnotation: DefaultWakeFor when empty or invalid (with
// an error saying why), else the duration.
func WakeFor(s string) (time.Duration, error) {
	if s == "" {
		return DefaultWakeFor, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil || d <= 0 || d > MaxWakeFor {
		return DefaultWakeFor, fmt.Errorf("%s %q is not a duration between 0s and %s; the environment stays awake for %s", staxv1alpha1.WakeForAnnotation, s, "8760h", "1h")
	}
	return d, nil
}

// Cause says why an environment does not run.
type Cause string

const (
	CauseNone      Cause = ""
	CauseSuspended Cause = "Suspended"
	CauseIdle      Cause = "Idle"
	CauseUptime    Cause = "OutsideUptime"
	CauseRequested Cause = "Requested"
)

// Decision is whether the environment runs, and when to look again.
type Decision struct {
	Asleep bool
	Cause  Cause
	// Since is when it went to sleep (zero when suspended).
	Since time.Time
	// Next is the next moment the decision may change without activity:
	// when to look again. Zero: only activity changes it.
	Next time.Time
}

// Decide says whether the environment runs at now.
//
// spec.suspend wins over everything: a suspended environment runs nothing
// until suspend is false. Otherwise a sleep request handled after the last
// activity puts it to sleep; a wake request's period keeps it awake; and it
// sleeps once afterIdle has passed since the last activity, or while
// uptime is down. The start of an uptime range counts as activity.
func Decide(spec Spec, rec Record, now time.Time) Decision {
	if spec.Suspend {
		return Decision{Asleep: true, Cause: CauseSuspended}
	}
	activity := rec.LastActivity
	up := true
	var upChange time.Time
	if spec.Uptime != nil {
		up = spec.Uptime.Up(now)
		if start := lastStart(spec.Uptime, now); start.After(activity) {
			activity = start
		}
		upChange = spec.Uptime.NextChange(now)
	}
	if !rec.SleptAt.IsZero() && !rec.SleptAt.Before(activity) {
		d := Decision{Asleep: true, Cause: CauseRequested, Since: rec.SleptAt}
		if spec.Uptime != nil {
			d.Next = nextStart(spec.Uptime, now)
		}
		return d
	}
	if now.Before(rec.AwakeUntil) {
		return Decision{Next: rec.AwakeUntil}
	}
	var idleAt time.Time
	idle := false
	if spec.AfterIdle > 0 {
		idleAt = activity.Add(spec.AfterIdle)
		idle = !now.Before(idleAt)
	}
	if idle || !up {
		d := Decision{Asleep: true, Cause: CauseIdle, Since: idleAt}
		if spec.Uptime != nil {
			d.Next = nextStart(spec.Uptime, now)
		}
		if !up {
			downAt := spec.Uptime.LastChange(now)
			if !idle || downAt.Before(idleAt) {
				d.Cause, d.Since = CauseUptime, downAt
			}
		}
		if d.Since.Before(rec.AwakeUntil) {
			d.Since = rec.AwakeUntil
		}
		return d
	}
	var next time.Time
	if !idleAt.IsZero() {
		next = idleAt
	}
	if !upChange.IsZero() && (next.IsZero() || upChange.Before(next)) {
		next = upChange
	}
	return Decision{Next: next}
}

// lastStart is the start of the latest uptime range that began at or before
// now, within a week; zero when there is none.
func lastStart(s *Schedule, now time.Time) time.Time {
	t := now
	for range 4 {
		change := s.LastChange(t)
		if change.IsZero() {
			return time.Time{}
		}
		if s.Up(change) {
			return change
		}
		t = change.Add(-time.Minute)
	}
	return time.Time{}
}

// nextStart is the start of the next uptime range after now, within a week;
// zero when there is none.
func nextStart(s *Schedule, now time.Time) time.Time {
	t := now
	for range 4 {
		change := s.NextChange(t)
		if change.IsZero() {
			return time.Time{}
		}
		if s.Up(change) {
			return change
		}
		t = change
	}
	return time.Time{}
}

// lookahead bounds how many decisions Outlook follows to find the next
// change of state.
const lookahead = 8

// Outlook is the decision at now and when, without activity, the
// environment next changes state: falls asleep (nextSleep, while awake) or
// wakes (nextWake, while asleep). Moments at which the decision is looked
// at again without a change (the end of a wake period inside uptime) are
// followed.
func Outlook(spec Spec, rec Record, now time.Time) (d Decision, nextSleep, nextWake time.Time) {
	d = Decide(spec, rec, now)
	t := d.Next
	for range lookahead {
		if t.IsZero() {
			return d, time.Time{}, time.Time{}
		}
		later := Decide(spec, rec, t)
		if later.Asleep != d.Asleep {
			if d.Asleep {
				return d, time.Time{}, t
			}
			return d, t, time.Time{}
		}
		t = later.Next
	}
	return d, time.Time{}, time.Time{}
}

// Message is the Ready condition's message for an environment that does not
// run: which of suspended or asleep, since when and why, and how to wake it.
func Message(spec Spec, d Decision, blueprint string) string {
	wake := "kubectl blueprint wake " + blueprint
	since := d.Since.UTC().Format(time.RFC3339)
	switch d.Cause {
	case CauseSuspended:
		return "suspended by spec; set spec.suspend to false to resume"
	case CauseIdle:
		idle := spec.AfterIdleText
		if idle == "" {
			idle = spec.AfterIdle.String()
		}
		return fmt.Sprintf("asleep since %s: idle for %s; %s", since, idle, wake)
	case CauseUptime:
		return fmt.Sprintf("asleep since %s: outside uptime %s; %s", since, spec.Uptime, wake)
	case CauseRequested:
		return fmt.Sprintf("asleep since %s: put to sleep by request; %s", since, wake)
	}
	return ""
}

// FromStatus reads the Record from a stored status.sleep (zero: none yet).
func FromStatus(st staxv1alpha1.SleepStatus) Record {
	return Record{
		LastActivity: timeOf(st.LastActivityTime),
		AwakeUntil:   timeOf(st.AwakeUntil),
		SleptAt:      timeOf(st.SleptAt),
		WakeRequest:  st.HandledWakeRequest,
		SleepRequest: st.HandledSleepRequest,
	}
}

// Status is status.sleep for a decision with its outlook. Times are stored
// to the second, as the API serialises them, so that writing the same
// status twice compares equal.
func Status(rec Record, d Decision, nextSleep, nextWake time.Time) staxv1alpha1.SleepStatus {
	st := staxv1alpha1.SleepStatus{
		State:               staxv1alpha1.SleepStateAwake,
		NextSleepTime:       metaTime(nextSleep),
		NextWakeTime:        metaTime(nextWake),
		LastActivityTime:    metaTime(rec.LastActivity),
		SleptAt:             metaTime(rec.SleptAt),
		AwakeUntil:          metaTime(rec.AwakeUntil),
		HandledWakeRequest:  rec.WakeRequest,
		HandledSleepRequest: rec.SleepRequest,
	}
	switch {
	case d.Cause == CauseSuspended:
		st.State = staxv1alpha1.SleepStateSuspended
	case d.Asleep:
		st.State = staxv1alpha1.SleepStateAsleep
		st.AsleepSince = metaTime(d.Since)
	}
	return st
}

func timeOf(t *metav1.Time) time.Time {
	if t == nil {
		return time.Time{}
	}
	return t.Time
}

func metaTime(t time.Time) *metav1.Time {
	if t.IsZero() {
		return nil
	}
	return &metav1.Time{Time: t.UTC().Truncate(time.Second)}
}

// SpecOf reads what bp's spec asks for. An uptime that does not parse (an
// unknown time zone, a range that ends before it starts: what admission
// cannot see) is an error naming the text, and the Spec has no uptime.
func SpecOf(bp *staxv1alpha1.Blueprint) (Spec, error) {
	spec := Spec{Suspend: bp.Spec.Suspend != nil && *bp.Spec.Suspend}
	var errs []error
	if s := bp.Spec.Sleep.AfterIdle; s != "" {
		d, err := time.ParseDuration(s)
		if err != nil || d < time.Minute || d > MaxWakeFor {
			errs = append(errs, fmt.Errorf("sleep.afterIdle %q must be a duration between 1m and 8760h, for example 3h", s))
		} else {
			spec.AfterIdle, spec.AfterIdleText = d, s
		}
	}
	if s := bp.Spec.Sleep.Uptime; s != "" {
		sched, err := ParseUptime(s)
		if err != nil {
			errs = append(errs, err)
		} else {
			spec.Uptime = sched
		}
	}
	return spec, errors.Join(errs...)
}

// MaxRequestLength bounds a wake or sleep request's value, as
// status.sleep.handledWakeRequest and handledSleepRequest are bounded: a
// longer one is ignored, since status could not record it as handled.
const MaxRequestLength = 64

// EventsOf reads the requests on bp and whether its spec changed since the
// stored status.sleep was written: a Blueprint whose status has no
// status.sleep yet starts its clock.
func EventsOf(bp *staxv1alpha1.Blueprint) Events {
	observed := bp.Status.ObservedGeneration
	request := func(key string) string {
		if v := bp.Annotations[key]; len(v) <= MaxRequestLength {
			return v
		}
		return ""
	}
	return Events{
		NewGeneration: bp.Status.Sleep.State == "" || observed == nil || *observed != bp.Generation,
		WakeRequest:   request(staxv1alpha1.WakeRequestedAtAnnotation),
		WakeFor:       bp.Annotations[staxv1alpha1.WakeForAnnotation],
		SleepRequest:  request(staxv1alpha1.SleepRequestedAtAnnotation),
	}
}

// Recorded reads a Deployment's SuspendedReplicasAnnotation: the count it
// returns to on resume. ok is false when the Deployment was not scaled down
// by a suspension or sleep (or the annotation is not a count).
func Recorded(annotations map[string]string) (replicas int32, ok bool) {
	v, found := annotations[staxv1alpha1.SuspendedReplicasAnnotation]
	if !found {
		return 0, false
	}
	n, err := strconv.ParseInt(v, 10, 32)
	if err != nil || n < 0 {
		return 0, false
	}
	return int32(n), true
}

// ResumeTo is the count a service's Deployment returns to when its
// Blueprint resumes, recorded when it is scaled down: the declared
// replicas; else the count an earlier reconcile of the same sleep recorded;
// else the Deployment's own (an autoscaler's or kubectl scale's choice). A
// Deployment the operator itself holds at 0 for start order (ownHold), or
// none yet, returns to Kubernetes' default of 1, as on creation.
func ResumeTo(annotations map[string]string, live, declared *int32, ownHold bool) int32 {
	if declared != nil {
		return *declared
	}
	if n, ok := Recorded(annotations); ok {
		return n
	}
	switch {
	case live != nil && !ownHold:
		return *live
	default:
		return 1
	}
}

// Service is what a reconcile knows of one service's replicas.
type Service struct {
	// Asleep: the Blueprint does not run (Decide).
	Asleep bool
	// Waiting: start order holds the service back (depgraph.StartOrder).
	Waiting bool
	// Unrendered: the operator cannot render the service (a problem holds
	// it back) and leaves its Deployment as it runs, but for its replicas.
	Unrendered bool
	// Declared is the replicas the Blueprint (its plan) declares; nil
	// when an autoscaler or kubectl scale owns them.
	Declared *int32
	// Annotations and Live are the live Deployment's (nil without one);
	// OwnHold: the operator's own applies own its spec.replicas.
	Annotations map[string]string
	Live        *int32
	OwnHold     bool
}

// Step is what a reconcile does with one service's replicas.
type Step struct {
	// ScaleDown: render the Deployment with 0 replicas, recording ResumeTo
	// (render.Service.Suspend); for an Unrendered service, when Patch is
	// set, write just those two fields.
	ScaleDown bool
	ResumeTo  int32
	Patch     bool
	// Hold: 0 replicas for start order, nothing recorded.
	Hold bool
	// Restore: before the apply that drops the scale-down (or instead of
	// it, for an Unrendered service), write RestoreTo as the Deployment's
	// replicas and remove the record, under a field manager of its own, so
	// whoever scales the Deployment (no replicas declared) takes over from
	// the count it had.
	Restore   bool
	RestoreTo int32
}

// Plan decides one service's replicas: asleep, every service is scaled
// down, recording the count it returns to; on resume, a service still
// waiting for its dependencies stays scaled down with its record (it starts
// in dependsOn order, as on creation); one that may start returns to its
// declared replicas through the apply, or else to the recorded count.
//
// A service the operator cannot render sleeps too: its Deployment's
// replicas and record alone are written (once), and restored on resume.
func Plan(s Service) Step {
	recorded, scaledDown := Recorded(s.Annotations)
	if s.Unrendered {
		switch {
		case s.Asleep:
			resumeTo := ResumeTo(s.Annotations, s.Live, s.Declared, s.OwnHold)
			done := scaledDown && recorded == resumeTo && s.Live != nil && *s.Live == 0
			return Step{ScaleDown: true, ResumeTo: resumeTo, Patch: !done}
		case scaledDown && s.Declared != nil:
			return Step{Restore: true, RestoreTo: *s.Declared}
		case scaledDown:
			return Step{Restore: true, RestoreTo: recorded}
		}
		return Step{}
	}
	switch {
	case s.Asleep:
		return Step{ScaleDown: true, ResumeTo: ResumeTo(s.Annotations, s.Live, s.Declared, s.OwnHold)}
	case s.Waiting && scaledDown:
		return Step{ScaleDown: true, ResumeTo: recorded}
	case s.Waiting:
		return Step{Hold: true}
	case scaledDown && s.Declared == nil:
		return Step{Restore: true, RestoreTo: recorded}
	}
	return Step{}
}
