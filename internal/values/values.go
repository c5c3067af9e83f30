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
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"time"

	staxv1alpha1 "github.com/stax-dev/blueprint-operator/api/v1alpha1"
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
}

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
	// Modified is true when data or metadata changed and must be written.
	Modified bool
}

// NextDue is when the Blueprint must be reconciled again for this Change's
// sake: the earlier of NextRotation and NextPrune, zero when neither is set.
func (ch Change) NextDue() time.Time {
	switch {
	case ch.NextRotation.IsZero():
		return ch.NextPrune
	case ch.NextPrune.IsZero() || ch.NextRotation.Before(ch.NextPrune):
		return ch.NextRotation
	default:
		return ch.NextPrune
	}
}

// Generator makes a new value for a managed secret.
type Generator func(render.ManagedSecret) ([]byte, error)

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
	if _, ok := st.Data[staxv1alpha1.DigestKey]; !ok {
		key, err := gen(render.ManagedSecret{Name: staxv1alpha1.DigestKey, Charset: staxv1alpha1.CharsetBase64URL, Length: digestKeyLength})
		if err != nil {
			return ch, fmt.Errorf("generating the digest key: %w", err)
		}
		st.Data[staxv1alpha1.DigestKey] = key
		ch.Modified = true
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
		meta, known := st.Values[m.Name]
		if known && meta.RemovedAt != nil {
			// Declared again within the retention period: the value comes
			// back as it was, with its previous value and rotation state.
			meta.RemovedAt = nil
			st.Values[m.Name] = meta
			ch.Restored = append(ch.Restored, m.Name)
			ch.Modified = true
		}
		_, exists := st.Data[m.Name]
		rotateRequested := newRequest && contains(req.RotateNames, m.Name)
		trigger := ""
		switch {
		case !exists:
			trigger = "generate"
		case !known:
			// A value written before metadata was kept: adopt it as is,
			// unless its rotation is requested; either way it is scheduled.
			meta = ValueMeta{Rotation: m.Rotation, GeneratedAt: req.Now}
			st.Values[m.Name] = meta
			ch.Modified = true
			if rotateRequested {
				trigger = TriggerAnnotation
			}
		case meta.Rotation != m.Rotation:
			trigger = TriggerField
		case rotateRequested:
			trigger = TriggerAnnotation
		case m.RotateEvery > 0 && !req.Now.Before(meta.GeneratedAt.Add(m.RotateEvery)):
			trigger = TriggerSchedule
		}
		if trigger != "" {
			value, err := gen(m)
			if err != nil {
				return ch, fmt.Errorf("generating value %s: %w", m.Name, err)
			}
			if trigger == "generate" {
				ch.Generated = append(ch.Generated, m.Name)
			} else {
				st.Data[m.Name+staxv1alpha1.PreviousValueSuffix] = st.Data[m.Name]
				ch.Rotated[trigger] = append(ch.Rotated[trigger], m.Name)
			}
			st.Data[m.Name] = value
			meta = ValueMeta{Rotation: m.Rotation, GeneratedAt: req.Now}
			st.Values[m.Name] = meta
			ch.Modified = true
		}
		if m.RotateEvery > 0 {
			due := meta.GeneratedAt.Add(m.RotateEvery)
			if ch.NextRotation.IsZero() || due.Before(ch.NextRotation) {
				ch.NextRotation = due
			}
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
		delete(st.Data, n)
		delete(st.Data, n+staxv1alpha1.PreviousValueSuffix)
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
