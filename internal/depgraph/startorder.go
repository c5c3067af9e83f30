package depgraph

import staxv1alpha1 "github.com/stax-dev/blueprint-operator/api/v1alpha1"

// Held lists, per service held back, the dependencies it waits for.
type Held map[string][]string

// StartOrder decides which services run no replicas yet: a service waits
// until every service it dependsOn is available (its Deployment runs its
// current template, which with a readiness probe means ready). A service that
// has started (its Deployment has replicas) is never held back again, even
// while a dependency rolls out or fails: stopping a running service because a
// dependency restarts would turn one outage into two.
//
// available and started say, per service name, what the cluster reports;
// a service missing from them is neither. Dependencies on unknown names are
// ignored: admission rejects them.
func StartOrder(services []staxv1alpha1.BlueprintService, available, started map[string]bool) Held {
	known := make(map[string]bool, len(services))
	for _, s := range services {
		known[s.Name] = true
	}
	held := Held{}
	for _, s := range services {
		if started[s.Name] {
			continue
		}
		var waiting []string
		for _, d := range s.DependsOn {
			if known[d] && !available[d] {
				waiting = append(waiting, d)
			}
		}
		if len(waiting) > 0 {
			held[s.Name] = waiting
		}
	}
	return held
}
