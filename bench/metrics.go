package main

import (
	"context"
	"fmt"
	"net/http"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// controllerName is the Blueprint controller's name in the manager's
// metrics (Named("blueprint") in internal/controller/setup.go).
const controllerName = "blueprint"

// queueState is what the manager's metrics say about the Blueprint
// controller.
type queueState struct {
	reconciles, depth, active float64
}

// queue reads the manager's metrics endpoint.
func (e *env) queue(ctx context.Context) (queueState, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, e.mgr.metricsURL, nil)
	if err != nil {
		return queueState{}, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return queueState{}, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return queueState{}, fmt.Errorf("manager metrics: %s", resp.Status)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(resp.Body)
	if err != nil {
		return queueState{}, err
	}
	return queueFromMetrics(fams)
}

func queueFromMetrics(fams map[string]*dto.MetricFamily) (queueState, error) {
	sum := func(name, label string) (float64, bool) {
		f, ok := fams[name]
		if !ok {
			return 0, false
		}
		var v float64
		found := false
		for _, m := range f.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == label && l.GetValue() == controllerName {
					found = true
					switch {
					case m.Counter != nil:
						v += m.GetCounter().GetValue()
					case m.Gauge != nil:
						v += m.GetGauge().GetValue()
					}
				}
			}
		}
		return v, found
	}
	var q queueState
	var ok bool
	// The counter appears with the first reconcile.
	q.reconciles, _ = sum("controller_runtime_reconcile_total", "controller")
	if q.depth, ok = sum("workqueue_depth", "name"); !ok {
		return q, fmt.Errorf("manager metrics have no workqueue_depth{name=%q}", controllerName)
	}
	if q.active, ok = sum("controller_runtime_active_workers", "controller"); !ok {
		return q, fmt.Errorf("manager metrics have no controller_runtime_active_workers{controller=%q}", controllerName)
	}
	return q, nil
}

// waitResynced waits until the manager has reconciled n Blueprints since
// it started and its queue is empty with no reconcile running.
func (e *env) waitResynced(ctx context.Context, n int) (time.Time, queueState, error) {
	deadline := time.Now().Add(e.timeoutFor(n))
	for {
		q, err := e.queue(ctx)
		if err == nil && q.reconciles >= float64(n) && q.depth == 0 && q.active == 0 {
			return time.Now(), q, nil
		}
		if time.Now().After(deadline) {
			if err != nil {
				return time.Time{}, q, fmt.Errorf("manager did not resync %d Blueprints within %s: %w", n, e.timeoutFor(n), err)
			}
			return time.Time{}, q, fmt.Errorf("manager did not resync %d Blueprints within %s (last %+v)", n, e.timeoutFor(n), q)
		}
		if err := sleepCtx(ctx, 20*time.Millisecond); err != nil {
			return time.Time{}, q, err
		}
	}
}
