package main

import (
	"context"
	"fmt"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	staxv1alpha1 "github.com/stax-dev/blueprint-operator/api/v1alpha1"
	"github.com/stax-dev/blueprint-operator/bench/internal/audit"
	"github.com/stax-dev/blueprint-operator/internal/render"
)

// hostileScenario: Blueprints that name many Secrets which do not exist,
// one at the bound on the Secrets a Blueprint may read
// (render.MaxSecretsRead) and one past it. A Secret the manager's Secret
// metadata cache does not hold is missing without a request, and past the
// bound nothing is read: the manager must send no request for a Secret of
// either. Counted by the API server, from its audit log.
type hostileScenario struct {
	costs []hostileCost
}

// hostileNS is the scenario's namespace: no other Blueprint and no Secret
// lives there, so every Secret request in it is one these Blueprints caused.
const hostileNS = "hostile"

// hostileCost is what one hostile Blueprint cost the manager, from its
// creation until the manager went quiet after its Ready condition.
type hostileCost struct {
	Blueprint    string        `json:"blueprint"`
	SecretsNamed int           `json:"secretsNamed"`
	Reason       string        `json:"reason"`
	Stalled      bool          `json:"stalled"`
	SecretReads  int           `json:"secretReads"`
	Requests     audit.Summary `json:"requests"`
	Reconciles   float64       `json:"reconciles"`
	// Seconds is from creation until the bench saw the Ready condition.
	Seconds float64 `json:"secondsToCondition"`
}

func (*hostileScenario) name() string { return "hostile" }

// setup creates the namespace and makes sure a manager runs: after the
// memory scenario none does.
func (s *hostileScenario) setup(ctx context.Context, e *env) error {
	if err := createNamespaces(ctx, e.c.bench, hostileNS); err != nil {
		return err
	}
	if e.mgr.cur != nil {
		return nil
	}
	_, err := e.startManager(ctx)
	return err
}

// measure creates the Blueprint at the bound, then the one past it, one at
// a time, so each one's requests are its own.
func (s *hostileScenario) measure(ctx context.Context, e *env) (outcome, error) {
	for _, c := range []struct {
		name    string
		secrets int
		reason  string
	}{
		{"at-bound", render.MaxSecretsRead, staxv1alpha1.ReasonSecretNotFound},
		{"over-bound", render.MaxSecretsRead + 1, staxv1alpha1.ReasonTooManySecrets},
	} {
		cost, err := measureHostile(ctx, e, blueprintNamingSecrets(hostileNS, c.name, c.secrets), c.reason)
		if err != nil {
			return nil, fmt.Errorf("blueprint %s: %w", c.name, err)
		}
		cost.SecretsNamed = c.secrets
		logf("hostile Blueprint %s (%d missing Secrets): %s in %.2f s; %d Secret reads, %d requests (%s), %.0f reconciles",
			c.name, c.secrets, cost.Reason, cost.Seconds, cost.SecretReads, cost.Requests.Requests, cost.Requests.TopKinds(6), cost.Reconciles)
		s.costs = append(s.costs, cost)
	}
	return rows{hostileRow(s.costs)}, nil
}

// measureHostile creates bp with the manager idle, waits for its Ready
// condition with reason, and counts the manager's requests from the
// creation until it is idle again.
func measureHostile(ctx context.Context, e *env, bp *staxv1alpha1.Blueprint, reason string) (hostileCost, error) {
	cost := hostileCost{Blueprint: bp.Name}
	if err := e.quiet(ctx, time.Second); err != nil {
		return cost, err
	}
	q0, err := e.queue(ctx)
	if err != nil {
		return cost, err
	}
	t0 := time.Now()
	if err := e.c.bench.Create(ctx, bp); err != nil {
		return cost, err
	}
	cond, err := waitReadyReason(ctx, e, types.NamespacedName{Namespace: bp.Namespace, Name: bp.Name}, reason)
	if err != nil {
		return cost, err
	}
	cost.Seconds, cost.Reason = time.Since(t0).Seconds(), cond.Reason
	cost.Stalled = meta.IsStatusConditionTrue(cond.all, staxv1alpha1.ConditionStalled)
	// Whatever the Blueprint set off is counted: the window ends once the
	// manager has sent nothing for a second.
	if err := e.quiet(ctx, time.Second); err != nil {
		return cost, err
	}
	end := time.Now()
	q1, err := e.queue(ctx)
	if err != nil {
		return cost, err
	}
	events, err := e.c.audit.Between(userManager, t0, end)
	if err != nil {
		return cost, err
	}
	cost.SecretReads = len(secretReads(events, bp.Namespace))
	cost.Requests = audit.Summarize(events)
	cost.Reconciles = q1.reconciles - q0.reconciles
	return cost, nil
}

// readyCondition is a Blueprint's Ready condition, with all its conditions.
type readyCondition struct {
	metav1.Condition
	all []metav1.Condition
}

// waitReadyReason waits until the bench's cache holds Blueprint key with a
// Ready condition of its current generation that is False for reason.
func waitReadyReason(ctx context.Context, e *env, key types.NamespacedName, reason string) (readyCondition, error) {
	deadline := time.Now().Add(e.cfg.waitTimeout)
	var last *metav1.Condition
	for {
		bp := &staxv1alpha1.Blueprint{}
		if err := e.c.cache.Get(ctx, key, bp); err == nil {
			last = meta.FindStatusCondition(bp.Status.Conditions, staxv1alpha1.ConditionReady)
			if last != nil && last.ObservedGeneration == bp.Generation && last.Status == metav1.ConditionFalse && last.Reason == reason {
				return readyCondition{Condition: *last, all: bp.Status.Conditions}, nil
			}
		}
		if time.Now().After(deadline) {
			return readyCondition{}, fmt.Errorf("no Ready=False %s within %s (last Ready: %+v)", reason, e.cfg.waitTimeout, last)
		}
		if err := sleepCtx(ctx, 10*time.Millisecond); err != nil {
			return readyCondition{}, err
		}
	}
}

// secretReads are the requests of events that read Secrets in namespace ns
// (get, list or watch: anything but a write).
func secretReads(events []audit.Event, ns string) []audit.Event {
	var out []audit.Event
	for _, ev := range events {
		if ev.Resource == "secrets" && ev.Namespace == ns && !ev.Write() {
			out = append(out, ev)
		}
	}
	return out
}

// hostileRow is the target row: no Secret read for either Blueprint, with
// what each cost in all beside it.
func hostileRow(costs []hostileCost) row {
	reads := 0
	var named, requests, reconciles []any
	for _, c := range costs {
		reads += c.SecretReads
		named = append(named, c.SecretsNamed)
		requests = append(requests, c.Requests.Requests)
		reconciles = append(reconciles, c.Reconciles)
	}
	return row{
		Scenario: "hostile-secret-reads",
		Figure: fmt.Sprintf("hostile Blueprints naming %v missing Secrets (the bound is %d), each created alone: manager requests reading Secrets, until it is idle again",
			named, render.MaxSecretsRead),
		Value: float64(reads), Unit: "reads",
		ValueText:  fmt.Sprintf("%d reads (requests in all: %v; reconciles: %v)", reads, requests, reconciles),
		BaselineOf: "a Secret missing from the manager's metadata cache is missing without a read; past the bound nothing is read",
		Target:     "0", Holds: reads == 0,
		Details: map[string]any{"blueprints": costs},
	}
}

// blueprintNamingSecrets is Blueprint name whose two services name n
// distinct Secrets, missing-000 on, none of which exists. An env holds at
// most 64 variables, so they alternate between the services.
func blueprintNamingSecrets(ns, name string, n int) *staxv1alpha1.Blueprint {
	envs := []map[string]staxv1alpha1.EnvValue{{}, {}}
	for i := range n {
		envs[i%2][fmt.Sprintf("V%03d", i)] = staxv1alpha1.EnvValue(fmt.Sprintf("${secret:missing-%03d/key}", i))
	}
	// Service names carry the Blueprint's: two Blueprints share a namespace.
	return &staxv1alpha1.Blueprint{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Spec: staxv1alpha1.BlueprintSpec{Services: []staxv1alpha1.BlueprintService{
			{Name: name + "-api", Image: "busybox:1.37", Env: envs[0]},
			{Name: name + "-worker", Image: "busybox:1.37", Env: envs[1]},
		}},
	}
}
