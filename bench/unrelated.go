package main

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// kubectlFieldManager is the field manager kubectl's client-side apply
// records when it creates an object.
const kubectlFieldManager = "kubectl-client-side-apply"

// unrelatedKind is one kind of object the operator renders, of which the
// memory scenario creates many the operator has nothing to do with.
type unrelatedKind struct {
	// Name is the kind, as reported; Plural its plural.
	Name, Plural string
	// Count is how many to create.
	Count int
	// make builds the i-th object, without namespace or annotation.
	make func(i int) client.Object
}

// unrelatedKinds are the rendered kinds in the order the memory scenario
// adds them, sized by cfg.
func unrelatedKinds(cfg config) []unrelatedKind {
	return []unrelatedKind{
		{Name: "Secret", Plural: "Secrets", Count: cfg.unrelatedSecrets, make: func(i int) client.Object { return unrelatedSecret(i, cfg.secretSize) }},
		{Name: "Deployment", Plural: "Deployments", Count: cfg.unrelatedDeployments, make: unrelatedDeployment},
		{Name: "Service", Plural: "Services", Count: cfg.unrelatedServices, make: unrelatedService},
		{Name: "PersistentVolumeClaim", Plural: "PersistentVolumeClaims", Count: cfg.unrelatedClaims, make: unrelatedClaim},
		{Name: "Ingress", Plural: "Ingresses", Count: cfg.unrelatedIngresses, make: unrelatedIngress},
	}
}

// appLabels are the labels a team puts on its own workload: none of the
// operator's.
func appLabels(i int) map[string]string {
	return map[string]string{
		"app.kubernetes.io/name":     fmt.Sprintf("app-%05d", i),
		"app.kubernetes.io/instance": fmt.Sprintf("app-%05d-prod", i),
		"app.kubernetes.io/part-of":  fmt.Sprintf("shop-%02d", i%37),
		"app.kubernetes.io/version":  "2.14.3",
		"team":                       fmt.Sprintf("team-%02d", i%23),
	}
}

func unrelatedSecret(i, size int) client.Object {
	return &corev1.Secret{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "Secret"},
		ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("unrelated-%05d", i), Labels: appLabels(i)},
		Type:       corev1.SecretTypeOpaque,
		Data:       map[string][]byte{"payload": []byte(randomHex(size))},
	}
}

// unrelatedDeployment is a Deployment as a team writes one: an app
// container, a sidecar and an init container, with env, ports, resources
// and probes.
func unrelatedDeployment(i int) client.Object {
	name := fmt.Sprintf("unrelated-%05d", i)
	labels := appLabels(i)
	selector := map[string]string{"app.kubernetes.io/name": labels["app.kubernetes.io/name"], "app.kubernetes.io/instance": labels["app.kubernetes.io/instance"]}
	resources := corev1.ResourceRequirements{
		Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("100m"), corev1.ResourceMemory: resource.MustParse("128Mi")},
		Limits:   corev1.ResourceList{corev1.ResourceMemory: resource.MustParse("256Mi")},
	}
	env := []corev1.EnvVar{
		{Name: "LOG_LEVEL", Value: "info"},
		{Name: "LOG_FORMAT", Value: "json"},
		{Name: "HTTP_PORT", Value: "8080"},
		{Name: "METRICS_PORT", Value: "9090"},
		{Name: "DATABASE_HOST", Value: fmt.Sprintf("db-%05d.data.svc.cluster.local", i)},
		{Name: "CACHE_URL", Value: "redis://cache.data.svc.cluster.local:6379/0"},
		{Name: "FEATURE_FLAGS", Value: "checkout-v2,search-ranking,new-header"},
		{Name: "POD_NAME", ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: "metadata.name"}}},
		{Name: "DATABASE_PASSWORD", ValueFrom: &corev1.EnvVarSource{SecretKeyRef: &corev1.SecretKeySelector{
			LocalObjectReference: corev1.LocalObjectReference{Name: name + "-db"}, Key: "password"}}},
	}
	probe := func(path string) *corev1.Probe {
		return &corev1.Probe{ProbeHandler: corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Path: path, Port: intstr.FromString("http")}}, PeriodSeconds: 10}
	}
	return &appsv1.Deployment{
		TypeMeta:   metav1.TypeMeta{APIVersion: "apps/v1", Kind: "Deployment"},
		ObjectMeta: metav1.ObjectMeta{Name: name, Labels: labels},
		Spec: appsv1.DeploymentSpec{
			Replicas: ptrTo(int32(2)),
			Selector: &metav1.LabelSelector{MatchLabels: selector},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels, Annotations: map[string]string{"prometheus.io/scrape": "true", "prometheus.io/port": "9090"}},
				Spec: corev1.PodSpec{
					ServiceAccountName: name,
					InitContainers: []corev1.Container{{
						Name: "migrate", Image: "registry.example.com/shop/app:2.14.3", Command: []string{"/app", "migrate", "--wait"},
						Env: env[4:], Resources: resources,
					}},
					Containers: []corev1.Container{
						{
							Name: "app", Image: "registry.example.com/shop/app:2.14.3", Args: []string{"serve", "--config=/etc/app/config.yaml"},
							Ports: []corev1.ContainerPort{{Name: "http", ContainerPort: 8080}, {Name: "metrics", ContainerPort: 9090}},
							Env:   env, Resources: resources,
							ReadinessProbe: probe("/readyz"), LivenessProbe: probe("/healthz"),
							VolumeMounts: []corev1.VolumeMount{{Name: "config", MountPath: "/etc/app"}},
						},
						{
							Name: "proxy", Image: "registry.example.com/platform/envoy:1.31.2", Args: []string{"--config-path", "/etc/envoy/envoy.yaml"},
							Ports:     []corev1.ContainerPort{{Name: "proxy", ContainerPort: 15001}},
							Resources: resources,
						},
					},
					Volumes: []corev1.Volume{{Name: "config", VolumeSource: corev1.VolumeSource{ConfigMap: &corev1.ConfigMapVolumeSource{LocalObjectReference: corev1.LocalObjectReference{Name: name + "-config"}}}}},
				},
			},
		},
	}
}

func unrelatedService(i int) client.Object {
	labels := appLabels(i)
	return &corev1.Service{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "Service"},
		ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("unrelated-%05d", i), Labels: labels},
		Spec: corev1.ServiceSpec{
			Selector: map[string]string{"app.kubernetes.io/name": labels["app.kubernetes.io/name"], "app.kubernetes.io/instance": labels["app.kubernetes.io/instance"]},
			Ports: []corev1.ServicePort{
				{Name: "http", Port: 80, TargetPort: intstr.FromString("http")},
				{Name: "metrics", Port: 9090, TargetPort: intstr.FromString("metrics")},
			},
		},
	}
}

func unrelatedClaim(i int) client.Object {
	return &corev1.PersistentVolumeClaim{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "PersistentVolumeClaim"},
		ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("unrelated-%05d", i), Labels: appLabels(i)},
		Spec: corev1.PersistentVolumeClaimSpec{
			AccessModes:      []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
			StorageClassName: ptrTo("standard"),
			Resources:        corev1.VolumeResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("10Gi")}},
		},
	}
}

func unrelatedIngress(i int) client.Object {
	name := fmt.Sprintf("unrelated-%05d", i)
	host := fmt.Sprintf("app-%05d.shop.example.com", i)
	path := func(p, svc string) networkingv1.HTTPIngressPath {
		return networkingv1.HTTPIngressPath{
			Path: p, PathType: ptrTo(networkingv1.PathTypePrefix),
			Backend: networkingv1.IngressBackend{Service: &networkingv1.IngressServiceBackend{Name: svc, Port: networkingv1.ServiceBackendPort{Name: "http"}}},
		}
	}
	return &networkingv1.Ingress{
		TypeMeta: metav1.TypeMeta{APIVersion: "networking.k8s.io/v1", Kind: "Ingress"},
		ObjectMeta: metav1.ObjectMeta{Name: name, Labels: appLabels(i), Annotations: map[string]string{
			"cert-manager.io/cluster-issuer":              "letsencrypt",
			"nginx.ingress.kubernetes.io/proxy-body-size": "8m",
		}},
		Spec: networkingv1.IngressSpec{
			IngressClassName: ptrTo("nginx"),
			TLS:              []networkingv1.IngressTLS{{Hosts: []string{host}, SecretName: name + "-tls"}},
			Rules: []networkingv1.IngressRule{{
				Host: host,
				IngressRuleValue: networkingv1.IngressRuleValue{HTTP: &networkingv1.HTTPIngressRuleValue{Paths: []networkingv1.HTTPIngressPath{
					path("/", name), path("/api", name+"-api"),
				}}},
			}},
		},
	}
}

// kubectlApplied gives obj kubectl's last-applied-configuration annotation,
// the JSON of the object as applied: what kubectl apply records on the
// objects it creates.
func kubectlApplied(obj client.Object) error {
	raw, err := json.Marshal(obj)
	if err != nil {
		return err
	}
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		return err
	}
	// Only what a manifest says: no status, no server-set metadata.
	delete(m, "status")
	if md, ok := m["metadata"].(map[string]any); ok {
		delete(md, "creationTimestamp")
	}
	if spec, ok := m["spec"].(map[string]any); ok {
		if t, ok := spec["template"].(map[string]any); ok {
			if md, ok := t["metadata"].(map[string]any); ok {
				delete(md, "creationTimestamp")
			}
		}
	}
	applied, err := json.Marshal(m)
	if err != nil {
		return err
	}
	annotations := obj.GetAnnotations()
	if annotations == nil {
		annotations = map[string]string{}
	}
	annotations[corev1.LastAppliedConfigAnnotation] = string(applied) + "\n"
	obj.SetAnnotations(annotations)
	return nil
}

// unrelatedPlacement puts the i-th of n objects of a kind: the first
// inBlueprintNS of them spread over the Blueprints' namespaces (a namespace
// holds other workloads too), the rest perNS to a namespace of their own.
func unrelatedPlacement(i, inBlueprintNS, perNS int, bpNS []string) string {
	if i < inBlueprintNS && len(bpNS) > 0 {
		return bpNS[i%len(bpNS)]
	}
	return fmt.Sprintf("noise-%02d", (i-inBlueprintNS)/max(perNS, 1))
}

// createUnrelated creates k.Count objects of kind k as kubectl apply does
// (with the last-applied annotation when lastApplied, field manager
// kubectl-client-side-apply). It returns the mean size of an object as sent,
// in bytes.
func createUnrelated(ctx context.Context, e *env, k unrelatedKind, bpNS []string) (int, error) {
	if k.Count == 0 {
		return 0, nil
	}
	inBP := int(float64(k.Count) * e.cfg.unrelatedInBlueprintNS)
	if len(bpNS) == 0 {
		inBP = 0
	}
	perNS := max(e.cfg.secretsPerNS, 1)
	var nss []string
	for i := 0; i*perNS < k.Count-inBP; i++ {
		nss = append(nss, fmt.Sprintf("noise-%02d", i))
	}
	if err := createNamespaces(ctx, e.c.bench, nss...); err != nil {
		return 0, err
	}
	sizes := make([]int, k.Count)
	t0 := time.Now()
	err := parallel(ctx, k.Count, e.cfg.benchWorkers, func(ctx context.Context, i int) error {
		obj := k.make(i)
		obj.SetNamespace(unrelatedPlacement(i, inBP, perNS, bpNS))
		if e.cfg.lastApplied {
			if err := kubectlApplied(obj); err != nil {
				return err
			}
		}
		raw, err := json.Marshal(obj)
		if err != nil {
			return err
		}
		sizes[i] = len(raw)
		if err := e.c.bench.Create(ctx, obj, client.FieldOwner(kubectlFieldManager)); err != nil {
			return fmt.Errorf("creating unrelated %s %s/%s: %w", k.Name, obj.GetNamespace(), obj.GetName(), err)
		}
		return nil
	})
	if err != nil {
		return 0, err
	}
	total := 0
	for _, s := range sizes {
		total += s
	}
	mean := total / k.Count
	logf("created %d unrelated %s (%d in the Blueprints' namespaces, mean %d bytes as sent) in %s", k.Count, k.Plural, inBP, mean, time.Since(t0).Round(time.Millisecond))
	return mean, nil
}

// smokeUnrelated adds the smoke sizes of the memory and peer scenarios'
// flags to smoke: about 100 objects of each kind, measured once with all.
func smokeUnrelated(cfg *config, smoke map[string]func()) {
	smoke["unrelated-deployments"] = func() { cfg.unrelatedDeployments = 100 }
	smoke["unrelated-services"] = func() { cfg.unrelatedServices = 100 }
	smoke["unrelated-claims"] = func() { cfg.unrelatedClaims = 100 }
	smoke["unrelated-ingresses"] = func() { cfg.unrelatedIngresses = 100 }
	smoke["memory-per-kind"] = func() { cfg.memoryPerKind = false }
	smoke["peer-workloads"] = func() { cfg.peerWorkloads = 10 }
	smoke["peer-secrets"] = func() { cfg.peerSecrets = 100 }
	// Reloader takes a minute and a half to build: peer runs in a smoke
	// run only when -scenarios names it.
	smoke["scenarios"] = func() {
		var kept []string
		for _, s := range strings.Split(cfg.scenarios, ",") {
			if s != "peer" {
				kept = append(kept, s)
			}
		}
		cfg.scenarios = strings.Join(kept, ",")
	}
}
