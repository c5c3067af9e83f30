package render

import (
	networkingv1 "k8s.io/api/networking/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	networkingv1ac "k8s.io/client-go/applyconfigurations/networking/v1"

	staxv1alpha1 "github.com/stax-dev/blueprint-operator/api/v1alpha1"
)

// HTTPRouteGVK is the Gateway API HTTPRoute a Blueprint renders with
// spec.routing.gateway.
var HTTPRouteGVK = schema.GroupVersionKind{Group: "gateway.networking.k8s.io", Version: "v1", Kind: "HTTPRoute"}

// Route is how an exposed service is reached from outside the cluster.
type Route struct {
	Host string
	// Port is the Service port routed to.
	Port int32
	// URL is what status reports: http://HOST/ or https://HOST/.
	URL string
	// Ingress is set unless the Blueprint routes through a Gateway.
	Ingress *networkingv1ac.IngressApplyConfiguration
	// HTTPRoute is set when the Blueprint routes through a Gateway.
	HTTPRoute *unstructured.Unstructured
}

// ExposeHost is the host an exposed service is published under: its
// exposeHost, else SERVICE.DOMAIN.
func ExposeHost(svc *staxv1alpha1.BlueprintService, routing *staxv1alpha1.Routing) string {
	if svc.ExposeHost != "" {
		return svc.ExposeHost
	}
	domain := ""
	if routing != nil {
		domain = routing.Domain
	}
	return svc.Name + "." + domain
}

// exposePort is the Service port an exposed service is routed to: exposePort,
// else its first port.
func exposePort(svc *staxv1alpha1.BlueprintService) int32 {
	if svc.ExposePort != 0 {
		return svc.ExposePort
	}
	return svc.Ports[0].ContainerPort
}

// route renders the Ingress or HTTPRoute of an exposed service; nil when it
// is not exposed (or has no port, which admission rejects).
func route(bp *staxv1alpha1.Blueprint, svc *staxv1alpha1.BlueprintService) *Route {
	if svc.Expose == nil || !*svc.Expose || len(svc.Ports) == 0 {
		return nil
	}
	routing := bp.Spec.Routing
	r := &Route{Host: ExposeHost(svc, routing), Port: exposePort(svc)}
	labels := Labels(bp.Name, svc.Name)
	if routing != nil && routing.Gateway.Name != "" {
		r.URL = "http://" + r.Host + "/"
		r.HTTPRoute = httpRoute(bp, svc.Name, r, labels)
		return r
	}
	pathType := networkingv1.PathTypePrefix
	spec := networkingv1ac.IngressSpec().WithRules(networkingv1ac.IngressRule().
		WithHost(r.Host).
		WithHTTP(networkingv1ac.HTTPIngressRuleValue().WithPaths(networkingv1ac.HTTPIngressPath().
			WithPath("/").
			WithPathType(pathType).
			WithBackend(networkingv1ac.IngressBackend().WithService(networkingv1ac.IngressServiceBackend().
				WithName(svc.Name).
				WithPort(networkingv1ac.ServiceBackendPort().WithNumber(r.Port)))))))
	r.URL = "http://" + r.Host + "/"
	if routing != nil {
		if routing.IngressClassName != "" {
			spec.WithIngressClassName(routing.IngressClassName)
		}
		if routing.TLS.SecretName != "" {
			spec.WithTLS(networkingv1ac.IngressTLS().WithHosts(r.Host).WithSecretName(routing.TLS.SecretName))
			r.URL = "https://" + r.Host + "/"
		}
	}
	r.Ingress = networkingv1ac.Ingress(svc.Name, bp.Namespace).
		WithLabels(labels).
		WithOwnerReferences(OwnerReference(bp)).
		WithSpec(spec)
	return r
}

// httpRoute renders an HTTPRoute attached to the Blueprint's Gateway that
// sends every request for the host to the service's Service. It is
// unstructured: the operator does not depend on the Gateway API's Go module.
func httpRoute(bp *staxv1alpha1.Blueprint, name string, r *Route, labels map[string]string) *unstructured.Unstructured {
	gw := bp.Spec.Routing.Gateway
	parent := map[string]any{"group": "gateway.networking.k8s.io", "kind": "Gateway", "name": gw.Name}
	if gw.Namespace != "" {
		parent["namespace"] = gw.Namespace
	}
	owner := OwnerReference(bp)
	u := &unstructured.Unstructured{Object: map[string]any{
		"spec": map[string]any{
			"parentRefs": []any{parent},
			"hostnames":  []any{r.Host},
			"rules": []any{map[string]any{
				"backendRefs": []any{map[string]any{"group": "", "kind": "Service", "name": name, "port": int64(r.Port)}},
			}},
		},
	}}
	u.SetGroupVersionKind(HTTPRouteGVK)
	u.SetName(name)
	u.SetNamespace(bp.Namespace)
	u.SetLabels(labels)
	u.Object["metadata"].(map[string]any)["ownerReferences"] = []any{map[string]any{
		"apiVersion": *owner.APIVersion, "kind": *owner.Kind, "name": *owner.Name, "uid": string(*owner.UID),
		"controller": true, "blockOwnerDeletion": true,
	}}
	return u
}
