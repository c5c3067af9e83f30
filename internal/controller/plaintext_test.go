package controller

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	staxv1alpha1 "github.com/stax-dev/blueprint-operator/api/v1alpha1"
	"github.com/stax-dev/blueprint-operator/internal/install"
)

// pastedValues are literal credentials the specs paste into Blueprints. The
// Blueprint's own spec holds them (the user wrote them there); nothing the
// operator writes may: the final check looks for them everywhere else.
var pastedValues []string

// pasted assembles a token-shaped value at run time, so that this file
// holds none a repository scanner would flag, and registers it for the
// final check.
func pasted(parts ...string) string {
	v := strings.Join(parts, "")
	pastedValues = append(pastedValues, v)
	return v
}

// expectNoPastedValueLeaked runs after the suite: no pasted value may
// appear in the manager's log, an event, a Blueprint's status, or a rendered
// Deployment, Service or Job.
func expectNoPastedValueLeaked() {
	ctx := context.Background()
	if suite, _ := GinkgoConfiguration(); len(suite.FocusStrings) == 0 && len(suite.FocusFiles) == 0 {
		Expect(pastedValues).NotTo(BeEmpty(), "the plaintext specs ran and pasted values to look for")
	}
	places := map[string]string{"logs": logs.String()}
	places["logged request and response bodies"] = decodeHexDumps(places["logs"])
	bps := &staxv1alpha1.BlueprintList{}
	Expect(k8sClient.List(ctx, bps)).To(Succeed())
	var statuses []staxv1alpha1.BlueprintStatus
	for _, bp := range bps.Items {
		statuses = append(statuses, bp.Status)
	}
	b, err := json.Marshal(statuses)
	Expect(err).NotTo(HaveOccurred())
	places["Blueprint statuses"] = string(b)
	for name, list := range map[string]client.ObjectList{
		"events": &corev1.EventList{}, "Deployments": &appsv1.DeploymentList{}, "Services": &corev1.ServiceList{},
	} {
		Expect(k8sClient.List(ctx, list)).To(Succeed())
		b, err := json.Marshal(list)
		Expect(err).NotTo(HaveOccurred())
		places[name] = string(b)
	}
	for _, v := range pastedValues {
		for place, text := range places {
			Expect(strings.Contains(text, v)).To(BeFalse(), "a pasted value reached %s", place)
		}
	}
}

// shippedGuard is the plaintext guard's policy and binding exactly as
// config/default installs them.
func shippedGuard() []*unstructured.Unstructured {
	objects, err := install.Kustomize("../../config/default")
	Expect(err).NotTo(HaveOccurred())
	var guard []*unstructured.Unstructured
	for _, obj := range objects {
		if strings.HasPrefix(obj.GetKind(), "ValidatingAdmissionPolicy") {
			guard = append(guard, obj)
		}
	}
	Expect(guard).To(HaveLen(2), "config/default installs the policy and its binding")
	return guard
}

var _ = Describe("The plaintext guard", Ordered, func() {
	ctx := context.Background()

	It("is refused by the operator, with the CRD alone: not rendered, Stalled, what runs keeps running", func() {
		ns := newNamespace()
		key := pasted("sk_live_", "4eC39HqLyjWDarjtT1zdp7dcAbCdEfGh")
		pw := pasted("hunter", "2hunter2")

		By("a Blueprint that runs, its api exposed")
		bp := paymentsBlueprint(ns)
		bp.Spec.Routing = &staxv1alpha1.Routing{Domain: "payments.example.com"}
		bp.Spec.Services[1].Expose = ptr.To(true)
		createSecret(ns, "stripe", map[string]string{"api-key": "stripe-test-value-for-the-guard"})
		Expect(k8sClient.Create(ctx, bp)).To(Succeed())
		rollOut(ns, bp.Name)
		before := getDeployment(ns, "api")(Default)
		ingress := &networkingv1.Ingress{}
		Expect(k8sClient.Get(ctx, types.NamespacedName{Namespace: ns, Name: "api"}, ingress)).To(Succeed())

		By("pasting a key into env and a password into a URL of args")
		updateBlueprint(ns, bp.Name, func(bp *staxv1alpha1.Blueprint) {
			bp.Spec.Services[1].Env["STRIPE_KEY"] = staxv1alpha1.EnvValue(key)
			bp.Spec.Services[1].Args = []staxv1alpha1.EnvValue{"--listen=:8080", staxv1alpha1.EnvValue("--db=postgres://app:" + pw + "@db/app")}
		})
		Eventually(readyCondition(ns, bp.Name), timeout, interval).Should(And(
			haveReason(metav1.ConditionFalse, staxv1alpha1.ReasonPlaintextSecret),
			HaveField("Message", ContainSubstring("service api: env STRIPE_KEY (rule stripe-access-token), args[1] (rule password-in-url) hold a literal credential")),
		))
		current := getBlueprint(ns, bp.Name)
		stalled := meta.FindStatusCondition(current.Status.Conditions, staxv1alpha1.ConditionStalled)
		Expect(stalled).NotTo(BeNil())
		Expect(stalled.Reason).To(Equal(staxv1alpha1.ReasonPlaintextSecret))

		By("leaving the api's Deployment as it ran, and db's reconciled")
		after := getDeployment(ns, "api")(Default)
		Expect(after.Generation).To(Equal(before.Generation))
		Expect(after.Spec.Template).To(Equal(before.Spec.Template))
		Expect(k8sClient.Get(ctx, types.NamespacedName{Namespace: ns, Name: "db"}, &appsv1.Deployment{})).To(Succeed())
		// The status above was written by the reconcile that ran every
		// phase, routes included, for this generation.
		kept := &networkingv1.Ingress{}
		Expect(k8sClient.Get(ctx, types.NamespacedName{Namespace: ns, Name: "api"}, kept)).To(Succeed(), "the api's Ingress is kept")
		Expect(kept.UID).To(Equal(ingress.UID))
		Expect(kept.DeletionTimestamp).To(BeNil())

		By("rendering again once the value is a reference, or opted out")
		// A fixture opted out is rendered as written: it is not a pasted
		// value the final check looks for.
		fixture := "--db=postgres://app:fixture-" + "pw@db/app"
		updateBlueprint(ns, bp.Name, func(bp *staxv1alpha1.Blueprint) {
			bp.Spec.Services[1].Env["STRIPE_KEY"] = "${secret:stripe/api-key}"
			bp.Spec.Services[1].Args = []staxv1alpha1.EnvValue{"--listen=:8080", staxv1alpha1.EnvValue(fixture)}
			bp.Spec.Services[1].AllowPlaintext = []string{"args[1]"}
		})
		Eventually(func(g Gomega) []string {
			return getDeployment(ns, "api")(g).Spec.Template.Spec.Containers[0].Args
		}, timeout, interval).Should(Equal([]string{"--listen=:8080", fixture}))
		Eventually(readyCondition(ns, bp.Name), timeout, interval).ShouldNot(HaveField("Reason", staxv1alpha1.ReasonPlaintextSecret))
	})

	It("is refused at admission with the policy config/default installs, naming field and rule, never the value", func() {
		ns := newNamespace()
		token := pasted("ghp_", "R4nd0mT0k3nV4lu3xQ9zLmN2pK7sW1yB3cD5")
		stored := paymentsBlueprint(ns)
		stored.Name = "stored-before-the-policy"
		stored.Spec.Services[1].Env["GITHUB_TOKEN"] = staxv1alpha1.EnvValue(token)
		Expect(k8sClient.Create(ctx, stored)).To(Succeed())

		for _, obj := range shippedGuard() {
			Expect(k8sClient.Create(ctx, obj)).To(Succeed())
			DeferCleanup(func() { Expect(client.IgnoreNotFound(k8sClient.Delete(ctx, obj))).To(Succeed()) })
		}
		hookPW := pasted("hookpw", "12345")
		adminPW := pasted("examplepw", "")

		cases := []struct {
			name   string
			edit   func(*staxv1alpha1.Blueprint)
			want   string
			secret string
		}{
			{"a token in env", func(bp *staxv1alpha1.Blueprint) {
				bp.Spec.Services[1].Env["GITHUB_TOKEN"] = staxv1alpha1.EnvValue(token)
			}, "service api: env GITHUB_TOKEN (rule github-pat) holds a literal credential", token},
			{"a credential-named variable", func(bp *staxv1alpha1.Blueprint) {
				bp.Spec.Services[0].Env = map[string]staxv1alpha1.EnvValue{"ADMIN_PASSWORD": staxv1alpha1.EnvValue(adminPW)}
			}, "service db: env ADMIN_PASSWORD (rule credential-name) holds a literal credential", adminPW},
			{"a token in args", func(bp *staxv1alpha1.Blueprint) {
				bp.Spec.Services[1].Args = []staxv1alpha1.EnvValue{"--verbose", staxv1alpha1.EnvValue(token)}
			}, "service api: args[1] (rule github-pat) holds a literal credential", token},
			{"a password in a hook's URL", func(bp *staxv1alpha1.Blueprint) {
				bp.Spec.Services[0].Secrets[0].OnRotate = staxv1alpha1.RotationHook{
					Image: "postgres:16", Command: []string{"psql", "postgres://admin:" + hookPW + "@db/app"},
				}
			}, "service db: secret db-password, onRotate.command[1] (rule password-in-url) holds a literal credential", hookPW},
		}
		for i, c := range cases {
			By(c.name)
			bp := paymentsBlueprint(ns)
			bp.Name = "pasted-" + string(rune('a'+i))
			c.edit(bp)
			// The policy takes effect once the API server has compiled
			// it: until then a create succeeds, and is undone to try again.
			var err error
			Eventually(func(g Gomega) {
				err = k8sClient.Create(ctx, bp.DeepCopy())
				if err == nil {
					g.Expect(k8sClient.Delete(ctx, bp)).To(Succeed())
					g.Eventually(func() error {
						return k8sClient.Get(ctx, client.ObjectKeyFromObject(bp), &staxv1alpha1.Blueprint{})
					}).Should(Satisfy(apierrors.IsNotFound))
				}
				g.Expect(err).To(HaveOccurred())
			}, timeout, interval).Should(Succeed())
			Expect(apierrors.IsInvalid(err)).To(BeTrue(), "refused as invalid: %v", err)
			// As the README quotes it.
			Expect(err.Error()).To(HavePrefix(`blueprints.stax.dev "` + bp.Name + `" is forbidden: ValidatingAdmissionPolicy 'blueprint-operator-plaintext-guard' with binding 'blueprint-operator-plaintext-guard' denied request: service `))
			Expect(err.Error()).To(ContainSubstring(c.want))
			Expect(err.Error()).To(ContainSubstring("${secret:NAME/KEY}"))
			Expect(err.Error()).NotTo(ContainSubstring(c.secret))
		}

		By("letting a Blueprint stored before the policy be annotated, and refusing an edit of its spec")
		// The policy is active: the cases above were refused.
		Expect(k8sClient.Patch(ctx, stored, client.RawPatch(types.MergePatchType,
			[]byte(`{"metadata":{"annotations":{"stax.dev/rotate":"db-password"}}}`)))).To(Succeed())
		err := k8sClient.Patch(ctx, stored, client.RawPatch(types.MergePatchType,
			[]byte(`{"spec":{"description":"edited"}}`)))
		Expect(apierrors.IsInvalid(err)).To(BeTrue(), "an edit of the spec is checked: %v", err)
		Expect(err.Error()).To(ContainSubstring("service api: env GITHUB_TOKEN (rule github-pat) holds a literal credential"))

		By("admitting a token under allowPlaintext")
		bp := paymentsBlueprint(ns)
		bp.Name = "opted-out"
		bp.Spec.Services[1].Env["GITHUB_TOKEN"] = staxv1alpha1.EnvValue("ghp_" + "F1xtur3T0k3nV4lu3xQ9zLmN2pK7sW1yB3cD5")
		bp.Spec.Services[1].AllowPlaintext = []string{"GITHUB_TOKEN"}
		Expect(k8sClient.Create(ctx, bp)).To(Succeed())

		By("admitting the README's Blueprint as it is")
		Expect(k8sClient.Create(ctx, paymentsBlueprint(ns))).To(Succeed())

		By("failing open beyond the CEL cost budget, leaving the Blueprint to the operator")
		// The same token in the same variable was refused above, so the
		// policy is active: this Blueprint is admitted because its checks
		// exceed the budget and the policy's failurePolicy is Ignore.
		huge := paymentsBlueprint(ns)
		huge.Name = "beyond-the-budget"
		filler := strings.Repeat("harmless setting text ", 23)[:500]
		for i := range 30 {
			svc := staxv1alpha1.BlueprintService{Name: fmt.Sprintf("filler-%02d", i), Image: "ghcr.io/example/filler:1.0", Env: map[string]staxv1alpha1.EnvValue{}}
			for j := range 64 {
				svc.Env[fmt.Sprintf("SETTING_%02d", j)] = staxv1alpha1.EnvValue(filler)
			}
			huge.Spec.Services = append(huge.Spec.Services, svc)
		}
		huge.Spec.Services[1].Env["GITHUB_TOKEN"] = staxv1alpha1.EnvValue(token)
		Expect(k8sClient.Create(ctx, huge)).To(Succeed())
		Eventually(readyCondition(ns, huge.Name), timeout, interval).Should(And(
			haveReason(metav1.ConditionFalse, staxv1alpha1.ReasonPlaintextSecret),
			HaveField("Message", ContainSubstring("service api: env GITHUB_TOKEN (rule github-pat) holds a literal credential"))))
	})

	It("refuses allowPlaintext naming what the service does not set, naming it", func() {
		ns := newNamespace()
		for _, entry := range []string{"NOT_SET", "args[5]", "command[0]"} {
			bp := paymentsBlueprint(ns)
			bp.Spec.Services[1].AllowPlaintext = []string{"LOG_LEVEL", entry}
			err := k8sClient.Create(ctx, bp)
			Expect(apierrors.IsInvalid(err)).To(BeTrue(), "%s: %v", entry, err)
			Expect(err.Error()).To(ContainSubstring("allowPlaintext names " + entry + ", which this service does not set"))
		}
	})
})
