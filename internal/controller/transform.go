package controller

import (
	"encoding/json"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Cache transforms that keep less of each cached object than the API server
// sends, without changing what the reconciler reads of it.

// TrimForeignManagedFields is a cache transform for the objects the operator
// renders and writes only by server-side apply (Deployments, Services,
// Ingresses): it keeps the managedFields entries of FieldOwner, whatever
// their operation (an Apply, or the Update a plain Create records), and drops
// every other manager's (the Deployment controller's status updates,
// kubectl's, an autoscaler's), and of FieldOwner's entries keeps only
// whether they own spec.replicas. The reconciler reads only that of a
// cached object, and whether a create's entry still needs folding into its
// apply entry; the fold itself reads the whole list from the API server
// (foldCreateFields).
//
// Never use it for a kind the reconciler writes with Update from the cache:
// an Update that carries managedFields replaces the object's whole list, and
// would drop the entries trimmed here from the object itself.
func TrimForeignManagedFields(obj any) (any, error) {
	m, err := meta.Accessor(obj)
	if err != nil {
		return obj, nil //nolint:nilerr // no metadata (a tombstone): nothing to trim, kept as it is
	}
	fields := m.GetManagedFields()
	if len(fields) == 0 {
		return obj, nil
	}
	var kept []metav1.ManagedFieldsEntry
	for _, f := range fields {
		if f.Manager == FieldOwner {
			f.FieldsV1 = fieldsRead(f.FieldsV1)
			kept = append(kept, f)
		}
	}
	m.SetManagedFields(kept)
	return obj, nil
}

// ownedReplicas is the one field of an entry of ours the reconciler reads
// (ownsReplicas): whether it owns spec.replicas.
var ownedReplicas = metav1.NewFieldsV1(`{"f:spec":{"f:replicas":{}}}`)

// fieldsRead keeps of an entry's fields only what the reconciler reads of
// them: whether they hold spec.replicas. The rest (every rendered field,
// about a kilobyte per object) is read only by foldCreateFields, from the
// API server.
func fieldsRead(fields *metav1.FieldsV1) *metav1.FieldsV1 {
	if fields == nil {
		return nil
	}
	var set struct {
		Spec map[string]json.RawMessage `json:"f:spec"`
	}
	if json.Unmarshal(fields.GetRawBytes(), &set) == nil {
		if _, ok := set.Spec["f:replicas"]; ok {
			return ownedReplicas.DeepCopy()
		}
	}
	return nil
}

// StripBlueprintMetadata is the cache transform for Blueprints: it drops
// their managedFields and kubectl's last-applied-configuration annotation
// (a whole copy of the spec when a Blueprint was applied with kubectl
// apply), which nothing in the operator reads. Its other annotations stay:
// the reconciler reads some (a claim prune request). Status is written with
// a merge patch computed between two copies of the cached Blueprint, so
// what is stripped from both is never part of it.
func StripBlueprintMetadata(obj any) (any, error) {
	m, err := meta.Accessor(obj)
	if err != nil {
		return obj, nil //nolint:nilerr // no metadata (a tombstone): nothing to trim, kept as it is
	}
	m.SetManagedFields(nil)
	if a := m.GetAnnotations(); a != nil {
		if _, ok := a[corev1.LastAppliedConfigAnnotation]; ok {
			delete(a, corev1.LastAppliedConfigAnnotation)
			if len(a) == 0 {
				a = nil
			}
			m.SetAnnotations(a)
		}
	}
	return obj, nil
}
