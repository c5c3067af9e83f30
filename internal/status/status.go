// Package status computes a Blueprint's status from what a reconcile observed.
// It is pure, so every combination of problems is table-tested without a
// cluster. The conditions follow kstatus: Ready is always present; Reconciling
// and Stalled are present only while true, so kstatus reads a Blueprint as
// InProgress, Current or Failed, and `kubectl wait --for=condition=Ready` and
// Argo CD and Flux health checks work.
package status

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	staxv1alpha1 "github.com/stax-dev/blueprint-operator/api/v1alpha1"
	"github.com/stax-dev/blueprint-operator/internal/apierror"
)

// maxMessage bounds condition messages well below the API's 32768 limit.
const maxMessage = 4096

// The most items the API stores in status.pendingRemovals and
// status.undeclaredClaims (their MaxItems). A longer list would make every
// status write fail with 422, freezing the status: Apply lists this many and
// says in the Ready condition how many there are.
const (
	MaxPendingRemovals  = 512
	MaxUndeclaredClaims = 256
)

// Problem is something that keeps the Blueprint from being Ready. Messages
// name services, env keys, Secrets and keys; never a value.
type Problem struct {
	Reason  string
	Message string
	// Stalling problems need the user to act (edit the Blueprint, remove a
	// foreign object); the others resolve by themselves when what they wait
	// for appears.
	Stalling bool
}

// ServiceObservation is what a reconcile saw of one service's Deployment.
type ServiceObservation struct {
	Name    string
	Desired int32
	// Ready is the number of ready pods of the current template.
	Ready int32
	// Available: the Deployment is available with its current template.
	Available bool
	// SecretsDigest is the digest of the values the service's template
	// consumes.
	SecretsDigest string
	// WaitingFor lists the dependencies the service is held back for.
	WaitingFor []string
	// URL is where an exposed service is published.
	URL string
	// Suspended: the Blueprint is suspended or asleep and the service's
	// Deployment is scaled to 0.
	Suspended bool
}

// Observation is everything a reconcile learned that status reports.
type Observation struct {
	Generation          int64
	GeneratedSecretName string
	Problems            []Problem
	Services            []ServiceObservation
	// Secrets reports the generated values, by name.
	Secrets []staxv1alpha1.ManagedSecretStatus
	// PendingRemovals reports values kept after their secret was removed.
	PendingRemovals []staxv1alpha1.PendingRemoval
	// UndeclaredClaims are claims of the Blueprint no volume declares.
	UndeclaredClaims []string
	// Err is a transient error of this reconcile, retried with backoff.
	Err error
	// Sleep is status.sleep (zero without spec.suspend or spec.sleep), and
	// SleepMessage, when set, says why the environment does not run
	// (internal/sleep words it): Ready is then False with reason Suspended.
	Sleep        staxv1alpha1.SleepStatus
	SleepMessage string
}

// Apply writes obs into st. Conditions keep their lastTransitionTime unless
// their status changes, so applying the same observation twice changes
// nothing and the reconciler writes nothing.
func Apply(st *staxv1alpha1.BlueprintStatus, obs Observation) {
	st.ObservedGeneration = ptr.To(obs.Generation)
	st.GeneratedSecretName = obs.GeneratedSecretName
	setServices(st, obs.Services)
	st.Secrets = obs.Secrets
	st.PendingRemovals = capPendingRemovals(obs.PendingRemovals)
	st.UndeclaredClaims = capUndeclaredClaims(obs.UndeclaredClaims)
	st.Sleep = obs.Sleep
	setReadyCondition(st, obs)
	setReconcilingCondition(st, obs)
	setStalledCondition(st, obs)
}

// DesiredReplicas is the replica count status reports for a service: the
// Blueprint's when it sets replicas; otherwise the Deployment's own
// spec.replicas (an autoscaler's or kubectl scale's choice), and Kubernetes'
// default of 1 while there is no Deployment to read.
func DesiredReplicas(blueprint, deployment *int32) int32 {
	switch {
	case blueprint != nil:
		return *blueprint
	case deployment != nil:
		return *deployment
	default:
		return 1
	}
}

// State is the state status reports for a service: Suspended while the
// Blueprint does not run, Available when its Deployment is available, WaitingForDependencies while it is held back for
// services it depends on, Progressing otherwise.
func State(s ServiceObservation) staxv1alpha1.ServiceState {
	switch {
	case s.Suspended:
		return staxv1alpha1.ServiceStateSuspended
	case s.Available:
		return staxv1alpha1.ServiceStateAvailable
	case len(s.WaitingFor) > 0:
		return staxv1alpha1.ServiceStateWaitingForDependencies
	default:
		return staxv1alpha1.ServiceStateProgressing
	}
}

func setServices(st *staxv1alpha1.BlueprintStatus, services []ServiceObservation) {
	st.Services = nil
	var ready int32
	for _, s := range services {
		state := State(s)
		st.Services = append(st.Services, staxv1alpha1.ServiceStatus{
			Name: s.Name, State: state, DesiredReplicas: ptr.To(s.Desired), ReadyReplicas: ptr.To(s.Ready),
			SecretsDigest: s.SecretsDigest, WaitingFor: s.WaitingFor, URL: s.URL,
		})
		if state == staxv1alpha1.ServiceStateAvailable {
			ready++
		}
	}
	total := int32(len(services)) //nolint:gosec // at most 32 services (MaxItems)
	st.ReadyServiceCount = ptr.To(ready)
	st.ServiceCount = ptr.To(total)
	st.ReadyServices = fmt.Sprintf("%d/%d", ready, total)
}

// summary is the reason and message that best explain why the Blueprint is
// not Ready, and whether it is stalled. ok is true when it is Ready.
func summary(obs Observation) (reason, message string, stalled, ok bool) {
	var stalling, waiting []Problem
	for _, p := range obs.Problems {
		if p.Stalling {
			stalling = append(stalling, p)
		} else {
			waiting = append(waiting, p)
		}
	}
	switch {
	case len(stalling) > 0:
		return stalling[0].Reason, joinProblems(append(stalling, waiting...)), true, false
	case obs.Err != nil:
		// Never the API server's message: it can quote the object.
		return staxv1alpha1.ReasonReconcileError, truncate(apierror.Message(obs.Err)), false, false
	case obs.SleepMessage != "":
		// Settled, not progressing: Reconciling stays False.
		return staxv1alpha1.ReasonSuspended, truncate(obs.SleepMessage), false, false
	case len(waiting) > 0:
		return waiting[0].Reason, joinProblems(waiting), false, false
	}
	var pending []string
	for _, s := range obs.Services {
		switch State(s) {
		case staxv1alpha1.ServiceStateAvailable:
		case staxv1alpha1.ServiceStateWaitingForDependencies:
			pending = append(pending, fmt.Sprintf("%s (waiting for %s)", s.Name, strings.Join(s.WaitingFor, ", ")))
		default:
			pending = append(pending, fmt.Sprintf("%s (%d/%d ready)", s.Name, s.Ready, s.Desired))
		}
	}
	if len(pending) > 0 {
		return staxv1alpha1.ReasonProgressing, truncate("waiting for Deployments to be available: " + strings.Join(pending, ", ")), false, false
	}
	return staxv1alpha1.ReasonAvailable, fmt.Sprintf("all %d services are available", len(obs.Services)), false, true
}

// capPendingRemovals lists at most MaxPendingRemovals values: those pruned
// soonest (by name among equals), so what goes next is always listed.
func capPendingRemovals(all []staxv1alpha1.PendingRemoval) []staxv1alpha1.PendingRemoval {
	if len(all) <= MaxPendingRemovals {
		return all
	}
	sorted := slices.Clone(all)
	slices.SortFunc(sorted, func(a, b staxv1alpha1.PendingRemoval) int {
		if c := pruneAfter(a).Compare(pruneAfter(b)); c != 0 {
			return c
		}
		return cmp.Compare(a.Name, b.Name)
	})
	return sorted[:MaxPendingRemovals]
}

func pruneAfter(p staxv1alpha1.PendingRemoval) time.Time {
	if p.PruneAfter == nil {
		return time.Time{}
	}
	return p.PruneAfter.Time
}

// capUndeclaredClaims lists at most MaxUndeclaredClaims claims, the first
// by name.
func capUndeclaredClaims(all []string) []string {
	if len(all) <= MaxUndeclaredClaims {
		return all
	}
	sorted := slices.Clone(all)
	slices.Sort(sorted)
	return sorted[:MaxUndeclaredClaims]
}

// capNote says which lists status shortened, with their full counts, or "".
func capNote(obs Observation) string {
	var notes []string
	if n := len(obs.PendingRemovals); n > MaxPendingRemovals {
		notes = append(notes, fmt.Sprintf("status.pendingRemovals lists the %d of %d values pending removal that are pruned soonest", MaxPendingRemovals, n))
	}
	if n := len(obs.UndeclaredClaims); n > MaxUndeclaredClaims {
		notes = append(notes, fmt.Sprintf("status.undeclaredClaims lists %d of %d undeclared claims (the first by name)", MaxUndeclaredClaims, n))
	}
	return strings.Join(notes, "; ")
}

func setReadyCondition(st *staxv1alpha1.BlueprintStatus, obs Observation) {
	reason, message, _, ok := summary(obs)
	if note := capNote(obs); note != "" {
		// The note is never the part cut off.
		message = truncateTo(message, maxMessage-len(note)-len("; ")) + "; " + note
	}
	status := metav1.ConditionFalse
	if ok {
		status = metav1.ConditionTrue
	}
	meta.SetStatusCondition(&st.Conditions, metav1.Condition{
		Type: staxv1alpha1.ConditionReady, Status: status, Reason: reason, Message: message,
		ObservedGeneration: obs.Generation,
	})
}

func setReconcilingCondition(st *staxv1alpha1.BlueprintStatus, obs Observation) {
	reason, message, stalled, ok := summary(obs)
	if ok || stalled || reason == staxv1alpha1.ReasonSuspended {
		meta.RemoveStatusCondition(&st.Conditions, staxv1alpha1.ConditionReconciling)
		return
	}
	meta.SetStatusCondition(&st.Conditions, metav1.Condition{
		Type: staxv1alpha1.ConditionReconciling, Status: metav1.ConditionTrue, Reason: reason, Message: message,
		ObservedGeneration: obs.Generation,
	})
}

func setStalledCondition(st *staxv1alpha1.BlueprintStatus, obs Observation) {
	reason, message, stalled, _ := summary(obs)
	if !stalled {
		meta.RemoveStatusCondition(&st.Conditions, staxv1alpha1.ConditionStalled)
		return
	}
	meta.SetStatusCondition(&st.Conditions, metav1.Condition{
		Type: staxv1alpha1.ConditionStalled, Status: metav1.ConditionTrue, Reason: reason, Message: message,
		ObservedGeneration: obs.Generation,
	})
}

func joinProblems(ps []Problem) string {
	msgs := make([]string, 0, len(ps))
	seen := map[string]bool{}
	for _, p := range ps {
		if !seen[p.Message] {
			seen[p.Message] = true
			msgs = append(msgs, p.Message)
		}
	}
	return truncate(strings.Join(msgs, "; "))
}

// truncate bounds s to maxMessage bytes without cutting a UTF-8 character in
// two: JSON encoding would turn the split character into U+FFFD, so the stored
// message would never equal the computed one and every reconcile would write
// the status again.
func truncate(s string) string {
	return truncateTo(s, maxMessage)
}

// truncateTo bounds s to n bytes as truncate does.
func truncateTo(s string, n int) string {
	if len(s) <= n {
		return s
	}
	cut := n - len("...")
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "..."
}

// Written reports whether the operator has written this stored status at
// least once: every write sets the Ready condition, and the CRD's default
// status (observedGeneration -1) has no conditions.
func Written(stored *staxv1alpha1.BlueprintStatus) bool {
	return len(stored.Conditions) > 0
}

// FirstWriteHold is how much longer the first status write of a Blueprint
// may wait for its rollout: zero when status must be written now.
//
// A Blueprint whose status was never written already reads as in progress
// (its status defaults to observedGeneration -1, which kstatus, Flux and the
// Argo CD health check read as not yet observed), so a first status saying
// only "Progressing" tells a user nothing they could act on while the
// rollout is young. Holding it back for delay after rolloutStarted (when the
// first of the Blueprint's Deployments was created) lets a rollout that
// finishes within delay report Ready in a single write. Anything else is
// written at once: a problem, a Stalled Blueprint, a status already written
// (a spec edit must not leave a stale Ready in place for `kubectl wait`), or
// a rollout older than delay. A clock behind rolloutStarted holds nothing,
// so skew never holds status back for longer than delay.
func FirstWriteHold(stored, computed *staxv1alpha1.BlueprintStatus, rolloutStarted, now time.Time, delay time.Duration) time.Duration {
	if delay <= 0 || rolloutStarted.IsZero() || Written(stored) {
		return 0
	}
	ready := meta.FindStatusCondition(computed.Conditions, staxv1alpha1.ConditionReady)
	if ready == nil || ready.Status != metav1.ConditionFalse || ready.Reason != staxv1alpha1.ReasonProgressing ||
		meta.IsStatusConditionTrue(computed.Conditions, staxv1alpha1.ConditionStalled) {
		return 0
	}
	elapsed := now.Sub(rolloutStarted)
	if elapsed < 0 || elapsed >= delay {
		return 0
	}
	return delay - elapsed
}
