package controller

import (
	"fmt"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	appsv1 "k8s.io/api/apps/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	staxv1alpha1 "github.com/stax-dev/blueprint-operator/api/v1alpha1"
	"github.com/stax-dev/blueprint-operator/internal/render"
)

// namingSecrets is a Blueprint whose two services name n distinct Secrets
// (an env holds at most 64 variables), none of which exists.
func namingSecrets(ns, name string, n int) *staxv1alpha1.Blueprint {
	api, worker := map[string]staxv1alpha1.EnvValue{}, map[string]staxv1alpha1.EnvValue{}
	for i := range n {
		env := api
		if i%2 == 1 {
			env = worker
		}
		env[fmt.Sprintf("V%03d", i)] = staxv1alpha1.EnvValue(fmt.Sprintf("${secret:missing-%03d/key}", i))
	}
	return &staxv1alpha1.Blueprint{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns},
		Spec: staxv1alpha1.BlueprintSpec{Services: []staxv1alpha1.BlueprintService{
			{Name: "api", Image: "busybox:1.37", Env: api},
			{Name: "worker", Image: "busybox:1.37", Env: worker},
		}},
	}
}

var _ = Describe("The work one Blueprint can cause", func() {
	It("is bounded: missing Secrets cost no read, and past 64 distinct Secrets no service is rendered and no Secret read", func(ctx SpecContext) {
		ns := newNamespace()
		reads := func() int {
			n := 0
			for i := range render.MaxSecretsRead + 1 {
				n += len(secretReadsOf(ns, fmt.Sprintf("missing-%03d", i)))
			}
			return n
		}

		By("64 missing Secrets: each is reported, none is read (the metadata cache answers)")
		at := namingSecrets(ns, "at-bound", render.MaxSecretsRead)
		Expect(k8sClient.Create(ctx, at)).To(Succeed())
		Eventually(readyCondition(ns, at.Name), timeout, interval).Should(And(
			haveReason(metav1.ConditionFalse, staxv1alpha1.ReasonSecretNotFound),
			HaveField("Message", ContainSubstring("Secret missing-000 not found"))))
		Expect(reads()).To(BeZero())

		By("one more: TooManySecrets, Stalled, and still no Secret read")
		over := namingSecrets(ns, "over-bound", render.MaxSecretsRead+1)
		Expect(k8sClient.Create(ctx, over)).To(Succeed())
		Eventually(readyCondition(ns, over.Name), timeout, interval).Should(And(
			haveReason(metav1.ConditionFalse, staxv1alpha1.ReasonTooManySecrets),
			HaveField("Message", ContainSubstring("the services name 65 distinct Secrets"))))
		Expect(fetchBlueprint(Default, ns, over.Name).Status.Conditions).To(ContainElement(And(
			HaveField("Type", staxv1alpha1.ConditionStalled), HaveField("Status", metav1.ConditionTrue))))
		Expect(reads()).To(BeZero())
		Expect(k8sClient.Get(ctx, types.NamespacedName{Namespace: ns, Name: "api"}, &appsv1.Deployment{})).To(Satisfy(apierrors.IsNotFound))

		By("a Secret it names appearing costs the Blueprint over the bound no read either")
		createSecret(ns, "missing-001", map[string]string{"key": "bounded-value-4d2a8c"})
		Eventually(readyCondition(ns, at.Name), timeout, interval).Should(HaveField("Message", Not(ContainSubstring("Secret missing-001 not found"))))
		Expect(secretReadsOf(ns, "missing-001")).To(HaveLen(1), "read once, by the Blueprint within the bound")
	})
})
