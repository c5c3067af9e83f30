package main

import (
	"context"
	"fmt"
	"time"

	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/stax-dev/blueprint-operator/bench/internal/audit"
)

// sharedScenario: Blueprints referencing one Secret, which is edited;
// timed until every consuming Deployment has its new template. The floor:
// a plain client editing the Secret and then every Deployment's template,
// at the manager's concurrency.
type sharedScenario struct {
	// refs are the Blueprints, floorRefs the floor's Deployments (no
	// Blueprint) in a namespace of their own, plain the floor's client.
	refs, floorRefs []bpRef
	plain           client.Client
}

const (
	sharedNS      = "shared"
	sharedFloorNS = "base-shared"
	sharedSecret  = "shared"
)

func (*sharedScenario) name() string { return "shared" }

// setup creates the shared Secret and the Blueprints that reference it and
// waits until they are Ready; then the floor's Secret and Deployments.
func (s *sharedScenario) setup(ctx context.Context, e *env) error {
	s.refs = sharedSet(e.cfg.shared)
	if err := createNamespaces(ctx, e.c.bench, sharedNS, sharedFloorNS); err != nil {
		return err
	}
	if err := e.c.bench.Create(ctx, refSecret(sharedNS, sharedSecret)); err != nil {
		return err
	}
	if err := parallel(ctx, len(s.refs), e.cfg.benchWorkers, func(ctx context.Context, i int) error {
		return e.c.bench.Create(ctx, blueprint(s.refs[i]))
	}); err != nil {
		return err
	}
	if _, err := e.obs.waitReady(ctx, keysOf(s.refs), e.cfg.waitTimeout); err != nil {
		return err
	}
	if err := e.c.bench.Create(ctx, refSecret(sharedFloorNS, sharedSecret)); err != nil {
		return err
	}
	s.floorRefs = make([]bpRef, len(s.refs))
	for i, ref := range s.refs {
		ref.Namespace = sharedFloorNS
		s.floorRefs[i] = ref
		if err := createWebDeployment(ctx, e, ref); err != nil {
			return err
		}
	}
	for _, ref := range s.floorRefs {
		if err := e.waitSeen(ctx, ref.web()); err != nil {
			return err
		}
	}
	var err error
	s.plain, err = e.plainClient()
	return err
}

func (s *sharedScenario) measure(ctx context.Context, e *env) (outcome, error) {
	n := len(s.refs)
	workers := max(e.knobs.MaxConcurrentReconciles, 1)
	var op []time.Duration
	var opEvents []audit.Event
	for range e.cfg.sharedSamples {
		if err := e.quiet(ctx, time.Second); err != nil {
			return nil, err
		}
		t0 := time.Now()
		d, err := editShared(ctx, e, e.c.bench, sharedNS, s.refs, nil)
		if err != nil {
			return nil, err
		}
		ev, err := e.c.audit.Between(userManager, t0, t0.Add(d))
		if err != nil {
			return nil, err
		}
		opEvents = append(opEvents, ev...)
		op = append(op, d)
		if _, err := e.obs.waitReady(ctx, keysOf(s.refs), e.cfg.waitTimeout); err != nil {
			return nil, err
		}
	}
	var base []time.Duration
	for range e.cfg.sharedSamples {
		d, err := editShared(ctx, e, s.plain, sharedFloorNS, s.floorRefs, func(ctx context.Context) error {
			return parallel(ctx, n, workers, func(ctx context.Context, i int) error {
				return patchDigest(ctx, s.plain, s.floorRefs[i].web())
			})
		})
		if err != nil {
			return nil, err
		}
		base = append(base, d)
	}
	worst, baseWorst := percentile(op, 100), percentile(base, 100)
	sum := audit.Summarize(opEvents)
	logf("shared Secret edit to all %d templates: %v (worst %s); plain client %v; manager %s", n, op, worst, base, sum.TopKinds(6))
	return rows{{
		Scenario: "shared-secret", Figure: fmt.Sprintf("%d Blueprints referencing one shared Secret, which is edited: time until all have the new template (worst of %d)", n, len(op)),
		Value: worst.Seconds(), Unit: "s", Baseline: baseWorst.Seconds(),
		BaselineOf: fmt.Sprintf("plain client editing the Secret, then the %d templates, %d at a time", n, workers),
		Ratio:      ptrTo(worst.Seconds() / baseWorst.Seconds()), Target: "≤ 5 s", Holds: worst <= 5*time.Second,
		Details: map[string]any{"samplesSeconds": seconds(op), "baselineSamplesSeconds": seconds(base), "managerRequests": sum},
	}}, nil
}

// editShared edits the shared Secret in ns with c, then runs after (if
// any), and times it until the bench sees every web Deployment of refs with
// a new template.
func editShared(ctx context.Context, e *env, c client.Client, ns string, refs []bpRef, after func(ctx context.Context) error) (time.Duration, error) {
	chans := make([]<-chan time.Time, len(refs))
	for i, ref := range refs {
		chans[i], _ = e.obs.expectNewDigest(ref.web())
	}
	t0 := time.Now()
	if err := patchSecret(ctx, c, ns, sharedSecret); err != nil {
		return 0, err
	}
	if after != nil {
		if err := after(ctx); err != nil {
			return 0, err
		}
	}
	var last time.Time
	deadline := time.After(e.cfg.waitTimeout)
	for i, ch := range chans {
		select {
		case t := <-ch:
			last = maxTime(last, t)
		case <-deadline:
			return 0, fmt.Errorf("deployment %s kept its template after Secret %s/%s was edited", refs[i].web(), ns, sharedSecret)
		}
	}
	return last.Sub(t0), nil
}

func seconds(ds []time.Duration) []float64 {
	out := make([]float64, len(ds))
	for i, d := range ds {
		out[i] = d.Seconds()
	}
	return out
}
