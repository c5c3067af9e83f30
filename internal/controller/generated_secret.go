package controller

import (
	"context"
	"fmt"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	staxv1alpha1 "github.com/stax-dev/blueprint-operator/api/v1alpha1"
	"github.com/stax-dev/blueprint-operator/internal/apierror"
	"github.com/stax-dev/blueprint-operator/internal/metrics"
	"github.com/stax-dev/blueprint-operator/internal/ownership"
	"github.com/stax-dev/blueprint-operator/internal/render"
	"github.com/stax-dev/blueprint-operator/internal/secretgen"
	"github.com/stax-dev/blueprint-operator/internal/status"
	"github.com/stax-dev/blueprint-operator/internal/values"
)

// reconcileGeneratedSecret makes the generated Secret hold exactly one value
// per managed secret, plus its previous value after a rotation: missing
// values are generated, values are rotated when asked to, values of removed
// secrets are kept for the retention period and then pruned, and an existing
// value is otherwise never replaced.
// Every decision is taken on a fresh read from the API server and written
// with that read's resourceVersion, so a stale cache or a concurrent writer
// makes the write fail and the loop read again, never overwrite.
func (r *BlueprintReconciler) reconcileGeneratedSecret(ctx context.Context, sc *scope) error {
	name := sc.plan.GeneratedSecretName
	key := types.NamespacedName{Namespace: sc.bp.Namespace, Name: name}
	rotateNames, rotateID := values.ParseRotateRequest(sc.bp.Annotations)
	pruneNames, pruneID := values.ParsePruneRequest(sc.bp.Annotations)
	req := values.Request{
		Managed: sc.plan.Managed, RotateNames: rotateNames, RotateID: rotateID,
		PruneNames: pruneNames, PruneID: pruneID,
		Retention: values.Retention(sc.bp.Spec.RemovedValueRetention, r.RemovedValueRetention),
		Now:       r.Clock.Now(),
		Blueprint: sc.bp.Name,
	}
	for attempt := range maxSecretAttempts {
		live := &corev1.Secret{}
		err := r.readGeneratedSecret(ctx, sc.bp, key, live, attempt == 0)
		switch {
		case apierrors.IsNotFound(err):
			// The cache may still hold a Blueprint that was just deleted,
			// whose Secret the garbage collector has already removed:
			// generating values for it would make a Secret nobody owns (under
			// Retain, one that is never collected). Ask the API server.
			if err := r.stopIfGone(ctx, sc); err != nil {
				return err
			}
			st := values.State{}
			change, err := values.Sync(&st, req, r.generator(sc.bp))
			if err != nil {
				return err
			}
			secret := &corev1.Secret{
				ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: sc.bp.Namespace},
				Type:       corev1.SecretTypeOpaque,
			}
			values.MarkOwned(secret, sc.bp)
			st.WriteTo(secret)
			if err := r.Create(ctx, secret); err != nil {
				if apierrors.IsAlreadyExists(err) {
					continue
				}
				return apierror.Wrap(apierror.OpCreate, "Secret", name, err)
			}
			r.secrets.put(secret)
			r.recordGeneratedSecret(sc, secret, &st, change)
			return r.runHooks(ctx, sc, &st, change)
		case err != nil:
			return apierror.Wrap(apierror.OpRead, "Secret", name, err)
		}

		switch values.Claim(live, sc.bp) {
		case ownership.Foreign:
			sc.problem(status.Problem{
				Reason:   staxv1alpha1.ReasonConflict,
				Message:  fmt.Sprintf("Secret %s exists and is not controlled by this Blueprint; it is left untouched, and services that consume secret values wait until it is removed", name),
				Stalling: true,
			}, servicesConsumingValues(sc.plan)...)
			return nil
		case ownership.Superseded:
			// Controlled by a deleted predecessor of the same name: the
			// garbage collector deletes it. Adopting it would make the new
			// Blueprint's values depend on who wins that race.
			sc.problem(status.Problem{
				Reason: staxv1alpha1.ReasonProgressing,
				Message: fmt.Sprintf("waiting for the garbage collector to delete Secret %s, controlled by a deleted Blueprint of the same name (uid %s); new values are generated once it is gone",
					name, metav1.GetControllerOf(live).UID),
			}, servicesConsumingValues(sc.plan)...)
			return nil
		case ownership.Deleting:
			// The Secret of a deleted predecessor on its way out: its values
			// are going, so wait for it rather than adopt what is being
			// deleted.
			sc.problem(status.Problem{
				Reason:  staxv1alpha1.ReasonProgressing,
				Message: fmt.Sprintf("waiting for the deletion of Secret %s, left by a deleted Blueprint of the same name", name),
			}, servicesConsumingValues(sc.plan)...)
			return nil
		}

		st := values.FromSecret(live)
		if req.Jobs, err = r.observeHookJobs(ctx, sc, &st); err != nil {
			return err
		}
		change, err := values.Sync(&st, req, r.generator(sc.bp))
		if err != nil {
			return err
		}
		ownershipChanged := values.MarkOwned(live, sc.bp)
		if !change.Modified && !ownershipChanged {
			r.recordGeneratedSecret(sc, live, &st, change)
			return r.runHooks(ctx, sc, &st, change)
		}
		st.WriteTo(live)
		// Update carries live's resourceVersion: if anyone wrote the Secret
		// since we read it, the API server refuses and we read again.
		if err := r.Update(ctx, live); err != nil {
			if apierrors.IsConflict(err) {
				continue
			}
			return apierror.Wrap(apierror.OpUpdate, "Secret", name, err)
		}
		r.secrets.put(live)
		r.recordGeneratedSecret(sc, live, &st, change)
		// Only now, with the staged value and the rotation's state on the
		// Secret, may a hook's Job exist.
		return r.runHooks(ctx, sc, &st, change)
	}
	return fmt.Errorf("the generated Secret %s changed on every one of %d attempts; retrying", name, maxSecretAttempts)
}

// generator makes what values.Sync asks for, with secretgen, from r.Rand;
// the CA is named after bp.
func (r *BlueprintReconciler) generator(bp *staxv1alpha1.Blueprint) values.Generator {
	return func(d values.Draw) (map[string][]byte, error) {
		return secretgen.Value(r.Rand, secretgen.Spec{
			Type: d.Secret.Type, Charset: string(d.Secret.Charset), Length: d.Secret.Length, Exclude: d.Secret.Exclude,
			DNSNames: d.Secret.DNSNames, NotBefore: d.NotBefore, NotAfter: d.NotAfter, CAKey: d.CAKey, CACert: d.CACert,
			CA: d.CA, CAName: "stax.dev Blueprint " + bp.Namespace + "/" + bp.Name + " CA",
		})
	}
}

// recordGeneratedSecret keeps what later phases and status need, and tells
// the user what changed, by name.
func (r *BlueprintReconciler) recordGeneratedSecret(sc *scope, secret *corev1.Secret, st *values.State, change values.Change) {
	sc.generatedSecret = secret
	sc.valuesChanged = sc.valuesChanged || len(change.Generated) > 0 || len(change.Rotated) > 0
	for _, m := range sc.plan.Managed {
		meta := st.Values[m.Name]
		ms := staxv1alpha1.ManagedSecretStatus{Name: m.Name, LastRotated: &metav1.Time{Time: meta.GeneratedAt.UTC().Truncate(time.Second)}, Type: render.TypeOrDefault(m.Type)}
		if meta.NotAfter != nil {
			ms.NotAfter = &metav1.Time{Time: meta.NotAfter.UTC().Truncate(time.Second)}
		}
		sc.secrets = append(sc.secrets, ms)
	}
	r.recordHooks(sc, secret, st, change)
	for _, p := range change.Pending {
		sc.pendingRemovals = append(sc.pendingRemovals, staxv1alpha1.PendingRemoval{
			Name: p.Name, RemovedAt: &metav1.Time{Time: p.RemovedAt.UTC().Truncate(time.Second)}, PruneAfter: &metav1.Time{Time: p.PruneAfter.UTC().Truncate(time.Second)},
		})
	}
	if due := change.NextDue(); !due.IsZero() {
		sc.requeueAfter = max(due.Sub(r.Clock.Now()), time.Second)
	}
	name := secret.Name
	metrics.ValuesGenerated(len(change.Generated))
	for trigger, names := range change.Rotated {
		metrics.Rotated(trigger, len(names))
	}
	// Values generated with the Blueprint are reported by its first status
	// (status.secrets[].lastRotated), which outlives an Event's hour; an
	// Event there would be one more write per Blueprint for news nobody
	// needs. Values generated later (a secret added to the spec, a value or
	// the whole Secret deleted by hand) are news: they get the Event.
	if len(change.Generated) > 0 && status.Written(&sc.bp.Status) {
		r.Recorder.Eventf(sc.bp, nil, corev1.EventTypeNormal, "Generated", "GenerateValues",
			"generated value(s) in Secret %s: %s", name, strings.Join(change.Generated, ", "))
	}
	for _, trigger := range []string{values.TriggerField, values.TriggerAnnotation, values.TriggerSchedule} {
		if names := change.Rotated[trigger]; len(names) > 0 {
			r.Recorder.Eventf(sc.bp, nil, corev1.EventTypeNormal, "Rotated", "RotateValues",
				"rotated value(s) in Secret %s (%s): %s; previous values stay under NAME%s until the next rotation",
				name, trigger, strings.Join(names, ", "), staxv1alpha1.PreviousValueSuffix)
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
		r.Recorder.Eventf(sc.bp, nil, corev1.EventTypeNormal, "Removed", "RemoveValues",
			"value(s) no longer declared are kept in Secret %s until %s, and come back unchanged if declared again before then (kubectl blueprint prune deletes them now): %s",
			name, due.Format(time.RFC3339), strings.Join(kept[due], ", "))
	}
	if len(change.Restored) > 0 {
		r.Recorder.Eventf(sc.bp, nil, corev1.EventTypeNormal, "Restored", "RestoreValues",
			"value(s) declared again before their retention ended are kept unchanged in Secret %s: %s", name, strings.Join(change.Restored, ", "))
	}
	for _, trigger := range []string{values.PruneExpired, values.PruneRequested} {
		if names := change.Pruned[trigger]; len(names) > 0 {
			r.Recorder.Eventf(sc.bp, nil, corev1.EventTypeNormal, "Pruned", "PruneValues",
				"pruned value(s) no longer declared from Secret %s (%s), with their previous values: %s", name, trigger, strings.Join(names, ", "))
		}
	}
	if len(change.UnknownPruneNames) > 0 {
		r.Recorder.Eventf(sc.bp, nil, corev1.EventTypeWarning, "PruneIgnored", "PruneValues",
			"%s names no value pending removal: %s", staxv1alpha1.PruneAnnotation, strings.Join(change.UnknownPruneNames, ", "))
	}
	if len(change.UnknownRotateNames) > 0 {
		r.Recorder.Eventf(sc.bp, nil, corev1.EventTypeWarning, "RotateIgnored", "RotateValues",
			"%s names no auto-generated secret of this Blueprint: %s", staxv1alpha1.RotateAnnotation, strings.Join(change.UnknownRotateNames, ", "))
	}
}

// servicesConsumingValues lists the services that consume any value. Without
// the generated Secret they cannot be rendered: it holds the generated values
// and the key of the digest that rolls them out.
func servicesConsumingValues(plan *render.Plan) []string {
	var out []string
	for _, svc := range plan.Services {
		if len(svc.Uses) > 0 {
			out = append(out, svc.Name)
		}
	}
	return out
}

// readGeneratedSecret reads the generated Secret (readSecret: from the
// Secrets reconciles last read, when unchanged since, else from the API
// server). Its metadata is looked at first: on a first attempt from the
// metadata cache, where a Secret it has not seen is taken as absent
// without a request (the create that follows cannot overwrite anything: it
// fails with AlreadyExists should the Secret exist after all, and the next
// attempt reads from the API server, as every retry does). A Secret whose
// metadata says it is not the Blueprint's (values.ClaimByMetadata) is
// never read in full: live gets its metadata only, which is all the
// verdict needs.
func (r *BlueprintReconciler) readGeneratedSecret(ctx context.Context, bp *staxv1alpha1.Blueprint, key types.NamespacedName, live *corev1.Secret, firstAttempt bool) error {
	metadata := r.APIReader
	if firstAttempt && r.secretMetadata != nil {
		metadata = r.secretMetadata
	}
	m := &metav1.PartialObjectMetadata{}
	m.SetGroupVersionKind(corev1.SchemeGroupVersion.WithKind("Secret"))
	if err := metadata.Get(ctx, key, m); err != nil {
		return err
	}
	if v := values.ClaimByMetadata(m, bp); v != ownership.Owned && v != ownership.Adoptable {
		m.ObjectMeta.DeepCopyInto(&live.ObjectMeta)
		return nil
	}
	return r.readSecret(ctx, key, live, !firstAttempt)
}
