package main

import (
	"testing"
	"time"

	"github.com/stax-dev/blueprint-operator/bench/internal/audit"
	"github.com/stax-dev/blueprint-operator/internal/render"
)

// TestHostileBlueprints checks the scenario's Blueprints are what it says:
// render agrees that the one at the bound is within it and the next past it,
// and no env exceeds the API's 64 variables.
func TestHostileBlueprints(t *testing.T) {
	for n, wantOver := range map[int]int{render.MaxSecretsRead: 0, render.MaxSecretsRead + 1: render.MaxSecretsRead + 1} {
		bp := blueprintNamingSecrets(hostileNS, "bp", n)
		for _, svc := range bp.Spec.Services {
			if len(svc.Env) > 64 {
				t.Errorf("%d Secrets: service %s has %d env variables", n, svc.Name, len(svc.Env))
			}
		}
		plan, _ := render.Build(bp)
		if plan.TooManySecrets != wantOver {
			t.Errorf("%d Secrets: render says TooManySecrets %d, want %d", n, plan.TooManySecrets, wantOver)
		}
	}
}

func TestHostileSecretReads(t *testing.T) {
	ev := func(verb, resource, ns, name string) audit.Event {
		return audit.Event{User: userManager, Verb: verb, Resource: resource, Namespace: ns, Name: name, Code: 404, Received: time.Now()}
	}
	events := []audit.Event{
		ev("get", "secrets", hostileNS, "missing-000"), ev("list", "secrets", hostileNS, ""),
		ev("patch", "blueprints", hostileNS, "at-bound"), ev("create", "events", hostileNS, ""),
		ev("get", "secrets", "bp-00", "bp-0000-ref"), ev("patch", "secrets", hostileNS, "at-bound-generated"),
	}
	if n := len(secretReads(events, hostileNS)); n != 2 {
		t.Errorf("secret reads %d, want the get and the list in %s", n, hostileNS)
	}
	costs := []hostileCost{{Blueprint: "at-bound", SecretsNamed: 64}, {Blueprint: "over-bound", SecretsNamed: 65}}
	if x := hostileRow(costs); !x.Holds || x.Value != 0 {
		t.Errorf("no read: %+v", x)
	}
	costs[1].SecretReads = 1
	if x := hostileRow(costs); x.Holds || x.Value != 1 {
		t.Errorf("a read was hidden: %+v", x)
	}
}
