package controller

import (
	"context"
	"errors"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/sets"
	"k8s.io/client-go/util/csaupgrade"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/apiutil"

	staxv1alpha1 "github.com/stax-dev/blueprint-operator/api/v1alpha1"
	"github.com/stax-dev/blueprint-operator/internal/apierror"
	"github.com/stax-dev/blueprint-operator/internal/applied"
)

// applyOwned brings the object named name, of live's kind, to desired. It
// never writes an object the Blueprint does not control: such an object is
// reported as a Conflict and left untouched. It returns whether it wrote.
//
// An object absent from the cache is created by a server-side apply that
// only creates (createOnly): it fails with a conflict on any object in the
// way, where a plain apply would merge into it, so no read is needed first
// to keep a foreign object safe. Later changes are server-side applies
// under FieldOwner with ForceOwnership, skipped when the live object
// already holds what we render (internal/applied: the fingerprint of what
// was rendered, which every object carries, and the live object containing
// every rendered field).
func (r *BlueprintReconciler) applyOwned(ctx context.Context, sc *scope, live client.Object, name string, desired runtime.ApplyConfiguration) (bool, error) {
	key := types.NamespacedName{Namespace: sc.bp.Namespace, Name: name}
	kind := kindOf(live)
	gvk, err := apiutil.GVKForObject(live, r.Scheme())
	if err != nil {
		return false, err
	}
	// Marshaled once: the no-op check (most reconciles) reads its JSON and
	// fingerprint, and only a write builds an object of it.
	want, err := applied.NewDesired(desired)
	if err != nil {
		return false, apierror.Encoding(apierror.OpRender, kind, key.Name, err)
	}
	err = r.Get(ctx, key, live)
	if apierrors.IsNotFound(err) {
		fingerprinted, encodeErr := withFingerprint(want, gvk)
		if encodeErr != nil {
			return false, apierror.Encoding(apierror.OpRender, kind, key.Name, encodeErr)
		}
		var outcome createOutcome
		outcome, err = r.createOwned(ctx, sc, key, gvk, live, fingerprinted)
		switch {
		case err != nil:
			return false, err
		case outcome == created:
			// Typed objects only: the client reads unstructured ones (an
			// HTTPRoute) from the API server, which waiting would only load.
			if _, isUnstructured := live.(*unstructured.Unstructured); !isUnstructured {
				sc.created = append(sc.created, live)
			}
			return true, nil
		case outcome == inTheWay:
			return false, nil
		}
		// Ours, and live now holds it as the API server has it.
	}
	if err != nil {
		return false, apierror.Wrap(apierror.OpRead, kind, key.Name, err)
	}
	if sc.reportIfForeign(live, kind, key.Name) {
		return false, nil
	}
	same, err := applied.UpToDate(want, appliedState(live))
	if err != nil {
		return false, apierror.Encoding(apierror.OpCompare, kind, key.Name, err)
	}
	if same {
		return false, nil
	}
	fingerprinted, err := withFingerprint(want, gvk)
	if err != nil {
		return false, apierror.Encoding(apierror.OpRender, kind, key.Name, err)
	}
	if err := r.foldCreateFields(ctx, live); err != nil {
		return false, apierror.Wrap(apierror.OpPatch, kind, key.Name, err)
	}
	// The object's UID is the apply's precondition: the cache read above may
	// lag a delete, and a forced apply to a foreign object re-created under
	// the name since would take it over, ownerReference and all. The API
	// server refuses an apply whose UID is not the object's with a
	// conflict; the next reconcile's read then sees the foreign object.
	fingerprinted.SetUID(live.GetUID())
	// ForceOwnership: fields we render are ours; a hand edit is reverted.
	if err := r.Apply(ctx, client.ApplyConfigurationFromUnstructured(fingerprinted), client.ForceOwnership); err != nil {
		return false, apierror.Wrap(apierror.OpApply, kind, key.Name, err)
	}
	return true, nil
}

// appliedState is what internal/applied reads of a live object: its
// fingerprint, the field sets of our managedFields entries (the cache keeps
// only those: TrimForeignManagedFields), and its ownerReferences.
func appliedState(live client.Object) applied.Live {
	state := applied.Live{
		Fingerprint:     live.GetAnnotations()[staxv1alpha1.RenderedFingerprintAnnotation],
		OwnerReferences: live.GetOwnerReferences(),
	}
	for _, e := range live.GetManagedFields() {
		if e.Manager == FieldOwner && e.Subresource == "" {
			if set := fieldSetOf(e); set != nil {
				state.FieldSets = append(state.FieldSets, set)
			}
		}
	}
	return state
}

type createOutcome int

const (
	// created: the object did not exist and now does, as desired.
	created createOutcome = iota
	// inTheWay: a foreign object holds the name; reported as a Conflict.
	inTheWay
	// ours: the object exists, is the Blueprint's, and was read into live.
	ours
)

// createOwned creates desired, which the cache does not hold. A foreign
// object holding the name is reported as a Conflict (inTheWay) and never
// read in full; one this Blueprint controls, which the cache has not seen
// yet, is read into live (ours).
func (r *BlueprintReconciler) createOwned(ctx context.Context, sc *scope, key types.NamespacedName, gvk schema.GroupVersionKind, live client.Object, desired *unstructured.Unstructured) (createOutcome, error) {
	kind := kindOf(live)
	// Every Deployment and Service of the cluster is watched as metadata
	// (watchWorkloadMetadata): a foreign one in the way is known without a
	// request.
	if reader, ok := r.workloadMetadata[gvk]; ok {
		m := &metav1.PartialObjectMetadata{}
		m.SetGroupVersionKind(gvk)
		err := reader.Get(ctx, key, m)
		switch {
		case err == nil && sc.reportIfForeign(m, kind, key.Name):
			return inTheWay, nil
		case err == nil:
			// Ours, not yet in the full cache: read it rather than create.
			return r.readOurs(ctx, sc, key, gvk, live)
		case !apierrors.IsNotFound(err):
			return 0, apierror.Wrap(apierror.OpRead, kind, key.Name, err)
		}
	}
	create := desired.DeepCopy()
	create.SetResourceVersion(createOnly)
	err := r.Apply(ctx, client.ApplyConfigurationFromUnstructured(create))
	if err == nil {
		// live, empty, becomes what the API server stored (status reads it).
		if err := decodeInto(live, create); err != nil {
			return 0, apierror.Encoding(apierror.OpRender, kind, key.Name, err)
		}
		return created, nil
	}
	if !apierrors.IsConflict(err) {
		return 0, apierror.Wrap(apierror.OpCreate, kind, key.Name, err)
	}
	// Created since the caches last looked: by us, moments ago, or by
	// someone else.
	return r.readOurs(ctx, sc, key, gvk, live)
}

// createOnly is the resourceVersion an apply that must only create
// carries. The API server reads an apply's resourceVersion as a
// precondition on the live object, and creates an absent object whatever
// it says (apply_test.go holds the API server to both); no object ever has
// this one (the largest uint64: etcd's revisions are int64), so the apply
// is refused with a conflict whenever an object holds the name. Created
// this way, the object's fields are recorded under our Apply entry from the
// start, so the first change needs no fold of a create's entry, and a
// field we stop rendering is removed by the apply that stops sending it.
const createOnly = "18446744073709551615"

// readOurs reads the metadata of the object named key, of live's kind,
// from the API server. A foreign one is reported as a Conflict (inTheWay);
// one this Blueprint controls is then read into live in full (ours).
func (r *BlueprintReconciler) readOurs(ctx context.Context, sc *scope, key types.NamespacedName, gvk schema.GroupVersionKind, live client.Object) (createOutcome, error) {
	kind := kindOf(live)
	m := &metav1.PartialObjectMetadata{}
	m.SetGroupVersionKind(gvk)
	if err := r.apiReader.Get(ctx, key, m); err != nil {
		// NotFound too: deleted since; the next reconcile creates it.
		return 0, apierror.Wrap(apierror.OpRead, kind, key.Name, err)
	}
	if sc.reportIfForeign(m, kind, key.Name) {
		return inTheWay, nil
	}
	if err := r.apiReader.Get(ctx, key, live); err != nil {
		return 0, apierror.Wrap(apierror.OpRead, kind, key.Name, err)
	}
	return ours, nil
}

// withFingerprint is desired, as an object, with its fingerprint in
// RenderedFingerprintAnnotation: what the no-op check compares with
// (internal/applied).
func withFingerprint(desired applied.Desired, gvk schema.GroupVersionKind) (*unstructured.Unstructured, error) {
	obj := &unstructured.Unstructured{}
	if err := obj.UnmarshalJSON(desired.JSON); err != nil {
		return nil, err
	}
	obj.SetGroupVersionKind(gvk)
	annotations := obj.GetAnnotations()
	if annotations == nil {
		annotations = map[string]string{}
	}
	annotations[staxv1alpha1.RenderedFingerprintAnnotation] = desired.Fingerprint
	obj.SetAnnotations(annotations)
	return obj, nil
}

// decodeInto fills obj, an empty object of desired's kind, with desired.
func decodeInto(obj client.Object, desired *unstructured.Unstructured) error {
	if u, ok := obj.(*unstructured.Unstructured); ok {
		u.Object = desired.DeepCopy().Object
		return nil
	}
	return runtime.DefaultUnstructuredConverter.FromUnstructured(desired.Object, obj)
}

// errRecreated is the cause of the conflict foldCreateFields returns for an
// object deleted and re-created since the cache read it.
var errRecreated = errors.New("re-created since it was read")

// fieldOwners are the managers whose Update entries are ours: a Create
// records its fields under FieldOwner with operation Update, an apply under
// FieldOwner with operation Apply.
var fieldOwners = sets.New(FieldOwner)

// foldCreateFields moves the fields a plain create recorded (an Update
// entry) into our apply entry on the server (client-go's csaupgrade, as
// kubectl migrates client-side apply), before the first apply that changes
// the object. Only objects an earlier operator created carry such an
// entry: this one creates by apply (createOnly). Without the fold, fields
// we stop rendering would stay owned by the Update entry, and an apply
// would never remove them; defaults the entry also owned are released by
// the apply and defaulted again.
//
// The cache keeps only our own managedFields entries
// (TrimForeignManagedFields), and the patch replaces the whole list, so the
// list is read from the API server first: once per object, on its first
// change. The patch carries that read's resourceVersion: should the object
// change in between, it fails with a conflict and the reconcile runs again.
func (r *BlueprintReconciler) foldCreateFields(ctx context.Context, live client.Object) error {
	if !hasCreateEntry(live) {
		return nil
	}
	full := live.DeepCopyObject().(client.Object)
	if err := r.apiReader.Get(ctx, client.ObjectKeyFromObject(live), full); err != nil {
		return err
	}
	if full.GetUID() != live.GetUID() {
		// Deleted and re-created since the cache read: not ours to patch.
		return apierrors.NewConflict(schema.GroupResource{}, live.GetName(), errRecreated)
	}
	patch, err := csaupgrade.UpgradeManagedFieldsPatch(full, fieldOwners, FieldOwner)
	if err != nil || patch == nil {
		return err
	}
	return r.Patch(ctx, full, client.RawPatch(types.JSONPatchType, patch))
}

// hasCreateEntry reports whether obj's managedFields hold the Update entry
// a Create by FieldOwner records.
func hasCreateEntry(obj client.Object) bool {
	for _, e := range obj.GetManagedFields() {
		if e.Manager == FieldOwner && e.Operation == metav1.ManagedFieldsOperationUpdate && e.Subresource == "" {
			return true
		}
	}
	return false
}
