package metrics

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	ctrlmetrics "sigs.k8s.io/controller-runtime/pkg/metrics"

	"github.com/stax-dev/blueprint-operator/internal/values"
)

const (
	nameValues     = "stax_blueprint_values_generated_total"
	nameRotations  = "stax_blueprint_rotations_total"
	nameReferences = "stax_blueprint_reference_failures_total"
	nameBlueprints = "stax_blueprints"
)

func TestRegisteredInControllerRuntimeRegistry(t *testing.T) {
	problems, err := testutil.GatherAndLint(ctrlmetrics.Registry, nameValues, nameRotations, nameReferences, nameBlueprints)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		t.Errorf("%s: %s", p.Metric, p.Text)
	}
	// Every label value is exported before anything happened.
	for name, series := range map[string]int{nameValues: 1, nameRotations: 3, nameReferences: 4, nameBlueprints: 3} {
		n, err := testutil.GatherAndCount(ctrlmetrics.Registry, name)
		if err != nil {
			t.Fatal(err)
		}
		if n != series {
			t.Errorf("%s has %d series, want %d", name, n, series)
		}
	}
}

func TestCounters(t *testing.T) {
	before := testutil.ToFloat64(valuesGenerated)
	ValuesGenerated(3)
	ValuesGenerated(0)
	if got := testutil.ToFloat64(valuesGenerated) - before; got != 3 {
		t.Errorf("%s grew by %v, want 3", nameValues, got)
	}

	field, schedule := testutil.ToFloat64(rotations.WithLabelValues(values.TriggerField)), testutil.ToFloat64(rotations.WithLabelValues(values.TriggerSchedule))
	Rotated(values.TriggerField, 2)
	Rotated(values.TriggerField, 1)
	if got := testutil.ToFloat64(rotations.WithLabelValues(values.TriggerField)) - field; got != 3 {
		t.Errorf("%s{trigger=%q} grew by %v, want 3", nameRotations, values.TriggerField, got)
	}
	if got := testutil.ToFloat64(rotations.WithLabelValues(values.TriggerSchedule)) - schedule; got != 0 {
		t.Errorf("%s{trigger=%q} grew by %v, want 0", nameRotations, values.TriggerSchedule, got)
	}

	notFound := testutil.ToFloat64(referenceFailures.WithLabelValues("SecretNotFound"))
	ReferenceFailure("SecretNotFound")
	ReferenceFailure("SecretNotFound")
	if got := testutil.ToFloat64(referenceFailures.WithLabelValues("SecretNotFound")) - notFound; got != 2 {
		t.Errorf("%s{reason=SecretNotFound} grew by %v, want 2", nameReferences, got)
	}
}

func key(name string) types.NamespacedName {
	return types.NamespacedName{Namespace: "team-a", Name: name}
}

func expectBlueprints(t *testing.T, c prometheus.Collector, ready, notReady, unknown int) {
	t.Helper()
	want := fmt.Sprintf(`# HELP stax_blueprints Blueprints by the status of their Ready condition.
# TYPE stax_blueprints gauge
stax_blueprints{ready="False"} %d
stax_blueprints{ready="True"} %d
stax_blueprints{ready="Unknown"} %d
`, notReady, ready, unknown)
	if err := testutil.CollectAndCompare(c, strings.NewReader(want), nameBlueprints); err != nil {
		t.Error(err)
	}
}

func newGauge() *prometheus.GaugeVec {
	return prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: nameBlueprints, Help: "Blueprints by the status of their Ready condition."}, []string{"ready"})
}

func TestReadyTrackerCountsEachBlueprintOnce(t *testing.T) {
	gauge := newGauge()
	tr := newReadyTracker(gauge)
	expectBlueprints(t, gauge, 0, 0, 0)

	tr.set(key("a"), metav1.ConditionFalse)
	tr.set(key("b"), metav1.ConditionTrue)
	expectBlueprints(t, gauge, 1, 1, 0)

	// Reconciles report the same status over and over.
	tr.set(key("a"), metav1.ConditionFalse)
	tr.set(key("b"), metav1.ConditionTrue)
	expectBlueprints(t, gauge, 1, 1, 0)

	tr.set(key("a"), metav1.ConditionTrue)
	expectBlueprints(t, gauge, 2, 0, 0)

	// The same name in another namespace is another Blueprint.
	tr.set(types.NamespacedName{Namespace: "team-b", Name: "a"}, metav1.ConditionFalse)
	expectBlueprints(t, gauge, 2, 1, 0)

	tr.set(key("c"), "")
	tr.set(key("d"), "Maybe")
	tr.set(key("e"), metav1.ConditionUnknown)
	expectBlueprints(t, gauge, 2, 1, 3)

	tr.forget(key("b"))
	tr.forget(key("d"))
	expectBlueprints(t, gauge, 1, 1, 2)

	// Deletion may be seen more than once, or for a Blueprint never reported.
	tr.forget(key("b"))
	tr.forget(key("never-seen"))
	expectBlueprints(t, gauge, 1, 1, 2)
}

func TestReadyTrackerUnderConcurrentReports(t *testing.T) {
	gauge := newGauge()
	tr := newReadyTracker(gauge)
	statuses := []metav1.ConditionStatus{metav1.ConditionTrue, metav1.ConditionFalse, metav1.ConditionUnknown}
	var wg sync.WaitGroup
	for w := range 8 {
		wg.Go(func() {
			r := rand.New(rand.NewPCG(uint64(w), 0))
			for range 2000 {
				k := key(fmt.Sprintf("bp-%d", r.IntN(50)))
				if r.IntN(4) == 0 {
					tr.forget(k)
				} else {
					tr.set(k, statuses[r.IntN(len(statuses))])
				}
			}
		})
	}
	wg.Wait()

	// Whatever the interleaving, the gauge equals a fresh count of the
	// latest status of each Blueprint.
	want := map[metav1.ConditionStatus]int{}
	for _, s := range tr.status {
		want[s]++
	}
	expectBlueprints(t, gauge, want[metav1.ConditionTrue], want[metav1.ConditionFalse], want[metav1.ConditionUnknown])
}

func TestSetReadyAndForgetFeedTheRegisteredGauge(t *testing.T) {
	k := types.NamespacedName{Namespace: "metrics-test", Name: "payments-dev"}
	before := testutil.ToFloat64(blueprints.WithLabelValues("False"))
	SetReady(k, metav1.ConditionFalse)
	if got := testutil.ToFloat64(blueprints.WithLabelValues("False")) - before; got != 1 {
		t.Errorf(`stax_blueprints{ready="False"} grew by %v, want 1`, got)
	}
	Forget(k)
	if got := testutil.ToFloat64(blueprints.WithLabelValues("False")); got != before {
		t.Errorf(`stax_blueprints{ready="False"} is %v after Forget, want %v`, got, before)
	}
}

func TestAsleepGauges(t *testing.T) {
	problems, err := testutil.GatherAndLint(ctrlmetrics.Registry, "stax_blueprints_asleep", "stax_blueprint_replicas_saved")
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		t.Errorf("%s: %s", p.Metric, p.Text)
	}
	a, b := types.NamespacedName{Namespace: "t", Name: "a"}, types.NamespacedName{Namespace: "t", Name: "b"}
	check := func(step string, asleep, saved float64) {
		t.Helper()
		if got := testutil.ToFloat64(blueprintsAsleep); got != asleep {
			t.Errorf("%s: stax_blueprints_asleep = %v, want %v", step, got, asleep)
		}
		if got := testutil.ToFloat64(replicasSaved); got != saved {
			t.Errorf("%s: stax_blueprint_replicas_saved = %v, want %v", step, got, saved)
		}
	}
	SetAsleep(a, true, 3)
	SetAsleep(b, true, 2)
	check("two asleep", 2, 5)
	SetAsleep(a, true, 3)
	check("a reported again counts once", 2, 5)
	SetAsleep(a, false, 0)
	check("a awake", 1, 2)
	Forget(b)
	check("b deleted", 0, 0)
}
