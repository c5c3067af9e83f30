package controller

import (
	"context"
	"os"
	"path/filepath"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	kstatus "sigs.k8s.io/cli-utils/pkg/kstatus/status"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	staxv1alpha1 "github.com/stax-dev/blueprint-operator/api/v1alpha1"
	"github.com/stax-dev/blueprint-operator/internal/gitops"
)

// argoFieldManager is the field manager Argo CD's server-side apply uses.
const argoFieldManager = "argocd-controller"

// gitopsView is one read of a Blueprint from the API server and what Flux
// (kstatus) and Argo CD (the shipped health check) make of that same read.
type gitopsView struct {
	Ready, Stalled *metav1.Condition
	Kstatus        *kstatus.Result
	Argo           string
	ArgoMessage    string
}

// viewBlueprint reads the Blueprint once its status describes the current
// spec, and evaluates both health checks on that read.
func viewBlueprint(ns, name string) func(Gomega) gitopsView {
	argoScript := readArgoScript()
	return func(g Gomega) gitopsView {
		bp := &staxv1alpha1.Blueprint{}
		g.Expect(k8sClient.Get(context.Background(), types.NamespacedName{Namespace: ns, Name: name}, bp)).To(Succeed())
		v := gitopsView{
			Ready:   meta.FindStatusCondition(bp.Status.Conditions, staxv1alpha1.ConditionReady),
			Stalled: meta.FindStatusCondition(bp.Status.Conditions, staxv1alpha1.ConditionStalled),
		}
		g.Expect(v.Ready).NotTo(BeNil())
		g.Expect(v.Ready.ObservedGeneration).To(Equal(bp.Generation))
		obj := toUnstructured(g, bp)
		var err error
		v.Kstatus, err = kstatus.Compute(obj)
		g.Expect(err).NotTo(HaveOccurred())
		v.Argo, v.ArgoMessage, err = gitops.ArgoHealth(argoScript, obj.Object)
		g.Expect(err).NotTo(HaveOccurred())
		return v
	}
}

// toUnstructured gives the Blueprint the shape both tools read: the API's
// JSON fields, with apiVersion and kind, which typed reads leave empty.
func toUnstructured(g Gomega, bp *staxv1alpha1.Blueprint) *unstructured.Unstructured {
	content, err := runtime.DefaultUnstructuredConverter.ToUnstructured(bp)
	g.Expect(err).NotTo(HaveOccurred())
	obj := &unstructured.Unstructured{Object: content}
	obj.SetGroupVersionKind(staxv1alpha1.GroupVersion.WithKind("Blueprint"))
	return obj
}

// expectHealth waits until the Blueprint's Ready reason is readyReason, and
// requires Flux and Argo CD to read that very status as kstatusWant and
// argoWant, each showing the operator's own message.
func expectHealth(ns, name, readyReason string, kstatusWant kstatus.Status, argoWant string) {
	view := viewBlueprint(ns, name)
	Eventually(func(g Gomega) {
		v := view(g)
		g.Expect(v.Ready.Reason).To(Equal(readyReason))
		g.Expect(v.Kstatus.Status).To(Equal(kstatusWant), v.Kstatus.Message)
		g.Expect(v.Argo).To(Equal(argoWant), v.ArgoMessage)
		switch {
		case argoWant == gitops.ArgoDegraded:
			g.Expect(v.Stalled).NotTo(BeNil())
			g.Expect(v.ArgoMessage).To(Equal(v.Stalled.Message))
			g.Expect(v.Kstatus.Message).To(Equal(v.Stalled.Message))
		case kstatusWant == kstatus.InProgressStatus:
			g.Expect(v.ArgoMessage).To(Equal(v.Ready.Message))
			g.Expect(v.Kstatus.Message).To(Equal(v.Ready.Message))
		default:
			g.Expect(v.ArgoMessage).To(Equal(v.Ready.Message))
		}
	}, timeout, interval).Should(Succeed())
}

// blueprintManifest is the README's Blueprint as a GitOps repository holds
// it, with the label and annotation Argo CD adds to track what it applied.
func blueprintManifest(ns string) *unstructured.Unstructured {
	manifest, err := os.ReadFile(filepath.Join("..", "..", "config", "samples", "stax_v1alpha1_blueprint.yaml"))
	Expect(err).NotTo(HaveOccurred())
	obj := &unstructured.Unstructured{}
	Expect(yaml.Unmarshal(manifest, &obj.Object)).To(Succeed())
	obj.SetNamespace(ns)
	obj.SetLabels(map[string]string{"app.kubernetes.io/instance": "payments"})
	obj.SetAnnotations(map[string]string{"argocd.argoproj.io/tracking-id": "payments:stax.dev/Blueprint:" + ns + "/payments-dev"})
	return obj
}

var _ = Describe("GitOps health and drift", func() {
	ctx := context.Background()
	var ns string

	BeforeEach(func() { ns = newNamespace() })

	It("reads as progressing while rolling out and healthy once Ready", func() {
		createSecret(ns, "stripe", map[string]string{"api-key": "sk_test_gitops_health_8c1e5a"})
		bp := paymentsBlueprint(ns)
		Expect(k8sClient.Create(ctx, bp)).To(Succeed())

		By("waiting for the operator before it has written any status")
		status, message, err := gitops.ArgoHealth(readArgoScript(), toUnstructured(Default, bp).Object)
		Expect(err).NotTo(HaveOccurred())
		Expect([]string{status, message}).To(Equal([]string{gitops.ArgoProgressing, "Waiting for the operator to observe the latest spec"}))
		// The status default (observedGeneration -1) keeps kstatus, and so
		// Flux, from reading an unprocessed Blueprint as Current.
		fresh, err := kstatus.Compute(toUnstructured(Default, bp))
		Expect(err).NotTo(HaveOccurred())
		Expect(fresh.Status).To(Equal(kstatus.InProgressStatus), fresh.Message)

		By("progressing while the Deployments roll out")
		expectHealth(ns, bp.Name, "Progressing", kstatus.InProgressStatus, gitops.ArgoProgressing)

		By("healthy once every Deployment is available")
		rollOut(ns, bp.Name)
		expectHealth(ns, bp.Name, "Available", kstatus.CurrentStatus, gitops.ArgoHealthy)
	})

	It("reads as progressing while a referenced Secret is missing", func() {
		bp := paymentsBlueprint(ns)
		Expect(k8sClient.Create(ctx, bp)).To(Succeed())
		expectHealth(ns, bp.Name, "SecretNotFound", kstatus.InProgressStatus, gitops.ArgoProgressing)
	})

	It("reads as failed and degraded when a foreign Deployment is in the way", func() {
		foreign := &appsv1.Deployment{
			ObjectMeta: metav1.ObjectMeta{Name: "db", Namespace: ns},
			Spec: appsv1.DeploymentSpec{
				Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "theirs"}},
				Template: corev1.PodTemplateSpec{
					ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "theirs"}},
					Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "theirs:1"}}},
				},
			},
		}
		Expect(k8sClient.Create(ctx, foreign)).To(Succeed())
		createSecret(ns, "stripe", map[string]string{"api-key": "sk_test_gitops_conflict_3f9b"})
		bp := paymentsBlueprint(ns)
		Expect(k8sClient.Create(ctx, bp)).To(Succeed())
		expectHealth(ns, bp.Name, "Conflict", kstatus.FailedStatus, gitops.ArgoDegraded)
	})

	It("reads as failed and degraded on a reference to an undeclared managed secret", func() {
		bp := &staxv1alpha1.Blueprint{
			ObjectMeta: metav1.ObjectMeta{Name: "undeclared", Namespace: ns},
			Spec: staxv1alpha1.BlueprintSpec{Services: []staxv1alpha1.BlueprintService{{
				Name: "app", Image: "busybox:1.37",
				Env: map[string]staxv1alpha1.EnvValue{"TOKEN": "${secret:undeclared}"},
			}}},
		}
		Expect(k8sClient.Create(ctx, bp)).To(Succeed())
		expectHealth(ns, bp.Name, "InvalidReference", kstatus.FailedStatus, gitops.ArgoDegraded)
	})

	It("never writes what a GitOps tool compares", func() {
		apply := func(opts ...client.ApplyOption) *unstructured.Unstructured {
			obj := blueprintManifest(ns)
			Expect(k8sClient.Apply(ctx, client.ApplyConfigurationFromUnstructured(obj),
				append(opts, client.FieldOwner(argoFieldManager))...)).To(Succeed())
			return obj
		}
		applied := apply()
		createSecret(ns, "stripe", map[string]string{"api-key": "sk_test_gitops_drift_b71d04"})
		Eventually(getDeployment(ns, "api"), timeout, interval).Should(Not(BeNil()))
		rollOut(ns, applied.GetName())

		live := &unstructured.Unstructured{}
		live.SetGroupVersionKind(staxv1alpha1.GroupVersion.WithKind("Blueprint"))
		Expect(k8sClient.Get(ctx, client.ObjectKeyFromObject(applied), live)).To(Succeed())

		By("leaving generation and metadata as applied")
		Expect(live.GetGeneration()).To(Equal(int64(1)))
		Expect(live.GetLabels()).To(Equal(applied.GetLabels()))
		Expect(live.GetAnnotations()).To(Equal(applied.GetAnnotations()))
		Expect(live.GetFinalizers()).To(Equal(applied.GetFinalizers()))
		Expect(live.GetOwnerReferences()).To(Equal(applied.GetOwnerReferences()))

		By("diffing clean: a dry-run apply of the same manifest changes nothing")
		dryRun := apply(client.DryRunAll)
		Expect(dryRun.GetGeneration()).To(Equal(live.GetGeneration()))
		Expect(dryRun.Object["spec"]).To(Equal(live.Object["spec"]))
		Expect(dryRun.GetLabels()).To(Equal(live.GetLabels()))
		Expect(dryRun.GetAnnotations()).To(Equal(live.GetAnnotations()))

		By("owning, apart from Argo CD's fields, only the status subresource")
		var statusWriters int
		for _, entry := range live.GetManagedFields() {
			if entry.Manager == argoFieldManager {
				Expect(entry.Operation).To(Equal(metav1.ManagedFieldsOperationApply))
				continue
			}
			Expect(entry.Subresource).To(Equal("status"), "field manager %s writes the Blueprint itself", entry.Manager)
			statusWriters++
		}
		Expect(statusWriters).To(BeNumerically(">", 0), "the operator's status writes are tracked")
	})
})

// readArgoScript reads the shipped Argo CD health check.
func readArgoScript() string {
	b, err := os.ReadFile(filepath.Join("..", "..", "config", "argocd", "blueprint-health.lua"))
	Expect(err).NotTo(HaveOccurred())
	return string(b)
}
