package controller

import (
	"context"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/intstr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	staxv1alpha1 "github.com/stax-dev/blueprint-operator/api/v1alpha1"
	"github.com/stax-dev/blueprint-operator/internal/testutil"
)

var _ = Describe("The manager's cache", func() {
	ctx := context.Background()
	var ns string
	BeforeEach(func() { ns = newNamespace() })

	It("holds the Deployments and Services it rendered, not foreign ones, and still reports and clears a Conflict with them", func() {
		foreignDeployment := &appsv1.Deployment{
			ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: ns, Labels: map[string]string{"owner": "someone-else"}},
			Spec: appsv1.DeploymentSpec{
				Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "theirs"}},
				Template: corev1.PodTemplateSpec{
					ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "theirs"}},
					Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "theirs:1"}}},
				},
			},
		}
		Expect(k8sClient.Create(ctx, foreignDeployment)).To(Succeed())
		foreignService := &corev1.Service{
			ObjectMeta: metav1.ObjectMeta{Name: "cache", Namespace: ns},
			Spec:       corev1.ServiceSpec{Ports: []corev1.ServicePort{{Port: 6379, TargetPort: intstr.FromInt32(6379)}}},
		}
		Expect(k8sClient.Create(ctx, foreignService)).To(Succeed())
		bp := &staxv1alpha1.Blueprint{
			ObjectMeta: metav1.ObjectMeta{Name: "cached", Namespace: ns},
			Spec: staxv1alpha1.BlueprintSpec{Services: []staxv1alpha1.BlueprintService{
				{Name: "web", Image: "nginx:1.27", Ports: []staxv1alpha1.ServicePort{{ContainerPort: 8080}}},
				{Name: "cache", Image: "redis:7", Ports: []staxv1alpha1.ServicePort{{ContainerPort: 6379}}},
				{Name: "worker", Image: "busybox:1.36", Ports: []staxv1alpha1.ServicePort{{ContainerPort: 9000}}},
			}},
		}
		Expect(k8sClient.Create(ctx, bp)).To(Succeed())
		Eventually(readyCondition(ns, bp.Name), timeout, interval).Should(And(
			haveReason(metav1.ConditionFalse, staxv1alpha1.ReasonConflict),
			HaveField("Message", ContainSubstring("Deployment web exists and is not controlled by this Blueprint"))))
		uid := getBlueprint(ns, bp.Name).UID

		By("caching what it rendered, trimmed to its own managedFields entries, its stax.dev/ metadata and the rollout's status")
		Eventually(func(g Gomega) {
			d := &appsv1.Deployment{}
			g.Expect(managerCache.Get(ctx, types.NamespacedName{Namespace: ns, Name: "worker"}, d)).To(Succeed())
			g.Expect(testutil.ControllerUID(d)).To(Equal(uid))
			g.Expect(managersOf(d)).To(Equal([]string{"Apply"}))
			g.Expect(d.Annotations).To(HaveKey(staxv1alpha1.RenderedFingerprintAnnotation))
			g.Expect(d.Spec.Template.Spec.Containers).To(BeEmpty(), "no rendered value is cached")
			g.Expect(getDeployment(ns, "worker")(g).Spec.Template.Spec.Containers).NotTo(BeEmpty(), "the API server has them")
			s := &corev1.Service{}
			g.Expect(managerCache.Get(ctx, types.NamespacedName{Namespace: ns, Name: "worker"}, s)).To(Succeed())
			g.Expect(s.ManagedFields).NotTo(BeEmpty())
		}, timeout, interval).Should(Succeed())

		By("not caching the foreign Deployment and Service, which the API server has")
		Expect(k8sClient.Get(ctx, client.ObjectKeyFromObject(foreignDeployment), &appsv1.Deployment{})).To(Succeed())
		Expect(k8sClient.Get(ctx, client.ObjectKeyFromObject(foreignService), &corev1.Service{})).To(Succeed())
		Expect(managerCache.Get(ctx, client.ObjectKeyFromObject(foreignDeployment), &appsv1.Deployment{})).To(Satisfy(apierrors.IsNotFound))
		Expect(managerCache.Get(ctx, client.ObjectKeyFromObject(foreignService), &corev1.Service{})).To(Satisfy(apierrors.IsNotFound))

		By("leaving the foreign objects untouched")
		d := getDeployment(ns, "web")(Default)
		Expect(d.ResourceVersion).To(Equal(foreignDeployment.ResourceVersion))
		Expect(d.OwnerReferences).To(BeEmpty())

		By("clearing a Conflict with a foreign Deployment when it goes, with nothing else of its Blueprint to trigger a reconcile")
		lone := foreignDeployment.DeepCopy()
		lone.ObjectMeta = metav1.ObjectMeta{Name: "lone", Namespace: ns}
		Expect(k8sClient.Create(ctx, lone)).To(Succeed())
		solo := &staxv1alpha1.Blueprint{
			ObjectMeta: metav1.ObjectMeta{Name: "solo", Namespace: ns},
			Spec:       staxv1alpha1.BlueprintSpec{Services: []staxv1alpha1.BlueprintService{{Name: "lone", Image: "busybox:1.36"}}},
		}
		Expect(k8sClient.Create(ctx, solo)).To(Succeed())
		Eventually(readyCondition(ns, solo.Name), timeout, interval).Should(And(
			haveReason(metav1.ConditionFalse, staxv1alpha1.ReasonConflict),
			HaveField("Message", ContainSubstring("Deployment lone exists and is not controlled by this Blueprint"))))
		Expect(managerCache.Get(ctx, client.ObjectKeyFromObject(lone), &appsv1.Deployment{})).To(Satisfy(apierrors.IsNotFound))
		soloUID := getBlueprint(ns, solo.Name).UID
		expectSettled(ns, solo.Name)
		Expect(k8sClient.Delete(ctx, lone)).To(Succeed())
		Eventually(func(g Gomega) {
			d := getDeployment(ns, "lone")(g)
			g.Expect(testutil.ControllerUID(d)).To(Equal(soloUID))
		}, timeout, interval).Should(Succeed())

		By("clearing the Conflict of the Deployment when it goes, and reporting the Service's")
		expectSettled(ns, bp.Name)
		Expect(k8sClient.Delete(ctx, foreignDeployment)).To(Succeed())
		Eventually(func(g Gomega) {
			d := getDeployment(ns, "web")(g)
			g.Expect(testutil.ControllerUID(d)).To(Equal(uid))
		}, timeout, interval).Should(Succeed())
		Eventually(readyCondition(ns, bp.Name), timeout, interval).Should(And(
			haveReason(metav1.ConditionFalse, staxv1alpha1.ReasonConflict),
			HaveField("Message", ContainSubstring("Service cache exists and is not controlled by this Blueprint")),
			HaveField("Message", Not(ContainSubstring("Deployment web")))))
		s := &corev1.Service{}
		Expect(k8sClient.Get(ctx, client.ObjectKeyFromObject(foreignService), s)).To(Succeed())
		Expect(s.ResourceVersion).To(Equal(foreignService.ResourceVersion))

		By("clearing the Conflict of the Service when it goes")
		expectSettled(ns, bp.Name)
		Expect(k8sClient.Delete(ctx, foreignService)).To(Succeed())
		Eventually(func(g Gomega) {
			s := &corev1.Service{}
			g.Expect(k8sClient.Get(ctx, client.ObjectKeyFromObject(foreignService), s)).To(Succeed())
			g.Expect(testutil.ControllerUID(s)).To(Equal(uid))
		}, timeout, interval).Should(Succeed())
		Eventually(readyCondition(ns, bp.Name), timeout, interval).ShouldNot(haveReason(metav1.ConditionFalse, staxv1alpha1.ReasonConflict))
	})
})

// expectSettled waits until the Blueprint has stayed unchanged for a second,
// so the reconciles its own status writes trigger are over: a reconcile
// after that was triggered by something else, such as the watch under test.
func expectSettled(ns, name string) {
	GinkgoHelper()
	Eventually(func(g Gomega) {
		rv := fetchBlueprint(g, ns, name).ResourceVersion
		g.Consistently(func(g Gomega) string { return fetchBlueprint(g, ns, name).ResourceVersion }, time.Second, interval).Should(Equal(rv))
	}, timeout, interval).Should(Succeed())
}
