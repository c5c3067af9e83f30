package controller

import (
	"context"
	"slices"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/types"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	staxv1alpha1 "github.com/stax-dev/blueprint-operator/api/v1alpha1"
	"github.com/stax-dev/blueprint-operator/internal/apierror"
	"github.com/stax-dev/blueprint-operator/internal/render"
	"github.com/stax-dev/blueprint-operator/internal/status"
)

// RBAC of the claims: created, adopted and expanded (update, carrying the
// read's resourceVersion), never patched. delete is only for an explicit
// request (PruneClaimsAnnotation, set by kubectl blueprint prune --claims)
// to delete a claim the Blueprint no longer declares; it also lets
// OwnerReferencesPermissionEnforcement admission accept the controller
// reference set on an adopted claim.
// +kubebuilder:rbac:groups="",resources=persistentvolumeclaims,verbs=get;list;watch;create;update;delete

// reconcileClaims creates the claim of every pvc volume, adopts one of a
// deleted predecessor of the same name (the adoption table of
// ownership.Retained, as for the generated Secret), requests expansion of
// one that is smaller than its volume, and lists the Blueprint's claims no
// volume declares any more. It never deletes a claim, and never writes one
// that is not the Blueprint's. Claims are read from the API server: their
// adoption, like the generated Secret's, is never decided on a stale cache.
func (r *BlueprintReconciler) reconcileClaims(ctx context.Context, sc *scope) (ctrl.Result, error) {
	var declared []render.Claim
	for _, svc := range sc.plan.Services {
		declared = append(declared, svc.Claims...)
	}
	for _, c := range declared {
		if err := r.reconcileClaim(ctx, sc, c); err != nil {
			return ctrl.Result{}, err
		}
	}
	live := &corev1.PersistentVolumeClaimList{}
	if err := r.List(ctx, live, client.InNamespace(sc.bp.Namespace), client.MatchingLabels{staxv1alpha1.LabelBlueprint: sc.bp.Name}); err != nil {
		return ctrl.Result{}, apierror.Wrap(apierror.OpList, "PersistentVolumeClaims", "", err)
	}
	// Services that could not be rendered declare their claims all the
	// same: they are not undeclared.
	for _, svc := range sc.bp.Spec.Services {
		if sc.blocked[svc.Name] {
			for _, v := range svc.Volumes {
				declared = append(declared, render.Claim{Name: render.ClaimName(sc.bp.Name, svc.Name, v.Name)})
			}
		}
	}
	sc.undeclaredClaims = render.UndeclaredClaims(live.Items, declared, sc.bp)
	req, ok := render.ParseClaimPruneRequest(sc.bp.Annotations)
	if !ok {
		return ctrl.Result{}, nil
	}
	for _, pvc := range render.ClaimsToPrune(live.Items, sc.undeclaredClaims, req) {
		uid := pvc.UID
		if err := r.Delete(ctx, &pvc, client.Preconditions{UID: &uid}); client.IgnoreNotFound(err) != nil {
			return ctrl.Result{}, apierror.Wrap(apierror.OpDelete, "PersistentVolumeClaim", pvc.Name, err)
		}
		sc.undeclaredClaims = slices.DeleteFunc(sc.undeclaredClaims, func(n string) bool { return n == pvc.Name })
		r.emit(sc, status.ClaimPrunedEvent(pvc.Name))
	}
	return ctrl.Result{}, nil
}

func (r *BlueprintReconciler) reconcileClaim(ctx context.Context, sc *scope, c render.Claim) error {
	key := types.NamespacedName{Namespace: sc.bp.Namespace, Name: c.Name}
	for attempt := range maxSecretAttempts {
		live := &corev1.PersistentVolumeClaim{}
		// The cache holds the claims Blueprints rendered; one it lacks (not
		// seen yet, foreign, or absent) is asked of the API server, as is
		// every retry.
		var err error = apierrors.NewNotFound(corev1.Resource("persistentvolumeclaims"), c.Name)
		if attempt == 0 {
			err = r.Get(ctx, key, live)
		}
		if apierrors.IsNotFound(err) {
			err = r.apiReader.Get(ctx, key, live)
		}
		switch {
		case apierrors.IsNotFound(err):
			// As for the generated Secret: a Blueprint deleted since the
			// cache saw it must not leave a claim nobody owns.
			if err := r.stopIfGone(ctx, sc); err != nil {
				return err
			}
			if err := r.Create(ctx, render.NewClaim(c, sc.bp)); err != nil {
				if apierrors.IsAlreadyExists(err) {
					continue
				}
				return apierror.Wrap(apierror.OpCreate, "PersistentVolumeClaim", c.Name, err)
			}
			return nil
		case err != nil:
			return apierror.Wrap(apierror.OpRead, "PersistentVolumeClaim", c.Name, err)
		}
		if p, ok := status.OwnershipProblem(status.Held{Kind: status.KindClaim, Name: c.Name, Service: c.Service}, render.ClaimVerdict(live, sc.bp)); ok {
			sc.problem(p, c.Service)
			return nil
		}
		u := render.UpdateClaim(live, c, sc.bp)
		if u.Shrink {
			current := live.Spec.Resources.Requests[corev1.ResourceStorage]
			sc.problem(status.ShrinkProblem(c.Service, c.Volume, c.Name, c.Size.String(), current.String()))
		}
		if !u.Changed {
			return nil
		}
		if err := r.Update(ctx, live); err != nil {
			if apierrors.IsConflict(err) {
				continue
			}
			return apierror.Wrap(apierror.OpUpdate, "PersistentVolumeClaim", c.Name, err)
		}
		if u.Expanded {
			r.emit(sc, status.ClaimExpandedEvent(c.Name, c.Size.String()))
		}
		return nil
	}
	return apierror.Exhausted("PersistentVolumeClaim", c.Name, maxSecretAttempts)
}
