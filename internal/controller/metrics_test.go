package controller

import (
	"context"
	"net/http"
	"net/http/httptest"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	ctrlmetrics "sigs.k8s.io/controller-runtime/pkg/metrics"

	staxv1alpha1 "github.com/stax-dev/blueprint-operator/api/v1alpha1"
	"github.com/stax-dev/blueprint-operator/internal/metrics"
	"github.com/stax-dev/blueprint-operator/internal/values"
)

// scrapeMetrics fetches url as Prometheus does and parses the text format.
func scrapeMetrics(url string) map[string]*dto.MetricFamily {
	resp, err := http.Get(url)
	Expect(err).NotTo(HaveOccurred())
	defer resp.Body.Close()
	Expect(resp.StatusCode).To(Equal(http.StatusOK))
	parser := expfmt.NewTextParser(model.UTF8Validation)
	families, err := parser.TextToMetricFamilies(resp.Body)
	Expect(err).NotTo(HaveOccurred())
	return families
}

// sample is the value of the series of family name whose only label is
// label=value, or of its single unlabelled series when label is empty.
func sample(families map[string]*dto.MetricFamily, name, label, value string) float64 {
	family, ok := families[name]
	ExpectWithOffset(1, ok).To(BeTrue(), "no metric family %s in the scrape", name)
	for _, m := range family.GetMetric() {
		labels := m.GetLabel()
		if (label == "" && len(labels) == 0) || (len(labels) == 1 && labels[0].GetName() == label && labels[0].GetValue() == value) {
			if family.GetType() == dto.MetricType_GAUGE {
				return m.GetGauge().GetValue()
			}
			return m.GetCounter().GetValue()
		}
	}
	Fail("no series " + name + "{" + label + "=\"" + value + "\"} in the scrape")
	return 0
}

var _ = Describe("Metrics endpoint", func() {
	It("serves the operator's metrics from controller-runtime's registry", func() {
		// The handler the manager's metrics server mounts, over the registry
		// it serves, without the manager's authentication in front.
		server := httptest.NewServer(promhttp.HandlerFor(ctrlmetrics.Registry, promhttp.HandlerOpts{ErrorHandling: promhttp.HTTPErrorOnError}))
		DeferCleanup(server.Close)

		By("exporting every series, at zero, before anything happened")
		before := scrapeMetrics(server.URL)
		for name, typ := range map[string]dto.MetricType{
			"stax_blueprint_values_generated_total":   dto.MetricType_COUNTER,
			"stax_blueprint_rotations_total":          dto.MetricType_COUNTER,
			"stax_blueprint_reference_failures_total": dto.MetricType_COUNTER,
			"stax_blueprints":                         dto.MetricType_GAUGE,
		} {
			Expect(before).To(HaveKeyWithValue(name, HaveField("GetType()", typ)))
		}
		sample(before, "stax_blueprint_values_generated_total", "", "")
		for _, trigger := range []string{values.TriggerField, values.TriggerAnnotation, values.TriggerSchedule} {
			sample(before, "stax_blueprint_rotations_total", "trigger", trigger)
		}
		for _, reason := range []string{staxv1alpha1.ReasonSecretNotFound, staxv1alpha1.ReasonSecretKeyNotFound, staxv1alpha1.ReasonSecretNotReferenceable, staxv1alpha1.ReasonInvalidReference} {
			sample(before, "stax_blueprint_reference_failures_total", "reason", reason)
		}
		for _, ready := range []string{"True", "False", "Unknown"} {
			sample(before, "stax_blueprints", "ready", ready)
		}

		By("showing exactly what the reconciler reports")
		// With the suite's manager stopped nothing else counts, so every
		// series grows by exactly what this spec reports: counting twice
		// would show.
		stopManager()
		<-managerDone
		DeferCleanup(func() { startManager() })
		before = scrapeMetrics(server.URL)
		metrics.ValuesGenerated(2)
		metrics.Rotated(values.TriggerAnnotation, 1)
		metrics.ReferenceFailure(staxv1alpha1.ReasonSecretKeyNotFound)
		probe := types.NamespacedName{Namespace: "metrics-probe", Name: "unobserved"}
		metrics.SetReady(probe, metav1.ConditionUnknown)
		DeferCleanup(metrics.Forget, probe)
		after := scrapeMetrics(server.URL)

		grew := func(name, label, value string) float64 {
			return sample(after, name, label, value) - sample(before, name, label, value)
		}
		Expect(grew("stax_blueprint_values_generated_total", "", "")).To(Equal(2.0))
		Expect(grew("stax_blueprint_rotations_total", "trigger", values.TriggerAnnotation)).To(Equal(1.0))
		for _, trigger := range []string{values.TriggerField, values.TriggerSchedule} {
			Expect(grew("stax_blueprint_rotations_total", "trigger", trigger)).To(BeZero())
		}
		Expect(grew("stax_blueprint_reference_failures_total", "reason", staxv1alpha1.ReasonSecretKeyNotFound)).To(Equal(1.0))
		for _, reason := range []string{staxv1alpha1.ReasonSecretNotFound, staxv1alpha1.ReasonSecretNotReferenceable, staxv1alpha1.ReasonInvalidReference} {
			Expect(grew("stax_blueprint_reference_failures_total", "reason", reason)).To(BeZero())
		}
		// Reconciles always leave a Ready condition, True or False, so only
		// the probe is Unknown.
		Expect(grew("stax_blueprints", "ready", "Unknown")).To(Equal(1.0))
	})
})

var _ = Describe("Metrics wired", func() {
	// Counts are compared with what they were when the spec began: the
	// registry is process-wide, and other specs (the namespace-restriction
	// spec runs a second manager against a second API server) add to it.
	total := func(families map[string]*dto.MetricFamily) float64 {
		return sample(families, "stax_blueprints", "ready", "True") + sample(families, "stax_blueprints", "ready", "False") +
			sample(families, "stax_blueprints", "ready", "Unknown")
	}

	It("tracks real reconciles", func() {
		server := httptest.NewServer(promhttp.HandlerFor(ctrlmetrics.Registry, promhttp.HandlerOpts{}))
		DeferCleanup(server.Close)
		ns := newNamespace()
		// Blueprints other specs left behind (admission specs create some
		// and move on; a restart re-reconciles them all) must have been
		// reconciled by the running manager before the spec takes its
		// baseline, or their reconciles would count as this one's.
		Eventually(func(g Gomega) {
			all := &staxv1alpha1.BlueprintList{}
			g.Expect(k8sClient.List(context.Background(), all)).To(Succeed())
			for _, other := range all.Items {
				g.Expect(other.Status.ObservedGeneration).NotTo(BeNil(), "Blueprint %s/%s not reconciled yet", other.Namespace, other.Name)
				g.Expect(reconciledSince(other.Namespace, other.Name, managerStarted, "")).To(BeTrue(),
					"Blueprint %s/%s not reconciled since the manager started", other.Namespace, other.Name)
			}
		}, timeout, interval).Should(Succeed())
		before := scrapeMetrics(server.URL)
		bp := paymentsBlueprint(ns)
		Expect(k8sClient.Create(context.Background(), bp)).To(Succeed())
		Eventually(readyCondition(ns, bp.Name), timeout, interval).Should(haveReason("False", "SecretNotFound"))
		secretCreated := time.Now()
		createSecret(ns, "stripe", map[string]string{"api-key": "sk_test_wired_1234567"})
		rollOut(ns, bp.Name)
		// Every reconcile that began before the Secret existed found the
		// reference broken and counted it once, except perhaps the one
		// running as it was created (reconciles of one Blueprint never
		// overlap).
		brokenReconciles := reconcilesBegunBefore(ns, bp.Name, secretCreated)
		Expect(brokenReconciles).To(BeNumerically(">", 0))
		Eventually(func(g Gomega) {
			after := scrapeMetrics(server.URL)
			g.Expect(total(after)).To(Equal(total(before) + 1))
			g.Expect(sample(after, "stax_blueprints", "ready", "True") - sample(before, "stax_blueprints", "ready", "True")).To(Equal(1.0))
			// One managed secret, generated once, however many reconciles.
			g.Expect(sample(after, "stax_blueprint_values_generated_total", "", "") - sample(before, "stax_blueprint_values_generated_total", "", "")).To(Equal(1.0))
			g.Expect(sample(after, "stax_blueprint_reference_failures_total", "reason", "SecretNotFound")-sample(before, "stax_blueprint_reference_failures_total", "reason", "SecretNotFound")).
				To(BeNumerically("~", float64(brokenReconciles)-0.5, 0.5), "one count per reconcile that found the reference broken")
		}, timeout, interval).Should(Succeed())
		Expect(k8sClient.Delete(context.Background(), bp)).To(Succeed())
		Eventually(func(g Gomega) float64 { return total(scrapeMetrics(server.URL)) }, timeout, interval).Should(Equal(total(before)))
	})
})
