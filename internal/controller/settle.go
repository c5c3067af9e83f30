package controller

import (
	"slices"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	staxv1alpha1 "github.com/stax-dev/blueprint-operator/api/v1alpha1"
	"github.com/stax-dev/blueprint-operator/internal/digest"
)

// settleValues computes each renderable service's secrets digest, and keeps
// the digest a service runs with while a change of the values it reads from
// Secrets settles (internal/settle decides how long).
//
// Only that rollout waits. The reconcile still applies everything else: a
// new spec, a rotation and status. A reconcile that sees a new spec
// generation, or that generated or rotated a value itself, rolls out the
// latest values at once: its pods are replaced anyway, and a rotation must
// not wait for someone else's churn.
//
// The change is recognised on what this reconcile read, not on watch
// events: a service is pending when the digest of its values differs from
// the digest on its running pod template. A label or annotation edit of a
// Secret, or an edit of a key nobody consumes, leaves every digest as it is
// and restarts nothing.
func (r *BlueprintReconciler) settleValues(sc *scope, current map[string]*appsv1.Deployment) {
	running := map[string]string{}
	var pending []string
	for i := range sc.plan.Services {
		svc := &sc.plan.Services[i]
		if sc.blocked[svc.Name] {
			continue
		}
		d := digest.Compute(sc.generatedSecret.Data[staxv1alpha1.DigestKey], usedRefs(svc), sc.lookupValue)
		sc.digests[svc.Name] = d
		dep, ok := current[svc.Name]
		if !ok {
			continue
		}
		if live := dep.Spec.Template.Annotations[staxv1alpha1.SecretsDigestAnnotation]; live != "" && live != d {
			running[svc.Name] = live
			pending = append(pending, svc.Name+"="+d)
		}
	}
	key := client.ObjectKeyFromObject(sc.bp).String()
	if sc.valuesChanged || ptr.Deref(sc.bp.Status.ObservedGeneration, -1) != sc.bp.Generation {
		r.settle.Forget(key)
		return
	}
	slices.Sort(pending)
	hold := r.settle.Observe(key, strings.Join(pending, ","), r.SettleClock.Now())
	if hold == 0 {
		return
	}
	for name, live := range running {
		sc.digests[name] = live
	}
	if sc.requeueAfter == 0 || hold < sc.requeueAfter {
		sc.requeueAfter = hold
	}
}
