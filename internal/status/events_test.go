package status_test

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	staxv1alpha1 "github.com/stax-dev/blueprint-operator/api/v1alpha1"
	"github.com/stax-dev/blueprint-operator/internal/status"
)

func TestClaimEvents(t *testing.T) {
	for name, c := range map[string]struct{ got, want status.Event }{
		"pruned": {status.ClaimPrunedEvent("payments-dev-db-old"), status.Event{
			Type: corev1.EventTypeNormal, Reason: "Pruned", Action: "PruneClaims",
			Note: "deleted PersistentVolumeClaim payments-dev-db-old, no longer declared, as stax.dev/prune-claims requested",
		}},
		"expanded": {status.ClaimExpandedEvent("payments-dev-db-data", "20Gi"), status.Event{
			Type: corev1.EventTypeNormal, Reason: "Expanded", Action: "ExpandClaim",
			Note: "requested expansion of PersistentVolumeClaim payments-dev-db-data to 20Gi",
		}},
	} {
		t.Run(name, func(t *testing.T) {
			if c.got != c.want {
				t.Errorf("got  %+v\nwant %+v", c.got, c.want)
			}
		})
	}
}

// The Ready condition is repeated as a Warning when a reason a person may
// have to act on appears, or its message changes; never for Progressing,
// Suspended or Ready=True, and never twice for the same message.
func TestReadyEvent(t *testing.T) {
	cond := func(st metav1.ConditionStatus, reason, msg string) *metav1.Condition {
		return &metav1.Condition{Type: staxv1alpha1.ConditionReady, Status: st, Reason: reason, Message: msg}
	}
	notFound := cond(metav1.ConditionFalse, staxv1alpha1.ReasonSecretNotFound, "service api, env STRIPE_KEY: Secret stripe not found in namespace payments")
	warning := status.Event{Type: corev1.EventTypeWarning, Reason: staxv1alpha1.ReasonSecretNotFound, Action: "Reconcile", Note: notFound.Message}
	for name, c := range map[string]struct {
		before, after *metav1.Condition
		want          *status.Event
	}{
		"first problem":            {after: notFound, want: &warning},
		"from Progressing":         {before: cond(metav1.ConditionFalse, staxv1alpha1.ReasonProgressing, "waiting"), after: notFound, want: &warning},
		"from Ready":               {before: cond(metav1.ConditionTrue, staxv1alpha1.ReasonAvailable, "all 2 services are available"), after: notFound, want: &warning},
		"same reason and message":  {before: notFound, after: notFound},
		"same reason, new message": {before: cond(metav1.ConditionFalse, staxv1alpha1.ReasonSecretNotFound, "other"), after: notFound, want: &warning},
		"Progressing":              {after: cond(metav1.ConditionFalse, staxv1alpha1.ReasonProgressing, "waiting")},
		"Suspended":                {after: cond(metav1.ConditionFalse, staxv1alpha1.ReasonSuspended, "suspended by spec")},
		"Ready":                    {before: notFound, after: cond(metav1.ConditionTrue, staxv1alpha1.ReasonAvailable, "all 2 services are available")},
		"no condition":             {},
	} {
		t.Run(name, func(t *testing.T) {
			got, ok := status.ReadyEvent(c.before, c.after)
			switch {
			case c.want == nil && ok:
				t.Errorf("ReadyEvent = %+v, want none", got)
			case c.want != nil && (!ok || got != *c.want):
				t.Errorf("ReadyEvent = %+v, %v\nwant %+v", got, ok, *c.want)
			}
		})
	}
}
