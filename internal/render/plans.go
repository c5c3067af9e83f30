package render

import (
	staxv1alpha1 "github.com/stax-dev/blueprint-operator/api/v1alpha1"
)

// Effective returns bp with the plan spec.plan selects applied: each service
// the plan names takes the plan's replicas and resources in place of its
// own. Without spec.plan, or with a plan admission would have refused
// (unknown), it returns bp itself. bp is never changed.
func Effective(bp *staxv1alpha1.Blueprint) *staxv1alpha1.Blueprint {
	return WithPlan(bp, bp.Spec.Plan)
}

// WithPlan is Effective for the plan named name, whatever spec.plan says
// (kubectl blueprint render --plan). An empty or unknown name returns bp.
func WithPlan(bp *staxv1alpha1.Blueprint, name string) *staxv1alpha1.Blueprint {
	plan, ok := bp.Spec.Plans[name]
	if name == "" || !ok {
		return bp
	}
	out := bp.DeepCopy()
	out.Spec.Plan = name
	for i := range out.Spec.Services {
		svc := &out.Spec.Services[i]
		o, ok := plan.Services[svc.Name]
		if !ok {
			continue
		}
		if o.Replicas != nil {
			svc.Replicas = new(int32)
			*svc.Replicas = *o.Replicas
		}
		if o.Resources != nil {
			svc.Resources = o.Resources.DeepCopy()
		}
	}
	return out
}
