// Package ownership decides whether an object the operator would write is a
// Blueprint's: controlled by it, free to be taken as its own, on its way out,
// or someone else's. It is pure: it reads object metadata only, so every row
// of the adoption table is tested without a cluster.
//
// Rendered objects (Deployments, Services) are the Blueprint's only while it
// is their controller. Objects that outlive a Blueprint under
// deletionPolicy Retain (the generated Secret) carry the Blueprint's name in
// a marker annotation instead, so a Blueprint of the same name re-created in
// the namespace can take them back.
package ownership

import (
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	staxv1alpha1 "github.com/stax-dev/blueprint-operator/api/v1alpha1"
)

// Verdict is what the operator may do with an object that has the name it
// would write.
type Verdict int

const (
	// Owned: the Blueprint controls the object; it may write it.
	Owned Verdict = iota
	// Adoptable: the object is marked for a Blueprint of this name and may
	// be taken over: its ownership is set, then it is written as Owned.
	Adoptable
	// Deleting: the object is being deleted; wait for it to go.
	Deleting
	// Superseded: the object is controlled by another Blueprint of the same
	// name, a deleted predecessor (a Blueprint's name is unique in its
	// namespace, so one of that name with another UID is gone). The garbage
	// collector deletes it; wait for it to go, never adopt it, as
	// Kubernetes' ControllerRefManager never adopts an object that has a
	// controller.
	Superseded
	// Foreign: the object is someone else's. It is never written: the
	// operator reports a Conflict and leaves it untouched.
	Foreign
)

func (v Verdict) String() string {
	switch v {
	case Owned:
		return "Owned"
	case Adoptable:
		return "Adoptable"
	case Deleting:
		return "Deleting"
	case Superseded:
		return "Superseded"
	default:
		return "Foreign"
	}
}

// IsBlueprintRef reports whether ref points at a Blueprint of this API group,
// of any version.
func IsBlueprintRef(ref metav1.OwnerReference) bool {
	return ref.Kind == "Blueprint" && strings.HasPrefix(ref.APIVersion, staxv1alpha1.GroupVersion.Group+"/")
}

// IsControlledBy reports whether obj's controller is the Blueprint with uid.
func IsControlledBy(obj metav1.Object, uid types.UID) bool {
	ref := metav1.GetControllerOf(obj)
	return ref != nil && ref.UID == uid && IsBlueprintRef(*ref)
}

// Rendered is the verdict on an object the Blueprint renders and never
// adopts (a Deployment, a Service): Owned when it controls it, Foreign
// otherwise.
func Rendered(obj metav1.Object, bp *staxv1alpha1.Blueprint) Verdict {
	if IsControlledBy(obj, bp.UID) {
		return Owned
	}
	return Foreign
}

// Retained is the verdict on an object that may outlive its Blueprint and is
// marked with markerAnnotation (the generated Secret). Rows are checked in
// order; "being deleted" turns Owned and Adoptable into Deleting:
//
//	controlled by this Blueprint (its UID)                         Owned
//	controlled by a Blueprint of this name with another UID,
//	  marked for this name or unmarked                             Superseded: wait for garbage collection
//	any other controller (another Blueprint, a ReplicaSet, ...)    Foreign
//	no controller, marked for this Blueprint's name                Adoptable (under Delete and Retain alike)
//	no controller, marked for another name, or unmarked            Foreign
//
// An orphan is adopted under both policies: under Retain that is how a
// retained or restored Secret comes back; under Delete it is how a
// Blueprint switched from Retain to Delete (whose Secret is an orphan until
// then), or re-created after a Retain predecessor or after a deletion with
// --cascade=orphan, keeps its values. An orphan is never collected, so no
// race decides the outcome. Type checks (an Opaque Secret, say) are the
// caller's: they come first.
func Retained(obj metav1.Object, bp *staxv1alpha1.Blueprint, markerAnnotation string) Verdict {
	marker, marked := obj.GetAnnotations()[markerAnnotation]
	ref := metav1.GetControllerOf(obj)
	verdict := Foreign
	switch {
	case IsControlledBy(obj, bp.UID):
		verdict = Owned
	case ref != nil:
		if IsBlueprintRef(*ref) && ref.Name == bp.Name && (!marked || marker == bp.Name) {
			return Superseded
		}
		return Foreign
	case marked && marker == bp.Name:
		verdict = Adoptable
	}
	if verdict != Foreign && obj.GetDeletionTimestamp() != nil {
		return Deleting
	}
	return verdict
}

// SetRetention marks obj as bp's with markerAnnotation and sets its owner
// references as bp's deletion policy says: a controller reference under
// Delete, so it goes with the Blueprint; none under Retain, so it outlives
// it. References to other owners are kept. It reports whether anything
// changed.
func SetRetention(obj metav1.Object, bp *staxv1alpha1.Blueprint, markerAnnotation string) bool {
	changed := false
	annotations := obj.GetAnnotations()
	if annotations[markerAnnotation] != bp.Name {
		if annotations == nil {
			annotations = map[string]string{}
		}
		annotations[markerAnnotation] = bp.Name
		obj.SetAnnotations(annotations)
		changed = true
	}

	want := bp.Spec.DeletionPolicy != staxv1alpha1.DeletionPolicyRetain
	var refs []metav1.OwnerReference
	have := false
	for _, ref := range obj.GetOwnerReferences() {
		if !IsBlueprintRef(ref) {
			refs = append(refs, ref)
			continue
		}
		if want && !have && ref.UID == bp.UID && ref.Name == bp.Name && ref.APIVersion == staxv1alpha1.GroupVersion.String() &&
			ref.Controller != nil && *ref.Controller && ref.BlockOwnerDeletion != nil && *ref.BlockOwnerDeletion {
			have = true
			refs = append(refs, ref)
			continue
		}
		changed = true
	}
	if want && !have {
		refs = append(refs, *metav1.NewControllerRef(bp, staxv1alpha1.GroupVersion.WithKind("Blueprint")))
		changed = true
	}
	if changed {
		obj.SetOwnerReferences(refs)
	}
	return changed
}
