package controller

import (
	"context"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	ctrl "sigs.k8s.io/controller-runtime"

	"github.com/stax-dev/blueprint-operator/internal/apierror"
	"github.com/stax-dev/blueprint-operator/internal/status"
)

// podReferenceRecheck is how soon a reconcile runs again while a
// ServiceAccount a service names is missing: the operator does not watch
// ServiceAccounts (a watch would cache every one of the cluster), so it looks
// again. Missing pull Secrets need no timer: the Secret metadata watch sees
// them appear.
const podReferenceRecheck = 30 * time.Second

// +kubebuilder:rbac:groups="",resources=serviceaccounts,verbs=get

// checkPodReferences reports the ServiceAccounts and image pull Secrets that
// services name and that do not exist. Unlike a missing referenced value,
// they do not block rendering: the Deployment is applied as declared, and the
// ReplicaSet controller (ServiceAccount) or kubelet (pull Secret) decides.
// Both are read as metadata only: ServiceAccounts from the API server (they
// are not cached), pull Secrets from the Secret metadata cache; no Secret's
// data is read.
func (r *BlueprintReconciler) checkPodReferences(ctx context.Context, sc *scope) (ctrl.Result, error) {
	exists := func(kind, name string) (bool, error) {
		obj := &metav1.PartialObjectMetadata{TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: kind}}
		reader := r.APIReader
		if kind == "Secret" && r.secretMetadata != nil {
			// Secrets are watched as metadata, and the watch maps a pull
			// Secret to the Blueprints naming it: should the cache not have
			// seen one yet, its arrival reconciles again.
			reader = r.secretMetadata
		}
		err := reader.Get(ctx, types.NamespacedName{Namespace: sc.bp.Namespace, Name: name}, obj)
		if apierrors.IsNotFound(err) {
			return false, nil
		}
		if err != nil {
			return false, apierror.Wrap(apierror.OpRead, kind, name, err)
		}
		return true, nil
	}
	var result ctrl.Result
	for _, svc := range sc.bp.Spec.Services {
		if svc.ServiceAccountName != "" {
			ok, err := exists("ServiceAccount", svc.ServiceAccountName)
			if err != nil {
				return ctrl.Result{}, err
			}
			if !ok {
				sc.problems = append(sc.problems, status.ServiceAccountProblem(svc.Name, svc.ServiceAccountName, sc.bp.Namespace))
				result.RequeueAfter = podReferenceRecheck
			}
		}
		for _, s := range svc.ImagePullSecrets {
			ok, err := exists("Secret", s.Name)
			if err != nil {
				return ctrl.Result{}, err
			}
			if !ok {
				sc.problems = append(sc.problems, status.PullSecretProblem(svc.Name, s.Name, sc.bp.Namespace, svc.Image))
			}
		}
	}
	return result, nil
}
