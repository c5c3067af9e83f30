// Package applied decides whether an object the operator created, and has
// not yet server-side applied, still holds what the operator renders.
//
// The operator creates what it renders with a plain Create, which fails on
// any object in the way (an apply would merge into it). The create records
// the operator's fields under an Update entry of its managedFields, together
// with every default the API server filled in, so Extract* over the field
// manager cannot tell a default from a field the operator set. Until the
// first apply, the object therefore carries a fingerprint of what was
// rendered (api/v1alpha1.CreatedFromAnnotation), and it is up to date when
// the fingerprint matches and the live object still contains every field
// rendered, with the rendered value.
package applied

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
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

// CreatedOnly reports whether manager has an Update entry (what a Create
// records) on the object's main resource and no Apply entry: the operator
// created it and has not applied it since.
func CreatedOnly(entries []metav1.ManagedFieldsEntry, manager string) bool {
	created := false
	for _, e := range entries {
		if e.Manager != manager || e.Subresource != "" {
			continue
		}
		switch e.Operation {
		case metav1.ManagedFieldsOperationApply:
			return false
		case metav1.ManagedFieldsOperationUpdate:
			created = true
		}
	}
	return created
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

// UpToDate reports whether live, an object created from what Fingerprint
// gave fingerprint for, still holds desired: the fingerprint is desired's,
// and live contains every field desired sets, with its value. Both are
// compared as JSON.
func UpToDate(desired, live any, fingerprint string) (bool, error) {
	want, err := Fingerprint(desired)
	if err != nil || want != fingerprint {
		return false, err
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
