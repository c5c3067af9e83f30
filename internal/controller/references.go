package controller

import (
	"context"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	staxv1alpha1 "github.com/stax-dev/blueprint-operator/api/v1alpha1"
	"github.com/stax-dev/blueprint-operator/internal/apierror"
	"github.com/stax-dev/blueprint-operator/internal/metrics"
	"github.com/stax-dev/blueprint-operator/internal/ownership"
	"github.com/stax-dev/blueprint-operator/internal/render"
	"github.com/stax-dev/blueprint-operator/internal/status"
	"github.com/stax-dev/blueprint-operator/internal/values"
)

// podReferenceRecheck is how soon a reconcile runs again while a
// ServiceAccount a service names is missing or, under the lockdown,
// unlabelled: the operator does not watch
// ServiceAccounts (a watch would cache every one of the cluster), so it looks
// again. Missing Secrets need no timer: the Secret metadata watch sees them
// appear.
const podReferenceRecheck = 30 * time.Second

// +kubebuilder:rbac:groups="",resources=serviceaccounts,verbs=get

// checkReferences resolves everything the plan's objects read
// (render.Plan.Reads: the pods' values, the hooks' env, pull Secrets, the
// ServiceAccount, the route's TLS Secret), reports what is missing or, under
// the lockdown, may not be read, and holds back what status.HoldOf says: a
// service is left as it runs, a hook's Job is not created. Values are read
// (readReferenced); pull and TLS Secrets are looked up in the Secret
// metadata cache and ServiceAccounts as metadata from the API server: their
// data is never read.
func (r *BlueprintReconciler) checkReferences(ctx context.Context, sc *scope) (ctrl.Result, error) {
	if n := sc.plan.TooManySecrets; n > 0 {
		// render.Build rendered nothing: no Secret is read, and the memo
		// lets go of those read before the spec named too many.
		sc.problem(status.TooManySecretsProblem(n, render.MaxSecretsRead), sc.plan.Unrendered...)
		r.retainSecrets(sc)
		return ctrl.Result{}, nil
	}
	var result ctrl.Result
	for _, svc := range sc.plan.Services {
		for _, read := range svc.Reads {
			if read.Kind == render.ReadValue && read.Use.Managed {
				continue
			}
			state, err := r.resolve(ctx, sc, read)
			if err != nil {
				return ctrl.Result{}, err
			}
			p, ok := r.readProblem(sc, svc.Name, read, state)
			if !ok {
				continue
			}
			if read.Kind == render.ReadServiceAccount {
				// Missing or unlabelled: ServiceAccounts are not watched, so
				// their creation or labelling is looked for again.
				result.RequeueAfter = podReferenceRecheck
			}
			switch status.HoldOf(state, read.Kind != render.ReadValue, read.Hook != "") {
			case status.HoldService:
				sc.problem(p, svc.Name)
			case status.HoldHook:
				sc.problem(p)
				sc.heldHooks[read.Hook] = true
			default:
				sc.problem(p)
			}
			if read.Kind != render.ReadServiceAccount && p.Reason != staxv1alpha1.ReasonImagePullSecretNotFound {
				metrics.ReferenceFailure(p.Reason)
			}
		}
	}
	r.retainSecrets(sc)
	return result, nil
}

// resolve says what a reconcile finds of what read names.
func (r *BlueprintReconciler) resolve(ctx context.Context, sc *scope, read render.Read) (status.ReferenceState, error) {
	switch read.Kind {
	case render.ReadValue:
		secret, seen := sc.referenced[read.Name]
		if !seen {
			var err error
			if secret, err = r.readReferenced(ctx, sc, read.Name); err != nil {
				return 0, err
			}
			sc.referenced[read.Name] = secret
		}
		return status.ReferenceStateOf(sc.notReferenceable[read.Name], secret != nil, secret != nil && hasKey(secret, read.Use.Ref.Key)), nil
	case render.ReadServiceAccount:
		return r.resolveNamed(ctx, sc, "ServiceAccount", read.Name, r.apiReader)
	default:
		return r.resolveNamed(ctx, sc, "Secret", read.Name, r.secretMetadataReader())
	}
}

// resolveNamed looks up, as metadata only, an object of kind the
// Blueprint's objects name without the operator reading it: whether it
// exists and, under the lockdown, carries LabelReferenceable.
func (r *BlueprintReconciler) resolveNamed(ctx context.Context, sc *scope, kind, name string, reader client.Reader) (status.ReferenceState, error) {
	m := &metav1.PartialObjectMetadata{TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: kind}}
	err := reader.Get(ctx, types.NamespacedName{Namespace: sc.bp.Namespace, Name: name}, m)
	switch {
	case apierrors.IsNotFound(err):
		return status.ReferenceSecretNotFound, nil
	case err != nil:
		return 0, apierror.Wrap(apierror.OpRead, kind, name, err)
	case r.requireReferenceableLabel && !referenceable(m.Labels):
		return status.ReferenceNotReferenceable, nil
	}
	return status.ReferenceResolved, nil
}

// readProblem words what read's state means for service.
func (r *BlueprintReconciler) readProblem(sc *scope, service string, read render.Read, state status.ReferenceState) (none status.Problem, ok bool) {
	switch {
	case state == status.ReferenceResolved:
		return none, false
	case read.Kind == render.ReadServiceAccount && state == status.ReferenceNotReferenceable:
		return status.ServiceAccountNotReferenceableProblem(service, read.Name), true
	case read.Kind == render.ReadServiceAccount:
		return status.ServiceAccountProblem(service, read.Name, sc.bp.Namespace), true
	case read.Kind == render.ReadImagePullSecret && state == status.ReferenceSecretNotFound:
		return status.PullSecretProblem(service, read.Name, sc.bp.Namespace, imageOf(sc.bp, service)), true
	}
	return status.ReferenceProblem(status.ReferenceUse{
		Service: service, EnvKey: read.Use.EnvKey, Field: read.Field,
		Secret: read.Name, Key: read.Use.Ref.Key, Namespace: sc.bp.Namespace,
	}, state)
}

// imageOf is the image service runs.
func imageOf(bp *staxv1alpha1.Blueprint, service string) string {
	for _, svc := range bp.Spec.Services {
		if svc.Name == service {
			return svc.Image
		}
	}
	return ""
}

func hasKey(s *corev1.Secret, key string) bool {
	if _, ok := s.Data[key]; ok {
		return true
	}
	_, ok := s.StringData[key]
	return ok
}

// secretMetadataReader reads Secrets' metadata: from the metadata cache,
// whose watch maps a Secret's arrival to the Blueprints naming it, or from
// the API server without one.
func (r *BlueprintReconciler) secretMetadataReader() client.Reader {
	if r.secretMetadata != nil {
		return r.secretMetadata
	}
	return r.apiReader
}

// readReferenced reads the referenced Secret name (readSecret: from the
// Secrets reconciles last read, when unchanged since, else from the API
// server); nil when it does not exist.
//
// The Secret metadata cache answers first, without a request: a Secret it
// does not hold does not exist (its watch reconciles again when one
// appears), so a Blueprint naming thousands of missing Secrets costs no
// read. Under RequireReferenceableLabel a Secret it shows without
// LabelReferenceable="true" is recorded in sc.notReferenceable and never
// read; the label is checked again on what is read, as the cache may lag a
// removal. The Blueprint's own generated Secret needs no label when its
// metadata shows it is the Blueprint's.
func (r *BlueprintReconciler) readReferenced(ctx context.Context, sc *scope, name string) (*corev1.Secret, error) {
	key := types.NamespacedName{Namespace: sc.bp.Namespace, Name: name}
	metadata := r.secretMetadata
	if metadata == nil && r.requireReferenceableLabel {
		// No metadata cache: ask the API server for the metadata alone
		// (no data crosses the wire) before reading anything else.
		metadata = r.apiReader
	}
	// The Blueprint's own generated Secret needs no label, once its
	// metadata shows it is the Blueprint's (controlled by it, or, under
	// Retain, marked for it): a foreign Secret that took its name is any
	// other Secret.
	ours := func(m metav1.Object) bool {
		v := values.VerdictByMetadata(m, sc.bp)
		return name == sc.plan.GeneratedSecretName && (v == ownership.Owned || v == ownership.Adoptable)
	}
	if metadata != nil {
		m := &metav1.PartialObjectMetadata{}
		m.SetGroupVersionKind(corev1.SchemeGroupVersion.WithKind("Secret"))
		err := metadata.Get(ctx, key, m)
		switch {
		case apierrors.IsNotFound(err):
			return nil, nil
		case err != nil:
			return nil, apierror.Wrap(apierror.OpRead, "Secret", name, err)
		}
		if r.requireReferenceableLabel && !referenceable(m.Labels) && !ours(m) {
			sc.notReferenceable[name] = true
			return nil, nil
		}
	}
	secret := &corev1.Secret{}
	err := r.readSecret(ctx, key, secret, false)
	switch {
	case apierrors.IsNotFound(err):
		return nil, nil
	case err != nil:
		return nil, apierror.Wrap(apierror.OpRead, "Secret", name, err)
	}
	if r.requireReferenceableLabel && !referenceable(secret.Labels) && !ours(secret) {
		sc.notReferenceable[name] = true
		return nil, nil
	}
	return secret, nil
}

// referenceable reports whether an object's labels opt it in to being
// read by Blueprints under RequireReferenceableLabel.
func referenceable(labels map[string]string) bool {
	return labels[staxv1alpha1.LabelReferenceable] == "true"
}
