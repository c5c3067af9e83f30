// Package generated decides what a Blueprint's generated Secret holds: which
// values to generate, rotate, keep and drop. It is pure: it works on the
// Secret's data and metadata as read from the API server and on a generator
// function, so every rule (generate once, never overwrite, rotate once per
// request) is table-tested without a cluster.
//
// Everything it needs to remember lives on the Secret itself, never in the
// Blueprint's status: a status can be lost (a Blueprint deleted and
// recreated, a restore from backup without status), and losing it must never
// make the operator regenerate a value.
package values

import (
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	staxv1alpha1 "github.com/stax-dev/blueprint-operator/api/v1alpha1"
	"github.com/stax-dev/blueprint-operator/internal/observe"
	"github.com/stax-dev/blueprint-operator/internal/render"
)

// digestKeyLength is the length of the digest key in base64url symbols:
// 43 x 6 = 258 bits, at least the 256 of an HMAC-SHA256 key.
const digestKeyLength = 43

// Rotation triggers, as counted in metrics and named in events.
const (
	TriggerField      = "field"
	TriggerAnnotation = "annotation"
	TriggerSchedule   = "schedule"
)

// ValueMeta is what the Secret remembers about one value.
type ValueMeta struct {
	// Rotation is the spec's rotation token the value was generated for.
	Rotation string `json:"rotation,omitempty"`
	// GeneratedAt is when the current value was generated.
	GeneratedAt time.Time `json:"generatedAt"`
	// RemovedAt is when the value's secret was found no longer declared; nil
	// while it is declared. The value (and NAME.previous) is kept until the
	// retention period after RemovedAt has passed, then pruned.
	RemovedAt *time.Time `json:"removedAt,omitempty"`
	// Hook is the state of the value's latest hooked rotation (onRotate);
	// nil before the first one.
	Hook *HookState `json:"hook,omitempty"`
	// HookAttempts counts the value's hooked rotations; it never goes
	// back, so no two rotations share a Job name.
	HookAttempts int64 `json:"hookAttempts,omitempty"`
	// Type is the value's type; empty for a password. It says which parts
	// (NAME.pub, NAME.crt, NAME.ca) the value has, so that only those are
	// ever deleted.
	Type staxv1alpha1.SecretType `json:"type,omitempty"`
	// Identity is what the value was made as (render.ManagedSecret's
	// Identity): a change makes a new value, as a rotation.
	Identity string `json:"identity,omitempty"`
	// NotAfter is when the certificate of a tls value expires.
	NotAfter *time.Time `json:"notAfter,omitempty"`
}

// HookState is what the Secret remembers of a hooked rotation: enough to
// carry it on after a crash at any point, never a value. While Phase is
// Staged or HookRunning the new value waits under render.StagedKey(NAME)
// and the value in use stays under NAME.
type HookState struct {
	Phase staxv1alpha1.RotationState `json:"phase"`
	// Attempt identifies the rotation: it counts the secret's hooked
	// rotations from 1 and names the Job (render.HookJobName).
	Attempt int64 `json:"attempt"`
	// Job is the name of the attempt's Job, recorded when it is staged
	// (render.HookJobName then); empty for a rotation staged before names
	// were recorded (see JobName).
	Job string `json:"job,omitempty"`
	// Trigger is what requested the rotation.
	Trigger string `json:"trigger"`
	// Rotation is the spec's rotation token the staged value is made for;
	// it becomes ValueMeta.Rotation on commit.
	Rotation string `json:"rotation,omitempty"`
	// StagedAt is when the new value was staged; Deadline is when the
	// rotation fails unless the Job has completed.
	StagedAt time.Time `json:"stagedAt"`
	Deadline time.Time `json:"deadline"`
	// FinishedAt is when the rotation was committed or failed.
	FinishedAt *time.Time `json:"finishedAt,omitempty"`
	// Failure says why a Failed rotation failed, by outcome only (never
	// the Job's logs): one of the Failure* constants.
	Failure string `json:"failure,omitempty"`
	// Queued is the trigger of a further request made while this rotation
	// ran; it starts once this one ends. One at most: requests made while
	// one is queued are the same request.
	Queued string `json:"queued,omitempty"`
	// Marked says the Job of this attempt carries its mark
	// (digest.HookToken), as every Job does that was created for a rotation
	// staged since the mark exists; a Job without it is then foreign.
	Marked bool `json:"marked,omitempty"`
	// Identity and NotAfter are those of the staged value; they become
	// ValueMeta's on commit.
	Identity string     `json:"identity,omitempty"`
	NotAfter *time.Time `json:"notAfter,omitempty"`
}

// JobName is the name of the rotation's Job: the one recorded, or for a
// rotation staged before names were recorded, the one the rule of then
// gave (render.NarrowHookJobName), so that its Job is still found.
func (h *HookState) JobName(blueprint, secret string) string {
	if h.Job != "" {
		return h.Job
	}
	return render.NarrowHookJobName(blueprint, secret, h.Attempt)
}

// InFlight reports whether a hooked rotation is staged and not yet
// committed or failed.
func (h *HookState) InFlight() bool {
	return h != nil && (h.Phase == staxv1alpha1.RotationStateStaged || h.Phase == staxv1alpha1.RotationStateHookRunning)
}

// Why a hooked rotation failed.
const (
	FailureJobFailed  = "the Job failed"
	FailureTimeout    = "the Job did not complete within timeoutSeconds"
	FailureJobDeleted = "the Job was deleted before it completed"
	FailureForeignJob = "a Job of the same name exists that the operator did not create for this rotation"
	FailureRemoved    = "the secret was removed while the hook ran"
	FailureStagedLost = "the staged value was removed from the generated Secret"
)

// HookJobDeadline is the activeDeadlineSeconds of the Job of rotation h
// created at now: what is left of timeout since the value was staged,
// rounded up, at least 1. A Job created late then ends by the operator's own
// deadline instead of timeout after its creation.
func HookJobDeadline(h *HookState, timeout time.Duration, now time.Time) int64 {
	left := h.StagedAt.Add(timeout).Sub(now)
	secs := int64((left + time.Second - 1) / time.Second)
	return max(secs, 1)
}

// HookGrace is how long after timeoutSeconds (which the Job controller
// enforces as activeDeadlineSeconds) the operator itself fails a rotation
// whose Job has not reported: the Job controller's verdict comes first
// whenever it runs.
const HookGrace = 30 * time.Second

// State is the generated Secret's content, as read from the API server.
//
// The operator's keys are the ones it tracks: DigestKey, and NAME and
// NAME.previous for every NAME in Values. Any other key was written by
// someone else and is never deleted.
type State struct {
	Data          map[string][]byte
	Values        map[string]ValueMeta
	RotateHandled string
	PruneHandled  string
}

// HookFailure is a hooked rotation that failed in this Sync.
type HookFailure struct {
	Name    string
	Job     string
	Failure string
}

// Request is what the Blueprint asks for.
type Request struct {
	Managed []render.ManagedSecret
	// RotateNames and RotateID come from the rotate annotations; RotateID is
	// empty when no rotation is requested.
	RotateNames []string
	RotateID    string
	// PruneNames and PruneID come from the prune annotations (see
	// ParsePruneRequest); PruneID is empty when no prune is requested, and
	// no PruneNames with a PruneID asks to prune every value pending
	// removal.
	PruneNames []string
	PruneID    string
	// Retention is how long a value whose secret is no longer declared is
	// kept; 0 prunes it at once.
	Retention time.Duration
	Now       time.Time
	// Jobs holds, per managed secret with a hooked rotation in flight, what
	// the cluster reports of its Job (render.HookJobName of the attempt).
	// A secret missing from it is read as not looked at: nothing is
	// decided about its Job.
	Jobs map[string]observe.JobState
	// Blueprint is the Blueprint's name, which names hook Jobs.
	Blueprint string
}

// Removal is a value whose secret is no longer declared, kept until
// PruneAfter.
type Removal struct {
	Name       string
	RemovedAt  time.Time
	PruneAfter time.Time
}

// Prune triggers, as named in events.
const (
	// PruneExpired: the retention period after the removal has passed.
	PruneExpired = "expired"
	// PruneRequested: the prune annotation asked for it.
	PruneRequested = "requested"
)

// Change says what Sync did, for events, metrics and requeueing. It never
// holds a value.
type Change struct {
	Generated []string
	// Rotated maps a trigger to the names it rotated.
	Rotated map[string][]string
	// Removed lists the values found no longer declared in this Sync and
	// kept for the retention period.
	Removed []Removal
	// Pending lists every value kept after its secret was removed, newly
	// removed ones included, by name.
	Pending []Removal
	// Restored lists values whose secret was declared again within the
	// retention period: they are kept as they were.
	Restored []string
	// Pruned maps a prune trigger to the names whose values (and previous
	// values) it deleted.
	Pruned map[string][]string
	// UnknownPruneNames were requested for pruning but are not values
	// pending removal.
	UnknownPruneNames []string
	// NextPrune is when the earliest pending removal falls due; zero when
	// none is pending.
	NextPrune time.Time
	// UnknownRotateNames were requested for rotation but are not managed
	// secrets of the Blueprint.
	UnknownRotateNames []string
	// NextRotation is when the earliest scheduled rotation falls due; zero
	// when none is scheduled.
	NextRotation time.Time
	// Staged lists the hooked rotations staged in this Sync, by name.
	Staged []string
	// Committed lists the hooked rotations committed in this Sync (they
	// are in Rotated too, under their trigger).
	Committed []string
	// HookFailed lists the hooked rotations that failed in this Sync.
	HookFailed []HookFailure
	// CreateJobs lists the managed secrets whose hook's Job must exist:
	// their rotation is staged and its Job was not seen. Creating it is
	// safe at any time: its name is the rotation's.
	CreateJobs []string
	// StopJobs lists the managed secrets whose rotation failed while its
	// Job ran: the Job must be stopped (deleted with its pods), so that it
	// cannot carry on with the value this Sync discarded.
	StopJobs []string
	// NextHookDeadline is when the earliest hooked rotation in flight
	// times out; zero when none is in flight.
	NextHookDeadline time.Time
	// Modified is true when data or metadata changed and must be written.
	Modified bool
}

// NextDue is when the Blueprint must be reconciled again for this Change's
// sake: the earliest of NextRotation, NextPrune and NextHookDeadline, zero
// when none is set.
func (ch Change) NextDue() time.Time {
	return earliest(earliest(ch.NextRotation, ch.NextPrune), ch.NextHookDeadline)
}

// earliest is the earlier of a and b, where zero means unset.
func earliest(a, b time.Time) time.Time {
	switch {
	case a.IsZero():
		return b
	case b.IsZero() || a.Before(b):
		return a
	default:
		return b
	}
}

// Draw is what Sync asks its Generator for: a new value for a managed
// secret (or, under the name staxv1alpha1.DigestKey, the digest key), or
// the Blueprint's CA.
type Draw struct {
	Secret render.ManagedSecret
	// CA asks for the Blueprint's CA: parts "" (its private key) and
	// staxv1alpha1.PartCert (its certificate), valid from NotBefore.
	CA bool
	// NotBefore and NotAfter bound the validity of a certificate (a tls
	// leaf, or the CA).
	NotBefore, NotAfter time.Time
	// CAKey and CACert are the Blueprint's CA, for a tls leaf.
	CAKey, CACert []byte
}

// Generator makes what d asks for: each part of the value by its key
// suffix, "" for key NAME and render.Parts of its type for the others
// (for tls, staxv1alpha1.PartCA is the CA's certificate).
type Generator func(d Draw) (map[string][]byte, error)

// keys are the suffixes of the keys a value of type t is written to: ""
// (NAME) and its parts.
func keys(t staxv1alpha1.SecretType) []string {
	return append([]string{""}, render.Parts(t)...)
}

// previousKeys are the suffixes whose previous value a rotation keeps:
// every key but the CA's certificate, which a rotation keeps as it is.
func previousKeys(t staxv1alpha1.SecretType) []string {
	var out []string
	for _, k := range keys(t) {
		if k != staxv1alpha1.PartCA {
			out = append(out, k)
		}
	}
	return out
}

// hasAll reports whether st holds every key of name's value of type t.
func hasAll(st *State, name string, t staxv1alpha1.SecretType) bool {
	for _, k := range keys(t) {
		if _, ok := st.Data[name+k]; !ok {
			return false
		}
	}
	return true
}

// put writes parts as the value of name (type t), first dropping the
// keys of its former type t0 that type t does not have.
func put(st *State, name string, t0, t staxv1alpha1.SecretType, prefix string, parts map[string][]byte) {
	if prefix == "" {
		for _, k := range keys(t0) {
			if !slices.Contains(keys(t), k) {
				delete(st.Data, name+k)
				delete(st.Data, name+k+staxv1alpha1.PreviousValueSuffix)
			}
		}
	}
	for _, k := range keys(t) {
		st.Data[prefix+name+k] = parts[k]
	}
}

// keepPrevious copies name's value (type t) to its previous keys.
func keepPrevious(st *State, name string, t staxv1alpha1.SecretType) {
	for _, k := range previousKeys(t) {
		if v, ok := st.Data[name+k]; ok {
			st.Data[name+k+staxv1alpha1.PreviousValueSuffix] = v
		}
	}
}

// deleteStaged deletes every staged key of name, of any type.
func deleteStaged(st *State, name string) {
	for _, k := range []string{"", staxv1alpha1.PartPublic, staxv1alpha1.PartCert, staxv1alpha1.PartCA} {
		delete(st.Data, render.StagedKey(name)+k)
	}
}

// certNotAfter reads the notAfter of the PEM certificate b; nil when b is
// not one.
func certNotAfter(b []byte) *time.Time {
	block, _ := pem.Decode(b)
	if block == nil {
		return nil
	}
	c, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		return nil
	}
	t := c.NotAfter
	return &t
}

// draw asks gen for a new value of m at now, checking that every key of
// its type is there.
func draw(st *State, m render.ManagedSecret, now time.Time, gen Generator) (map[string][]byte, *time.Time, error) {
	d := Draw{Secret: m}
	var notAfter *time.Time
	if render.TypeOrDefault(m.Type) == staxv1alpha1.SecretTypeTLS {
		na := now.Add(m.ValidFor)
		notAfter = &na
		d.NotBefore, d.NotAfter = now, na
		d.CAKey, d.CACert = st.Data[staxv1alpha1.CAKeyKey], st.Data[staxv1alpha1.CACertKey]
	}
	parts, err := gen(d)
	if err != nil {
		return nil, nil, err
	}
	for _, k := range keys(render.TypeOrDefault(m.Type)) {
		if len(parts[k]) == 0 {
			return nil, nil, fmt.Errorf("the generator made no key %s", m.Name+k)
		}
	}
	return parts, notAfter, nil
}

// typeOf is the type meta records, password when empty.
func typeOf(meta ValueMeta) staxv1alpha1.SecretType {
	return render.TypeOrDefault(meta.Type)
}

// storedType is how ValueMeta records type t: empty for a password, so a
// password's record reads as it did before types existed.
func storedType(t staxv1alpha1.SecretType) staxv1alpha1.SecretType {
	if render.TypeOrDefault(t) == staxv1alpha1.SecretTypePassword {
		return ""
	}
	return t
}

// ensureCA generates the Blueprint's CA once, when a managed secret of type
// tls needs it and the generated Secret holds none.
func ensureCA(st *State, req Request, gen Generator, ch *Change) error {
	need := slices.ContainsFunc(req.Managed, func(m render.ManagedSecret) bool {
		return render.TypeOrDefault(m.Type) == staxv1alpha1.SecretTypeTLS
	})
	_, hasKey := st.Data[staxv1alpha1.CAKeyKey]
	_, hasCert := st.Data[staxv1alpha1.CACertKey]
	if !need || (hasKey && hasCert) {
		return nil
	}
	parts, err := gen(Draw{CA: true, NotBefore: req.Now, NotAfter: req.Now.Add(staxv1alpha1.CAValidFor)})
	if err != nil {
		return fmt.Errorf("generating the CA: %w", err)
	}
	if len(parts[""]) == 0 || len(parts[staxv1alpha1.PartCert]) == 0 {
		return fmt.Errorf("the generator made no CA")
	}
	st.Data[staxv1alpha1.CAKeyKey] = parts[""]
	st.Data[staxv1alpha1.CACertKey] = parts[staxv1alpha1.PartCert]
	ch.Modified = true
	return nil
}

// Sync brings st to what req asks for: it generates missing values, rotates
// values whose rotation token changed, whose rotation was requested, or
// whose schedule is due (keeping the previous value under NAME.previous),
// and keeps values no longer declared for req.Retention before pruning them
// (at once when a prune is requested). A value that exists and is not due
// for rotation is never touched; a key the operator does not track is never
// deleted.
func Sync(st *State, req Request, gen Generator) (Change, error) {
	ch := Change{Rotated: map[string][]string{}, Pruned: map[string][]string{}}
	if st.Data == nil {
		st.Data = map[string][]byte{}
	}
	if st.Values == nil {
		st.Values = map[string]ValueMeta{}
	}
	if err := ensureDigestKey(st, gen, &ch); err != nil {
		return ch, err
	}
	if err := ensureCA(st, req, gen, &ch); err != nil {
		return ch, err
	}

	requested := map[string]bool{}
	newRequest := req.RotateID != "" && req.RotateID != st.RotateHandled
	if newRequest {
		for _, n := range req.RotateNames {
			requested[n] = true
		}
	}
	declared := map[string]bool{}
	for _, m := range req.Managed {
		declared[m.Name] = true
		delete(requested, m.Name)
		if err := syncValue(st, m, req, newRequest && contains(req.RotateNames, m.Name), gen, &ch); err != nil {
			return ch, err
		}
	}
	for n := range requested {
		ch.UnknownRotateNames = append(ch.UnknownRotateNames, n)
	}
	sort.Strings(ch.UnknownRotateNames)

	// An absent request clears the record, so the same names can be requested
	// again later; a handled one is remembered.
	if st.RotateHandled != req.RotateID {
		st.RotateHandled = req.RotateID
		ch.Modified = true
	}

	syncRemovals(st, req, declared, &ch)
	return ch, nil
}

// ensureDigestKey makes the digest key once.
func ensureDigestKey(st *State, gen Generator, ch *Change) error {
	if _, ok := st.Data[staxv1alpha1.DigestKey]; ok {
		return nil
	}
	key, err := gen(Draw{Secret: render.ManagedSecret{Name: staxv1alpha1.DigestKey, Charset: staxv1alpha1.CharsetBase64URL, Length: digestKeyLength}})
	if err != nil {
		return fmt.Errorf("generating the digest key: %w", err)
	}
	if len(key[""]) == 0 {
		return fmt.Errorf("the generator made no digest key")
	}
	st.Data[staxv1alpha1.DigestKey] = key[""]
	ch.Modified = true
	return nil
}

// syncValue brings the value of one declared managed secret to what req
// asks: restored, adopted, its hooked rotation carried on, then made anew
// when triggerFor says so.
func syncValue(st *State, m render.ManagedSecret, req Request, rotateRequested bool, gen Generator, ch *Change) error {
	meta, known := st.Values[m.Name]
	if known && meta.RemovedAt != nil {
		// Declared again within the retention period: the value comes
		// back as it was, with its previous value and rotation state.
		meta.RemovedAt = nil
		st.Values[m.Name] = meta
		ch.Restored = append(ch.Restored, m.Name)
		ch.Modified = true
	}
	mType := render.TypeOrDefault(m.Type)
	// A value is there when every key of the type it was made as is: a
	// change of type is a rotation by field (its identity changed).
	exists := hasAll(st, m.Name, mType)
	if known {
		exists = hasAll(st, m.Name, typeOf(meta))
	}
	pending := ""
	if meta.Hook.InFlight() {
		pending, rotateRequested = carryHook(st, &meta, m, req, exists, rotateRequested, ch)
		st.Values[m.Name] = meta
	}
	if exists && !known {
		// A value written before metadata was kept: adopt it as is; it
		// is rotated only on request, and scheduled either way.
		meta = ValueMeta{Rotation: m.Rotation, GeneratedAt: req.Now, Type: storedType(mType), Identity: m.Identity()}
		if mType == staxv1alpha1.SecretTypeTLS {
			// Renewed on the certificate's own schedule.
			meta.NotAfter = certNotAfter(st.Data[m.Name+staxv1alpha1.PartCert])
		}
		st.Values[m.Name] = meta
		ch.Modified = true
	}
	if trigger := triggerFor(m, meta, known, exists, rotateRequested, pending, req.Now); trigger != "" {
		if err := makeValue(st, &meta, m, trigger, req, gen, ch); err != nil {
			return err
		}
	}
	if meta.Hook.InFlight() {
		ch.NextHookDeadline = earliest(ch.NextHookDeadline, meta.Hook.Deadline)
	}
	ch.NextRotation = earliest(ch.NextRotation, dueAt(m, meta))
	return nil
}

// carryHook carries m's in-flight hooked rotation on: a request made
// meanwhile is queued (once), a rotation whose hook or value in use went
// is dropped, and stepHook reads its Job. It returns the trigger of a
// rotation that is due because the hooked one ended or was dropped, and
// whether a request is still to be acted on now.
func carryHook(st *State, meta *ValueMeta, m render.ManagedSecret, req Request, exists, rotateRequested bool, ch *Change) (string, bool) {
	if rotateRequested {
		// Queued once: a request made while one is queued is the same
		// request.
		if meta.Hook.Queued == "" {
			meta.Hook.Queued = TriggerAnnotation
			ch.Modified = true
		}
		rotateRequested = false
	}
	if m.Hook == nil || !exists {
		// onRotate was removed while its hook ran (or the value in use was
		// deleted by hand, and is generated afresh): the staged value was
		// never confirmed, so it goes, and the rotation is carried out as
		// any unhooked one.
		pending := meta.Hook.Trigger
		if meta.Hook.Queued != "" {
			pending = meta.Hook.Queued
		}
		deleteStaged(st, m.Name)
		meta.Hook = nil
		ch.Modified = true
		return pending, rotateRequested
	}
	if stepHook(st, meta, m, req, ch) {
		pending := meta.Hook.Queued
		meta.Hook.Queued = ""
		return pending, rotateRequested
	}
	return "", rotateRequested
}

// triggerFor says why m's value is made anew now ("generate" or a
// Trigger*), or "" when it is kept: a missing value is generated; an
// adopted one rotates only on request; nothing starts while a hook runs; a
// changed rotation token or identity, a request, a rotation left pending
// by a hooked one, or a due schedule rotate it.
func triggerFor(m render.ManagedSecret, meta ValueMeta, known, exists, rotateRequested bool, pending string, now time.Time) string {
	switch {
	case !exists:
		return "generate"
	case !known:
		if rotateRequested {
			return TriggerAnnotation
		}
		return ""
	case meta.Hook.InFlight():
		// One hook at a time: requests made meanwhile are queued, and a
		// changed rotation token is seen again after the commit.
		return ""
	case (meta.Rotation != m.Rotation || meta.Identity != m.Identity()) && !failedFor(meta.Hook, m.Rotation, m.Identity()):
		return TriggerField
	case rotateRequested:
		return TriggerAnnotation
	case pending != "":
		return pending
	case dueAt(m, meta) != (time.Time{}) && !now.Before(dueAt(m, meta)):
		return TriggerSchedule
	}
	return ""
}

// makeValue draws m's new value for trigger and puts it in place:
// generated, staged for its hook, or rotated keeping the previous value.
func makeValue(st *State, meta *ValueMeta, m render.ManagedSecret, trigger string, req Request, gen Generator, ch *Change) error {
	mType := render.TypeOrDefault(m.Type)
	value, notAfter, err := draw(st, m, req.Now, gen)
	if err != nil {
		return fmt.Errorf("generating value %s: %w", m.Name, err)
	}
	switch {
	case trigger == "generate":
		// The first value (or one deleted by hand): nothing checks a value
		// yet, so no hook runs.
		ch.Generated = append(ch.Generated, m.Name)
		deleteStaged(st, m.Name)
		put(st, m.Name, typeOf(*meta), mType, "", value)
		*meta = ValueMeta{Rotation: m.Rotation, GeneratedAt: req.Now, HookAttempts: meta.HookAttempts, Type: storedType(mType), Identity: m.Identity(), NotAfter: notAfter}
	case m.Hook != nil && typeOf(*meta) == mType:
		// Stage: the new value waits under keys no consumer reads, and
		// this state is written with it, before any Job exists.
		put(st, m.Name, mType, mType, render.StagedKey(""), value)
		meta.HookAttempts++
		meta.Hook = &HookState{
			Phase: staxv1alpha1.RotationStateStaged, Attempt: meta.HookAttempts, Trigger: trigger, Rotation: m.Rotation,
			Job:      render.HookJobName(req.Blueprint, m.Name, meta.HookAttempts),
			StagedAt: req.Now, Deadline: req.Now.Add(m.HookTimeout() + HookGrace), Marked: true,
			Identity: m.Identity(), NotAfter: notAfter,
		}
		ch.Staged = append(ch.Staged, m.Name)
		ch.CreateJobs = append(ch.CreateJobs, m.Name)
	default:
		// A change of type is not hooked either: the hook could not use a
		// value of another kind.
		keepPrevious(st, m.Name, typeOf(*meta))
		ch.Rotated[trigger] = append(ch.Rotated[trigger], m.Name)
		put(st, m.Name, typeOf(*meta), mType, "", value)
		*meta = ValueMeta{Rotation: m.Rotation, GeneratedAt: req.Now, HookAttempts: meta.HookAttempts, Type: storedType(mType), Identity: m.Identity(), NotAfter: notAfter}
	}
	st.Values[m.Name] = *meta
	ch.Modified = true
	return nil
}

// stepHook carries an in-flight hooked rotation on from what req.Jobs
// reports of its Job: commit on Complete, fail on Failed, on a foreign or
// vanished Job, on a lost staged value or at the deadline; HookRunning once
// the Job is seen. It reports whether the rotation ended.
func stepHook(st *State, meta *ValueMeta, m render.ManagedSecret, req Request, ch *Change) bool {
	h := meta.Hook
	staged := render.StagedKey(m.Name)
	job, looked := req.Jobs[m.Name]
	_, hasStaged := st.Data[staged]
	fail := ""
	switch {
	case !hasStaged:
		fail = FailureStagedLost
	case looked && job == observe.JobComplete:
		t := typeOf(*meta)
		keepPrevious(st, m.Name, t)
		for _, k := range keys(t) {
			if v, ok := st.Data[staged+k]; ok {
				st.Data[m.Name+k] = v
			}
		}
		deleteStaged(st, m.Name)
		now := req.Now
		meta.Rotation, meta.GeneratedAt = h.Rotation, now
		meta.Identity, meta.NotAfter = h.Identity, h.NotAfter
		h.Phase, h.FinishedAt = staxv1alpha1.RotationStateCommitted, &now
		ch.Rotated[h.Trigger] = append(ch.Rotated[h.Trigger], m.Name)
		ch.Committed = append(ch.Committed, m.Name)
		ch.Modified = true
		return true
	case looked && job == observe.JobFailed:
		fail = FailureJobFailed
	case looked && job == observe.JobForeign:
		fail = FailureForeignJob
	case looked && job == observe.JobAbsent && h.Phase == staxv1alpha1.RotationStateHookRunning:
		// Never created again: that would run a second Job for one
		// rotation.
		fail = FailureJobDeleted
	case !req.Now.Before(h.Deadline):
		fail = FailureTimeout
	}
	if fail != "" {
		if looked && job == observe.JobActive {
			ch.StopJobs = append(ch.StopJobs, m.Name)
		}
		deleteStaged(st, m.Name)
		now := req.Now
		h.Phase, h.FinishedAt, h.Failure = staxv1alpha1.RotationStateFailed, &now, fail
		ch.HookFailed = append(ch.HookFailed, HookFailure{Name: m.Name, Job: h.JobName(req.Blueprint, m.Name), Failure: fail})
		ch.Modified = true
		return true
	}
	switch {
	case looked && job == observe.JobActive && h.Phase == staxv1alpha1.RotationStateStaged:
		h.Phase = staxv1alpha1.RotationStateHookRunning
		ch.Modified = true
	case looked && job == observe.JobAbsent:
		// Staged, and the Job is not there yet (a crash between the write
		// of the staged value and the Job's creation, or this Sync).
		ch.CreateJobs = append(ch.CreateJobs, m.Name)
	}
	return false
}

// failedFor reports whether the latest hooked rotation failed for rotation
// token and identity: a token (or identity) whose hook failed is not
// retried until another request.
func failedFor(h *HookState, token, identity string) bool {
	return h != nil && h.Phase == staxv1alpha1.RotationStateFailed && h.Rotation == token && h.Identity == identity
}

// RenewalRetry is how long after a failed hooked renewal of a tls
// certificate the renewal is tried again (a renewal cannot wait for the
// next two thirds of the validity: the certificate would expire first).
const RenewalRetry = time.Hour

// dueAt is when m's value next rotates on schedule: rotateEvery after
// scheduleBase; for tls, also when two thirds of the certificate's
// validity have passed (notAfter less a third of validFor), or
// RenewalRetry after a hooked renewal failed past that point. Zero when
// neither applies.
func dueAt(m render.ManagedSecret, meta ValueMeta) time.Time {
	var due time.Time
	if m.RotateEvery > 0 {
		due = scheduleBase(meta).Add(m.RotateEvery)
	}
	if render.TypeOrDefault(m.Type) == staxv1alpha1.SecretTypeTLS && meta.NotAfter != nil && m.ValidFor > 0 {
		renew := meta.NotAfter.Add(-m.ValidFor / 3)
		if h := meta.Hook; h != nil && h.Phase == staxv1alpha1.RotationStateFailed && h.FinishedAt != nil && !h.FinishedAt.Before(renew) {
			renew = h.FinishedAt.Add(RenewalRetry)
		}
		due = earliest(due, renew)
	}
	return due
}

// scheduleBase is when meta's rotation schedule runs from: the value's
// generation, or the failure of a later hooked rotation, so a failed
// scheduled rotation is tried again at the next schedule, not at once.
func scheduleBase(meta ValueMeta) time.Time {
	if h := meta.Hook; h != nil && h.Phase == staxv1alpha1.RotationStateFailed && h.FinishedAt != nil && h.FinishedAt.After(meta.GeneratedAt) {
		return *h.FinishedAt
	}
	return meta.GeneratedAt
}

// syncRemovals keeps, prunes or reports each tracked value whose secret is
// no longer declared. Only tracked keys are ever deleted.
func syncRemovals(st *State, req Request, declared map[string]bool, ch *Change) {
	pruneAll := false
	pruneNames := map[string]bool{}
	if req.PruneID != "" && req.PruneID != st.PruneHandled {
		pruneAll = len(req.PruneNames) == 0
		for _, n := range req.PruneNames {
			pruneNames[n] = true
		}
	}
	names := make([]string, 0, len(st.Values))
	for n := range st.Values {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		if declared[n] {
			continue
		}
		meta := st.Values[n]
		requested := pruneAll || pruneNames[n]
		delete(pruneNames, n)
		removedAt := req.Now
		if meta.RemovedAt != nil {
			removedAt = *meta.RemovedAt
		}
		due := removedAt.Add(req.Retention)
		switch {
		case requested:
			ch.Pruned[PruneRequested] = append(ch.Pruned[PruneRequested], n)
		case !req.Now.Before(due):
			ch.Pruned[PruneExpired] = append(ch.Pruned[PruneExpired], n)
		default:
			r := Removal{Name: n, RemovedAt: removedAt, PruneAfter: due}
			if meta.Hook.InFlight() {
				// Nothing consumes a removed secret: its staged value is
				// never committed.
				deleteStaged(st, n)
				now := req.Now
				meta.Hook.Phase, meta.Hook.FinishedAt, meta.Hook.Failure = staxv1alpha1.RotationStateFailed, &now, FailureRemoved
				meta.Hook.Queued = ""
				st.Values[n] = meta
				ch.Modified = true
			}
			if meta.RemovedAt == nil {
				meta.RemovedAt = &removedAt
				st.Values[n] = meta
				ch.Removed = append(ch.Removed, r)
				ch.Modified = true
			}
			ch.Pending = append(ch.Pending, r)
			if ch.NextPrune.IsZero() || due.Before(ch.NextPrune) {
				ch.NextPrune = due
			}
			continue
		}
		for _, k := range keys(typeOf(meta)) {
			delete(st.Data, n+k)
			delete(st.Data, n+k+staxv1alpha1.PreviousValueSuffix)
		}
		deleteStaged(st, n)
		delete(st.Values, n)
		ch.Modified = true
	}
	for n := range pruneNames {
		ch.UnknownPruneNames = append(ch.UnknownPruneNames, n)
	}
	sort.Strings(ch.UnknownPruneNames)
	// Like the rotate request: an absent request clears the record, a
	// handled one is remembered, so a re-sync does not prune again.
	if st.PruneHandled != req.PruneID {
		st.PruneHandled = req.PruneID
		ch.Modified = true
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// ParseRotateRequest reads the rotate annotations of a Blueprint: the names
// to rotate and the identity of the request.
func ParseRotateRequest(annotations map[string]string) (names []string, id string) {
	raw, ok := annotations[staxv1alpha1.RotateAnnotation]
	if !ok || strings.TrimSpace(raw) == "" {
		return nil, ""
	}
	for _, n := range strings.Split(raw, ",") {
		if n = strings.TrimSpace(n); n != "" {
			names = append(names, n)
		}
	}
	return names, requestID(raw, annotations[staxv1alpha1.RotateRequestedAtAnnotation])
}

// ParsePruneRequest reads the prune annotations of a Blueprint: the names
// whose values to prune (none: every value pending removal, written
// PruneAllValue) and the identity of the request, empty when none is made.
func ParsePruneRequest(annotations map[string]string) (names []string, id string) {
	raw, ok := annotations[staxv1alpha1.PruneAnnotation]
	if !ok || strings.TrimSpace(raw) == "" {
		return nil, ""
	}
	id = requestID(raw, annotations[staxv1alpha1.PruneRequestedAtAnnotation])
	for _, n := range strings.Split(raw, ",") {
		switch n = strings.TrimSpace(n); n {
		case "":
		case staxv1alpha1.PruneAllValue:
			// "*" anywhere prunes everything pending.
			return nil, id
		default:
			names = append(names, n)
		}
	}
	if len(names) == 0 {
		// Only commas: no request, rather than everything.
		return nil, ""
	}
	return names, id
}

func requestID(raw, at string) string {
	if at == "" {
		return raw
	}
	return raw + "@" + at
}

// Retention is the retention period of values a Blueprint no longer
// declares: spec, the Blueprint's removedValueRetention, when it is set and
// valid (admission checks it), def otherwise.
func Retention(spec string, def time.Duration) time.Duration {
	if spec == "" {
		return def
	}
	d, err := time.ParseDuration(spec)
	if err != nil || d < 0 {
		return def
	}
	return d
}

// DecodeValues reads staxv1alpha1.ValuesAnnotation. A malformed annotation (edited by
// hand) reads as empty: values are then adopted as they are, never
// regenerated.
func DecodeValues(annotations map[string]string) map[string]ValueMeta {
	out := map[string]ValueMeta{}
	if raw := annotations[staxv1alpha1.ValuesAnnotation]; raw != "" {
		// "null" unmarshals to a nil map: read it as empty too.
		if err := json.Unmarshal([]byte(raw), &out); err != nil || out == nil {
			return map[string]ValueMeta{}
		}
	}
	return out
}

// EncodeValues writes staxv1alpha1.ValuesAnnotation's content, deterministically.
func EncodeValues(values map[string]ValueMeta) string {
	// encoding/json sorts map keys, so equal maps encode equally.
	b, err := json.Marshal(values)
	if err != nil {
		// A map of strings and times always marshals.
		panic(err)
	}
	return string(b)
}
