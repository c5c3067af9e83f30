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
}

// State is the generated Secret's content, as read from the API server.
type State struct {
	Data          map[string][]byte
	Values        map[string]ValueMeta
	RotateHandled string
}

// Request is what the Blueprint asks for.
type Request struct {
	Managed []render.ManagedSecret
	// RotateNames and RotateID come from the rotate annotations; RotateID is
	// empty when no rotation is requested.
	RotateNames []string
	RotateID    string
	Now         time.Time
}

// Change says what Sync did, for events, metrics and requeueing. It never
// holds a value.
type Change struct {
	Generated []string
	// Rotated maps a trigger to the names it rotated.
	Rotated map[string][]string
	Removed []string
	// UnknownRotateNames were requested for rotation but are not managed
	// secrets of the Blueprint.
	UnknownRotateNames []string
	// NextRotation is when the earliest scheduled rotation falls due; zero
	// when none is scheduled.
	NextRotation time.Time
	// Modified is true when data or metadata changed and must be written.
	Modified bool
}

// Generator makes a new value for a managed secret.
type Generator func(render.ManagedSecret) ([]byte, error)

// Sync brings st to what req asks for: it generates missing values, rotates
// values whose rotation token changed, whose rotation was requested, or
// whose schedule is due (keeping the previous value under NAME.previous),
// and drops values no longer declared. A value that exists and is not due
// for rotation is never touched.
func Sync(st *State, req Request, gen Generator) (Change, error) {
	ch := Change{Rotated: map[string][]string{}}
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

	for k := range st.Data {
		base := strings.TrimSuffix(k, staxv1alpha1.PreviousValueSuffix)
		if k == staxv1alpha1.DigestKey || declared[base] {
			continue
		}
		delete(st.Data, k)
		ch.Removed = append(ch.Removed, k)
		ch.Modified = true
	}
	for n := range st.Values {
		if !declared[n] {
			delete(st.Values, n)
			ch.Modified = true
		}
	}
	sort.Strings(ch.Removed)
	return ch, nil
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
	id = raw
	if at := annotations[staxv1alpha1.RotateRequestedAtAnnotation]; at != "" {
		id = raw + "@" + at
	}
	return names, id
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
