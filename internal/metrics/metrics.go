// Package metrics holds the operator's Prometheus metrics. They are
// registered in controller-runtime's registry, so the manager serves them on
// its metrics endpoint next to the controller and client metrics.
//
// No metric carries a Blueprint's name or namespace as a label: the number of
// series stays fixed however many Blueprints exist, and per-Blueprint state is
// in the Blueprint's status.
package metrics

import (
	staxv1alpha1 "github.com/stax-dev/blueprint-operator/api/v1alpha1"

	"sync"

	"github.com/prometheus/client_golang/prometheus"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	ctrlmetrics "sigs.k8s.io/controller-runtime/pkg/metrics"

	"github.com/stax-dev/blueprint-operator/internal/values"
)

var (
	valuesGenerated = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "stax_blueprint_values_generated_total",
		Help: "Managed secret values generated for the first time (rotations are counted in stax_blueprint_rotations_total).",
	})
	rotations = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "stax_blueprint_rotations_total",
		Help: "Managed secret values replaced by a new value, by what triggered the rotation.",
	}, []string{"trigger"})
	referenceFailures = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "stax_blueprint_reference_failures_total",
		Help: "Secret references a reconcile could not resolve, by reason; a reference that stays broken counts again in each reconcile that finds it.",
	}, []string{"reason"})
	blueprints = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "stax_blueprints",
		Help: "Blueprints by the status of their Ready condition.",
	}, []string{"ready"})

	ready = newReadyTracker(blueprints)

	blueprintsAsleep = prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "stax_blueprints_asleep",
		Help: "Blueprints whose Deployments are scaled to 0 because they are suspended (spec.suspend) or asleep (spec.sleep, kubectl blueprint sleep).",
	})
	replicasSaved = prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "stax_blueprint_replicas_saved",
		Help: "Pod replicas not running because their Blueprint is suspended or asleep: the sum of the counts its Deployments return to on resume.",
	})

	sleeping = &sleepTracker{saved: map[types.NamespacedName]int64{}}
)

func init() {
	// Every label value exists from the start at zero, so that rate() and
	// alerts see a series before its first event rather than no data.
	for _, t := range []string{values.TriggerField, values.TriggerAnnotation, values.TriggerSchedule} {
		rotations.WithLabelValues(t)
	}
	for _, r := range []string{staxv1alpha1.ReasonSecretNotFound, staxv1alpha1.ReasonSecretKeyNotFound, staxv1alpha1.ReasonSecretNotReferenceable, staxv1alpha1.ReasonInvalidReference} {
		referenceFailures.WithLabelValues(r)
	}
	ctrlmetrics.Registry.MustRegister(valuesGenerated, rotations, referenceFailures, blueprints, blueprintsAsleep, replicasSaved)
}

// ValuesGenerated counts n values generated for the first time.
func ValuesGenerated(n int) {
	valuesGenerated.Add(float64(n))
}

// Rotated counts n values replaced by trigger: values.TriggerField,
// TriggerAnnotation or TriggerSchedule.
func Rotated(trigger string, n int) {
	rotations.WithLabelValues(trigger).Add(float64(n))
}

// ReferenceFailure counts one reference a reconcile could not resolve, by
// its reason: staxv1alpha1.ReasonSecretNotFound, ReasonSecretKeyNotFound,
// ReasonSecretNotReferenceable or
// ReasonInvalidReference.
func ReferenceFailure(reason string) {
	referenceFailures.WithLabelValues(reason).Inc()
}

// SetReady records the status of the Ready condition of the Blueprint key.
// A Blueprint counts once, under its latest status, however often it is
// reported.
func SetReady(key types.NamespacedName, s metav1.ConditionStatus) {
	ready.set(key, s)
}

// Forget removes a deleted Blueprint from the stax_blueprints,
// stax_blueprints_asleep and stax_blueprint_replicas_saved gauges.
func Forget(key types.NamespacedName) {
	ready.forget(key)
	sleeping.set(key, false, 0)
}

// SetAsleep records whether the Blueprint key is suspended or asleep, and
// how many replicas its Deployments return to on resume (saved). A
// Blueprint counts once, under its latest report.
func SetAsleep(key types.NamespacedName, asleep bool, saved int64) {
	sleeping.set(key, asleep, saved)
}

// sleepTracker keeps, per Blueprint asleep, the replicas it saves, and
// derives both gauges from the map, as readyTracker does.
type sleepTracker struct {
	mu    sync.Mutex
	saved map[types.NamespacedName]int64
}

func (t *sleepTracker) set(key types.NamespacedName, asleep bool, saved int64) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if asleep {
		t.saved[key] = saved
	} else {
		delete(t.saved, key)
	}
	var total int64
	for _, n := range t.saved {
		total += n
	}
	blueprintsAsleep.Set(float64(len(t.saved)))
	replicasSaved.Set(float64(total))
}

// readyTracker keeps the Ready status of every Blueprint and derives the
// gauge from it. Incrementing and decrementing the gauge directly would drift
// on the first repeated or missed report; counting over a map of the latest
// status per Blueprint cannot.
type readyTracker struct {
	mu     sync.Mutex
	status map[types.NamespacedName]metav1.ConditionStatus
	counts map[metav1.ConditionStatus]int
	gauge  *prometheus.GaugeVec
}

func newReadyTracker(gauge *prometheus.GaugeVec) *readyTracker {
	t := &readyTracker{
		status: map[types.NamespacedName]metav1.ConditionStatus{},
		counts: map[metav1.ConditionStatus]int{},
		gauge:  gauge,
	}
	for _, s := range []metav1.ConditionStatus{metav1.ConditionTrue, metav1.ConditionFalse, metav1.ConditionUnknown} {
		t.publish(s)
	}
	return t
}

func (t *readyTracker) set(key types.NamespacedName, s metav1.ConditionStatus) {
	if s != metav1.ConditionTrue && s != metav1.ConditionFalse {
		// Anything else, a missing condition included, is Unknown, which
		// keeps the label to the three values a condition status may take.
		s = metav1.ConditionUnknown
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	old, known := t.status[key]
	if known && old == s {
		return
	}
	t.status[key] = s
	t.counts[s]++
	t.publish(s)
	if known {
		t.counts[old]--
		t.publish(old)
	}
}

func (t *readyTracker) forget(key types.NamespacedName) {
	t.mu.Lock()
	defer t.mu.Unlock()
	old, known := t.status[key]
	if !known {
		return
	}
	delete(t.status, key)
	t.counts[old]--
	t.publish(old)
}

// publish must be called with t.mu held, so that the gauge is written in the
// same order as the counts change.
func (t *readyTracker) publish(s metav1.ConditionStatus) {
	t.gauge.WithLabelValues(string(s)).Set(float64(t.counts[s]))
}
