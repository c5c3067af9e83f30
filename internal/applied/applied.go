// Package applied decides whether an object the operator rendered still
// holds what the operator renders now, so that an unchanged object is not
// sent.
//
// Every object the operator writes carries a fingerprint of what was
// rendered (api/v1alpha1.RenderedFingerprintAnnotation). It is up to date
// when the fingerprint is that of what is rendered now (so no field was
// dropped from the rendering: a field the operator stops rendering changes
// the fingerprint, and the apply then removes it) and the operator's
// managedFields entries still own every field it renders (so nobody changed
// or removed one).
//
// Why ownership and not the values: the API server moves a field out of
// every other manager's entry when a request changes or removes its value
// (a hand edit, another controller's update, a forced apply), so a field
// still in our entry, and in the object (Present), still holds the value
// our apply gave it. The manager's
// cache then keeps only our entry of each rendered object, and none of the
// rendered values (the manager's memory: docs/architecture.md). A value
// that a mutating webhook changes in our own apply is ours too, so it is
// not applied again and again. Both are compared by their JSON names
// (Present reads the object through structured-merge-diff's value.Value,
// Owns reads desired as JSON), so no schema is needed: an associative
// list's items are found by the key fields the entry itself records
// (`k:{"name":"api"}`).
package applied

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"strings"

	"sigs.k8s.io/structured-merge-diff/v6/fieldpath"
	"sigs.k8s.io/structured-merge-diff/v6/value"
)

// Desired is a desired object as JSON, marshaled once, and its
// Fingerprint: a reconcile that finds the object up to date reads both, and
// one that writes it builds the apply from the same JSON.
type Desired struct {
	JSON        []byte
	Fingerprint string
}

// NewDesired marshals desired (a typed object, an apply configuration or
// JSON-decoded maps) to JSON. Its Fingerprint is "sha256:" and the SHA-256
// of that JSON, which is deterministic (struct fields in order, map keys
// sorted).
func NewDesired(desired any) (Desired, error) {
	raw, err := json.Marshal(desired)
	if err != nil {
		return Desired{}, err
	}
	sum := sha256.Sum256(raw)
	return Desired{JSON: raw, Fingerprint: "sha256:" + hex.EncodeToString(sum[:])}, nil
}

// Contains reports whether have holds want, both decoded from JSON: maps
// key by key (have may hold more keys), lists item by item with the same
// length, and scalars equal.
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
		return want == have || sameNumber(want, have)
	}
}

// sameNumber reports whether a and b are the same number, whatever Go type
// each was decoded into (encoding/json: float64; the unstructured
// converter: int64).
func sameNumber(a, b any) bool {
	x, ok := number(a)
	y, ok2 := number(b)
	return ok && ok2 && x == y
}

func number(v any) (float64, bool) {
	switch n := v.(type) {
	case float64:
		return n, true
	case int64:
		return float64(n), true
	case int32:
		return float64(n), true
	case int:
		return float64(n), true
	}
	return 0, false
}

// Live is what UpToDate needs of a live object: the fingerprint it
// carries, the field sets of the operator's managedFields entries (FieldsV1
// JSON, any number: an earlier version's create entry and our apply entry),
// and its ownerReferences, as JSON.
type Live struct {
	Fingerprint     string
	FieldSets       [][]byte
	OwnerReferences any
}

// UpToDate reports whether live still holds desired: live carries
// desired's fingerprint, every ownerReference desired sets is on live with
// its values (the cache keeps them, and a field set names a reference only
// by its uid), and our field sets own every other field desired sets.
func UpToDate(desired Desired, live Live) (bool, error) {
	if desired.Fingerprint != live.Fingerprint || len(live.FieldSets) == 0 {
		return false, nil
	}
	var d any
	if err := json.Unmarshal(desired.JSON, &d); err != nil {
		return false, err
	}
	owners, err := asJSON(live.OwnerReferences)
	if err != nil {
		return false, err
	}
	// What names the object is no field of a field set.
	object, _ := d.(map[string]any)
	delete(object, "apiVersion")
	delete(object, "kind")
	if meta, ok := object["metadata"].(map[string]any); ok {
		if !containsOwners(meta["ownerReferences"], owners) {
			return false, nil
		}
		delete(meta, "ownerReferences")
		delete(meta, "name")
		delete(meta, "namespace")
	}
	owned := map[string]any{}
	for _, raw := range live.FieldSets {
		var set map[string]any
		if err := json.Unmarshal(raw, &set); err != nil {
			return false, err
		}
		merge(owned, set)
	}
	return Owns(owned, d), nil
}

// containsOwners reports whether every reference of want is in have, by
// uid, with the values want gives it.
func containsOwners(want, have any) bool {
	w, _ := want.([]any)
	h, _ := have.([]any)
	for _, ref := range w {
		uid := ref.(map[string]any)["uid"]
		found := false
		for _, other := range h {
			if o, ok := other.(map[string]any); ok && o["uid"] == uid && Contains(ref, o) {
				found = true
				break
			}
		}
		if !found {
			return false
		}
	}
	return true
}

// Present is the part of the field set (set) whose fields obj has. The API
// server takes a field out of our entry when another manager changes its
// value, but not when one removes it (a removed env var, a port whose
// number was changed, a label deleted): those stay in our entry with
// nothing in the object. What is left is what Owns then holds desired
// against, so a removal reads as drift too.
//
// obj is read through structured-merge-diff's value.Value, the API
// server's own view of an object: value.NewValueReflect reads a typed
// object where it stands, by its JSON names, and only the fields set
// names, where converting it to JSON maps first built all of it (the
// cost of each object the manager's cache receives). When obj has every
// field of set, the answer is set itself: callers read it, never change it.
func Present(set *fieldpath.Set, obj value.Value) *fieldpath.Set {
	// A freelist allocator hands the walk's value wrappers back to it as
	// each is done with, where the heap allocator leaves each to the
	// collector; not safe for concurrent use, so one per call.
	a := value.NewFreelistAllocator()
	if hasAll(a, set, obj) {
		// What the cache sees almost always: nothing to take out, so no
		// copy of the set to build.
		return set
	}
	return present(a, set, obj)
}

// hasAll reports whether obj has every field of set.
func hasAll(a value.Allocator, set *fieldpath.Set, obj value.Value) bool {
	all := true
	set.Members.Iterate(func(pe fieldpath.PathElement) {
		if !all {
			return
		}
		if _, isChild := set.Children.Get(pe); isChild {
			return // looked up with its children below
		}
		v, ok := element(a, obj, pe)
		if !ok {
			all = false
			return
		}
		a.Free(v)
	})
	set.Children.Iterate(func(pe fieldpath.PathElement) {
		if !all {
			return
		}
		v, ok := element(a, obj, pe)
		if !ok {
			all = false
			return
		}
		defer a.Free(v)
		child, _ := set.Children.Get(pe)
		all = hasAll(a, child, v)
	})
	return all
}

func present(a value.Allocator, set *fieldpath.Set, obj value.Value) *fieldpath.Set {
	out := &fieldpath.Set{}
	set.Members.Iterate(func(pe fieldpath.PathElement) {
		if _, isChild := set.Children.Get(pe); isChild {
			// Looked up once, with its children, below: a list item
			// ("." in the field set) is both.
			return
		}
		if v, ok := element(a, obj, pe); ok {
			a.Free(v)
			out.Members.Insert(pe)
		}
	})
	set.Children.Iterate(func(pe fieldpath.PathElement) {
		v, ok := element(a, obj, pe)
		if !ok {
			return
		}
		defer a.Free(v)
		if set.Members.Has(pe) {
			out.Members.Insert(pe)
		}
		child, _ := set.Children.Get(pe)
		if sub := present(a, child, v); !sub.Empty() {
			*out.Children.Descend(pe) = *sub
		}
	})
	return out
}

// element is the field or list item pe names in obj: a field that is set
// (not null), a list item with pe's key fields, or a set's item. The
// caller frees what it returns.
func element(a value.Allocator, obj value.Value, pe fieldpath.PathElement) (value.Value, bool) {
	switch {
	case pe.FieldName != nil:
		if !obj.IsMap() {
			return nil, false
		}
		m := obj.AsMapUsing(a)
		defer a.Free(m)
		v, ok := m.GetUsing(a, *pe.FieldName)
		if !ok {
			return nil, false
		}
		if v.IsNull() {
			a.Free(v)
			return nil, false
		}
		return v, true
	case pe.Key != nil:
		return listItemOf(a, obj, func(item value.Value) bool {
			if !item.IsMap() {
				return false
			}
			m := item.AsMapUsing(a)
			defer a.Free(m)
			for _, f := range *pe.Key {
				v, ok := m.GetUsing(a, f.Name)
				if !ok {
					return false
				}
				equal := value.EqualsUsing(a, v, f.Value)
				a.Free(v)
				if !equal {
					return false
				}
			}
			return true
		})
	case pe.Value != nil:
		return listItemOf(a, obj, func(item value.Value) bool { return value.EqualsUsing(a, item, *pe.Value) })
	}
	return nil, false
}

// listItemOf is the first item of the list obj that matches; the caller
// frees it.
func listItemOf(a value.Allocator, obj value.Value, matches func(value.Value) bool) (value.Value, bool) {
	if !obj.IsList() {
		return nil, false
	}
	list := obj.AsListUsing(a)
	defer a.Free(list)
	for i := 0; i < list.Length(); i++ {
		item := list.AtUsing(a, i)
		if matches(item) {
			return item, true
		}
		a.Free(item)
	}
	return nil, false
}

// Owns reports whether a field set (a managedFields entry's FieldsV1,
// decoded) holds every field of want (an object decoded from JSON). A set
// with nothing under a field owns it whole: a scalar, an atomic struct or
// list. A map's fields are "f:<name>"; a list's items "k:<key fields>" (an
// associative list, matched on those fields) or "v:<value>" (a set).
// An empty value (null, "", {} or []) the set does not hold sets nothing.
func Owns(set map[string]any, want any) bool {
	if len(set) == 0 {
		return true
	}
	switch w := want.(type) {
	case map[string]any:
		for k, v := range w {
			if v == nil {
				continue
			}
			child, ok := set["f:"+k].(map[string]any)
			if !ok && isEmpty(v) {
				// A typed object drops an empty value (omitempty), so
				// Present never keeps it: nothing to hold.
				continue
			}
			if !ok || !Owns(child, v) {
				return false
			}
		}
		return true
	case []any:
		for _, item := range w {
			child, ok := listItem(set, item)
			if !ok || !Owns(child, item) {
				return false
			}
		}
		return true
	default:
		// A scalar is owned as a leaf, with nothing under it.
		return false
	}
}

// isEmpty reports whether v is null, an empty string, or an empty map or
// list: what a typed object drops where its field is omitempty (an env
// var's value ""). Not false or 0: the API's optional booleans and numbers
// are pointers, which keep them (allowPrivilegeEscalation: false).
func isEmpty(v any) bool {
	switch x := v.(type) {
	case nil:
		return true
	case string:
		return x == ""
	case map[string]any:
		return len(x) == 0
	case []any:
		return len(x) == 0
	}
	return false
}

// listItem finds item's entry in the field set of a list.
func listItem(set map[string]any, item any) (map[string]any, bool) {
	fields, isMap := item.(map[string]any)
	for key, child := range set {
		c, ok := child.(map[string]any)
		if !ok {
			continue
		}
		switch {
		case isMap && strings.HasPrefix(key, "k:"):
			var keyFields map[string]any
			if json.Unmarshal([]byte(key[2:]), &keyFields) == nil && matches(keyFields, fields) {
				return c, true
			}
		case !isMap && strings.HasPrefix(key, "v:"):
			var v any
			if json.Unmarshal([]byte(key[2:]), &v) == nil && v == item {
				return c, true
			}
		}
	}
	return nil, false
}

// matches reports whether item has every key field's value. A key field
// item leaves out matches: the API server defaults some (a port's
// protocol) before it records the key.
func matches(keyFields, item map[string]any) bool {
	for k, v := range keyFields {
		if got, ok := item[k]; ok && !Contains(v, got) {
			return false
		}
	}
	return true
}

// merge adds the field set src to dst.
func merge(dst, src map[string]any) {
	for k, v := range src {
		sv, _ := v.(map[string]any)
		dv, ok := dst[k].(map[string]any)
		if !ok {
			dst[k] = sv
			continue
		}
		if len(dv) == 0 || len(sv) == 0 {
			// Either owns the whole field.
			dst[k] = map[string]any{}
			continue
		}
		merge(dv, sv)
	}
}

func asJSON(v any) (any, error) {
	raw, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	var out any
	return out, json.Unmarshal(raw, &out)
}
