package controller

import (
	"context"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	staxv1alpha1 "github.com/stax-dev/blueprint-operator/api/v1alpha1"
	"github.com/stax-dev/blueprint-operator/internal/apierror"
)

// readReferenced reads the referenced Secret name (readSecret: from the
// Secrets reconciles last read, when unchanged since, else from the API
// server); nil when it does not exist.
//
// Under RequireReferenceableLabel it first reads the Secret's metadata only
// (a PartialObjectMetadata GET: no data crosses the wire), and a Secret
// without LabelReferenceable="true" is recorded in sc.notReferenceable and
// never read further. The Blueprint's own generated Secret needs no label.
func (r *BlueprintReconciler) readReferenced(ctx context.Context, sc *scope, name string) (*corev1.Secret, error) {
	key := types.NamespacedName{Namespace: sc.bp.Namespace, Name: name}
	if r.requireReferenceableLabel && name != sc.plan.GeneratedSecretName {
		m := &metav1.PartialObjectMetadata{}
		m.SetGroupVersionKind(corev1.SchemeGroupVersion.WithKind("Secret"))
		err := r.APIReader.Get(ctx, key, m)
		switch {
		case apierrors.IsNotFound(err):
			return nil, nil
		case err != nil:
			return nil, apierror.Wrap(apierror.OpRead, "Secret", name, err)
		}
		if m.Labels[staxv1alpha1.LabelReferenceable] != "true" {
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
	return secret, nil
}
