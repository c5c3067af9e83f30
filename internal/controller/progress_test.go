package controller

import (
	"context"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	staxv1alpha1 "github.com/stax-dev/blueprint-operator/api/v1alpha1"
)

// unwrittenStatus matches a Blueprint whose status the operator has not
// written: the CRD's default, observedGeneration -1 and no condition.
func unwrittenStatus() OmegaMatcher {
	return And(
		HaveField("Status.ObservedGeneration", HaveValue(BeEquivalentTo(-1))),
		HaveField("Status.Conditions", BeEmpty()),
	)
}

func oneServiceBlueprint(ns, name string) *staxv1alpha1.Blueprint {
	return &staxv1alpha1.Blueprint{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns},
		Spec: staxv1alpha1.BlueprintSpec{Services: []staxv1alpha1.BlueprintService{
			{Name: "web", Image: "nginx:1.27", Ports: []staxv1alpha1.ServicePort{{ContainerPort: 8080}}},
		}},
	}
}

var _ = Describe("The first status of a new Blueprint", func() {
	ctx := context.Background()

	It("is Ready, with no Progressing write before it, when the rollout finishes within --progress-status-delay", func() {
		restartManager(func(o *Options) { o.ProgressStatusDelay = 30 * time.Second })
		DeferCleanup(func() { restartManager() })
		ns := newNamespace()
		bp := oneServiceBlueprint(ns, "quick")
		Expect(k8sClient.Create(ctx, bp)).To(Succeed())

		By("holding the Progressing status back while the Deployment rolls out")
		// The Deployment exists, so the reconcile that created it has run.
		Eventually(getDeployment(ns, "web"), timeout, interval).ShouldNot(BeNil())
		Consistently(func(g Gomega) *staxv1alpha1.Blueprint { return fetchBlueprint(g, ns, bp.Name) }, time.Second, interval).
			Should(unwrittenStatus())
		Expect(reconcilerStatusWrites.In(ns)).To(BeZero())

		By("writing Ready, and never Progressing, when the Deployment is available")
		rollOut(ns, bp.Name)
		// A reconcile working from a cache that has not seen the first write
		// yet may send the same status again; none of them says Progressing.
		Expect(reconcilerStatusWrites.ReadyReasonsIn(ns)).To(And(Not(BeEmpty()), HaveEach("True/Available")))
	})

	It("is Progressing once the rollout has lasted --progress-status-delay", func() {
		const delay = 2 * time.Second
		restartManager(func(o *Options) { o.ProgressStatusDelay = delay })
		DeferCleanup(func() { restartManager() })
		ns := newNamespace()
		bp := oneServiceBlueprint(ns, "slow")
		Expect(k8sClient.Create(ctx, bp)).To(Succeed())

		dep := getDeployment(ns, "web")
		Eventually(dep, timeout, interval).ShouldNot(BeNil())
		created := dep(Default).CreationTimestamp.Time

		Eventually(readyCondition(ns, bp.Name), timeout, interval).
			Should(haveReason(metav1.ConditionFalse, staxv1alpha1.ReasonProgressing))
		// Both timestamps are whole seconds; the write came at least delay
		// after the Deployment's creation.
		progressing := readyCondition(ns, bp.Name)(Default)
		Expect(progressing.LastTransitionTime.Sub(created)).To(BeNumerically(">=", delay-time.Second))
		held := reconcilerStatusWrites.ReadyReasonsIn(ns)
		Expect(held).To(And(Not(BeEmpty()), HaveEach("False/Progressing")))

		rollOut(ns, bp.Name)
		Expect(reconcilerStatusWrites.ReadyReasonsIn(ns)[len(held):]).To(And(Not(BeEmpty()), HaveEach("True/Available")))
	})

	It("reports a problem at once, whatever the delay", func() {
		restartManager(func(o *Options) { o.ProgressStatusDelay = 30 * time.Second })
		DeferCleanup(func() { restartManager() })
		ns := newNamespace()
		bp := oneServiceBlueprint(ns, "broken")
		bp.Spec.Services = append(bp.Spec.Services, staxv1alpha1.BlueprintService{
			Name: "api", Image: "busybox:1.37", Env: map[string]staxv1alpha1.EnvValue{"KEY": "${secret:missing/key}"},
		})
		Expect(k8sClient.Create(ctx, bp)).To(Succeed())
		// web's Deployment rolls out meanwhile: the hold would apply to it.
		Eventually(getDeployment(ns, "web"), timeout, interval).ShouldNot(BeNil())
		Eventually(readyCondition(ns, bp.Name), 10*time.Second, interval).
			Should(haveReason(metav1.ConditionFalse, staxv1alpha1.ReasonSecretNotFound))
	})
})
