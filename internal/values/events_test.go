package values

import (
	"reflect"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"

	staxv1alpha1 "github.com/stax-dev/blueprint-operator/api/v1alpha1"
	"github.com/stax-dev/blueprint-operator/internal/render"
	"github.com/stax-dev/blueprint-operator/internal/status"
)

func TestEvents(t *testing.T) {
	in := EventContext{Secret: "payments-dev-generated", Blueprint: "payments-dev", StatusWritten: true}
	st := &State{Values: map[string]ValueMeta{"db-password": {Hook: &HookState{Phase: staxv1alpha1.RotationStateStaged, Attempt: 1, Job: render.HookJobName("payments-dev", "db-password", 1)}}}}
	normal := func(reason, action, note string) status.Event {
		return status.Event{Type: corev1.EventTypeNormal, Reason: reason, Action: action, Note: note}
	}
	warning := func(reason, action, note string) status.Event {
		return status.Event{Type: corev1.EventTypeWarning, Reason: reason, Action: action, Note: note}
	}
	due := time.Date(2026, 12, 8, 10, 0, 0, 0, time.UTC)
	for name, c := range map[string]struct {
		change Change
		in     EventContext
		want   []status.Event
	}{
		"nothing happened": {in: in},
		"generated after the first status": {change: Change{Generated: []string{"a", "b"}}, in: in, want: []status.Event{
			normal("Generated", "GenerateValues", "generated value(s) in Secret payments-dev-generated: a, b"),
		}},
		"generated with the Blueprint: its first status reports them": {
			change: Change{Generated: []string{"a"}}, in: EventContext{Secret: in.Secret, Blueprint: in.Blueprint},
		},
		"rotated, by trigger in a fixed order": {change: Change{Rotated: map[string][]string{
			TriggerSchedule: {"c"}, TriggerField: {"a", "b"}, TriggerAnnotation: {"d"},
		}}, in: in, want: []status.Event{
			normal("Rotated", "RotateValues", "rotated value(s) in Secret payments-dev-generated (field): a, b; previous values stay under NAME.previous until the next rotation"),
			normal("Rotated", "RotateValues", "rotated value(s) in Secret payments-dev-generated (annotation): d; previous values stay under NAME.previous until the next rotation"),
			normal("Rotated", "RotateValues", "rotated value(s) in Secret payments-dev-generated (schedule): c; previous values stay under NAME.previous until the next rotation"),
		}},
		"removed: one event per deadline, to the second, in order of appearance": {change: Change{Removed: []Removal{
			{Name: "old-token", PruneAfter: due.Add(400 * time.Millisecond)},
			{Name: "old-key", PruneAfter: due.Add(time.Hour)},
			{Name: "old-pass", PruneAfter: due},
		}}, in: in, want: []status.Event{
			normal("Removed", "RemoveValues", "value(s) no longer declared are kept in Secret payments-dev-generated until 2026-12-08T10:00:00Z, and come back unchanged if declared again before then (kubectl blueprint prune deletes them now): old-token, old-pass"),
			normal("Removed", "RemoveValues", "value(s) no longer declared are kept in Secret payments-dev-generated until 2026-12-08T11:00:00Z, and come back unchanged if declared again before then (kubectl blueprint prune deletes them now): old-key"),
		}},
		"restored": {change: Change{Restored: []string{"old-token"}}, in: in, want: []status.Event{
			normal("Restored", "RestoreValues", "value(s) declared again before their retention ended are kept unchanged in Secret payments-dev-generated: old-token"),
		}},
		"pruned, by trigger": {change: Change{Pruned: map[string][]string{PruneRequested: {"b"}, PruneExpired: {"a"}}}, in: in, want: []status.Event{
			normal("Pruned", "PruneValues", "pruned value(s) no longer declared from Secret payments-dev-generated (expired), with their previous values: a"),
			normal("Pruned", "PruneValues", "pruned value(s) no longer declared from Secret payments-dev-generated (requested), with their previous values: b"),
		}},
		"requests that name nothing": {change: Change{UnknownPruneNames: []string{"db-password"}, UnknownRotateNames: []string{"db-pasword"}}, in: in, want: []status.Event{
			warning("PruneIgnored", "PruneValues", "stax.dev/prune names no value pending removal: db-password"),
			warning("RotateIgnored", "RotateValues", "stax.dev/rotate names no auto-generated secret of this Blueprint: db-pasword"),
		}},
		"hooks first: staged, committed, failed": {change: Change{
			Generated: []string{"a"},
			Staged:    []string{"db-password"}, Committed: []string{"x", "y"},
			HookFailed: []HookFailure{{Name: "z", Job: "payments-dev-z-0badf00d-2", Failure: FailureJobFailed}},
		}, in: in, want: []status.Event{
			normal("RotationStaged", "RotateValues", "staged a new value of db-password in Secret payments-dev-generated; Job "+
				render.HookJobName("payments-dev", "db-password", 1)+" runs its onRotate hook before consumers switch"),
			normal("RotationCommitted", "RotateValues", "onRotate hook completed; committed the new value(s) of x, y in Secret payments-dev-generated"),
			warning("RotationFailed", "RotateValues", "rotation of z failed, consumers keep the value in use and the new value was discarded (Job payments-dev-z-0badf00d-2): the Job failed"),
			normal("Generated", "GenerateValues", "generated value(s) in Secret payments-dev-generated: a"),
		}},
	} {
		t.Run(name, func(t *testing.T) {
			got := Events(st, c.change, c.in)
			if !reflect.DeepEqual(got, c.want) {
				t.Errorf("Events =\n%+v\nwant\n%+v", got, c.want)
			}
		})
	}
}
