package controller

import (
	"context"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	ctrl "sigs.k8s.io/controller-runtime"

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
func (r *BlueprintReconciler) reconcileGeneratedSecret(ctx context.Context, sc *scope) (ctrl.Result, error) {
	name := sc.plan.GeneratedSecretName
	key := types.NamespacedName{Namespace: sc.bp.Namespace, Name: name}
	rotateNames, rotateID := values.ParseRotateRequest(sc.bp.Annotations)
	pruneNames, pruneID := values.ParsePruneRequest(sc.bp.Annotations)
	req := values.Request{
		Managed: sc.plan.Managed, RotateNames: rotateNames, RotateID: rotateID,
		PruneNames: pruneNames, PruneID: pruneID,
		Retention: values.Retention(sc.bp.Spec.RemovedValueRetention, r.removedValueRetention),
		Now:       r.clock.Now(),
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
				return ctrl.Result{}, err
			}
			st := values.State{}
			change, err := values.Sync(&st, req, r.generator(sc.bp))
			if err != nil {
				return ctrl.Result{}, err
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
				return ctrl.Result{}, apierror.Wrap(apierror.OpCreate, "Secret", name, err)
			}
			r.secrets.put(secret)
			r.recordGeneratedSecret(sc, secret, &st, change)
			return r.nextDue(change), r.runHooks(ctx, sc, &st, change)
		case err != nil:
			return ctrl.Result{}, apierror.Wrap(apierror.OpRead, "Secret", name, err)
		}

		// Superseded: controlled by a deleted predecessor of the same name,
		// which the garbage collector deletes; adopting it would make the
		// new Blueprint's values depend on who wins that race. Deleting: the
		// values of a deleted predecessor on their way out; wait for them
		// rather than adopt what is being deleted.
		held := status.Held{Kind: status.KindSecret, Name: name}
		if ref := metav1.GetControllerOf(live); ref != nil {
			held.Predecessor = ref.UID
		}
		if p, ok := status.OwnershipProblem(held, values.Verdict(live, sc.bp)); ok {
			sc.problem(p, servicesConsumingValues(sc.plan)...)
			return ctrl.Result{}, nil
		}

		st := values.FromSecret(live)
		if req.Jobs, err = r.observeHookJobs(ctx, sc, &st); err != nil {
			return ctrl.Result{}, err
		}
		change, err := values.Sync(&st, req, r.generator(sc.bp))
		if err != nil {
			return ctrl.Result{}, err
		}
		ownershipChanged := values.MarkOwned(live, sc.bp)
		if !change.Modified && !ownershipChanged {
			r.recordGeneratedSecret(sc, live, &st, change)
			return r.nextDue(change), r.runHooks(ctx, sc, &st, change)
		}
		st.WriteTo(live)
		// Update carries live's resourceVersion: if anyone wrote the Secret
		// since we read it, the API server refuses and we read again.
		if err := r.Update(ctx, live); err != nil {
			if apierrors.IsConflict(err) {
				continue
			}
			return ctrl.Result{}, apierror.Wrap(apierror.OpUpdate, "Secret", name, err)
		}
		r.secrets.put(live)
		r.recordGeneratedSecret(sc, live, &st, change)
		// Only now, with the staged value and the rotation's state on the
		// Secret, may a hook's Job exist.
		return r.nextDue(change), r.runHooks(ctx, sc, &st, change)
	}
	return ctrl.Result{}, apierror.Exhausted("Secret", name, maxSecretAttempts)
}

// generator makes what values.Sync asks for, with secretgen, from r.rand;
// the CA is named after bp.
func (r *BlueprintReconciler) generator(bp *staxv1alpha1.Blueprint) values.Generator {
	return func(d values.Draw) (map[string][]byte, error) {
		return secretgen.Value(r.rand, secretgen.Spec{
			Type: d.Secret.Type, Charset: string(d.Secret.Charset), Length: d.Secret.Length, Exclude: d.Secret.Exclude,
			DNSNames: d.Secret.DNSNames, NotBefore: d.NotBefore, NotAfter: d.NotAfter, CAKey: d.CAKey, CACert: d.CACert,
			CA: d.CA, CAName: "stax.dev Blueprint " + bp.Namespace + "/" + bp.Name + " CA",
		})
	}
}

// nextDue comes back when the next scheduled rotation or prune, or the
// deadline of a hook in flight, falls due.
func (r *BlueprintReconciler) nextDue(change values.Change) ctrl.Result {
	due := change.NextDue()
	if due.IsZero() {
		return ctrl.Result{}
	}
	return ctrl.Result{RequeueAfter: max(due.Sub(r.clock.Now()), time.Second)}
}

// recordGeneratedSecret keeps what later phases and status need, and tells
// the user what changed, by name (values.Events).
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
	r.recordHooks(sc, st)
	for _, p := range change.Pending {
		sc.pendingRemovals = append(sc.pendingRemovals, staxv1alpha1.PendingRemoval{
			Name: p.Name, RemovedAt: &metav1.Time{Time: p.RemovedAt.UTC().Truncate(time.Second)}, PruneAfter: &metav1.Time{Time: p.PruneAfter.UTC().Truncate(time.Second)},
		})
	}
	metrics.ValuesGenerated(len(change.Generated))
	for trigger, names := range change.Rotated {
		metrics.Rotated(trigger, len(names))
	}
	r.emit(sc, values.Events(st, change, values.EventContext{
		Secret: secret.Name, Blueprint: sc.bp.Name, StatusWritten: status.Written(&sc.bp.Status),
	})...)
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
// metadata says it is not the Blueprint's (values.VerdictByMetadata) is
// never read in full: live gets its metadata only, which is all the
// verdict needs.
func (r *BlueprintReconciler) readGeneratedSecret(ctx context.Context, bp *staxv1alpha1.Blueprint, key types.NamespacedName, live *corev1.Secret, firstAttempt bool) error {
	metadata := r.apiReader
	if firstAttempt && r.secretMetadata != nil {
		metadata = r.secretMetadata
	}
	m := &metav1.PartialObjectMetadata{}
	m.SetGroupVersionKind(corev1.SchemeGroupVersion.WithKind("Secret"))
	if err := metadata.Get(ctx, key, m); err != nil {
		return err
	}
	if v := values.VerdictByMetadata(m, bp); v != ownership.Owned && v != ownership.Adoptable {
		m.ObjectMeta.DeepCopyInto(&live.ObjectMeta)
		return nil
	}
	return r.readSecret(ctx, key, live, !firstAttempt)
}
