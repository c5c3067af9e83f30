package controller

import (
	"context"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	staxv1alpha1 "github.com/stax-dev/blueprint-operator/api/v1alpha1"
	"github.com/stax-dev/blueprint-operator/internal/apierror"
	"github.com/stax-dev/blueprint-operator/internal/ownership"
	"github.com/stax-dev/blueprint-operator/internal/values"
)

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
		metadata = r.APIReader
	}
	// The Blueprint's own generated Secret needs no label, once its
	// metadata shows it is the Blueprint's: a foreign Secret that took its
	// name is any other Secret.
	ours := func(m metav1.Object) bool {
		return name == sc.plan.GeneratedSecretName && values.VerdictByMetadata(m, sc.bp) == ownership.Owned
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
