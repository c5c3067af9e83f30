package values

import (
	"fmt"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"

	staxv1alpha1 "github.com/stax-dev/blueprint-operator/api/v1alpha1"
	"github.com/stax-dev/blueprint-operator/internal/status"
)

// EventContext is what Events needs besides the Change.
type EventContext struct {
	// Secret is the name of the generated Secret.
	Secret string
	// Blueprint is the Blueprint's name, after which hook Jobs are named.
	Blueprint string
	// StatusWritten: the Blueprint's status was written at least once
	// (status.Written).
	StatusWritten bool
}

// Events are the Events that tell the user, by name, what a Sync did to
// the generated Secret, in the order they are recorded: hooked rotations
// (staged, committed, failed), generated, rotated (by trigger), removed
// (one event per deadline), restored, pruned (by trigger), and the
// requests that named nothing. st is the state after the Sync.
func Events(st *State, change Change, in EventContext) []status.Event {
	var out []status.Event
	for _, name := range change.Staged {
		h := st.Values[name].Hook
		out = append(out, status.Event{
			Type: corev1.EventTypeNormal, Reason: "RotationStaged", Action: "RotateValues",
			Note: fmt.Sprintf("staged a new value of %s in Secret %s; Job %s runs its onRotate hook before consumers switch",
				name, in.Secret, h.JobName(in.Blueprint, name)),
		})
	}
	if len(change.Committed) > 0 {
		out = append(out, status.Event{
			Type: corev1.EventTypeNormal, Reason: "RotationCommitted", Action: "RotateValues",
			Note: fmt.Sprintf("onRotate hook completed; committed the new value(s) of %s in Secret %s", strings.Join(change.Committed, ", "), in.Secret),
		})
	}
	for _, f := range change.HookFailed {
		out = append(out, status.Event{
			Type: corev1.EventTypeWarning, Reason: staxv1alpha1.ReasonRotationFailed, Action: "RotateValues",
			Note: fmt.Sprintf("rotation of %s failed, consumers keep the value in use and the new value was discarded (Job %s): %s", f.Name, f.Job, f.Failure),
		})
	}
	// Values generated with the Blueprint are reported by its first status
	// (status.secrets[].lastRotated), which outlives an Event's hour; an
	// Event there would be one more write per Blueprint for news nobody
	// needs. Values generated later (a secret added to the spec, a value or
	// the whole Secret deleted by hand) are news: they get the Event.
	if len(change.Generated) > 0 && in.StatusWritten {
		out = append(out, status.Event{
			Type: corev1.EventTypeNormal, Reason: "Generated", Action: "GenerateValues",
			Note: fmt.Sprintf("generated value(s) in Secret %s: %s", in.Secret, strings.Join(change.Generated, ", ")),
		})
	}
	for _, trigger := range []string{TriggerField, TriggerAnnotation, TriggerSchedule} {
		if names := change.Rotated[trigger]; len(names) > 0 {
			out = append(out, status.Event{
				Type: corev1.EventTypeNormal, Reason: "Rotated", Action: "RotateValues",
				Note: fmt.Sprintf("rotated value(s) in Secret %s (%s): %s; previous values stay under NAME%s until the next rotation",
					in.Secret, trigger, strings.Join(names, ", "), staxv1alpha1.PreviousValueSuffix),
			})
		}
	}
	// One event per deadline: values removed together are kept until the
	// same time.
	var deadlines []time.Time
	kept := map[time.Time][]string{}
	for _, rm := range change.Removed {
		due := rm.PruneAfter.UTC().Truncate(time.Second)
		if _, ok := kept[due]; !ok {
			deadlines = append(deadlines, due)
		}
		kept[due] = append(kept[due], rm.Name)
	}
	for _, due := range deadlines {
		out = append(out, status.Event{
			Type: corev1.EventTypeNormal, Reason: "Removed", Action: "RemoveValues",
			Note: fmt.Sprintf("value(s) no longer declared are kept in Secret %s until %s, and come back unchanged if declared again before then (kubectl blueprint prune deletes them now): %s",
				in.Secret, due.Format(time.RFC3339), strings.Join(kept[due], ", ")),
		})
	}
	if len(change.Restored) > 0 {
		out = append(out, status.Event{
			Type: corev1.EventTypeNormal, Reason: "Restored", Action: "RestoreValues",
			Note: fmt.Sprintf("value(s) declared again before their retention ended are kept unchanged in Secret %s: %s", in.Secret, strings.Join(change.Restored, ", ")),
		})
	}
	for _, trigger := range []string{PruneExpired, PruneRequested} {
		if names := change.Pruned[trigger]; len(names) > 0 {
			out = append(out, status.Event{
				Type: corev1.EventTypeNormal, Reason: "Pruned", Action: "PruneValues",
				Note: fmt.Sprintf("pruned value(s) no longer declared from Secret %s (%s), with their previous values: %s", in.Secret, trigger, strings.Join(names, ", ")),
			})
		}
	}
	if len(change.UnknownPruneNames) > 0 {
		out = append(out, status.Event{
			Type: corev1.EventTypeWarning, Reason: "PruneIgnored", Action: "PruneValues",
			Note: fmt.Sprintf("%s names no value pending removal: %s", staxv1alpha1.PruneAnnotation, strings.Join(change.UnknownPruneNames, ", ")),
		})
	}
	if len(change.UnknownRotateNames) > 0 {
		out = append(out, status.Event{
			Type: corev1.EventTypeWarning, Reason: "RotateIgnored", Action: "RotateValues",
			Note: fmt.Sprintf("%s names no auto-generated secret of this Blueprint: %s", staxv1alpha1.RotateAnnotation, strings.Join(change.UnknownRotateNames, ", ")),
		})
	}
	return out
}
