package status_test

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	metav1validation "k8s.io/apimachinery/pkg/apis/meta/v1/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/yaml"

	staxv1alpha1 "github.com/stax-dev/blueprint-operator/api/v1alpha1"
	"github.com/stax-dev/blueprint-operator/internal/apierror"
	"github.com/stax-dev/blueprint-operator/internal/status"
)

const (
	ready       = staxv1alpha1.ConditionReady
	reconciling = staxv1alpha1.ConditionReconciling
	stalled     = staxv1alpha1.ConditionStalled
)

// Messages of the problems used below, as the controller words them.
const (
	msgSecretNotFound = "service api, env STRIPE_KEY: Secret stripe not found in namespace team-a"
	msgKeyNotFound    = "service api, env STRIPE_KEY: Secret stripe has no key api-key"
	msgConflict       = "Deployment api exists and is not controlled by this Blueprint"
	msgInvalidRef     = `service api, env URL: no secret named "nope" with value auto-generated is declared in this Blueprint: "pg://${secret:nope}"`
)

var (
	secretNotFound = status.Problem{Reason: staxv1alpha1.ReasonSecretNotFound, Message: msgSecretNotFound}
	keyNotFound    = status.Problem{Reason: staxv1alpha1.ReasonSecretKeyNotFound, Message: msgKeyNotFound}
	conflict       = status.Problem{Reason: staxv1alpha1.ReasonConflict, Message: msgConflict, Stalling: true}
	invalidRef     = status.Problem{Reason: staxv1alpha1.ReasonInvalidReference, Message: msgInvalidRef, Stalling: true}
	errTransient   = errors.New("applying Deployment api: connection refused")
)

func available(name string, replicas int32) status.ServiceObservation {
	return status.ServiceObservation{Name: name, Desired: replicas, Ready: replicas, Available: true}
}

func pending(name string, ready, desired int32) status.ServiceObservation {
	return status.ServiceObservation{Name: name, Desired: desired, Ready: ready}
}

// Service states, as status reports them.
const (
	stateAvailable   = staxv1alpha1.ServiceStateAvailable
	stateProgressing = staxv1alpha1.ServiceStateProgressing
	stateWaiting     = staxv1alpha1.ServiceStateWaitingForDependencies
)

func serviceStatus(name string, ready, desired int32, state staxv1alpha1.ServiceState) staxv1alpha1.ServiceStatus {
	return staxv1alpha1.ServiceStatus{Name: name, State: state, DesiredReplicas: &desired, ReadyReplicas: &ready}
}

// bothAvailable is the payments-dev example with every Deployment available.
var bothAvailable = []status.ServiceObservation{available("db", 1), available("api", 2)}

// apiPending is the payments-dev example with api still rolling out.
var apiPending = []status.ServiceObservation{available("db", 1), pending("api", 1, 2)}

// wantCondition is a condition's expected status, reason and message. Its
// type is the key it is listed under; its observedGeneration is always the
// observation's generation.
type wantCondition struct {
	status  metav1.ConditionStatus
	reason  string
	message string
}

func condition(t metav1.ConditionStatus, reason, message string) wantCondition {
	return wantCondition{status: t, reason: reason, message: message}
}

var applyTests = map[string]struct {
	before               staxv1alpha1.BlueprintStatus
	obs                  status.Observation
	want                 map[string]wantCondition // exactly the conditions present
	wantReady, wantTotal int32                    // readyServiceCount, serviceCount
	wantServices         []staxv1alpha1.ServiceStatus
}{
	"all services available": {
		obs: status.Observation{Generation: 1, GeneratedSecretName: "payments-dev-generated", Services: bothAvailable},
		want: map[string]wantCondition{
			ready: condition(metav1.ConditionTrue, staxv1alpha1.ReasonAvailable, "all 2 services are available"),
		},
		wantReady: 2, wantTotal: 2,
		wantServices: []staxv1alpha1.ServiceStatus{
			serviceStatus("db", 1, 1, stateAvailable),
			serviceStatus("api", 2, 2, stateAvailable),
		},
	},
	"suspended or asleep: Ready False, Suspended, settled (neither Reconciling nor Stalled)": {
		obs: status.Observation{
			Generation: 3, Services: []status.ServiceObservation{{Name: "db", Desired: 0, Suspended: true}, {Name: "api", Desired: 0, Suspended: true}},
			SleepMessage: "asleep since 2026-12-07T11:00:00Z: idle for 3h; kubectl blueprint wake payments-dev",
			Problems:     []status.Problem{secretNotFound},
		},
		want: map[string]wantCondition{
			ready: condition(metav1.ConditionFalse, staxv1alpha1.ReasonSuspended, "asleep since 2026-12-07T11:00:00Z: idle for 3h; kubectl blueprint wake payments-dev"),
		},
		wantReady: 0, wantTotal: 2,
		wantServices: []staxv1alpha1.ServiceStatus{
			serviceStatus("db", 0, 0, staxv1alpha1.ServiceStateSuspended),
			serviceStatus("api", 0, 0, staxv1alpha1.ServiceStateSuspended),
		},
	},
	"a stalling problem is told before sleep": {
		obs: status.Observation{
			Generation: 3, Services: []status.ServiceObservation{{Name: "api", Suspended: true}},
			SleepMessage: "suspended by spec; set spec.suspend to false to resume",
			Problems:     []status.Problem{conflict},
		},
		want: map[string]wantCondition{
			ready:   condition(metav1.ConditionFalse, staxv1alpha1.ReasonConflict, msgConflict),
			stalled: condition(metav1.ConditionTrue, staxv1alpha1.ReasonConflict, msgConflict),
		},
		wantReady: 0, wantTotal: 1,
		wantServices: []staxv1alpha1.ServiceStatus{serviceStatus("api", 0, 0, staxv1alpha1.ServiceStateSuspended)},
	},
	"a Deployment rolling out": {
		obs: status.Observation{Generation: 1, Services: apiPending},
		want: map[string]wantCondition{
			ready:       condition(metav1.ConditionFalse, staxv1alpha1.ReasonProgressing, "waiting for Deployments to be available: api (1/2 ready)"),
			reconciling: condition(metav1.ConditionTrue, staxv1alpha1.ReasonProgressing, "waiting for Deployments to be available: api (1/2 ready)"),
		},
		wantReady: 1, wantTotal: 2,
		wantServices: []staxv1alpha1.ServiceStatus{
			serviceStatus("db", 1, 1, stateAvailable),
			serviceStatus("api", 1, 2, stateProgressing),
		},
	},
	"several Deployments rolling out, in service order": {
		obs: status.Observation{Generation: 1, Services: []status.ServiceObservation{
			pending("db", 0, 1), available("cache", 1), pending("api", 2, 2),
		}},
		want: map[string]wantCondition{
			ready:       condition(metav1.ConditionFalse, staxv1alpha1.ReasonProgressing, "waiting for Deployments to be available: db (0/1 ready), api (2/2 ready)"),
			reconciling: condition(metav1.ConditionTrue, staxv1alpha1.ReasonProgressing, "waiting for Deployments to be available: db (0/1 ready), api (2/2 ready)"),
		},
		wantReady: 1, wantTotal: 3,
		wantServices: []staxv1alpha1.ServiceStatus{
			serviceStatus("db", 0, 1, stateProgressing),
			serviceStatus("cache", 1, 1, stateAvailable),
			serviceStatus("api", 2, 2, stateProgressing),
		},
	},
	"a service waiting for its dependencies": {
		obs: status.Observation{Generation: 1, Services: []status.ServiceObservation{
			pending("db", 0, 1), {Name: "api", Desired: 2, WaitingFor: []string{"db"}},
		}},
		want: map[string]wantCondition{
			ready:       condition(metav1.ConditionFalse, staxv1alpha1.ReasonProgressing, "waiting for Deployments to be available: db (0/1 ready), api (waiting for db)"),
			reconciling: condition(metav1.ConditionTrue, staxv1alpha1.ReasonProgressing, "waiting for Deployments to be available: db (0/1 ready), api (waiting for db)"),
		},
		wantReady: 0, wantTotal: 2,
		wantServices: []staxv1alpha1.ServiceStatus{
			serviceStatus("db", 0, 1, stateProgressing),
			{Name: "api", State: stateWaiting, DesiredReplicas: ptr.To[int32](2), ReadyReplicas: ptr.To[int32](0), WaitingFor: []string{"db"}},
		},
	},
	"referenced Secret not found": {
		obs: status.Observation{Generation: 1, Problems: []status.Problem{secretNotFound}, Services: apiPending},
		want: map[string]wantCondition{
			ready:       condition(metav1.ConditionFalse, staxv1alpha1.ReasonSecretNotFound, msgSecretNotFound),
			reconciling: condition(metav1.ConditionTrue, staxv1alpha1.ReasonSecretNotFound, msgSecretNotFound),
		},
		wantReady: 1, wantTotal: 2,
		wantServices: []staxv1alpha1.ServiceStatus{
			serviceStatus("db", 1, 1, stateAvailable),
			serviceStatus("api", 1, 2, stateProgressing),
		},
	},
	"waiting problems joined, first one's reason": {
		obs: status.Observation{Generation: 1, Problems: []status.Problem{keyNotFound, secretNotFound}, Services: bothAvailable},
		want: map[string]wantCondition{
			ready:       condition(metav1.ConditionFalse, staxv1alpha1.ReasonSecretKeyNotFound, msgKeyNotFound+"; "+msgSecretNotFound),
			reconciling: condition(metav1.ConditionTrue, staxv1alpha1.ReasonSecretKeyNotFound, msgKeyNotFound+"; "+msgSecretNotFound),
		},
		wantReady: 2, wantTotal: 2,
		wantServices: []staxv1alpha1.ServiceStatus{
			serviceStatus("db", 1, 1, stateAvailable),
			serviceStatus("api", 2, 2, stateAvailable),
		},
	},
	"conflict stalls and still reports waiting problems": {
		// The waiting problem comes first: a stalling one wins regardless.
		obs: status.Observation{Generation: 1, Problems: []status.Problem{secretNotFound, conflict}, Services: apiPending},
		want: map[string]wantCondition{
			ready:   condition(metav1.ConditionFalse, staxv1alpha1.ReasonConflict, msgConflict+"; "+msgSecretNotFound),
			stalled: condition(metav1.ConditionTrue, staxv1alpha1.ReasonConflict, msgConflict+"; "+msgSecretNotFound),
		},
		wantReady: 1, wantTotal: 2,
		wantServices: []staxv1alpha1.ServiceStatus{
			serviceStatus("db", 1, 1, stateAvailable),
			serviceStatus("api", 1, 2, stateProgressing),
		},
	},
	"first stalling problem gives the reason": {
		obs: status.Observation{Generation: 1, Problems: []status.Problem{invalidRef, conflict}, Services: bothAvailable},
		want: map[string]wantCondition{
			ready:   condition(metav1.ConditionFalse, staxv1alpha1.ReasonInvalidReference, msgInvalidRef+"; "+msgConflict),
			stalled: condition(metav1.ConditionTrue, staxv1alpha1.ReasonInvalidReference, msgInvalidRef+"; "+msgConflict),
		},
		wantReady: 2, wantTotal: 2,
		wantServices: []staxv1alpha1.ServiceStatus{
			serviceStatus("db", 1, 1, stateAvailable),
			serviceStatus("api", 2, 2, stateAvailable),
		},
	},
	"repeated messages reported once": {
		obs: status.Observation{Generation: 1, Problems: []status.Problem{secretNotFound, secretNotFound, conflict, conflict}, Services: bothAvailable},
		want: map[string]wantCondition{
			ready:   condition(metav1.ConditionFalse, staxv1alpha1.ReasonConflict, msgConflict+"; "+msgSecretNotFound),
			stalled: condition(metav1.ConditionTrue, staxv1alpha1.ReasonConflict, msgConflict+"; "+msgSecretNotFound),
		},
		wantReady: 2, wantTotal: 2,
		wantServices: []staxv1alpha1.ServiceStatus{
			serviceStatus("db", 1, 1, stateAvailable),
			serviceStatus("api", 2, 2, stateAvailable),
		},
	},
	"transient error": {
		obs: status.Observation{Generation: 1, Err: errTransient, Services: bothAvailable},
		want: map[string]wantCondition{
			ready:       condition(metav1.ConditionFalse, staxv1alpha1.ReasonReconcileError, errTransient.Error()),
			reconciling: condition(metav1.ConditionTrue, staxv1alpha1.ReasonReconcileError, errTransient.Error()),
		},
		wantReady: 2, wantTotal: 2,
		wantServices: []staxv1alpha1.ServiceStatus{
			serviceStatus("db", 1, 1, stateAvailable),
			serviceStatus("api", 2, 2, stateAvailable),
		},
	},
	"stalling problem beats transient error": {
		obs: status.Observation{Generation: 1, Problems: []status.Problem{invalidRef}, Err: errTransient, Services: bothAvailable},
		want: map[string]wantCondition{
			ready:   condition(metav1.ConditionFalse, staxv1alpha1.ReasonInvalidReference, msgInvalidRef),
			stalled: condition(metav1.ConditionTrue, staxv1alpha1.ReasonInvalidReference, msgInvalidRef),
		},
		wantReady: 2, wantTotal: 2,
		wantServices: []staxv1alpha1.ServiceStatus{
			serviceStatus("db", 1, 1, stateAvailable),
			serviceStatus("api", 2, 2, stateAvailable),
		},
	},
	"transient error beats waiting problems": {
		obs: status.Observation{Generation: 1, Problems: []status.Problem{secretNotFound}, Err: errTransient, Services: apiPending},
		want: map[string]wantCondition{
			ready:       condition(metav1.ConditionFalse, staxv1alpha1.ReasonReconcileError, errTransient.Error()),
			reconciling: condition(metav1.ConditionTrue, staxv1alpha1.ReasonReconcileError, errTransient.Error()),
		},
		wantReady: 1, wantTotal: 2,
		wantServices: []staxv1alpha1.ServiceStatus{
			serviceStatus("db", 1, 1, stateAvailable),
			serviceStatus("api", 1, 2, stateProgressing),
		},
	},
	"stalled Blueprint becomes ready": {
		before: staxv1alpha1.BlueprintStatus{
			ObservedGeneration: ptr.To[int64](1),
			ReadyServiceCount:  ptr.To[int32](1),
			ServiceCount:       ptr.To[int32](2),
			ReadyServices:      "1/2",
			Services: []staxv1alpha1.ServiceStatus{
				serviceStatus("db", 1, 1, stateAvailable),
				serviceStatus("legacy", 0, 1, stateProgressing),
			},
			Conditions: []metav1.Condition{
				{Type: ready, Status: metav1.ConditionFalse, Reason: staxv1alpha1.ReasonConflict, Message: msgConflict, ObservedGeneration: 1, LastTransitionTime: metav1.NewTime(time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC))},
				{Type: reconciling, Status: metav1.ConditionTrue, Reason: staxv1alpha1.ReasonProgressing, Message: "x", ObservedGeneration: 1, LastTransitionTime: metav1.NewTime(time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC))},
				{Type: stalled, Status: metav1.ConditionTrue, Reason: staxv1alpha1.ReasonConflict, Message: msgConflict, ObservedGeneration: 1, LastTransitionTime: metav1.NewTime(time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC))},
			},
		},
		obs: status.Observation{Generation: 2, Services: bothAvailable},
		want: map[string]wantCondition{
			ready: condition(metav1.ConditionTrue, staxv1alpha1.ReasonAvailable, "all 2 services are available"),
		},
		wantReady: 2, wantTotal: 2,
		wantServices: []staxv1alpha1.ServiceStatus{
			serviceStatus("db", 1, 1, stateAvailable),
			serviceStatus("api", 2, 2, stateAvailable),
		},
	},
	"ready Blueprint starts a rollout": {
		before: staxv1alpha1.BlueprintStatus{
			ObservedGeneration: ptr.To[int64](1),
			Conditions: []metav1.Condition{
				{Type: ready, Status: metav1.ConditionTrue, Reason: staxv1alpha1.ReasonAvailable, Message: "all 2 services are available", ObservedGeneration: 1, LastTransitionTime: metav1.NewTime(time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC))},
			},
		},
		obs: status.Observation{Generation: 2, Services: apiPending},
		want: map[string]wantCondition{
			ready:       condition(metav1.ConditionFalse, staxv1alpha1.ReasonProgressing, "waiting for Deployments to be available: api (1/2 ready)"),
			reconciling: condition(metav1.ConditionTrue, staxv1alpha1.ReasonProgressing, "waiting for Deployments to be available: api (1/2 ready)"),
		},
		wantReady: 1, wantTotal: 2,
		wantServices: []staxv1alpha1.ServiceStatus{
			serviceStatus("db", 1, 1, stateAvailable),
			serviceStatus("api", 1, 2, stateProgressing),
		},
	},
}

func TestApply(t *testing.T) {
	for name, tt := range applyTests {
		t.Run(name, func(t *testing.T) {
			st := tt.before.DeepCopy()
			status.Apply(st, tt.obs)

			if got := ptr.Deref(st.ObservedGeneration, -1); got != tt.obs.Generation {
				t.Errorf("observedGeneration = %d, want %d", got, tt.obs.Generation)
			}
			if st.GeneratedSecretName != tt.obs.GeneratedSecretName {
				t.Errorf("generatedSecretName = %q, want %q", st.GeneratedSecretName, tt.obs.GeneratedSecretName)
			}
			if !equality.Semantic.DeepEqual(st.ReadyServiceCount, &tt.wantReady) || !equality.Semantic.DeepEqual(st.ServiceCount, &tt.wantTotal) {
				t.Errorf("readyServiceCount, serviceCount = %v, %v, want %d, %d",
					ptr.Deref(st.ReadyServiceCount, -1), ptr.Deref(st.ServiceCount, -1), tt.wantReady, tt.wantTotal)
			}
			if want := fmt.Sprintf("%d/%d", tt.wantReady, tt.wantTotal); st.ReadyServices != want {
				t.Errorf("readyServices = %q, want %q", st.ReadyServices, want)
			}
			if !equality.Semantic.DeepEqual(st.Services, tt.wantServices) {
				t.Errorf("services = %+v, want %+v", st.Services, tt.wantServices)
			}
			checkConditions(t, st.Conditions, tt.want, tt.obs.Generation)
		})
	}
}

func checkConditions(t *testing.T, got []metav1.Condition, want map[string]wantCondition, generation int64) {
	t.Helper()
	if errs := metav1validation.ValidateConditions(got, field.NewPath("status", "conditions")); len(errs) > 0 {
		t.Errorf("conditions would be rejected by the API server: %v", errs.ToAggregate())
	}
	for _, c := range got {
		if _, ok := want[c.Type]; !ok {
			t.Errorf("unexpected condition %s=%s (%s: %q)", c.Type, c.Status, c.Reason, c.Message)
		}
	}
	for typ, w := range want {
		c := meta.FindStatusCondition(got, typ)
		if c == nil {
			t.Errorf("condition %s missing, want %s=%s (%s)", typ, typ, w.status, w.reason)
			continue
		}
		if c.Status != w.status || c.Reason != w.reason || c.Message != w.message {
			t.Errorf("condition %s = %s (%s: %q), want %s (%s: %q)", typ, c.Status, c.Reason, c.Message, w.status, w.reason, w.message)
		}
		if c.ObservedGeneration != generation {
			t.Errorf("condition %s observedGeneration = %d, want %d", typ, c.ObservedGeneration, generation)
		}
		if c.LastTransitionTime.IsZero() {
			t.Errorf("condition %s has no lastTransitionTime", typ)
		}
	}
}

// TestApplyIdempotent checks that applying an observation twice changes
// nothing, so the reconciler writes no status when nothing changed.
func TestApplyIdempotent(t *testing.T) {
	for name, tt := range applyTests {
		t.Run(name, func(t *testing.T) {
			st := tt.before.DeepCopy()
			status.Apply(st, tt.obs)
			first := st.DeepCopy()
			status.Apply(st, tt.obs)
			if !equality.Semantic.DeepEqual(first, st) {
				t.Errorf("second Apply changed the status:\nfirst  %+v\nsecond %+v", first, st)
			}
		})
	}
}

// TestApplyLastTransitionTime checks that a condition's lastTransitionTime
// moves when, and only when, its status changes or it appears.
func TestApplyLastTransitionTime(t *testing.T) {
	tests := map[string]struct {
		first, second status.Observation
		// wantMoved lists the conditions present after the second
		// observation, and whether their lastTransitionTime moved.
		wantMoved map[string]bool
	}{
		"same observation": {
			first:     status.Observation{Generation: 1, Services: apiPending},
			second:    status.Observation{Generation: 1, Services: apiPending},
			wantMoved: map[string]bool{ready: false, reconciling: false},
		},
		"new generation, same outcome": {
			first:     status.Observation{Generation: 1, Services: bothAvailable},
			second:    status.Observation{Generation: 2, Services: bothAvailable},
			wantMoved: map[string]bool{ready: false},
		},
		"reason changes, Ready stays False": {
			first:     status.Observation{Generation: 1, Problems: []status.Problem{secretNotFound}, Services: apiPending},
			second:    status.Observation{Generation: 1, Services: apiPending},
			wantMoved: map[string]bool{ready: false, reconciling: false},
		},
		"waiting becomes stalled": {
			first:     status.Observation{Generation: 1, Problems: []status.Problem{secretNotFound}, Services: apiPending},
			second:    status.Observation{Generation: 2, Problems: []status.Problem{conflict}, Services: apiPending},
			wantMoved: map[string]bool{ready: false, stalled: true},
		},
		"stalled message changes": {
			first:     status.Observation{Generation: 1, Problems: []status.Problem{conflict}, Services: apiPending},
			second:    status.Observation{Generation: 1, Problems: []status.Problem{conflict, invalidRef}, Services: apiPending},
			wantMoved: map[string]bool{ready: false, stalled: false},
		},
		"becomes Ready": {
			first:     status.Observation{Generation: 1, Services: apiPending},
			second:    status.Observation{Generation: 1, Services: bothAvailable},
			wantMoved: map[string]bool{ready: true},
		},
		"stops being Ready": {
			first:     status.Observation{Generation: 1, Services: bothAvailable},
			second:    status.Observation{Generation: 2, Services: apiPending},
			wantMoved: map[string]bool{ready: true, reconciling: true},
		},
	}
	past := metav1.NewTime(time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC))
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			st := &staxv1alpha1.BlueprintStatus{}
			status.Apply(st, tt.first)
			for i := range st.Conditions {
				st.Conditions[i].LastTransitionTime = past
			}
			status.Apply(st, tt.second)

			if len(st.Conditions) != len(tt.wantMoved) {
				t.Errorf("conditions = %+v, want exactly %v", st.Conditions, tt.wantMoved)
			}
			for typ, wantMoved := range tt.wantMoved {
				c := meta.FindStatusCondition(st.Conditions, typ)
				if c == nil {
					t.Errorf("condition %s missing", typ)
					continue
				}
				if moved := !c.LastTransitionTime.Equal(&past); moved != wantMoved {
					t.Errorf("condition %s lastTransitionTime moved = %v, want %v (now %v)", typ, moved, wantMoved, c.LastTransitionTime)
				}
				if c.LastTransitionTime.IsZero() {
					t.Errorf("condition %s has no lastTransitionTime", typ)
				}
				if c.ObservedGeneration != tt.second.Generation {
					t.Errorf("condition %s observedGeneration = %d, want %d", typ, c.ObservedGeneration, tt.second.Generation)
				}
			}
		})
	}
}

func TestApplyTruncatesLongMessages(t *testing.T) {
	const maxMessage = 4096
	long := strings.Repeat("x", 3*maxMessage)
	manyServices := make([]status.ServiceObservation, 80)
	for i := range manyServices {
		manyServices[i] = pending(fmt.Sprintf("service-%02d-%s", i, strings.Repeat("a", 50)), 0, 1)
	}
	tests := map[string]struct {
		obs        status.Observation
		wantPrefix string
		wantTypes  []string
	}{
		"long waiting problem": {
			obs:        status.Observation{Generation: 1, Problems: []status.Problem{{Reason: staxv1alpha1.ReasonSecretNotFound, Message: long}}},
			wantPrefix: "xxxxxxxx",
			wantTypes:  []string{ready, reconciling},
		},
		"many stalling problems": {
			obs: status.Observation{Generation: 1, Problems: func() []status.Problem {
				var ps []status.Problem
				for i := range 100 {
					ps = append(ps, status.Problem{Reason: staxv1alpha1.ReasonConflict, Message: fmt.Sprintf("Deployment svc-%d exists and is not controlled by this Blueprint", i), Stalling: true})
				}
				return ps
			}()},
			wantPrefix: "Deployment svc-0 exists",
			wantTypes:  []string{ready, stalled},
		},
		"long transient error": {
			obs:        status.Observation{Generation: 1, Err: errors.New(long)},
			wantPrefix: "xxxxxxxx",
			wantTypes:  []string{ready, reconciling},
		},
		"many Deployments rolling out": {
			obs:        status.Observation{Generation: 1, Services: manyServices},
			wantPrefix: "waiting for Deployments to be available: service-00-",
			wantTypes:  []string{ready, reconciling},
		},
		// Two alignments, so that one of them puts a character across the
		// cut whatever the exact cut offset is.
		"multi-byte text, even alignment": {
			obs: status.Observation{Generation: 1, Problems: []status.Problem{{
				Reason: staxv1alpha1.ReasonInvalidReference, Message: strings.Repeat("é", maxMessage), Stalling: true,
			}}},
			wantPrefix: "éé",
			wantTypes:  []string{ready, stalled},
		},
		"multi-byte text, odd alignment": {
			obs: status.Observation{Generation: 1, Problems: []status.Problem{{
				Reason: staxv1alpha1.ReasonInvalidReference, Message: "x" + strings.Repeat("é", maxMessage), Stalling: true,
			}}},
			wantPrefix: "xéé",
			wantTypes:  []string{ready, stalled},
		},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			st := &staxv1alpha1.BlueprintStatus{}
			status.Apply(st, tt.obs)
			if len(st.Conditions) != len(tt.wantTypes) {
				t.Errorf("got %d conditions, want %v", len(st.Conditions), tt.wantTypes)
			}
			for _, typ := range tt.wantTypes {
				c := meta.FindStatusCondition(st.Conditions, typ)
				if c == nil {
					t.Errorf("condition %s missing", typ)
					continue
				}
				if len(c.Message) > maxMessage {
					t.Errorf("condition %s message is %d bytes, want at most %d", typ, len(c.Message), maxMessage)
				}
				if len(c.Message) < maxMessage-8 {
					t.Errorf("condition %s message is %d bytes, want it cut close to %d, not shorter", typ, len(c.Message), maxMessage)
				}
				if !strings.HasPrefix(c.Message, tt.wantPrefix) || !strings.HasSuffix(c.Message, "...") {
					t.Errorf("condition %s message = %.60q...%q, want it to start with %q and end with \"...\"",
						typ, c.Message, c.Message[max(0, len(c.Message)-20):], tt.wantPrefix)
				}
				if !utf8.ValidString(c.Message) {
					t.Errorf("condition %s message is not valid UTF-8: ...%q", typ, c.Message[max(0, len(c.Message)-20):])
				}
			}
		})
	}
}

// TestApplyWithholdsAPIServerMessages: an API error reaches the Ready
// condition as operation, object, code and reason, whether the reconciler
// wrapped it or not; the server's message (which can quote a value) never.
func TestApplyWithholdsAPIServerMessages(t *testing.T) {
	const value = "quoted-VALUE-123"
	denied := &apierrors.StatusError{ErrStatus: metav1.Status{
		Status: metav1.StatusFailure, Code: 422, Reason: metav1.StatusReasonInvalid,
		Message: "ValidatingAdmissionPolicy 'freeze' denied request: frozen: " + value,
	}}
	for name, err := range map[string]error{
		"wrapped":   apierror.Wrap(apierror.OpUpdate, "Secret", "payments-dev-generated", denied),
		"unwrapped": fmt.Errorf("updating Secret payments-dev-generated: %w", denied),
		"joined":    errors.Join(apierror.Wrap(apierror.OpUpdate, "Secret", "payments-dev-generated", denied), denied),
	} {
		t.Run(name, func(t *testing.T) {
			var st staxv1alpha1.BlueprintStatus
			status.Apply(&st, status.Observation{Generation: 1, Err: err})
			ready := meta.FindStatusCondition(st.Conditions, staxv1alpha1.ConditionReady)
			if ready == nil || ready.Reason != staxv1alpha1.ReasonReconcileError {
				t.Fatalf("Ready = %+v", ready)
			}
			if strings.Contains(ready.Message, value) || strings.Contains(ready.Message, "frozen") {
				t.Errorf("the server's message reached the condition: %q", ready.Message)
			}
			if !strings.Contains(ready.Message, "422 Invalid") {
				t.Errorf("message %q does not say what the API server answered", ready.Message)
			}
			if name != "unwrapped" && !strings.Contains(ready.Message, "updating Secret payments-dev-generated") {
				t.Errorf("message %q does not name the object", ready.Message)
			}
		})
	}
}

func TestApplyPendingRemovals(t *testing.T) {
	at := metav1.NewTime(time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC))
	pending := []staxv1alpha1.PendingRemoval{{Name: "db-password", RemovedAt: &at, PruneAfter: &metav1.Time{Time: at.Add(time.Hour)}}}
	var st staxv1alpha1.BlueprintStatus
	status.Apply(&st, status.Observation{Generation: 1, PendingRemovals: pending})
	if !reflect.DeepEqual(st.PendingRemovals, pending) {
		t.Errorf("PendingRemovals = %+v, want %+v", st.PendingRemovals, pending)
	}
	status.Apply(&st, status.Observation{Generation: 2})
	if st.PendingRemovals != nil {
		t.Errorf("PendingRemovals not cleared: %+v", st.PendingRemovals)
	}
}

func TestDesiredReplicas(t *testing.T) {
	tests := map[string]struct {
		blueprint, deployment *int32
		want                  int32
	}{
		"the Blueprint sets them: its count, whatever the Deployment says": {ptr.To[int32](2), ptr.To[int32](5), 2},
		"the Blueprint sets 0":                                 {ptr.To[int32](0), ptr.To[int32](3), 0},
		"left open: the Deployment's own, as scaled by others": {nil, ptr.To[int32](5), 5},
		"left open and held at 0 by start order":               {nil, ptr.To[int32](0), 0},
		"left open, no Deployment yet: Kubernetes' default":    {nil, nil, 1},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			if got := status.DesiredReplicas(tt.blueprint, tt.deployment); got != tt.want {
				t.Errorf("DesiredReplicas = %d, want %d", got, tt.want)
			}
		})
	}
}

func TestApplyReportsURLsAndUndeclaredClaims(t *testing.T) {
	st := &staxv1alpha1.BlueprintStatus{}
	status.Apply(st, status.Observation{
		Services:         []status.ServiceObservation{{Name: "api", Desired: 1, Available: true, URL: "http://api.example.test/"}, {Name: "db", Desired: 1, Available: true}},
		UndeclaredClaims: []string{"shop-db-old"},
	})
	if st.Services[0].URL != "http://api.example.test/" || st.Services[1].URL != "" {
		t.Errorf("urls = %q, %q", st.Services[0].URL, st.Services[1].URL)
	}
	if len(st.UndeclaredClaims) != 1 || st.UndeclaredClaims[0] != "shop-db-old" {
		t.Errorf("undeclaredClaims = %v", st.UndeclaredClaims)
	}
	status.Apply(st, status.Observation{Services: []status.ServiceObservation{{Name: "api", Desired: 1}}})
	if st.UndeclaredClaims != nil || st.Services[0].URL != "" {
		t.Errorf("a later observation without them keeps %v, %q", st.UndeclaredClaims, st.Services[0].URL)
	}
}

func TestFirstWriteHold(t *testing.T) {
	started := time.Date(2026, 12, 2, 6, 0, 0, 0, time.UTC)
	const delay = 5 * time.Second
	computed := func(obs status.Observation) *staxv1alpha1.BlueprintStatus {
		st := &staxv1alpha1.BlueprintStatus{ObservedGeneration: ptr.To[int64](-1)}
		status.Apply(st, obs)
		return st
	}
	progressing := status.Observation{Generation: 1, Services: apiPending}
	unwritten := &staxv1alpha1.BlueprintStatus{ObservedGeneration: ptr.To[int64](-1)}
	tests := map[string]struct {
		stored, computed *staxv1alpha1.BlueprintStatus
		rolloutStarted   time.Time
		now              time.Time
		delay            time.Duration
		want             time.Duration
	}{
		"never written, rolling out, 2 s into the rollout: hold the rest": {
			stored: unwritten, computed: computed(progressing), rolloutStarted: started, now: started.Add(2 * time.Second), delay: delay,
			want: 3 * time.Second,
		},
		"never written, rolling out, created in this reconcile: hold the whole delay": {
			stored: unwritten, computed: computed(progressing), rolloutStarted: started, now: started, delay: delay,
			want: delay,
		},
		"never written, the rollout older than the delay: write": {
			stored: unwritten, computed: computed(progressing), rolloutStarted: started, now: started.Add(delay), delay: delay,
		},
		"never written, Ready: write": {
			stored: unwritten, computed: computed(status.Observation{Generation: 1, Services: bothAvailable}), rolloutStarted: started, now: started, delay: delay,
		},
		"never written, a Secret missing: write": {
			stored: unwritten, computed: computed(status.Observation{Generation: 1, Services: apiPending, Problems: []status.Problem{secretNotFound}}),
			rolloutStarted: started, now: started, delay: delay,
		},
		"never written, stalled on a conflict: write": {
			stored: unwritten, computed: computed(status.Observation{Generation: 1, Services: apiPending, Problems: []status.Problem{conflict}}),
			rolloutStarted: started, now: started, delay: delay,
		},
		"never written, a reconcile error: write": {
			stored: unwritten, computed: computed(status.Observation{Generation: 1, Services: apiPending, Err: errors.New("etcd timeout")}),
			rolloutStarted: started, now: started, delay: delay,
		},
		"already written (a spec edit rolling out): write": {
			stored: computed(status.Observation{Generation: 1, Services: bothAvailable}), computed: computed(status.Observation{Generation: 2, Services: apiPending}),
			rolloutStarted: started, now: started, delay: delay,
		},
		"no Deployment yet: write": {
			stored: unwritten, computed: computed(progressing), now: started, delay: delay,
		},
		"the manager's clock behind the API server's: write": {
			stored: unwritten, computed: computed(progressing), rolloutStarted: started, now: started.Add(-time.Second), delay: delay,
		},
		"delay 0 (--progress-status-delay=0): write": {
			stored: unwritten, computed: computed(progressing), rolloutStarted: started, now: started,
		},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			if got := status.FirstWriteHold(tt.stored, tt.computed, tt.rolloutStarted, tt.now, tt.delay); got != tt.want {
				t.Errorf("FirstWriteHold = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestWritten(t *testing.T) {
	written := &staxv1alpha1.BlueprintStatus{ObservedGeneration: ptr.To[int64](-1)}
	status.Apply(written, status.Observation{Generation: 1, Services: apiPending})
	tests := map[string]struct {
		stored *staxv1alpha1.BlueprintStatus
		want   bool
	}{
		"the CRD's default status, never written":                {stored: &staxv1alpha1.BlueprintStatus{ObservedGeneration: ptr.To[int64](-1)}, want: false},
		"no status at all (a Blueprint from before the default)": {stored: &staxv1alpha1.BlueprintStatus{}, want: false},
		"written once by Apply":                                  {stored: written, want: true},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			if got := status.Written(tt.stored); got != tt.want {
				t.Errorf("Written = %v, want %v", got, tt.want)
			}
		})
	}
}

// TestApplyCapsLists: status lists at most as many pending removals and
// undeclared claims as the API stores (their MaxItems, read from the CRD),
// the ones pruned soonest and the first claims by name, and the Ready
// condition says how many there are, whatever else it says.
func TestApplyCapsLists(t *testing.T) {
	crd := readCRD(t)
	statusProps := crd.Spec.Versions[0].Schema.OpenAPIV3Schema.Properties["status"].Properties
	if got := *statusProps["pendingRemovals"].MaxItems; got != status.MaxPendingRemovals {
		t.Fatalf("CRD pendingRemovals maxItems = %d, MaxPendingRemovals = %d", got, status.MaxPendingRemovals)
	}
	if got := *statusProps["undeclaredClaims"].MaxItems; got != status.MaxUndeclaredClaims {
		t.Fatalf("CRD undeclaredClaims maxItems = %d, MaxUndeclaredClaims = %d", got, status.MaxUndeclaredClaims)
	}

	base := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	// n values; value i is pruned i hours from base, listed in reverse.
	removals := func(n int) []staxv1alpha1.PendingRemoval {
		out := make([]staxv1alpha1.PendingRemoval, 0, n)
		for i := n - 1; i >= 0; i-- {
			out = append(out, staxv1alpha1.PendingRemoval{
				Name: fmt.Sprintf("v%04d", i), RemovedAt: &metav1.Time{Time: base},
				PruneAfter: &metav1.Time{Time: base.Add(time.Duration(i) * time.Hour)},
			})
		}
		return out
	}
	claims := func(n int) []string {
		out := make([]string, 0, n)
		for i := n - 1; i >= 0; i-- {
			out = append(out, fmt.Sprintf("bp-svc-c%04d", i))
		}
		return out
	}
	available := []status.ServiceObservation{{Name: "api", Desired: 1, Available: true}}
	long := status.Problem{Reason: staxv1alpha1.ReasonSecretNotFound, Message: strings.Repeat("x", 5000)}
	tests := map[string]struct {
		obs                     status.Observation
		removals, claims        int
		firstRemoval, lastClaim string
		ready                   metav1.ConditionStatus
		note                    []string
	}{
		"at the caps: everything, as observed, and no note": {
			obs:      status.Observation{Services: available, PendingRemovals: removals(512), UndeclaredClaims: claims(256)},
			removals: 512, claims: 256, firstRemoval: "v0511", lastClaim: "bp-svc-c0000", ready: metav1.ConditionTrue,
		},
		"one past each cap: the soonest pruned and the first claims by name, with the counts": {
			obs:      status.Observation{Services: available, PendingRemovals: removals(513), UndeclaredClaims: claims(257)},
			removals: 512, claims: 256, firstRemoval: "v0000", lastClaim: "bp-svc-c0255", ready: metav1.ConditionTrue,
			note: []string{"status.pendingRemovals lists the 512 of 513 values pending removal that are pruned soonest", "status.undeclaredClaims lists 256 of 257 undeclared claims (the first by name)"},
		},
		"far past one cap, with a problem whose message is cut: the note survives": {
			obs:      status.Observation{Services: available, PendingRemovals: removals(5000), Problems: []status.Problem{long}},
			removals: 512, firstRemoval: "v0000", ready: metav1.ConditionFalse,
			note: []string{"status.pendingRemovals lists the 512 of 5000 values pending removal that are pruned soonest"},
		},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			in := slices.Clone(tt.obs.PendingRemovals)
			var st staxv1alpha1.BlueprintStatus
			status.Apply(&st, tt.obs)
			if len(st.PendingRemovals) != tt.removals || len(st.UndeclaredClaims) != tt.claims {
				t.Fatalf("listed %d removals and %d claims, want %d and %d", len(st.PendingRemovals), len(st.UndeclaredClaims), tt.removals, tt.claims)
			}
			if tt.removals > 0 && st.PendingRemovals[0].Name != tt.firstRemoval {
				t.Errorf("first removal %s, want %s", st.PendingRemovals[0].Name, tt.firstRemoval)
			}
			if tt.claims > 0 && st.UndeclaredClaims[tt.claims-1] != tt.lastClaim {
				t.Errorf("last claim %s, want %s", st.UndeclaredClaims[tt.claims-1], tt.lastClaim)
			}
			if !reflect.DeepEqual(tt.obs.PendingRemovals, in) {
				t.Error("Apply reordered the observation's list")
			}
			c := meta.FindStatusCondition(st.Conditions, ready)
			if c.Status != tt.ready {
				t.Errorf("Ready = %s, want %s", c.Status, tt.ready)
			}
			if len(c.Message) > 4096 {
				t.Errorf("message of %d bytes", len(c.Message))
			}
			for _, n := range tt.note {
				if !strings.Contains(c.Message, n) {
					t.Errorf("Ready message %q does not say %q", c.Message, n)
				}
			}
			if tt.note == nil && strings.Contains(c.Message, "status.") {
				t.Errorf("Ready message %q speaks of a cap", c.Message)
			}
			// The same observation again changes nothing.
			before := st.DeepCopy()
			status.Apply(&st, tt.obs)
			if !equality.Semantic.DeepEqual(before, &st) {
				t.Error("not idempotent")
			}
		})
	}
}

func readCRD(t *testing.T) *apiextensionsv1.CustomResourceDefinition {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join("..", "..", "config", "crd", "bases", "stax.dev_blueprints.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	crd := &apiextensionsv1.CustomResourceDefinition{}
	if err := yaml.Unmarshal(raw, crd); err != nil {
		t.Fatal(err)
	}
	return crd
}
