package controller

import (
	"context"
	"fmt"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	storagev1 "k8s.io/api/storage/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"

	staxv1alpha1 "github.com/stax-dev/blueprint-operator/api/v1alpha1"
	"github.com/stax-dev/blueprint-operator/internal/render"
	"github.com/stax-dev/blueprint-operator/internal/status"
	"github.com/stax-dev/blueprint-operator/internal/testutil"
)

// expectQuietReconcile triggers a reconcile that changes nothing it renders
// and proves it ran and sent no write at all: the claims, Ingresses and
// HTTPRoutes it compares are found up to date.
func expectQuietReconcile(ns, name string) {
	GinkgoHelper()
	writesBefore := reconcilerWrites.In(ns)
	current := getBlueprint(ns, name)
	if current.Annotations == nil {
		current.Annotations = map[string]string{}
	}
	current.Annotations["example.com/touched"] = time.Now().Format(time.RFC3339Nano)
	since := time.Now()
	Expect(k8sClient.Update(context.Background(), current)).To(Succeed())
	expectReconciled(ns, name, since, current.ResourceVersion)
	Expect(reconcilerWrites.In(ns)).To(Equal(writesBefore), "a reconcile with nothing to change wrote")
}

func getClaim(ns, name string) func(Gomega) *corev1.PersistentVolumeClaim {
	return func(g Gomega) *corev1.PersistentVolumeClaim {
		pvc := &corev1.PersistentVolumeClaim{}
		g.Expect(k8sClient.Get(context.Background(), types.NamespacedName{Namespace: ns, Name: name}, pvc)).To(Succeed())
		return pvc
	}
}

func claimGone(ns, name string) func() error {
	return func() error {
		return k8sClient.Get(context.Background(), types.NamespacedName{Namespace: ns, Name: name}, &corev1.PersistentVolumeClaim{})
	}
}

// expandableClass is a StorageClass that allows expansion, created once.
func expandableClass() string {
	const name = "blueprint-expandable"
	sc := &storagev1.StorageClass{
		ObjectMeta:           metav1.ObjectMeta{Name: name},
		Provisioner:          "example.com/none",
		AllowVolumeExpansion: ptr.To(true),
	}
	if err := k8sClient.Create(context.Background(), sc); err != nil && !apierrors.IsAlreadyExists(err) {
		Expect(err).NotTo(HaveOccurred())
	}
	return name
}

// bindClaim plays the persistent volume binder, which envtest does not run:
// the API server lets a claim grow only once it is bound.
func bindClaim(ns, name string) {
	Eventually(func(g Gomega) error {
		pvc := getClaim(ns, name)(g)
		pvc.Status.Phase = corev1.ClaimBound
		pvc.Status.Capacity = pvc.Spec.Resources.Requests
		return k8sClient.Status().Update(context.Background(), pvc)
	}, timeout, interval).Should(Succeed())
}

func dbWithVolume(ns, name string, policy staxv1alpha1.DeletionPolicy, class string) *staxv1alpha1.Blueprint {
	return &staxv1alpha1.Blueprint{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns},
		Spec: staxv1alpha1.BlueprintSpec{
			DeletionPolicy: policy,
			Services: []staxv1alpha1.BlueprintService{{
				Name: "db", Image: "postgres:16-alpine", Replicas: ptr.To[int32](1),
				SecurityContext: &staxv1alpha1.ServiceSecurityContext{RunAsUser: ptr.To[int64](999), FSGroup: ptr.To[int64](999)},
				Volumes: []staxv1alpha1.ServiceVolume{{
					Name: "data", MountPath: "/var/lib/postgresql/data", Type: staxv1alpha1.VolumeTypePVC,
					Size: "1Gi", StorageClassName: class,
				}},
			}},
		},
	}
}

var _ = Describe("Volumes", func() {
	ctx := context.Background()
	var ns string
	BeforeEach(func() { ns = newNamespace() })

	It("creates the claim with its size and class, mounts it, rolls out with Recreate, expands it, and under Delete it goes with the Blueprint", func() {
		class := expandableClass()
		bp := dbWithVolume(ns, "shop", staxv1alpha1.DeletionPolicyDelete, class)
		Expect(k8sClient.Create(ctx, bp)).To(Succeed())
		claim := getClaim(ns, "shop-db-data")
		Eventually(claim, timeout, interval).ShouldNot(BeNil())
		pvc := claim(Default)
		Expect(pvc.Spec.Resources.Requests).To(HaveKeyWithValue(corev1.ResourceStorage, resource.MustParse("1Gi")))
		Expect(pvc.Spec.StorageClassName).To(HaveValue(Equal(class)))
		Expect(pvc.Spec.AccessModes).To(Equal([]corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce}))
		Expect(pvc.Labels).To(HaveKeyWithValue(staxv1alpha1.LabelBlueprint, "shop"))
		Expect(pvc.Labels).To(HaveKeyWithValue(staxv1alpha1.LabelVolume, "data"))
		Expect(testutil.ControllerUID(pvc)).To(Equal(getBlueprint(ns, "shop").UID))

		Eventually(getDeployment(ns, "db"), timeout, interval).ShouldNot(BeNil())
		dep := getDeployment(ns, "db")(Default)
		Expect(dep.Spec.Strategy.Type).To(Equal(appsv1.RecreateDeploymentStrategyType))
		pod := dep.Spec.Template.Spec
		Expect(pod.Volumes).To(ContainElement(And(
			HaveField("Name", "vol-data"),
			HaveField("PersistentVolumeClaim.ClaimName", "shop-db-data"))))
		Expect(pod.Containers[0].VolumeMounts).To(ContainElement(And(
			HaveField("Name", "vol-data"), HaveField("MountPath", "/var/lib/postgresql/data"))))
		Expect(pod.SecurityContext.FSGroup).To(HaveValue(BeEquivalentTo(999)))
		rollOut(ns, bp.Name)

		By("requesting expansion of the bound claim when size grows")
		bindClaim(ns, "shop-db-data")
		updateBlueprint(ns, bp.Name, func(b *staxv1alpha1.Blueprint) {
			b.Spec.Services[0].Volumes[0].Size = "2Gi"
		})
		Eventually(func(g Gomega) resource.Quantity {
			return claim(g).Spec.Resources.Requests[corev1.ResourceStorage]
		}, timeout, interval).Should(Equal(resource.MustParse("2Gi")))
		Eventually(eventNotesOf(ns, "Expanded"), timeout, interval).Should(ConsistOf(
			"requested expansion of PersistentVolumeClaim shop-db-data to 2Gi"))

		By("refusing a smaller size at admission")
		// A status write between read and update is a conflict: read again.
		var err error
		Eventually(func() bool {
			b := getBlueprint(ns, bp.Name)
			b.Spec.Services[0].Volumes[0].Size = "1Gi"
			err = k8sClient.Update(ctx, b)
			return apierrors.IsConflict(err)
		}, timeout, interval).Should(BeFalse())
		Expect(err).To(HaveOccurred())
		Expect(apierrors.IsInvalid(err)).To(BeTrue(), "%v", err)
		Expect(err.Error()).To(ContainSubstring("spec.services[0].volumes[0].size"))
		Expect(err.Error()).To(ContainSubstring("size of a pvc volume cannot shrink"))

		By("refusing a change of class at admission")
		Eventually(func() bool {
			b := getBlueprint(ns, bp.Name)
			b.Spec.Services[0].Volumes[0].StorageClassName = "other"
			err = k8sClient.Update(ctx, b)
			return apierrors.IsConflict(err)
		}, timeout, interval).Should(BeFalse())
		Expect(apierrors.IsInvalid(err)).To(BeTrue(), "%v", err)
		Expect(err.Error()).To(ContainSubstring("storageClassName and accessMode of a volume cannot change"))

		By("going with the Blueprint, through the garbage collector")
		Expect(k8sClient.Delete(ctx, getBlueprint(ns, bp.Name))).To(Succeed())
		Eventually(claimGone(ns, "shop-db-data"), timeout, interval).Should(Satisfy(apierrors.IsNotFound))
	})

	It("under Retain keeps the claim across delete and re-create, adopted unchanged; keeps it when the volume is removed, until pruned", func() {
		bp := dbWithVolume(ns, "kept", staxv1alpha1.DeletionPolicyRetain, "")
		Expect(k8sClient.Create(ctx, bp.DeepCopy())).To(Succeed())
		claim := getClaim(ns, "kept-db-data")
		Eventually(claim, timeout, interval).ShouldNot(BeNil())
		first := claim(Default)
		Expect(first.OwnerReferences).To(BeEmpty(), "a retained claim has no owner to be collected with")
		Expect(first.Annotations).To(HaveKeyWithValue(staxv1alpha1.GeneratedForAnnotation, "kept"))
		rollOut(ns, bp.Name)

		By("surviving the deletion of its Blueprint")
		Expect(k8sClient.Delete(ctx, getBlueprint(ns, bp.Name))).To(Succeed())
		Eventually(func() error {
			return k8sClient.Get(ctx, types.NamespacedName{Namespace: ns, Name: "db"}, &appsv1.Deployment{})
		}, timeout, interval).Should(Satisfy(apierrors.IsNotFound), "the garbage collector runs and collects the Deployment")
		Expect(claim(Default).UID).To(Equal(first.UID))
		Expect(claim(Default).DeletionTimestamp).To(BeNil())

		By("being adopted, unchanged, by a Blueprint of the same name")
		Expect(k8sClient.Create(ctx, bp.DeepCopy())).To(Succeed())
		rollOut(ns, bp.Name)
		adopted := claim(Default)
		Expect(adopted.UID).To(Equal(first.UID))
		Expect(adopted.Spec).To(Equal(first.Spec))
		Expect(adopted.OwnerReferences).To(BeEmpty())
		Expect(getDeployment(ns, "db")(Default).Spec.Template.Spec.Volumes).To(ContainElement(HaveField("PersistentVolumeClaim.ClaimName", "kept-db-data")))
		expectQuietReconcile(ns, bp.Name)

		By("keeping the claim when the volume is removed from the spec, and listing it")
		updateBlueprint(ns, bp.Name, func(b *staxv1alpha1.Blueprint) { b.Spec.Services[0].Volumes = nil })
		Eventually(func(g Gomega) []string {
			b := fetchBlueprint(g, ns, bp.Name)
			g.Expect(b.Status.ObservedGeneration).To(HaveValue(Equal(b.Generation)))
			return b.Status.UndeclaredClaims
		}, timeout, interval).Should(Equal([]string{"kept-db-data"}))
		Eventually(func(g Gomega) []corev1.Volume { return getDeployment(ns, "db")(g).Spec.Template.Spec.Volumes }, timeout, interval).
			ShouldNot(ContainElement(HaveField("Name", "vol-data")))
		Expect(claim(Default).UID).To(Equal(first.UID))
		Expect(claim(Default).DeletionTimestamp).To(BeNil())

		By("deleting it on an explicit prune request")
		updateBlueprint(ns, bp.Name, func(b *staxv1alpha1.Blueprint) {
			b.Annotations = map[string]string{
				staxv1alpha1.PruneClaimsAnnotation:            staxv1alpha1.PruneAllValue,
				staxv1alpha1.PruneClaimsRequestedAtAnnotation: time.Now().Add(time.Second).UTC().Format(time.RFC3339),
			}
		})
		Eventually(claimGone(ns, "kept-db-data"), timeout, interval).Should(Satisfy(apierrors.IsNotFound))
		Eventually(func(g Gomega) []string { return fetchBlueprint(g, ns, bp.Name).Status.UndeclaredClaims }, timeout, interval).Should(BeEmpty())
		Eventually(eventNotesOf(ns, "Pruned"), timeout, interval).Should(ConsistOf(
			"deleted PersistentVolumeClaim kept-db-data, no longer declared, as stax.dev/prune-claims requested"))
	})

	It("under Delete keeps the claim of a removed service while the Blueprint lives, and lists it", func() {
		bp := dbWithVolume(ns, "gone", staxv1alpha1.DeletionPolicyDelete, "")
		bp.Spec.Services = append(bp.Spec.Services, staxv1alpha1.BlueprintService{Name: "web", Image: "nginx:1.27"})
		Expect(k8sClient.Create(ctx, bp)).To(Succeed())
		claim := getClaim(ns, "gone-db-data")
		Eventually(claim, timeout, interval).ShouldNot(BeNil())
		first := claim(Default)
		Expect(first.OwnerReferences).To(ContainElement(HaveField("Name", "gone")), "under Delete the Blueprint controls its claim")

		By("removing the whole service that declares the volume")
		updateBlueprint(ns, bp.Name, func(b *staxv1alpha1.Blueprint) { b.Spec.Services = b.Spec.Services[1:] })
		// The removal was acted on: the service's Deployment is deleted and
		// the claim is listed as undeclared.
		Eventually(func() error {
			return k8sClient.Get(ctx, types.NamespacedName{Namespace: ns, Name: "db"}, &appsv1.Deployment{})
		}, timeout, interval).Should(Satisfy(apierrors.IsNotFound))
		Eventually(func(g Gomega) []string {
			b := fetchBlueprint(g, ns, bp.Name)
			g.Expect(b.Status.ObservedGeneration).To(HaveValue(Equal(b.Generation)))
			return b.Status.UndeclaredClaims
		}, timeout, interval).Should(Equal([]string{"gone-db-data"}))
		Consistently(func(g Gomega) {
			c := claim(g)
			g.Expect(c).NotTo(BeNil())
			g.Expect(c.UID).To(Equal(first.UID))
			g.Expect(c.DeletionTimestamp).To(BeNil())
		}, quietly, interval).Should(Succeed())
	})

	It("leaves a foreign claim of the same name untouched and reports a Conflict", func() {
		foreign := &corev1.PersistentVolumeClaim{
			ObjectMeta: metav1.ObjectMeta{Name: "taken-db-data", Namespace: ns},
			Spec: corev1.PersistentVolumeClaimSpec{
				AccessModes: []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
				Resources:   corev1.VolumeResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("5Gi")}},
			},
		}
		Expect(k8sClient.Create(ctx, foreign)).To(Succeed())
		Expect(k8sClient.Create(ctx, dbWithVolume(ns, "taken", staxv1alpha1.DeletionPolicyDelete, ""))).To(Succeed())
		Eventually(readyCondition(ns, "taken"), timeout, interval).Should(And(
			haveReason(metav1.ConditionFalse, staxv1alpha1.ReasonConflict),
			HaveField("Message", ContainSubstring("PersistentVolumeClaim taken-db-data exists and is not controlled by this Blueprint"))))
		live := getClaim(ns, "taken-db-data")(Default)
		Expect(live.OwnerReferences).To(BeEmpty())
		Expect(live.Annotations).NotTo(HaveKey(staxv1alpha1.GeneratedForAnnotation))
		Expect(live.Spec.Resources.Requests).To(HaveKeyWithValue(corev1.ResourceStorage, resource.MustParse("5Gi")))
		Expect(k8sClient.Get(ctx, types.NamespacedName{Namespace: ns, Name: "db"}, &appsv1.Deployment{})).To(Satisfy(apierrors.IsNotFound),
			"the service that would mount it is held back")
	})
})

func exposedBlueprint(ns, name string) *staxv1alpha1.Blueprint {
	return &staxv1alpha1.Blueprint{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns},
		Spec: staxv1alpha1.BlueprintSpec{
			Routing: &staxv1alpha1.Routing{Domain: "shop.example.test", IngressClassName: "nginx"},
			Services: []staxv1alpha1.BlueprintService{{
				Name: "api", Image: "ghcr.io/example/api:1.0", Expose: ptr.To(true),
				Ports: []staxv1alpha1.ServicePort{{ContainerPort: 8080}, {Name: "metrics", ContainerPort: 9090}},
			}},
		},
	}
}

func getHTTPRoute(ns, name string) func(Gomega) *unstructured.Unstructured {
	return func(g Gomega) *unstructured.Unstructured {
		u := &unstructured.Unstructured{}
		u.SetGroupVersionKind(render.HTTPRouteGVK)
		g.Expect(k8sClient.Get(context.Background(), types.NamespacedName{Namespace: ns, Name: name}, u)).To(Succeed())
		return u
	}
}

var _ = Describe("Status lists past the API's bounds", func() {
	It("lists as many undeclared claims as status.undeclaredClaims holds, says how many there are, and keeps status current", func(ctx SpecContext) {
		ns := newNamespace()
		bp := &staxv1alpha1.Blueprint{
			ObjectMeta: metav1.ObjectMeta{Name: "many", Namespace: ns},
			Spec: staxv1alpha1.BlueprintSpec{Services: []staxv1alpha1.BlueprintService{{
				Name: "db", Image: "postgres:16-alpine", Ports: []staxv1alpha1.ServicePort{{ContainerPort: 5432}},
			}}},
		}
		Expect(k8sClient.Create(ctx, bp)).To(Succeed())
		rollOut(ns, bp.Name)

		By("owning one claim more than the list holds, none of them declared")
		n := status.MaxUndeclaredClaims + 1
		for i := range n {
			volume := fmt.Sprintf("v%03d", i)
			pvc := &corev1.PersistentVolumeClaim{
				ObjectMeta: metav1.ObjectMeta{
					Name: render.ClaimName(bp.Name, "db", volume), Namespace: ns,
					Labels: render.ClaimLabels(bp.Name, "db", volume),
					OwnerReferences: []metav1.OwnerReference{{
						APIVersion: staxv1alpha1.GroupVersion.String(), Kind: "Blueprint", Name: bp.Name, UID: bp.UID,
						Controller: ptr.To(true), BlockOwnerDeletion: ptr.To(true),
					}},
				},
				Spec: corev1.PersistentVolumeClaimSpec{
					AccessModes: []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
					Resources:   corev1.VolumeResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("1Gi")}},
				},
			}
			Expect(k8sClient.Create(ctx, pvc)).To(Succeed())
		}

		By("still writing status for a new generation, with the first claims by name and the count")
		updateBlueprint(ns, bp.Name, func(b *staxv1alpha1.Blueprint) { b.Spec.Description = "many claims" })
		Eventually(func(g Gomega) {
			b := fetchBlueprint(g, ns, bp.Name)
			g.Expect(b.Status.ObservedGeneration).To(HaveValue(Equal(b.Generation)))
			g.Expect(b.Status.UndeclaredClaims).To(HaveLen(status.MaxUndeclaredClaims))
			g.Expect(b.Status.UndeclaredClaims).To(HaveEach(HavePrefix("many-db-v")))
			g.Expect(b.Status.UndeclaredClaims).NotTo(ContainElement(render.ClaimName(bp.Name, "db", fmt.Sprintf("v%03d", n-1))))
			g.Expect(readyCondition(ns, bp.Name)(g)).To(And(haveReason(metav1.ConditionTrue, "Available"),
				HaveField("Message", ContainSubstring("status.undeclaredClaims lists %d of %d undeclared claims", status.MaxUndeclaredClaims, n))))
		}, timeout, interval).Should(Succeed())
	})
})

var _ = Describe("Expose", func() {
	ctx := context.Background()
	var ns string
	BeforeEach(func() { ns = newNamespace() })

	It("routes SERVICE.DOMAIN to the Service through an Ingress, Ready without an Ingress controller, and deletes it when no longer exposed", func() {
		bp := exposedBlueprint(ns, "web")
		Expect(k8sClient.Create(ctx, bp)).To(Succeed())
		ing := &networkingv1.Ingress{}
		Eventually(func() error { return k8sClient.Get(ctx, types.NamespacedName{Namespace: ns, Name: "api"}, ing) }, timeout, interval).Should(Succeed())
		Expect(ing.Spec.IngressClassName).To(HaveValue(Equal("nginx")))
		Expect(ing.Spec.Rules).To(HaveLen(1))
		rule := ing.Spec.Rules[0]
		Expect(rule.Host).To(Equal("api.shop.example.test"))
		Expect(rule.HTTP.Paths).To(HaveLen(1))
		Expect(rule.HTTP.Paths[0].Path).To(Equal("/"))
		Expect(rule.HTTP.Paths[0].Backend.Service.Name).To(Equal("api"))
		Expect(rule.HTTP.Paths[0].Backend.Service.Port.Number).To(BeEquivalentTo(8080))
		Expect(testutil.ControllerUID(ing)).To(Equal(getBlueprint(ns, bp.Name).UID))
		svc := &corev1.Service{}
		Expect(k8sClient.Get(ctx, types.NamespacedName{Namespace: ns, Name: "api"}, svc)).To(Succeed())
		Expect(svc.Spec.Ports).To(ContainElement(HaveField("Port", BeEquivalentTo(8080))), "the backend is a port of the Service")
		rollOut(ns, bp.Name)
		Expect(getBlueprint(ns, bp.Name).Status.Services[0].URL).To(Equal("http://api.shop.example.test/"))
		expectQuietReconcile(ns, bp.Name)

		By("deleting the Ingress once the service is no longer exposed")
		updateBlueprint(ns, bp.Name, func(b *staxv1alpha1.Blueprint) { b.Spec.Services[0].Expose = nil })
		Eventually(func() error {
			return k8sClient.Get(ctx, types.NamespacedName{Namespace: ns, Name: "api"}, &networkingv1.Ingress{})
		}, timeout, interval).
			Should(Satisfy(apierrors.IsNotFound))
		Eventually(func(g Gomega) string { return fetchBlueprint(g, ns, bp.Name).Status.Services[0].URL }, timeout, interval).Should(BeEmpty())
	})

	It("with spec.routing.gateway routes SERVICE.DOMAIN to the Service through an HTTPRoute, and no Ingress", func() {
		bp := exposedBlueprint(ns, "gw")
		bp.Spec.Routing.Gateway = staxv1alpha1.GatewayRef{Name: "edge", Namespace: "infra"}
		bp.Spec.Services[0].ExposePort = 9090
		Expect(k8sClient.Create(ctx, bp)).To(Succeed())
		route := getHTTPRoute(ns, "api")
		Eventually(route, timeout, interval).ShouldNot(BeNil())
		r := route(Default)
		hostnames, _, _ := unstructured.NestedStringSlice(r.Object, "spec", "hostnames")
		Expect(hostnames).To(Equal([]string{"api.shop.example.test"}))
		parents, _, _ := unstructured.NestedSlice(r.Object, "spec", "parentRefs")
		Expect(parents).To(HaveLen(1))
		Expect(parents[0]).To(And(HaveKeyWithValue("name", "edge"), HaveKeyWithValue("namespace", "infra")))
		rules, _, _ := unstructured.NestedSlice(r.Object, "spec", "rules")
		Expect(rules).To(HaveLen(1))
		backends, _, _ := unstructured.NestedSlice(rules[0].(map[string]any), "backendRefs")
		Expect(backends).To(HaveLen(1))
		Expect(backends[0]).To(And(HaveKeyWithValue("name", "api"), HaveKeyWithValue("port", BeEquivalentTo(9090))))
		Expect(testutil.ControllerUID(r)).To(Equal(getBlueprint(ns, bp.Name).UID))
		rollOut(ns, bp.Name)
		Expect(getBlueprint(ns, bp.Name).Status.Services[0].URL).To(Equal("http://api.shop.example.test/"))
		Expect(k8sClient.Get(ctx, types.NamespacedName{Namespace: ns, Name: "api"}, &networkingv1.Ingress{})).To(Satisfy(apierrors.IsNotFound))
		expectQuietReconcile(ns, bp.Name)

		By("switching to an Ingress: the HTTPRoute goes")
		updateBlueprint(ns, bp.Name, func(b *staxv1alpha1.Blueprint) { b.Spec.Routing.Gateway = staxv1alpha1.GatewayRef{} })
		Eventually(func() error {
			return k8sClient.Get(ctx, types.NamespacedName{Namespace: ns, Name: "api"}, &networkingv1.Ingress{})
		}, timeout, interval).Should(Succeed())
		Eventually(func() error {
			u := &unstructured.Unstructured{}
			u.SetGroupVersionKind(render.HTTPRouteGVK)
			return k8sClient.Get(ctx, types.NamespacedName{Namespace: ns, Name: "api"}, u)
		}, timeout, interval).Should(Satisfy(apierrors.IsNotFound))
	})
})

var _ = Describe("Plans", func() {
	ctx := context.Background()

	It("applies the selected plan's replicas and resources over the service's own", func() {
		ns := newNamespace()
		cpu, mem := resource.MustParse("500m"), resource.MustParse("512Mi")
		bp := &staxv1alpha1.Blueprint{
			ObjectMeta: metav1.ObjectMeta{Name: "planned", Namespace: ns},
			Spec: staxv1alpha1.BlueprintSpec{
				Services: []staxv1alpha1.BlueprintService{{Name: "api", Image: "ghcr.io/example/api:1.0", Replicas: ptr.To[int32](1)}},
				Plans: map[string]staxv1alpha1.Plan{"prod": {Services: map[string]staxv1alpha1.PlanService{
					"api": {Replicas: ptr.To[int32](3), Resources: &staxv1alpha1.ServiceResources{CPU: &cpu, Memory: &mem}},
				}}},
			},
		}
		Expect(k8sClient.Create(ctx, bp)).To(Succeed())
		rollOut(ns, bp.Name)
		Expect(getDeployment(ns, "api")(Default).Spec.Replicas).To(HaveValue(BeEquivalentTo(1)))
		Expect(getDeployment(ns, "api")(Default).Spec.Template.Spec.Containers[0].Resources.Requests).To(BeEmpty())

		updateBlueprint(ns, bp.Name, func(b *staxv1alpha1.Blueprint) { b.Spec.Plan = "prod" })
		Eventually(func(g Gomega) *int32 { return getDeployment(ns, "api")(g).Spec.Replicas }, timeout, interval).Should(HaveValue(BeEquivalentTo(3)))
		res := getDeployment(ns, "api")(Default).Spec.Template.Spec.Containers[0].Resources
		Expect(res.Requests).To(HaveKeyWithValue(corev1.ResourceCPU, cpu))
		Expect(res.Requests).To(HaveKeyWithValue(corev1.ResourceMemory, mem))
		Expect(res.Limits).To(HaveKeyWithValue(corev1.ResourceMemory, mem))
		rollOut(ns, bp.Name)
		Expect(getBlueprint(ns, bp.Name).Status.Services[0].DesiredReplicas).To(HaveValue(BeEquivalentTo(3)))
	})
})

var _ = Describe("Adding a volume to a running service", func() {
	It("switches its Deployment from the default RollingUpdate to Recreate", func(ctx SpecContext) {
		ns := newNamespace()
		bp := dbWithVolume(ns, "later", staxv1alpha1.DeletionPolicyDelete, "")
		volumes := bp.Spec.Services[0].Volumes
		bp.Spec.Services[0].Volumes = nil
		Expect(k8sClient.Create(ctx, bp)).To(Succeed())
		Eventually(func(g Gomega) appsv1.DeploymentStrategyType { return getDeployment(ns, "db")(g).Spec.Strategy.Type }, timeout, interval).
			Should(Equal(appsv1.RollingUpdateDeploymentStrategyType))
		updateBlueprint(ns, bp.Name, func(b *staxv1alpha1.Blueprint) { b.Spec.Services[0].Volumes = volumes })
		Eventually(func(g Gomega) appsv1.DeploymentStrategyType { return getDeployment(ns, "db")(g).Spec.Strategy.Type }, timeout, interval).
			Should(Equal(appsv1.RecreateDeploymentStrategyType))
		Expect(getDeployment(ns, "db")(Default).Spec.Strategy.RollingUpdate).To(BeNil())
		rollOut(ns, bp.Name)
	})
})
