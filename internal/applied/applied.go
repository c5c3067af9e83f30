// Package applied decides whether an object the operator rendered still
// holds what the operator renders now, so that an unchanged object is not
// sent.
//
// Every object the operator writes carries a fingerprint of what was
// rendered (api/v1alpha1.RenderedFingerprintAnnotation). It is up to date
// when the fingerprint is that of what is rendered now (so no field was
// dropped from the rendering: a field the operator stops rendering changes
// the fingerprint, and the apply then removes it) and the live object
// still contains every rendered field with its rendered value (so nobody
// changed or removed one; others' fields and the API server's defaults may
// be added).
//
// Why not Extract* over the field manager, as before: the operator creates
// what it renders with a plain Create, which records its fields under an
// Update entry together with every default the API server filled in, so
// Extract* cannot tell a default from a rendered field; and client-go's
// Extract* parses its whole embedded schema on first use, about 20 MiB of
// the manager's peak memory.
package applied

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
)

// Fingerprint is "sha256:" and the SHA-256 of desired's JSON, which is
// deterministic (struct fields in order, map keys sorted).
func Fingerprint(desired any) (string, error) {
	raw, err := json.Marshal(desired)
	if err != nil {
		return "", err
	}
	sum := sha256.Sum256(raw)
	return "sha256:" + hex.EncodeToString(sum[:]), nil
}

// Contains reports whether have holds want, both decoded from JSON: maps
// key by key (have may hold more keys), lists item by item with the same
// length, and scalars equal. A list that gained or lost an item does not
// contain the other: the operator owns the lists it renders.
func Contains(want, have any) bool {
	switch w := want.(type) {
	case map[string]any:
		h, ok := have.(map[string]any)
		if !ok {
			return false
		}
		for k, v := range w {
			if !Contains(v, h[k]) {
				return false
			}
		}
		return true
	case []any:
		h, ok := have.([]any)
		if !ok || len(h) != len(w) {
			return false
		}
		for i := range w {
			if !Contains(w[i], h[i]) {
				return false
			}
		}
		return true
	default:
		return want == have
	}
}

// UpToDate reports whether live still holds desired, whose Fingerprint is
// fingerprint: live carries that fingerprint (liveFingerprint, from its
// annotation), so nothing was rendered differently since it was written,
// and live contains every field desired sets, with its value, so nobody
// changed or removed one. Both are compared as JSON.
func UpToDate(desired, live any, fingerprint, liveFingerprint string) (bool, error) {
	if fingerprint != liveFingerprint {
		return false, nil
	}
	d, err := asJSON(desired)
	if err != nil {
		return false, err
	}
	l, err := asJSON(live)
	if err != nil {
		return false, err
	}
	return Contains(d, l), nil
}

func asJSON(v any) (any, error) {
	raw, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	var out any
	return out, json.Unmarshal(raw, &out)
}
