package controller

import (
	"time"

	appsv1 "k8s.io/api/apps/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	staxv1alpha1 "github.com/stax-dev/blueprint-operator/api/v1alpha1"
	"github.com/stax-dev/blueprint-operator/internal/digest"
	"github.com/stax-dev/blueprint-operator/internal/settle"
)

// settleValues computes each renderable service's secrets digest and lets
// settle.Window decide which digest its pod template gets: while a change of
// the values it reads from Secrets settles, the one it runs. Only that
// rollout waits; the reconcile still applies a new spec, rotations and
// status. A reconcile that sees a new spec generation, or that generated or
// rotated a value itself, rolls out the latest values at once.
//
// It returns when values held back are due to roll out, 0 when none is.
//
// The change is recognised on what this reconcile read, not on watch
// events: a label or annotation edit of a Secret, or an edit of a key nobody
// consumes, leaves every digest as it is and restarts nothing.
func (r *BlueprintReconciler) settleValues(sc *scope, current map[string]*appsv1.Deployment) (hold time.Duration) {
	// The generated Secret is unknown when it is foreign, superseded or
	// being deleted: every service that reads a value is blocked then, and
	// a service that reads none has an empty digest, which needs no key.
	var key []byte
	if sc.generatedSecret != nil {
		key = sc.generatedSecret.Data[staxv1alpha1.DigestKey]
	}
	var services []settle.Service
	for i := range sc.plan.Services {
		svc := &sc.plan.Services[i]
		if sc.blocked[svc.Name] {
			continue
		}
		s := settle.Service{
			Name: svc.Name,
			Read: digest.Compute(key, svc.Refs(), sc.lookupValue),
		}
		if dep, ok := current[svc.Name]; ok {
			s.Running = dep.Spec.Template.Annotations[staxv1alpha1.SecretsDigestAnnotation]
		}
		services = append(services, s)
	}
	immediate := sc.valuesChanged || ptr.Deref(sc.bp.Status.ObservedGeneration, -1) != sc.bp.Generation
	stamp, hold := r.settle.Stamp(client.ObjectKeyFromObject(sc.bp).String(), services, immediate, r.settleClock.Now())
	for name, d := range stamp {
		sc.digests[name] = d
	}
	return hold
}
