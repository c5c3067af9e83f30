package controller

import (
	"context"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"

	staxv1alpha1 "github.com/stax-dev/blueprint-operator/api/v1alpha1"
)

var _ = Describe("A missing ServiceAccount or image pull Secret", func() {
	It("is reported by name without holding the Deployment back, and cleared once it exists", func(ctx SpecContext) {
		ns := newNamespace()
		bp := &staxv1alpha1.Blueprint{
			ObjectMeta: metav1.ObjectMeta{Name: "podrefs", Namespace: ns},
			Spec: staxv1alpha1.BlueprintSpec{Services: []staxv1alpha1.BlueprintService{{
				Name: "api", Image: "registry.example.com/private/api:1.0",
				ServiceAccountName: "api-reader",
				ImagePullSecrets:   []staxv1alpha1.ImagePullSecret{{Name: "regcred"}},
			}}},
		}
		Expect(k8sClient.Create(ctx, bp)).To(Succeed())

		Eventually(func(g Gomega) {
			ready := readyCondition(ns, bp.Name)(g)
			g.Expect(ready.Reason).To(Equal(staxv1alpha1.ReasonServiceAccountNotFound))
			g.Expect(ready.Message).To(ContainSubstring("service api: ServiceAccount api-reader not found in namespace " + ns))
			g.Expect(ready.Message).To(ContainSubstring("service api: image pull Secret regcred not found in namespace " + ns))
		}, timeout, interval).Should(Succeed())
		// A Ready reason other than Progressing is also a Warning event
		// with the Ready message.
		Eventually(eventNotesOf(ns, staxv1alpha1.ReasonServiceAccountNotFound), timeout, interval).Should(ContainElement(
			ContainSubstring("service api: ServiceAccount api-reader not found in namespace " + ns)))
		// Rendered as declared all the same: kubelet and the ReplicaSet
		// controller decide.
		d := getDeployment(ns, "api")(Default)
		Expect(d.Spec.Template.Spec.ServiceAccountName).To(Equal("api-reader"))
		Expect(d.Spec.Template.Spec.ImagePullSecrets).To(ConsistOf(corev1.LocalObjectReference{Name: "regcred"}))
		Expect(d.Spec.Replicas).To(HaveValue(BeEquivalentTo(1)))

		// The pull Secret's appearance reaches the operator through its
		// Secret metadata watch.
		Expect(k8sClient.Create(ctx, &corev1.Secret{
			ObjectMeta: metav1.ObjectMeta{Name: "regcred", Namespace: ns},
			Type:       corev1.SecretTypeDockerConfigJson,
			StringData: map[string]string{corev1.DockerConfigJsonKey: `{"auths":{}}`},
		})).To(Succeed())
		Eventually(func(g Gomega) {
			ready := readyCondition(ns, bp.Name)(g)
			g.Expect(ready.Reason).To(Equal(staxv1alpha1.ReasonServiceAccountNotFound))
			g.Expect(ready.Message).NotTo(ContainSubstring("regcred"))
		}, timeout, interval).Should(Succeed())
		// The operator has now looked for regcred before and after it
		// existed, and never read its data (the manager's transport records
		// every GET of a Secret): a pull Secret is known from the metadata
		// cache only.
		Expect(secretReadsOf(ns, "regcred")).NotTo(ContainElement(HaveSuffix(" full")))

		// ServiceAccounts are not watched (that would cache all of them); the
		// next reconcile, here one a Blueprint edit triggers, reads again.
		Expect(k8sClient.Create(ctx, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "api-reader", Namespace: ns}})).To(Succeed())
		Eventually(func() error {
			current := getBlueprint(ns, bp.Name)
			current.Spec.Description = "touched"
			return k8sClient.Update(context.Background(), current)
		}, timeout, interval).Should(Succeed())
		Eventually(func(g Gomega) {
			ready := readyCondition(ns, bp.Name)(g)
			g.Expect(ready.Reason).To(Equal(staxv1alpha1.ReasonProgressing), ready.Message)
		}, timeout, interval).Should(Succeed())
	})
})

var _ = Describe("A missing Secret a hook's env or the route's TLS names", func() {
	It("is reported as SecretNotFound naming the field, before any Job is created; the route is rendered, the hook waits for the Secret", func(ctx SpecContext) {
		ns := newNamespace()
		bp := hookedBlueprint(ns)
		bp.Spec.Services[0].Secrets[0].OnRotate.Env = map[string]staxv1alpha1.HookEnvValue{"PGPASSWORD": "${secret:db-admin/password}"}
		bp.Spec.Routing = &staxv1alpha1.Routing{Domain: "shop.example.test", TLS: staxv1alpha1.RoutingTLS{SecretName: "shop-tls"}}
		bp.Spec.Services[0].Expose = ptr.To(true)
		Expect(k8sClient.Create(ctx, bp)).To(Succeed())

		Eventually(func(g Gomega) {
			ready := readyCondition(ns, bp.Name)(g)
			g.Expect(ready.Reason).To(Equal(staxv1alpha1.ReasonSecretNotFound))
			g.Expect(ready.Message).To(ContainSubstring("service db, env PGPASSWORD (onRotate of secret db-password): Secret db-admin not found in namespace " + ns))
			g.Expect(ready.Message).To(ContainSubstring("service db, routing.tls.secretName: Secret shop-tls not found in namespace " + ns))
		}, timeout, interval).Should(Succeed())
		By("neither holds the service back: its Deployment and Ingress are rendered as declared")
		Eventually(getDeployment(ns, "db"), timeout, interval).ShouldNot(BeNil())
		Eventually(func() error {
			return k8sClient.Get(ctx, types.NamespacedName{Namespace: ns, Name: "db"}, &networkingv1.Ingress{})
		}, timeout, interval).Should(Succeed())

		By("a rotation is staged, and no Job is created while its env names a missing Secret")
		requestRotation(ns, "2026-12-01T10:00:00Z")
		Eventually(hookStatus(ns, bp.Name), timeout, interval).Should(HaveField("State", staxv1alpha1.RotationStateStaged))
		nudge(ns, "after-staging")
		Consistently(hookJobs(ns), "2s", interval).Should(BeEmpty())

		By("once the Secret exists, the Job is created")
		createSecret(ns, "db-admin", map[string]string{"password": "admin-value-77c0e1"})
		Eventually(hookJobs(ns), timeout, interval).Should(HaveLen(1))
	})
})
