package status

import (
	"fmt"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	staxv1alpha1 "github.com/stax-dev/blueprint-operator/api/v1alpha1"
)

// Event is one Kubernetes Event on the Blueprint, as the controller records
// it (events.EventRecorder.Eventf(bp, nil, Type, Reason, Action, "%s",
// Note)). Notes name values, objects and keys, never a value.
//
// internal/examples reads the Event literals of this package and of
// internal/values to check docs/troubleshooting.md's event table against
// them: write each as a literal with a corev1.EventType* constant, a
// literal (or api/v1alpha1 constant) reason, and a note built from literal
// text.
type Event struct {
	// Type is corev1.EventTypeNormal or corev1.EventTypeWarning.
	Type   string
	Reason string
	Action string
	Note   string
}

// ClaimPrunedEvent reports the deletion of claim, no longer declared, on
// the request of staxv1alpha1.PruneClaimsAnnotation.
func ClaimPrunedEvent(claim string) Event {
	return Event{
		Type: corev1.EventTypeNormal, Reason: "Pruned", Action: "PruneClaims",
		Note: fmt.Sprintf("deleted PersistentVolumeClaim %s, no longer declared, as %s requested", claim, staxv1alpha1.PruneClaimsAnnotation),
	}
}

// ClaimExpandedEvent reports a claim's request raised to size (as the spec
// spells it).
func ClaimExpandedEvent(claim, size string) Event {
	return Event{
		Type: corev1.EventTypeNormal, Reason: "Expanded", Action: "ExpandClaim",
		Note: fmt.Sprintf("requested expansion of PersistentVolumeClaim %s to %s", claim, size),
	}
}

// ReadyEvent is the Warning that repeats the Ready condition (after) of a
// status just written, when its reason is one a person may have to act on
// (not Progressing, not Suspended) and it is news: its reason or message
// differs from before's (nil when there was none). ok is false otherwise.
func ReadyEvent(before, after *metav1.Condition) (e Event, ok bool) {
	if after == nil || after.Status != metav1.ConditionFalse ||
		after.Reason == staxv1alpha1.ReasonProgressing || after.Reason == staxv1alpha1.ReasonSuspended {
		return Event{}, false
	}
	if before != nil && before.Reason == after.Reason && before.Message == after.Message {
		return Event{}, false
	}
	return Event{Type: corev1.EventTypeWarning, Reason: after.Reason, Action: "Reconcile", Note: after.Message}, true
}
