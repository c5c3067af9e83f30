package render_test

import (
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	corev1ac "k8s.io/client-go/applyconfigurations/core/v1"
	"k8s.io/utils/ptr"

	staxv1alpha1 "github.com/stax-dev/blueprint-operator/api/v1alpha1"
	"github.com/stax-dev/blueprint-operator/internal/ownership"
	"github.com/stax-dev/blueprint-operator/internal/render"
)

func stateBlueprint(svc staxv1alpha1.BlueprintService) *staxv1alpha1.Blueprint {
	return &staxv1alpha1.Blueprint{
		ObjectMeta: metav1.ObjectMeta{Name: "shop", Namespace: "ns", UID: types.UID("uid-1")},
		Spec:       staxv1alpha1.BlueprintSpec{Services: []staxv1alpha1.BlueprintService{svc}},
	}
}

func oneService(t *testing.T, bp *staxv1alpha1.Blueprint) render.Service {
	t.Helper()
	plan, errs := render.Build(bp)
	if len(errs) > 0 || len(plan.Services) != 1 {
		t.Fatalf("Build: %v, %d services", errs, len(plan.Services))
	}
	return plan.Services[0]
}

func TestBuildVolumes(t *testing.T) {
	size := resource.MustParse("5Gi")
	limit := resource.MustParse("64Mi")
	tests := map[string]struct {
		volumes      []staxv1alpha1.ServiceVolume
		wantClaims   []render.Claim
		wantVolumes  []corev1ac.VolumeApplyConfiguration
		wantMounts   []corev1ac.VolumeMountApplyConfiguration
		wantRecreate bool
	}{
		"pvc, default access mode: claim, mount, Recreate": {
			volumes:      []staxv1alpha1.ServiceVolume{{Name: "data", MountPath: "/var/lib/postgresql/data", Type: staxv1alpha1.VolumeTypePVC, Size: "5Gi", StorageClassName: "fast"}},
			wantClaims:   []render.Claim{{Service: "db", Volume: "data", Name: "shop-db-data", Size: size, StorageClassName: "fast", AccessMode: corev1.ReadWriteOnce}},
			wantVolumes:  []corev1ac.VolumeApplyConfiguration{*corev1ac.Volume().WithName("vol-data").WithPersistentVolumeClaim(corev1ac.PersistentVolumeClaimVolumeSource().WithClaimName("shop-db-data"))},
			wantMounts:   []corev1ac.VolumeMountApplyConfiguration{*corev1ac.VolumeMount().WithName("vol-data").WithMountPath("/var/lib/postgresql/data")},
			wantRecreate: true,
		},
		"pvc ReadWriteMany: rolling update": {
			volumes:     []staxv1alpha1.ServiceVolume{{Name: "shared", MountPath: "/srv", Type: staxv1alpha1.VolumeTypePVC, Size: "5Gi", AccessMode: staxv1alpha1.VolumeAccessModeReadWriteMany}},
			wantClaims:  []render.Claim{{Service: "db", Volume: "shared", Name: "shop-db-shared", Size: size, AccessMode: corev1.ReadWriteMany}},
			wantVolumes: []corev1ac.VolumeApplyConfiguration{*corev1ac.Volume().WithName("vol-shared").WithPersistentVolumeClaim(corev1ac.PersistentVolumeClaimVolumeSource().WithClaimName("shop-db-shared"))},
			wantMounts:  []corev1ac.VolumeMountApplyConfiguration{*corev1ac.VolumeMount().WithName("vol-shared").WithMountPath("/srv")},
		},
		"pvc ReadWriteOncePod: Recreate": {
			volumes:      []staxv1alpha1.ServiceVolume{{Name: "d", MountPath: "/d", Type: staxv1alpha1.VolumeTypePVC, Size: "5Gi", AccessMode: staxv1alpha1.VolumeAccessModeReadWriteOncePod}},
			wantClaims:   []render.Claim{{Service: "db", Volume: "d", Name: "shop-db-d", Size: size, AccessMode: corev1.ReadWriteOncePod}},
			wantVolumes:  []corev1ac.VolumeApplyConfiguration{*corev1ac.Volume().WithName("vol-d").WithPersistentVolumeClaim(corev1ac.PersistentVolumeClaimVolumeSource().WithClaimName("shop-db-d"))},
			wantMounts:   []corev1ac.VolumeMountApplyConfiguration{*corev1ac.VolumeMount().WithName("vol-d").WithMountPath("/d")},
			wantRecreate: true,
		},
		"emptyDir with size: sizeLimit, no claim": {
			volumes:     []staxv1alpha1.ServiceVolume{{Name: "cache", MountPath: "/cache", Type: staxv1alpha1.VolumeTypeEmptyDir, Size: "64Mi"}},
			wantVolumes: []corev1ac.VolumeApplyConfiguration{*corev1ac.Volume().WithName("vol-cache").WithEmptyDir(corev1ac.EmptyDirVolumeSource().WithSizeLimit(limit))},
			wantMounts:  []corev1ac.VolumeMountApplyConfiguration{*corev1ac.VolumeMount().WithName("vol-cache").WithMountPath("/cache")},
		},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			svc := oneService(t, stateBlueprint(staxv1alpha1.BlueprintService{Name: "db", Image: "postgres", Volumes: tt.volumes}))
			if !equality.Semantic.DeepEqual(svc.Claims, tt.wantClaims) {
				t.Errorf("claims = %+v, want %+v", svc.Claims, tt.wantClaims)
			}
			pod := podSpec(t, &svc)
			if !equality.Semantic.DeepEqual(pod.Volumes, tt.wantVolumes) {
				t.Errorf("volumes = %+v, want %+v", pod.Volumes, tt.wantVolumes)
			}
			if !equality.Semantic.DeepEqual(pod.Containers[0].VolumeMounts, tt.wantMounts) {
				t.Errorf("mounts = %+v, want %+v", pod.Containers[0].VolumeMounts, tt.wantMounts)
			}
			strategy := svc.Deployment.Spec.Strategy
			gotRecreate := strategy != nil && strategy.Type != nil && *strategy.Type == appsv1.RecreateDeploymentStrategyType
			if gotRecreate != tt.wantRecreate {
				t.Errorf("Recreate = %v, want %v", gotRecreate, tt.wantRecreate)
			}
			if !gotRecreate && (strategy == nil || *strategy.Type != appsv1.RollingUpdateDeploymentStrategyType || strategy.RollingUpdate == nil ||
				strategy.RollingUpdate.MaxSurge.String() != "25%" || strategy.RollingUpdate.MaxUnavailable.String() != "25%") {
				t.Errorf("strategy = %+v, want RollingUpdate with Kubernetes' defaults, owned", strategy)
			}
			if gotRecreate && strategy.RollingUpdate != nil {
				t.Errorf("Recreate with rollingUpdate %+v", strategy.RollingUpdate)
			}
		})
	}
}

func TestClaimOwnershipAndResize(t *testing.T) {
	bp := stateBlueprint(staxv1alpha1.BlueprintService{Name: "db", Image: "postgres"})
	c := render.Claim{Service: "db", Volume: "data", Name: "shop-db-data", Size: resource.MustParse("1Gi"), AccessMode: corev1.ReadWriteOnce}

	created := render.NewClaim(c, bp)
	if render.ClaimVerdict(created, bp) != ownership.Owned || metav1.GetControllerOf(created) == nil {
		t.Fatalf("a new claim under Delete must be controlled by the Blueprint: %+v", created.OwnerReferences)
	}
	if created.Labels[staxv1alpha1.LabelBlueprint] != "shop" || created.Labels[staxv1alpha1.LabelVolume] != "data" {
		t.Errorf("labels = %v", created.Labels)
	}
	retain := bp.DeepCopy()
	retain.Spec.DeletionPolicy = staxv1alpha1.DeletionPolicyRetain
	kept := render.NewClaim(c, retain)
	if len(kept.OwnerReferences) != 0 || kept.Annotations[staxv1alpha1.GeneratedForAnnotation] != "shop" {
		t.Fatalf("under Retain a claim has no owner and carries the marker: %+v %v", kept.OwnerReferences, kept.Annotations)
	}
	// Re-created Blueprint of the same name: a new UID adopts the orphan.
	again := retain.DeepCopy()
	again.UID = "uid-2"
	if v := render.ClaimVerdict(kept, again); v != ownership.Adoptable {
		t.Fatalf("verdict on a retained claim = %v, want Adoptable", v)
	}
	// Under Retain the orphan already carries the marker and labels:
	// adopting it changes nothing.
	if u := render.UpdateClaim(kept, c, again); u.Changed || u.Expanded || u.Shrink {
		t.Errorf("adoption of a retained claim under Retain = %+v, want no change", u)
	}
	// Switched to Delete, the adopter becomes its controller.
	again.Spec.DeletionPolicy = staxv1alpha1.DeletionPolicyDelete
	if u := render.UpdateClaim(kept, c, again); !u.Changed || !ownership.IsControlledBy(kept, "uid-2") {
		t.Errorf("adoption under Delete = %+v, owners %+v", u, kept.OwnerReferences)
	}
	foreign := &corev1.PersistentVolumeClaim{ObjectMeta: metav1.ObjectMeta{Name: c.Name}}
	if v := render.ClaimVerdict(foreign, bp); v != ownership.Foreign {
		t.Errorf("verdict on an unmarked claim = %v, want Foreign", v)
	}

	larger := c
	larger.Size = resource.MustParse("2Gi")
	u := render.UpdateClaim(created, larger, bp)
	if !u.Changed || !u.Expanded {
		t.Errorf("larger size = %+v, want an expansion", u)
	}
	if got := created.Spec.Resources.Requests[corev1.ResourceStorage]; got.Cmp(larger.Size) != 0 {
		t.Errorf("request = %s, want 2Gi", got.String())
	}
	u = render.UpdateClaim(created, c, bp)
	if u.Changed || !u.Shrink {
		t.Errorf("smaller size = %+v, want Shrink and no change", u)
	}
	if got := created.Spec.Resources.Requests[corev1.ResourceStorage]; got.Cmp(larger.Size) != 0 {
		t.Errorf("a smaller size changed the request to %s", got.String())
	}

	other := render.NewClaim(render.Claim{Service: "db", Volume: "old", Name: "shop-db-old", Size: c.Size, AccessMode: corev1.ReadWriteOnce}, bp)
	got := render.UndeclaredClaims([]corev1.PersistentVolumeClaim{*created, *other, *foreign}, []render.Claim{c}, bp)
	if len(got) != 1 || got[0] != "shop-db-old" {
		t.Errorf("undeclared = %v, want [shop-db-old]", got)
	}
}

func TestBuildRoutes(t *testing.T) {
	web := staxv1alpha1.BlueprintService{Name: "api", Image: "api", Expose: ptr.To(true),
		Ports: []staxv1alpha1.ServicePort{{ContainerPort: 8080}, {ContainerPort: 9090, Name: "metrics"}}}
	t.Run("Ingress on the first port", func(t *testing.T) {
		bp := stateBlueprint(web)
		bp.Spec.Routing = &staxv1alpha1.Routing{Domain: "example.test", IngressClassName: "nginx"}
		r := oneService(t, bp).Route
		if r == nil || r.Ingress == nil || r.HTTPRoute != nil {
			t.Fatalf("route = %+v, want an Ingress", r)
		}
		rule := r.Ingress.Spec.Rules[0]
		if *rule.Host != "api.example.test" || *rule.HTTP.Paths[0].Backend.Service.Name != "api" || *rule.HTTP.Paths[0].Backend.Service.Port.Number != 8080 {
			t.Errorf("rule = %+v", rule)
		}
		if *r.Ingress.Spec.IngressClassName != "nginx" || r.URL != "http://api.example.test/" {
			t.Errorf("class %v, url %s", r.Ingress.Spec.IngressClassName, r.URL)
		}
	})
	t.Run("exposePort, exposeHost and TLS", func(t *testing.T) {
		svc := web
		svc.ExposePort, svc.ExposeHost = 9090, "metrics.example.org"
		bp := stateBlueprint(svc)
		bp.Spec.Routing = &staxv1alpha1.Routing{TLS: staxv1alpha1.RoutingTLS{SecretName: "cert"}}
		r := oneService(t, bp).Route
		rule := r.Ingress.Spec.Rules[0]
		if *rule.Host != "metrics.example.org" || *rule.HTTP.Paths[0].Backend.Service.Port.Number != 9090 {
			t.Errorf("rule = %+v", rule)
		}
		if *r.Ingress.Spec.TLS[0].SecretName != "cert" || r.URL != "https://metrics.example.org/" {
			t.Errorf("tls %+v, url %s", r.Ingress.Spec.TLS, r.URL)
		}
	})
	t.Run("Gateway: an HTTPRoute instead", func(t *testing.T) {
		bp := stateBlueprint(web)
		bp.Spec.Routing = &staxv1alpha1.Routing{Domain: "example.test", Gateway: staxv1alpha1.GatewayRef{Name: "edge", Namespace: "infra"}}
		r := oneService(t, bp).Route
		if r.Ingress != nil || r.HTTPRoute == nil {
			t.Fatalf("route = %+v, want an HTTPRoute", r)
		}
		if r.HTTPRoute.GroupVersionKind() != render.HTTPRouteGVK || r.HTTPRoute.GetName() != "api" {
			t.Errorf("HTTPRoute %v %s", r.HTTPRoute.GroupVersionKind(), r.HTTPRoute.GetName())
		}
		spec := r.HTTPRoute.Object["spec"].(map[string]any)
		parent := spec["parentRefs"].([]any)[0].(map[string]any)
		backend := spec["rules"].([]any)[0].(map[string]any)["backendRefs"].([]any)[0].(map[string]any)
		if parent["name"] != "edge" || parent["namespace"] != "infra" || spec["hostnames"].([]any)[0] != "api.example.test" ||
			backend["name"] != "api" || backend["port"] != int64(8080) {
			t.Errorf("spec = %+v", spec)
		}
	})
	t.Run("not exposed: no route", func(t *testing.T) {
		svc := web
		svc.Expose = nil
		if r := oneService(t, stateBlueprint(svc)).Route; r != nil {
			t.Errorf("route = %+v, want none", r)
		}
	})
}

func TestBuildPlan(t *testing.T) {
	cpu, mem := resource.MustParse("1"), resource.MustParse("1Gi")
	bp := stateBlueprint(staxv1alpha1.BlueprintService{Name: "api", Image: "api", Replicas: ptr.To[int32](1)})
	bp.Spec.Plans = map[string]staxv1alpha1.Plan{"prod": {Services: map[string]staxv1alpha1.PlanService{
		"api": {Replicas: ptr.To[int32](3), Resources: &staxv1alpha1.ServiceResources{CPU: &cpu, Memory: &mem}},
	}}}
	if got := *oneService(t, bp).Deployment.Spec.Replicas; got != 1 {
		t.Errorf("without spec.plan replicas = %d, want the service's 1", got)
	}
	bp.Spec.Plan = "prod"
	svc := oneService(t, bp)
	if got := *svc.Deployment.Spec.Replicas; got != 3 {
		t.Errorf("with plan prod replicas = %d, want 3", got)
	}
	res := podSpec(t, &svc).Containers[0].Resources
	if got := (*res.Requests)[corev1.ResourceCPU]; got.Cmp(cpu) != 0 {
		t.Errorf("cpu request = %s, want 1", got.String())
	}
	if got := (*res.Limits)[corev1.ResourceMemory]; got.Cmp(mem) != 0 {
		t.Errorf("memory limit = %s, want 1Gi", got.String())
	}
	if *bp.Spec.Services[0].Replicas != 1 {
		t.Error("Effective changed the Blueprint it was given")
	}
	if got := *render.WithPlan(bp, "").Spec.Services[0].Replicas; got != 1 {
		t.Errorf("WithPlan with no name: replicas %d, want 1", got)
	}
}

func TestClaimPruneRequest(t *testing.T) {
	at := "2026-03-01T10:00:00Z"
	tests := map[string]struct {
		annotations map[string]string
		wantOK      bool
		wantAll     bool
		wantNames   []string
	}{
		"none":                      {},
		"names without a time":      {annotations: map[string]string{staxv1alpha1.PruneClaimsAnnotation: "a"}},
		"names with a bad time":     {annotations: map[string]string{staxv1alpha1.PruneClaimsAnnotation: "a", staxv1alpha1.PruneClaimsRequestedAtAnnotation: "yesterday"}},
		"only commas":               {annotations: map[string]string{staxv1alpha1.PruneClaimsAnnotation: " , ", staxv1alpha1.PruneClaimsRequestedAtAnnotation: at}},
		"names":                     {annotations: map[string]string{staxv1alpha1.PruneClaimsAnnotation: "a, b", staxv1alpha1.PruneClaimsRequestedAtAnnotation: at}, wantOK: true, wantNames: []string{"a", "b"}},
		"everything":                {annotations: map[string]string{staxv1alpha1.PruneClaimsAnnotation: "*", staxv1alpha1.PruneClaimsRequestedAtAnnotation: at}, wantOK: true, wantAll: true},
		"a name and everything too": {annotations: map[string]string{staxv1alpha1.PruneClaimsAnnotation: "a,*", staxv1alpha1.PruneClaimsRequestedAtAnnotation: at}, wantOK: true, wantAll: true, wantNames: []string{"a"}},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			req, ok := render.ParseClaimPruneRequest(tt.annotations)
			if ok != tt.wantOK || req.All != tt.wantAll || !equality.Semantic.DeepEqual(req.Names, tt.wantNames) {
				t.Errorf("got %+v, %v; want all %v, names %v, ok %v", req, ok, tt.wantAll, tt.wantNames, tt.wantOK)
			}
		})
	}

	requested, _ := render.ParseClaimPruneRequest(map[string]string{staxv1alpha1.PruneClaimsAnnotation: "*", staxv1alpha1.PruneClaimsRequestedAtAnnotation: at})
	claim := func(name, created string) corev1.PersistentVolumeClaim {
		ts, err := time.Parse(time.RFC3339, created)
		if err != nil {
			t.Fatal(err)
		}
		return corev1.PersistentVolumeClaim{ObjectMeta: metav1.ObjectMeta{Name: name, CreationTimestamp: metav1.NewTime(ts)}}
	}
	live := []corev1.PersistentVolumeClaim{
		claim("old-undeclared", "2026-02-01T00:00:00Z"),
		claim("new-undeclared", "2026-03-02T00:00:00Z"), // created after the request: a re-sync must not delete it
		claim("declared", "2026-02-01T00:00:00Z"),
	}
	got := render.ClaimsToPrune(live, []string{"old-undeclared", "new-undeclared"}, requested)
	if len(got) != 1 || got[0].Name != "old-undeclared" {
		t.Errorf("pruned %v, want only old-undeclared", got)
	}
	named := requested
	named.All, named.Names = false, []string{"declared", "new-undeclared"}
	if got := render.ClaimsToPrune(live, []string{"old-undeclared", "new-undeclared"}, named); len(got) != 0 {
		t.Errorf("pruned %v, want none: one is declared, the other newer than the request", got)
	}
}
