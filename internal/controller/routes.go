package controller

import (
	"context"

	networkingv1 "k8s.io/api/networking/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	staxv1alpha1 "github.com/stax-dev/blueprint-operator/api/v1alpha1"
	"github.com/stax-dev/blueprint-operator/internal/apierror"
	"github.com/stax-dev/blueprint-operator/internal/render"
	"github.com/stax-dev/blueprint-operator/internal/status"
)

// RBAC of the routes: written by server-side apply and deleted when stale,
// as Deployments and Services are.
// +kubebuilder:rbac:groups=networking.k8s.io,resources=ingresses,verbs=get;list;watch;create;patch;delete
// +kubebuilder:rbac:groups=gateway.networking.k8s.io,resources=httproutes,verbs=get;list;watch;create;patch;delete

// gatewayAPIInstalled asks the RESTMapper (discovery) whether the cluster
// serves HTTPRoutes.
func (r *BlueprintReconciler) gatewayAPIInstalled() (bool, error) {
	_, err := r.RESTMapper().RESTMapping(render.HTTPRouteGVK.GroupKind(), render.HTTPRouteGVK.Version)
	if meta.IsNoMatchError(err) {
		return false, nil
	}
	return err == nil, err
}

// reconcileRoutes applies the Ingress or HTTPRoute of each exposed service
// and deletes those this Blueprint controls and no longer renders. Ready
// waits for none of them: whether an Ingress controller or a Gateway serves
// a route is theirs to report.
func (r *BlueprintReconciler) reconcileRoutes(ctx context.Context, sc *scope) (ctrl.Result, error) {
	// Discovery is asked only for a Blueprint that routes through a Gateway,
	// or when HTTPRoutes were served at start (then the answer is cached):
	// on a cluster without the Gateway API, other Blueprints cost no
	// discovery request. (An HTTPRoute left by a Blueprint that stopped
	// using its Gateway, on a cluster whose CRDs came after the manager
	// started, goes with the Blueprint.)
	installed := false
	if (sc.bp.Spec.Routing != nil && sc.bp.Spec.Routing.Gateway.Name != "") || r.httpRoutesWatched {
		var err error
		if installed, err = r.gatewayAPIInstalled(); err != nil {
			return ctrl.Result{}, apierror.Wrap(apierror.OpRead, "API discovery", "gateway.networking.k8s.io", err)
		}
	}
	wantIngress, wantRoute := map[string]bool{}, map[string]bool{}
	for i := range sc.plan.Services {
		svc := &sc.plan.Services[i]
		rt := svc.Route
		if rt == nil || sc.blocked[svc.Name] {
			// A blocked service keeps what it has.
			wantIngress[svc.Name], wantRoute[svc.Name] = sc.blocked[svc.Name], sc.blocked[svc.Name]
			continue
		}
		switch {
		case rt.Ingress != nil:
			wantIngress[svc.Name] = true
			ing := &networkingv1.Ingress{}
			if _, err := r.applyOwned(ctx, sc, ing, svc.Name, rt.Ingress); err != nil {
				return ctrl.Result{}, err
			}
		case !installed:
			sc.problem(status.GatewayAPIProblem(svc.Name, render.HTTPRouteGVK.GroupVersion().String()))
			continue
		default:
			wantRoute[svc.Name] = true
			live := &unstructured.Unstructured{}
			live.SetGroupVersionKind(render.HTTPRouteGVK)
			if _, err := r.applyOwned(ctx, sc, live, svc.Name, client.ApplyConfigurationFromUnstructured(rt.HTTPRoute)); err != nil {
				return ctrl.Result{}, err
			}
		}
		sc.urls[svc.Name] = rt.URL
	}
	// A service that failed to render keeps its route, as it keeps its
	// Deployment, until it renders again or leaves the spec.
	for _, name := range sc.plan.Unrendered {
		wantIngress[name], wantRoute[name] = true, true
	}
	selector := client.MatchingLabels{staxv1alpha1.LabelBlueprint: sc.bp.Name}
	ingresses := &networkingv1.IngressList{}
	if err := r.List(ctx, ingresses, client.InNamespace(sc.bp.Namespace), selector); err != nil {
		return ctrl.Result{}, apierror.Wrap(apierror.OpList, "Ingresses", "", err)
	}
	for i := range ingresses.Items {
		if err := r.deleteIfStale(ctx, sc, &ingresses.Items[i], wantIngress[ingresses.Items[i].Name]); err != nil {
			return ctrl.Result{}, err
		}
	}
	if !installed {
		return ctrl.Result{}, nil
	}
	routes := &unstructured.UnstructuredList{}
	routes.SetGroupVersionKind(render.HTTPRouteGVK.GroupVersion().WithKind("HTTPRouteList"))
	if err := r.List(ctx, routes, client.InNamespace(sc.bp.Namespace), selector); err != nil {
		return ctrl.Result{}, apierror.Wrap(apierror.OpList, "HTTPRoutes", "", err)
	}
	for i := range routes.Items {
		if err := r.deleteIfStale(ctx, sc, &routes.Items[i], wantRoute[routes.Items[i].GetName()]); err != nil {
			return ctrl.Result{}, err
		}
	}
	return ctrl.Result{}, nil
}
