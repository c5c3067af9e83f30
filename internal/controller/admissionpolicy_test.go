package controller

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/rand"
	"k8s.io/client-go/rest"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	staxv1alpha1 "github.com/stax-dev/blueprint-operator/api/v1alpha1"
	"github.com/stax-dev/blueprint-operator/internal/render"
	"github.com/stax-dev/blueprint-operator/internal/testutil"
)

// admissionPolicy is a ValidatingAdmissionPolicy the specs install: it
// denies the operations on resources (of the core group, or apps for
// deployments) in one namespace for which condition (CEL) holds, with
// messageExpression as its message; paramSecret, if set, names a Secret of
// that namespace the expressions read as params.
type admissionPolicy struct {
	namespace         string
	group, resource   string
	operations        []admissionregistrationv1.OperationType
	condition         string
	messageExpression string
	paramSecret       string
}

// install creates the policy and a binding that enforces it, and returns a
// function that removes both (also registered with DeferCleanup).
func (p admissionPolicy) install() func() {
	ctx := context.Background()
	name := "test-" + p.namespace + "-" + rand.String(5)
	policy := &admissionregistrationv1.ValidatingAdmissionPolicy{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: admissionregistrationv1.ValidatingAdmissionPolicySpec{
			FailurePolicy: ptr.To(admissionregistrationv1.Fail),
			MatchConstraints: &admissionregistrationv1.MatchResources{
				NamespaceSelector: &metav1.LabelSelector{MatchLabels: map[string]string{corev1.LabelMetadataName: p.namespace}},
				ResourceRules: []admissionregistrationv1.NamedRuleWithOperations{{RuleWithOperations: admissionregistrationv1.RuleWithOperations{
					Operations: p.operations,
					Rule:       admissionregistrationv1.Rule{APIGroups: []string{p.group}, APIVersions: []string{"v1"}, Resources: []string{p.resource}},
				}}},
			},
			Validations: []admissionregistrationv1.Validation{{Expression: "!(" + p.condition + ")", MessageExpression: p.messageExpression}},
		},
	}
	binding := &admissionregistrationv1.ValidatingAdmissionPolicyBinding{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: admissionregistrationv1.ValidatingAdmissionPolicyBindingSpec{
			PolicyName:        name,
			ValidationActions: []admissionregistrationv1.ValidationAction{admissionregistrationv1.Deny},
		},
	}
	if p.paramSecret != "" {
		policy.Spec.ParamKind = &admissionregistrationv1.ParamKind{APIVersion: "v1", Kind: "Secret"}
		binding.Spec.ParamRef = &admissionregistrationv1.ParamRef{
			Name: p.paramSecret, Namespace: p.namespace,
			ParameterNotFoundAction: ptr.To(admissionregistrationv1.DenyAction),
		}
	}
	Expect(k8sClient.Create(ctx, policy)).To(Succeed())
	Expect(k8sClient.Create(ctx, binding)).To(Succeed())
	remove := func() {
		Expect(client.IgnoreNotFound(k8sClient.Delete(ctx, binding))).To(Succeed())
		Expect(client.IgnoreNotFound(k8sClient.Delete(ctx, policy))).To(Succeed())
	}
	DeferCleanup(remove)
	return remove
}

// expectNotIn fails if any of forms appears in the namespace's Blueprints
// and events or in the manager's log.
func expectNotIn(ns string, forms ...string) {
	ctx := context.Background()
	places := map[string]string{"logs": logs.String()}
	for name, list := range map[string]client.ObjectList{
		"Blueprints": &staxv1alpha1.BlueprintList{}, "events.k8s.io events": &eventsv1.EventList{}, "core events": &corev1.EventList{},
	} {
		Expect(k8sClient.List(ctx, list, client.InNamespace(ns))).To(Succeed())
		b, err := json.Marshal(list)
		Expect(err).NotTo(HaveOccurred())
		places[name] = string(b)
	}
	for place, text := range places {
		for _, form := range forms {
			Expect(strings.Contains(text, form)).To(BeFalse(), "%q reached %s", form, place)
		}
	}
}

// expectReported waits until the Ready condition, a Warning event and the
// manager's log all carry want.
func expectReported(ns, name, want string) {
	Eventually(readyCondition(ns, name), timeout, interval).Should(And(
		haveReason(metav1.ConditionFalse, staxv1alpha1.ReasonReconcileError),
		HaveField("Message", ContainSubstring(want))))
	Eventually(func(g Gomega) []eventsv1.Event {
		events := &eventsv1.EventList{}
		g.Expect(k8sClient.List(context.Background(), events, client.InNamespace(ns))).To(Succeed())
		return events.Items
	}, timeout, interval).Should(ContainElement(And(
		HaveField("Type", corev1.EventTypeWarning), HaveField("Reason", staxv1alpha1.ReasonReconcileError), HaveField("Note", ContainSubstring(want)))))
	Eventually(logs.String, timeout, interval).Should(ContainSubstring(want), "controller-runtime logs the reconcile error")
}

var _ = Describe("Admission policies", func() {
	ctx := context.Background()
	var ns string
	BeforeEach(func() { ns = newNamespace() })

	It("reports a denied write by object, code and reason, and never the policy's message, which quotes a value", func() {
		bp := &staxv1alpha1.Blueprint{
			ObjectMeta: metav1.ObjectMeta{Name: "frozen", Namespace: ns},
			Spec: staxv1alpha1.BlueprintSpec{Services: []staxv1alpha1.BlueprintService{{
				Name: "app", Image: "busybox:1.37",
				Secrets: []staxv1alpha1.ServiceSecret{{Name: "token", EnvKey: "TOKEN", Value: staxv1alpha1.AutoGenerated}},
			}}},
		}
		Expect(k8sClient.Create(ctx, bp)).To(Succeed())
		secret := generatedSecret(ns, bp.Name)
		Eventually(secret, timeout, interval).Should(HaveField("Data", HaveKey("token")))
		value := string(secret(Default).Data["token"])

		By("installing a policy that freezes the generated Secret and quotes its value")
		unfreeze := admissionPolicy{
			namespace: ns, resource: "secrets", operations: []admissionregistrationv1.OperationType{admissionregistrationv1.Update},
			condition:         "object.metadata.name == '" + render.GeneratedSecretName(bp.Name) + "'",
			messageExpression: "'frozen: ' + string(oldObject.data['token'])",
		}.install()
		// The policy is enforced, and its message holds the value (CEL sees
		// a Secret's data base64-encoded): a dry-run update goes through
		// admission and changes nothing.
		encoded := base64.StdEncoding.EncodeToString([]byte(value))
		var denial *apierrors.StatusError
		Eventually(func(g Gomega) {
			s := secret(g)
			s.Annotations["example.com/probe"] = "1"
			err := k8sClient.Update(ctx, s, client.DryRunAll)
			g.Expect(errors.As(err, &denial)).To(BeTrue(), "the policy is not enforced yet")
			g.Expect(strings.Contains(err.Error(), "frozen: "+encoded)).To(BeTrue(), "the API server's message quotes the value")
		}, timeout, interval).Should(Succeed())
		code, reason := denial.Status().Code, denial.Status().Reason
		Expect(reason).To(BeElementOf(metav1.StatusReasonInvalid, metav1.StatusReasonForbidden))

		By("requesting a rotation, which the policy denies")
		updateBlueprint(ns, bp.Name, func(b *staxv1alpha1.Blueprint) {
			b.Annotations = map[string]string{staxv1alpha1.RotateAnnotation: "token"}
		})
		want := fmt.Sprintf("updating Secret frozen-generated: the API server answered %d %s: refused by validation, an admission policy or webhook, or authorization", code, reason)
		expectReported(ns, bp.Name, want)
		Expect(secret(Default).Data["token"]).To(Equal([]byte(value)), "the denied rotation changed nothing")

		By("keeping the value out of status, events and logs")
		expectNotIn(ns, value, encoded, "frozen: ")

		By("rotating once the policy is gone")
		unfreeze()
		Eventually(func(g Gomega) []byte { return secret(g).Data["token"] }, timeout, interval).ShouldNot(Equal([]byte(value)))
		Eventually(readyCondition(ns, bp.Name), timeout, interval).ShouldNot(HaveField("Reason", staxv1alpha1.ReasonReconcileError))
	})

	It("reports a denied Deployment the same way, when the policy quotes a value it reads as a parameter", func() {
		bp := &staxv1alpha1.Blueprint{
			ObjectMeta: metav1.ObjectMeta{Name: "quoted", Namespace: ns},
			Spec: staxv1alpha1.BlueprintSpec{Services: []staxv1alpha1.BlueprintService{{
				Name: "app", Image: "busybox:1.37",
				// Held back until Secret later exists, so the Deployment is
				// first applied once the policy is in place.
				Env:     map[string]staxv1alpha1.EnvValue{"LATER": "${secret:later/key}"},
				Secrets: []staxv1alpha1.ServiceSecret{{Name: "token", EnvKey: "TOKEN", Value: staxv1alpha1.AutoGenerated}},
			}}},
		}
		Expect(k8sClient.Create(ctx, bp)).To(Succeed())
		secret := generatedSecret(ns, bp.Name)
		Eventually(secret, timeout, interval).Should(HaveField("Data", HaveKey("token")))
		value := string(secret(Default).Data["token"])
		encoded := base64.StdEncoding.EncodeToString([]byte(value))
		Eventually(readyCondition(ns, bp.Name), timeout, interval).Should(HaveField("Reason", staxv1alpha1.ReasonSecretNotFound))

		By("installing a policy on Deployments that quotes the generated Secret, read as its parameter")
		admissionPolicy{
			namespace: ns, group: "apps", resource: "deployments",
			operations:        []admissionregistrationv1.OperationType{admissionregistrationv1.Create, admissionregistrationv1.Update},
			condition:         "true",
			messageExpression: "'quoted: ' + string(params.data['token'])",
			paramSecret:       render.GeneratedSecretName(bp.Name),
		}.install()
		var denial *apierrors.StatusError
		Eventually(func(g Gomega) {
			probe := &appsv1.Deployment{
				ObjectMeta: metav1.ObjectMeta{Name: "probe", Namespace: ns},
				Spec: appsv1.DeploymentSpec{
					Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "probe"}},
					Template: corev1.PodTemplateSpec{
						ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "probe"}},
						Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "busybox:1.37"}}},
					},
				},
			}
			err := k8sClient.Create(ctx, probe, client.DryRunAll)
			g.Expect(errors.As(err, &denial)).To(BeTrue(), "the policy is not enforced yet")
			g.Expect(strings.Contains(err.Error(), "quoted: "+encoded)).To(BeTrue(), "the API server's message quotes the value")
		}, timeout, interval).Should(Succeed())

		By("letting the operator apply the Deployment, which the policy denies")
		createSecret(ns, "later", map[string]string{"key": "later-value-" + rand.String(6)})
		expectReported(ns, bp.Name, fmt.Sprintf("creating Deployment app: the API server answered %d %s", denial.Status().Code, denial.Status().Reason))
		expectNotIn(ns, value, encoded, "quoted: ")
	})

	It("never adopts a Secret controlled by a deleted predecessor: reports it, waits for garbage collection, then generates", func() {
		name := "successor"
		secretName := render.GeneratedSecretName(name)
		planted := "planted-by-predecessor-" + rand.String(8)
		rememberValue(planted)

		By("holding the garbage collector back from this one Secret")
		probe := &corev1.Secret{
			ObjectMeta: metav1.ObjectMeta{Name: secretName, Namespace: ns, Annotations: map[string]string{staxv1alpha1.GeneratedForAnnotation: name}},
			Type:       corev1.SecretTypeOpaque,
			Data:       map[string][]byte{"pw": []byte(planted)},
		}
		Expect(k8sClient.Create(ctx, probe)).To(Succeed())
		unblock := admissionPolicy{
			namespace: ns, resource: "secrets", operations: []admissionregistrationv1.OperationType{admissionregistrationv1.Delete},
			condition:         "request.userInfo.username == 'kube-controller-manager' && oldObject.metadata.name == '" + secretName + "'",
			messageExpression: "'held for the test'",
		}.install()
		gcConfig := rest.CopyConfig(cfg)
		gcConfig.Impersonate = rest.ImpersonationConfig{UserName: "kube-controller-manager", Groups: []string{"system:masters"}}
		asGC, err := client.New(gcConfig, client.Options{Scheme: scheme})
		Expect(err).NotTo(HaveOccurred())
		Eventually(func() bool {
			return apierrors.IsInvalid(asGC.Delete(ctx, probe.DeepCopy(), client.DryRunAll))
		}, timeout, interval).Should(BeTrue(), "the policy holds the garbage collector's deletes")

		By("making it the Secret of a deleted Blueprint of the same name")
		predecessor := types.UID("00000000-dead-4000-8000-" + rand.String(12))
		Eventually(func() error {
			s := &corev1.Secret{}
			if err := k8sClient.Get(ctx, client.ObjectKeyFromObject(probe), s); err != nil {
				return err
			}
			s.OwnerReferences = []metav1.OwnerReference{{
				APIVersion: staxv1alpha1.GroupVersion.String(), Kind: "Blueprint", Name: name, UID: predecessor,
				Controller: ptr.To(true), BlockOwnerDeletion: ptr.To(true),
			}}
			return k8sClient.Update(ctx, s)
		}, timeout, interval).Should(Succeed())

		bp := &staxv1alpha1.Blueprint{
			ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns},
			Spec: staxv1alpha1.BlueprintSpec{Services: []staxv1alpha1.BlueprintService{{
				Name: "app", Image: "busybox:1.37",
				Secrets: []staxv1alpha1.ServiceSecret{{Name: "pw", EnvKey: "PW", Value: staxv1alpha1.AutoGenerated}},
			}, {
				// Reads no value: rendered while the Secret is not the
				// Blueprint's (its digest once dereferenced the missing
				// Secret and panicked).
				Name: "web", Image: "busybox:1.37",
			}}},
		}
		Expect(k8sClient.Create(ctx, bp)).To(Succeed())

		By("reporting Progressing, naming the Secret, and leaving it as it is")
		Eventually(readyCondition(ns, name), timeout, interval).Should(And(
			haveReason(metav1.ConditionFalse, staxv1alpha1.ReasonProgressing),
			HaveField("ObservedGeneration", getBlueprint(ns, name).Generation),
			HaveField("Message", ContainSubstring("waiting for the garbage collector to delete Secret "+secretName))))
		held := readSecret(ns, secretName)
		Expect(held.Data).To(HaveKeyWithValue("pw", []byte(planted)))
		Expect(testutil.ControllerUID(held)).To(Equal(predecessor))
		Expect(meta.FindStatusCondition(getBlueprint(ns, name).Status.Conditions, staxv1alpha1.ConditionStalled)).To(BeNil(), "waiting, not stalled")

		By("rendering the service that reads no value meanwhile, and holding back the one that does")
		Eventually(func(g Gomega) {
			g.Expect(testutil.ControllerUID(getDeployment(ns, "web")(g))).To(Equal(getBlueprint(ns, name).UID))
		}, timeout, interval).Should(Succeed())
		Expect(k8sClient.Get(ctx, types.NamespacedName{Namespace: ns, Name: "app"}, &appsv1.Deployment{})).To(Satisfy(apierrors.IsNotFound))

		By("generating new values once the garbage collector has deleted it")
		unblock()
		Eventually(func(g Gomega) {
			s := generatedSecret(ns, name)(g)
			g.Expect(testutil.ControllerUID(s)).To(Equal(getBlueprint(ns, name).UID))
			g.Expect(s.UID).NotTo(Equal(held.UID), "a new Secret, not the predecessor's")
			g.Expect(s.Data["pw"]).NotTo(Equal([]byte(planted)))
		}, 3*timeout, interval).Should(Succeed())
	})
})

func readSecret(ns, name string) *corev1.Secret {
	s := &corev1.Secret{}
	Expect(k8sClient.Get(context.Background(), types.NamespacedName{Namespace: ns, Name: name}, s)).To(Succeed())
	return s
}
