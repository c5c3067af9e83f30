package controller

import (
	"context"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/interceptor"

	staxv1alpha1 "github.com/stax-dev/blueprint-operator/api/v1alpha1"
	"github.com/stax-dev/blueprint-operator/internal/render"
)

// managersOf lists obj's managedFields entries of FieldOwner as
// "operation" strings, e.g. ["Update"] after a create, ["Apply"] after the
// create was folded into an apply.
func managersOf(obj client.Object) []string {
	var out []string
	for _, e := range obj.GetManagedFields() {
		if e.Manager == FieldOwner && e.Subresource == "" {
			out = append(out, string(e.Operation))
		}
	}
	return out
}

// asCreatedByCreate rewrites obj's managedFields as a plain Create by an
// earlier operator recorded them: our entry with operation Update. Objects
// created before the operator created by apply still carry such an entry.
func asCreatedByCreate(obj client.Object) {
	GinkgoHelper()
	Eventually(func(g Gomega) {
		g.Expect(k8sClient.Get(context.Background(), client.ObjectKeyFromObject(obj), obj)).To(Succeed())
		fields := obj.GetManagedFields()
		for i := range fields {
			if fields[i].Manager == FieldOwner && fields[i].Subresource == "" {
				fields[i].Operation = metav1.ManagedFieldsOperationUpdate
			}
		}
		obj.SetManagedFields(fields)
		g.Expect(k8sClient.Update(context.Background(), obj, client.FieldOwner("old-operator-test"))).To(Succeed())
	}, timeout, interval).Should(Succeed())
	Expect(managersOf(obj)).To(Equal([]string{"Update"}), "%T", obj)
	// The fold is decided on the cached object: wait until the cache shows it.
	Eventually(func(g Gomega) []string {
		cached := obj.DeepCopyObject().(client.Object)
		g.Expect(managerCache.Get(context.Background(), client.ObjectKeyFromObject(obj), cached)).To(Succeed())
		return managersOf(cached)
	}, timeout, interval).Should(Equal([]string{"Update"}), "%T in the manager's cache", obj)
}

var _ = Describe("An apply carrying the createOnly resourceVersion", func() {
	It("creates an absent object and is refused with a conflict on an existing one, whatever its fields", func(ctx SpecContext) {
		ns := newNamespace()
		apply := func(data string) error {
			cm := &unstructured.Unstructured{Object: map[string]any{"data": map[string]any{"k": data}}}
			cm.SetAPIVersion("v1")
			cm.SetKind("ConfigMap")
			cm.SetNamespace(ns)
			cm.SetName("only-once")
			cm.SetResourceVersion(createOnly)
			return k8sClient.Apply(ctx, client.ApplyConfigurationFromUnstructured(cm), client.FieldOwner(FieldOwner))
		}
		Expect(apply("first")).To(Succeed())
		got := &corev1.ConfigMap{}
		Expect(k8sClient.Get(ctx, types.NamespacedName{Namespace: ns, Name: "only-once"}, got)).To(Succeed())
		Expect(got.Data).To(Equal(map[string]string{"k": "first"}))
		Expect(managersOf(got)).To(Equal([]string{"Apply"}))
		for _, data := range []string{"first", "second"} {
			err := apply(data)
			Expect(apierrors.IsConflict(err)).To(BeTrue(), "applying %q again: %v", data, err)
		}
		Expect(k8sClient.Get(ctx, types.NamespacedName{Namespace: ns, Name: "only-once"}, got)).To(Succeed())
		Expect(got.Data).To(Equal(map[string]string{"k": "first"}))
	})
})

var _ = Describe("Objects the operator renders, created by apply and changed by apply", func() {
	ctx := context.Background()
	var ns string
	BeforeEach(func() { ns = newNamespace() })

	get := func(obj client.Object) func(Gomega) client.Object {
		return func(g Gomega) client.Object {
			g.Expect(k8sClient.Get(ctx, types.NamespacedName{Namespace: ns, Name: "api"}, obj)).To(Succeed())
			return obj
		}
	}

	// dropFields creates a Blueprint rendering an env var, a port and an
	// ingress class, lets mutate rewrite what it created, then stops
	// rendering all three and checks they are gone from the objects.
	dropFields := func(mutate func(objs ...client.Object)) (dep *appsv1.Deployment, svc *corev1.Service, ing *networkingv1.Ingress, writes int64) {
		bp := exposedBlueprint(ns, "shop")
		bp.Spec.Services[0].Env = map[string]staxv1alpha1.EnvValue{"KEEP": "1", "DROP": "2"}
		Expect(k8sClient.Create(ctx, bp)).To(Succeed())
		dep, svc, ing = &appsv1.Deployment{}, &corev1.Service{}, &networkingv1.Ingress{}
		Eventually(get(ing), timeout, interval).ShouldNot(BeNil())
		Expect(get(dep)(Default)).NotTo(BeNil())
		Expect(get(svc)(Default)).NotTo(BeNil())
		Expect(dep.Spec.Template.Spec.Containers[0].Env).To(ContainElement(HaveField("Name", "DROP")))
		Expect(svc.Spec.Ports).To(ContainElement(HaveField("Name", "metrics")))
		Expect(ing.Spec.IngressClassName).To(HaveValue(Equal("nginx")))
		rollOut(ns, bp.Name)
		mutate(dep, svc, ing)
		expectQuietReconcile(ns, bp.Name)

		By("no longer rendering an env var, a port and the ingress class")
		before := reconcilerWrites.In(ns) - reconcilerStatusWrites.In(ns)
		updateBlueprint(ns, bp.Name, func(b *staxv1alpha1.Blueprint) {
			delete(b.Spec.Services[0].Env, "DROP")
			b.Spec.Services[0].Ports = b.Spec.Services[0].Ports[:1]
			b.Spec.Routing.IngressClassName = ""
		})
		Eventually(func(g Gomega) []corev1.EnvVar {
			return get(dep)(g).(*appsv1.Deployment).Spec.Template.Spec.Containers[0].Env
		}, timeout, interval).ShouldNot(ContainElement(HaveField("Name", "DROP")))
		Expect(dep.Spec.Template.Spec.Containers[0].Env).To(ContainElement(HaveField("Name", "KEEP")))
		Eventually(func(g Gomega) []corev1.ServicePort {
			return get(svc)(g).(*corev1.Service).Spec.Ports
		}, timeout, interval).Should(ConsistOf(HaveField("Port", BeEquivalentTo(8080))))
		Eventually(func(g Gomega) *string {
			return get(ing)(g).(*networkingv1.Ingress).Spec.IngressClassName
		}, timeout, interval).Should(BeNil())
		rollOut(ns, bp.Name)
		expectQuietReconcile(ns, bp.Name)
		writes = reconcilerWrites.In(ns) - reconcilerStatusWrites.In(ns) - before
		By("our entry is one Apply entry, and other managers' entries are kept")
		Expect(dep.GetManagedFields()).To(ContainElement(And(
			HaveField("Manager", Not(Equal(FieldOwner))), HaveField("Subresource", "status"))),
			"the Deployment controller stand-in's status entry")
		for _, obj := range []client.Object{dep, svc, ing} {
			Expect(managersOf(obj)).To(Equal([]string{"Apply"}), "%T", obj)
			Expect(obj.GetAnnotations()).To(HaveKeyWithValue(staxv1alpha1.RenderedFingerprintAnnotation, HavePrefix("sha256:")), "%T", obj)
		}
		return dep, svc, ing, writes
	}

	It("record what they create under an Apply entry, so the first change is one apply per object and drops the fields no longer rendered", func() {
		_, _, _, writes := dropFields(func(objs ...client.Object) {
			By("each was created by a server-side apply: its fields are recorded under an Apply entry of our field manager")
			for _, obj := range objs {
				Expect(managersOf(obj)).To(Equal([]string{"Apply"}), "%T", obj)
				Expect(obj.GetAnnotations()).To(HaveKeyWithValue(staxv1alpha1.RenderedFingerprintAnnotation, HavePrefix("sha256:")), "%T", obj)
			}
		})
		Expect(writes).To(BeEquivalentTo(3), "one apply each to the Deployment, the Service and the Ingress, and nothing else but status")
	})

	It("fold the Update entry an earlier operator's plain Create recorded before the first change", func() {
		_, _, _, writes := dropFields(func(objs ...client.Object) {
			for _, obj := range objs {
				asCreatedByCreate(obj)
			}
		})
		Expect(writes).To(BeEquivalentTo(6), "a fold and an apply each")
	})

	It("apply an HTTPRoute it created once what it renders changes", func() {
		bp := exposedBlueprint(ns, "gw")
		bp.Spec.Routing.Gateway = staxv1alpha1.GatewayRef{Name: "edge", Namespace: "infra"}
		bp.Spec.Services[0].ExposePort = 9090
		Expect(k8sClient.Create(ctx, bp)).To(Succeed())
		route := getHTTPRoute(ns, "api")
		Eventually(route, timeout, interval).ShouldNot(BeNil())
		Expect(managersOf(route(Default))).To(Equal([]string{"Apply"}))
		rollOut(ns, bp.Name)
		expectQuietReconcile(ns, bp.Name)

		updateBlueprint(ns, bp.Name, func(b *staxv1alpha1.Blueprint) { b.Spec.Services[0].ExposePort = 8080 })
		backendPort := func(g Gomega) any {
			rules, _, _ := unstructured.NestedSlice(route(g).Object, "spec", "rules")
			g.Expect(rules).To(HaveLen(1))
			backends, _, _ := unstructured.NestedSlice(rules[0].(map[string]any), "backendRefs")
			g.Expect(backends).To(HaveLen(1))
			return backends[0].(map[string]any)["port"]
		}
		Eventually(backendPort, timeout, interval).Should(BeEquivalentTo(8080))
		Expect(managersOf(route(Default))).To(Equal([]string{"Apply"}))
		Expect(route(Default).GetAnnotations()).To(HaveKeyWithValue(staxv1alpha1.RenderedFingerprintAnnotation, HavePrefix("sha256:")))
		rollOut(ns, bp.Name)
		expectQuietReconcile(ns, bp.Name)
	})

	It("read a rendered object whose label was removed by hand from the API server, and label it again", func() {
		bp := exposedBlueprint(ns, "shop")
		bp.Spec.Services[0].Expose = nil
		Expect(k8sClient.Create(ctx, bp)).To(Succeed())
		rollOut(ns, bp.Name)
		dep, svc := &appsv1.Deployment{}, &corev1.Service{}
		for _, obj := range []client.Object{dep, svc} {
			get(obj)(Default)
			Expect(obj.GetLabels()).To(HaveKeyWithValue(staxv1alpha1.LabelBlueprint, bp.Name))
			// A hand edit by another client, as `kubectl label ... stax.dev/blueprint-` makes it.
			patch := client.RawPatch(types.MergePatchType, []byte(`{"metadata":{"labels":{"`+staxv1alpha1.LabelBlueprint+`":null}}}`))
			Expect(k8sClient.Patch(ctx, obj, patch, client.FieldOwner("kubectl-label"))).To(Succeed())
			Expect(obj.GetLabels()).NotTo(HaveKey(staxv1alpha1.LabelBlueprint))
		}
		// Out of the label-selected cache, in the metadata-only one, and
		// still controlled by the Blueprint: read in full and applied.
		for _, obj := range []client.Object{dep, svc} {
			Eventually(func(g Gomega) map[string]string { return get(obj)(g).GetLabels() }, timeout, interval).
				Should(HaveKeyWithValue(staxv1alpha1.LabelBlueprint, bp.Name), "%T", obj)
		}
	})

	It("leave a foreign Ingress in the way of an exposed service untouched and report a Conflict", func() {
		foreign := &networkingv1.Ingress{
			ObjectMeta: metav1.ObjectMeta{Name: "api", Namespace: ns, Labels: map[string]string{"app": "theirs"}},
			Spec: networkingv1.IngressSpec{DefaultBackend: &networkingv1.IngressBackend{
				Service: &networkingv1.IngressServiceBackend{Name: "theirs", Port: networkingv1.ServiceBackendPort{Number: 80}},
			}},
		}
		Expect(k8sClient.Create(ctx, foreign)).To(Succeed())
		bp := exposedBlueprint(ns, "shop")
		Expect(k8sClient.Create(ctx, bp)).To(Succeed())
		Eventually(readyCondition(ns, bp.Name), timeout, interval).Should(And(
			haveReason(metav1.ConditionFalse, staxv1alpha1.ReasonConflict),
			HaveField("Message", ContainSubstring("Ingress api exists and is not controlled by this Blueprint"))))
		live := &networkingv1.Ingress{}
		Expect(k8sClient.Get(ctx, client.ObjectKeyFromObject(foreign), live)).To(Succeed())
		Expect(live.ResourceVersion).To(Equal(foreign.ResourceVersion), "the foreign Ingress was written")
		Expect(managersOf(live)).To(BeEmpty())
	})

	It("leave a foreign HTTPRoute in the way of an exposed service untouched and report a Conflict", func() {
		foreign := &unstructured.Unstructured{}
		foreign.SetGroupVersionKind(render.HTTPRouteGVK)
		foreign.SetNamespace(ns)
		foreign.SetName("api")
		foreign.SetLabels(map[string]string{"app": "theirs"})
		Expect(unstructured.SetNestedSlice(foreign.Object, []any{map[string]any{"name": "theirs-gateway"}}, "spec", "parentRefs")).To(Succeed())
		Expect(k8sClient.Create(ctx, foreign)).To(Succeed())
		bp := exposedBlueprint(ns, "shop")
		bp.Spec.Routing.Gateway = staxv1alpha1.GatewayRef{Name: "edge", Namespace: "infra"}
		Expect(k8sClient.Create(ctx, bp)).To(Succeed())
		Eventually(readyCondition(ns, bp.Name), timeout, interval).Should(And(
			haveReason(metav1.ConditionFalse, staxv1alpha1.ReasonConflict),
			HaveField("Message", ContainSubstring("HTTPRoute api exists and is not controlled by this Blueprint"))))
		live := &unstructured.Unstructured{}
		live.SetGroupVersionKind(render.HTTPRouteGVK)
		Expect(k8sClient.Get(ctx, client.ObjectKeyFromObject(foreign), live)).To(Succeed())
		Expect(live.GetResourceVersion()).To(Equal(foreign.GetResourceVersion()), "the foreign HTTPRoute was written")
		Expect(managersOf(live)).To(BeEmpty())
		Expect(live.GetOwnerReferences()).To(BeEmpty())
	})
})

var _ = Describe("A forced apply after a cache read", func() {
	It("never takes over a foreign object re-created under the name in the cache's lag", func(ctx SpecContext) {
		ns := newNamespace()
		// The Blueprint exists only here: no reconcile of the suite's
		// manager concerns it, so the only writer is the call below.
		bp := &staxv1alpha1.Blueprint{
			ObjectMeta: metav1.ObjectMeta{Name: "shop", Namespace: ns, UID: "9f3c2a4e-0000-4000-8000-000000000001"},
			Spec: staxv1alpha1.BlueprintSpec{Services: []staxv1alpha1.BlueprintService{{
				Name: "api", Image: "ghcr.io/example/api:2.0",
			}}},
		}
		plan, errs := render.Build(bp)
		Expect(errs).To(BeEmpty())

		By("a foreign Deployment holds the name now, with the very labels and selector the Blueprint renders")
		selector := render.Selector(bp.Name, "api")
		foreign := &appsv1.Deployment{
			ObjectMeta: metav1.ObjectMeta{Name: "api", Namespace: ns, Labels: selector},
			Spec: appsv1.DeploymentSpec{
				Selector: &metav1.LabelSelector{MatchLabels: selector},
				Template: corev1.PodTemplateSpec{
					ObjectMeta: metav1.ObjectMeta{Labels: selector},
					Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "api", Image: "someone/else:1"}}},
				},
			},
		}
		Expect(k8sClient.Create(ctx, foreign)).To(Succeed())

		By("while the cache still shows the Blueprint's own Deployment, deleted since")
		stale := &appsv1.Deployment{
			ObjectMeta: metav1.ObjectMeta{
				Name: "api", Namespace: ns, UID: "9f3c2a4e-0000-4000-8000-0000000000aa", ResourceVersion: "1",
				Labels: render.Labels(bp.Name, "api"),
				OwnerReferences: []metav1.OwnerReference{{
					APIVersion: staxv1alpha1.GroupVersion.String(), Kind: "Blueprint", Name: bp.Name, UID: bp.UID, Controller: ptr.To(true),
				}},
			},
		}
		laggingCache := interceptor.NewClient(watchingClient(), interceptor.Funcs{
			Get: func(ctx context.Context, c client.WithWatch, key client.ObjectKey, obj client.Object, opts ...client.GetOption) error {
				if d, ok := obj.(*appsv1.Deployment); ok && key.Name == "api" && key.Namespace == ns {
					stale.DeepCopyInto(d)
					return nil
				}
				return c.Get(ctx, key, obj, opts...)
			},
		})
		r := &BlueprintReconciler{Client: client.WithFieldOwner(laggingCache, FieldOwner), apiReader: k8sClient}
		sc := &scope{bp: bp, plan: plan, blocked: map[string]bool{}}
		_, err := r.applyOwned(ctx, sc, &appsv1.Deployment{}, "api", plan.Services[0].Deployment)
		Expect(err).To(HaveOccurred(), "the apply was refused")
		Expect(apierrors.IsConflict(err) || apierrors.IsInvalid(err)).To(BeTrue(), "refused for its UID, got %v", err)

		By("the foreign Deployment is as its owner left it")
		live := &appsv1.Deployment{}
		Expect(k8sClient.Get(ctx, types.NamespacedName{Namespace: ns, Name: "api"}, live)).To(Succeed())
		Expect(live.UID).To(Equal(foreign.UID))
		Expect(live.OwnerReferences).To(BeEmpty())
		Expect(live.Spec.Template.Spec.Containers).To(ConsistOf(HaveField("Image", "someone/else:1")))
		Expect(live.ResourceVersion).To(Equal(foreign.ResourceVersion), "nothing was written")
		for _, e := range live.ManagedFields {
			Expect(e.Manager).NotTo(Equal(FieldOwner))
		}
	})
})

// watchingClient is a client of the suite's API server that interceptor
// can wrap.
func watchingClient() client.WithWatch {
	c, err := client.NewWithWatch(cfg, client.Options{Scheme: scheme})
	Expect(err).NotTo(HaveOccurred())
	return c
}

// driftEdit is a change another client makes to a rendered object, and what
// the operator's revert looks like on it.
type driftEdit struct {
	what     string
	obj      func() client.Object
	edit     func(client.Object)
	reverted func(client.Object) bool
	// apply makes the edit by a forced server-side apply of another field
	// manager instead of an update.
	apply bool
}

var _ = Describe("Drift of what the operator renders", func() {
	It("is reverted in every rendered kind, whoever edits a field and however, though the cache keeps no rendered value", func(ctx SpecContext) {
		ns := newNamespace()
		bp := exposedBlueprint(ns, "drift")
		bp.Spec.Services[0].Env = map[string]staxv1alpha1.EnvValue{"MODE": "safe"}
		bp.Spec.Services[0].Replicas = ptr.To[int32](2)
		Expect(k8sClient.Create(ctx, bp)).To(Succeed())
		gw := exposedBlueprint(ns, "drift-gw")
		gw.Spec.Services[0].Name = "gw"
		gw.Spec.Routing.Gateway = staxv1alpha1.GatewayRef{Name: "edge", Namespace: "infra"}
		Expect(k8sClient.Create(ctx, gw)).To(Succeed())
		Eventually(getHTTPRoute(ns, "gw"), timeout, interval).ShouldNot(BeNil())
		Eventually(func(g Gomega) error {
			return k8sClient.Get(ctx, types.NamespacedName{Namespace: ns, Name: "api"}, &networkingv1.Ingress{})
		}, timeout, interval).Should(Succeed())
		rollOut(ns, bp.Name)
		rollOut(ns, gw.Name)

		deployment := func() client.Object { return &appsv1.Deployment{} }
		container := func(o client.Object) *corev1.Container {
			return &o.(*appsv1.Deployment).Spec.Template.Spec.Containers[0]
		}
		named := func(name string) func() client.Object {
			return func() client.Object {
				u := &unstructured.Unstructured{}
				u.SetGroupVersionKind(render.HTTPRouteGVK)
				u.SetName(name)
				return u
			}
		}
		routePort := func(o client.Object) any {
			rules, _, _ := unstructured.NestedSlice(o.(*unstructured.Unstructured).Object, "spec", "rules")
			backends, _, _ := unstructured.NestedSlice(rules[0].(map[string]any), "backendRefs")
			return backends[0].(map[string]any)["port"]
		}
		edits := []driftEdit{
			{what: "a Deployment's env value", obj: deployment,
				edit:     func(o client.Object) { container(o).Env[0].Value = "unsafe" },
				reverted: func(o client.Object) bool { return container(o).Env[0].Value == "safe" }},
			{what: "a Deployment's image", obj: deployment,
				edit:     func(o client.Object) { container(o).Image = "evil:latest" },
				reverted: func(o client.Object) bool { return container(o).Image == "ghcr.io/example/api:1.0" }},
			{what: "a Deployment's replicas", obj: deployment,
				edit:     func(o client.Object) { o.(*appsv1.Deployment).Spec.Replicas = ptr.To[int32](5) },
				reverted: func(o client.Object) bool { return *o.(*appsv1.Deployment).Spec.Replicas == 2 }},
			{what: "a Deployment's label, by another field manager's forced apply", obj: deployment, apply: true,
				edit:     func(o client.Object) { o.SetLabels(map[string]string{staxv1alpha1.LabelName: "hijacked"}) },
				reverted: func(o client.Object) bool { return o.GetLabels()[staxv1alpha1.LabelName] == "api" }},
			// A port's number is its key: an edit of it adds another
			// manager's port beside ours, which the apply puts back.
			{what: "a Service's target port", obj: func() client.Object { return &corev1.Service{} },
				edit:     func(o client.Object) { o.(*corev1.Service).Spec.Ports[0].TargetPort = intstr.FromInt32(1234) },
				reverted: func(o client.Object) bool { return o.(*corev1.Service).Spec.Ports[0].TargetPort.IntValue() == 8080 }},
			{what: "a Service's port, removed", obj: func() client.Object { return &corev1.Service{} },
				edit: func(o client.Object) { s := o.(*corev1.Service); s.Spec.Ports = s.Spec.Ports[:1] },
				reverted: func(o client.Object) bool {
					return len(o.(*corev1.Service).Spec.Ports) == 2 && o.(*corev1.Service).Spec.Ports[1].Port == 9090
				}},
			{what: "a Deployment's env var, removed", obj: deployment,
				edit:     func(o client.Object) { container(o).Env = nil },
				reverted: func(o client.Object) bool { return len(container(o).Env) == 1 && container(o).Env[0].Value == "safe" }},
			{what: "an Ingress's class", obj: func() client.Object { return &networkingv1.Ingress{} },
				edit: func(o client.Object) { o.(*networkingv1.Ingress).Spec.IngressClassName = ptr.To("other") },
				reverted: func(o client.Object) bool {
					return ptr.Deref(o.(*networkingv1.Ingress).Spec.IngressClassName, "") == "nginx"
				}},
			{what: "an HTTPRoute's backend port", obj: named("gw"),
				edit: func(o client.Object) {
					u := o.(*unstructured.Unstructured)
					rules, _, _ := unstructured.NestedSlice(u.Object, "spec", "rules")
					backends, _, _ := unstructured.NestedSlice(rules[0].(map[string]any), "backendRefs")
					backends[0].(map[string]any)["port"] = int64(1234)
					Expect(unstructured.SetNestedSlice(rules[0].(map[string]any), backends, "backendRefs")).To(Succeed())
					Expect(unstructured.SetNestedSlice(u.Object, rules, "spec", "rules")).To(Succeed())
				},
				reverted: func(o client.Object) bool { return routePort(o) == int64(8080) }},
		}
		for _, e := range edits {
			By("reverting " + e.what)
			key := types.NamespacedName{Namespace: ns, Name: "api"}
			if u, ok := e.obj().(*unstructured.Unstructured); ok {
				key.Name = u.GetName()
			}
			read := func(g Gomega) client.Object {
				o := e.obj()
				g.Expect(k8sClient.Get(ctx, key, o)).To(Succeed())
				return o
			}
			Expect(e.reverted(read(Default))).To(BeTrue(), "%s before the edit", e.what)
			edited := ""
			Eventually(func(g Gomega) {
				o := read(g)
				if e.apply {
					patch := &unstructured.Unstructured{}
					patch.SetGroupVersionKind(o.GetObjectKind().GroupVersionKind())
					if patch.GetKind() == "" {
						patch.SetAPIVersion("apps/v1")
						patch.SetKind("Deployment")
					}
					patch.SetNamespace(ns)
					patch.SetName(key.Name)
					e.edit(patch)
					g.Expect(k8sClient.Apply(ctx, client.ApplyConfigurationFromUnstructured(patch), client.FieldOwner("other-applier"), client.ForceOwnership)).To(Succeed())
					edited = patch.GetResourceVersion()
					return
				}
				e.edit(o)
				g.Expect(k8sClient.Update(ctx, o, client.FieldOwner("kubectl-edit"))).To(Succeed())
				edited = o.GetResourceVersion()
			}, timeout, interval).Should(Succeed())
			Eventually(func(g Gomega) bool {
				o := read(g)
				g.Expect(o.GetResourceVersion()).NotTo(Equal(edited), "the edit is still the latest write")
				return e.reverted(o)
			}, timeout, interval).Should(BeTrue(), "%s not reverted", e.what)
		}
		rollOut(ns, bp.Name)
		expectQuietReconcile(ns, bp.Name)
		expectQuietReconcile(ns, gw.Name)
	})
})

var _ = Describe("A change of a consumed value", func() {
	It("costs the consuming Deployment one write, its first change after creation included: no bookkeeping write", func(ctx SpecContext) {
		ns := newNamespace()
		createSecret(ns, "stripe", map[string]string{"api-key": "sk_test_first_change_5a1b2c3d"})
		bp := paymentsBlueprint(ns)
		Expect(k8sClient.Create(ctx, bp)).To(Succeed())
		rollOut(ns, bp.Name)
		expectSettled(ns, bp.Name)
		expectQuietReconcile(ns, bp.Name)
		api := getDeployment(ns, "api")(Default)
		Expect(managersOf(api)).To(Equal([]string{"Apply"}), "as created, never changed since")
		digest := api.Spec.Template.Annotations[staxv1alpha1.SecretsDigestAnnotation]
		writes, statusWrites := reconcilerWrites.In(ns), reconcilerStatusWrites.In(ns)

		By("editing the value the api service consumes")
		Eventually(func(g Gomega) {
			s := &corev1.Secret{}
			g.Expect(k8sClient.Get(ctx, types.NamespacedName{Namespace: ns, Name: "stripe"}, s)).To(Succeed())
			s.Data["api-key"] = []byte("sk_test_second_value_6e7f8a9b")
			rememberValue("sk_test_second_value_6e7f8a9b")
			g.Expect(k8sClient.Update(ctx, s)).To(Succeed())
		}, timeout, interval).Should(Succeed())
		Eventually(func(g Gomega) string {
			return getDeployment(ns, "api")(g).Spec.Template.Annotations[staxv1alpha1.SecretsDigestAnnotation]
		}, timeout, interval).ShouldNot(Equal(digest))
		rollOut(ns, bp.Name)
		// Every write the change caused is in before the counts are read.
		expectSettled(ns, bp.Name)
		expectQuietReconcile(ns, bp.Name)
		Expect(reconcilerWrites.In(ns)-reconcilerStatusWrites.In(ns)-(writes-statusWrites)).To(BeEquivalentTo(1), "one apply of the api Deployment, and nothing else but status")
		// Status says the rollout is in progress, then that it is done:
		// what GitOps tools show; one write each.
		Expect(reconcilerStatusWrites.In(ns)-statusWrites).To(BeNumerically("<=", 2), "the Blueprint's status: Progressing, then Ready")
	})
})
