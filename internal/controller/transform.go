package controller

import (
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
)

// Cache transforms that keep less of each cached object than the API server
// sends, without changing what the reconciler reads of it.

// TrimForeignManagedFields is a cache transform for the objects the operator
// renders and writes only by server-side apply (Deployments, Services,
// Ingresses): it keeps the managedFields entries of FieldOwner, whatever
// their operation (an Apply, or the Update a plain Create records), and drops
// every other manager's (the Deployment controller's status updates,
// kubectl's, an autoscaler's). The reconciler reads only FieldOwner's
// entries of a cached object (whether a create's entry still needs folding
// into its apply entry); the fold itself reads the whole list from the API
// server (foldCreateFields).
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
	kept := fields[:0:0]
	for _, f := range fields {
		if f.Manager == FieldOwner {
			kept = append(kept, f)
		}
	}
	if len(kept) != len(fields) {
		if len(kept) == 0 {
			kept = nil
		}
		m.SetManagedFields(kept)
	}
	return obj, nil
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
