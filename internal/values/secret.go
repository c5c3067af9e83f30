package values

import (
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	staxv1alpha1 "github.com/stax-dev/blueprint-operator/api/v1alpha1"
	"github.com/stax-dev/blueprint-operator/internal/ownership"
	"github.com/stax-dev/blueprint-operator/internal/render"
)

// Verdict says what the operator may do with secret, the Secret found under
// the name of bp's generated Secret: only an Opaque Secret can be the
// generated Secret, and then the adoption table of ownership.Retained
// decides, with the marker annotation stax.dev/generated-for.
func Verdict(secret *corev1.Secret, bp *staxv1alpha1.Blueprint) ownership.Verdict {
	v := VerdictByMetadata(secret, bp)
	if (v == ownership.Owned || v == ownership.Adoptable) && secret.Type != corev1.SecretTypeOpaque {
		return ownership.Foreign
	}
	return v
}

// VerdictByMetadata is Verdict from the Secret's metadata alone, so that a
// Secret that is not the Blueprint's need never be read in full: Foreign,
// Superseded and Deleting are final; Owned and Adoptable still depend on
// the Secret's type, which only Verdict sees.
func VerdictByMetadata(secret metav1.Object, bp *staxv1alpha1.Blueprint) ownership.Verdict {
	return ownership.Retained(secret, bp, staxv1alpha1.GeneratedForAnnotation)
}

// MarkOwned labels secret as bp's generated Secret, marks it for bp's name
// and sets its owner references as bp's deletion policy says (see
// ownership.SetRetention). It reports whether anything changed.
func MarkOwned(secret *corev1.Secret, bp *staxv1alpha1.Blueprint) bool {
	changed := false
	for k, v := range render.GeneratedSecretLabels(bp.Name) {
		if secret.Labels[k] != v {
			if secret.Labels == nil {
				secret.Labels = map[string]string{}
			}
			secret.Labels[k] = v
			changed = true
		}
	}
	return ownership.SetRetention(secret, bp, staxv1alpha1.GeneratedForAnnotation) || changed
}

// FromSecret reads the state of a generated Secret. The returned state owns
// its data map: Sync may change it without touching secret.
func FromSecret(secret *corev1.Secret) State {
	data := make(map[string][]byte, len(secret.Data))
	for k, v := range secret.Data {
		data[k] = v
	}
	return State{
		Data:          data,
		Values:        DecodeValues(secret.Annotations),
		RotateHandled: secret.Annotations[staxv1alpha1.RotateHandledAnnotation],
		PruneHandled:  secret.Annotations[staxv1alpha1.PruneHandledAnnotation],
	}
}

// WriteTo writes st into secret: its data, and the metadata annotations
// that let a later reconcile (or another process) carry on where this one
// stopped. Names and times only, never a value.
func (st *State) WriteTo(secret *corev1.Secret) {
	secret.Data = st.Data
	if secret.Annotations == nil {
		secret.Annotations = map[string]string{}
	}
	secret.Annotations[staxv1alpha1.ValuesAnnotation] = EncodeValues(st.Values)
	if st.RotateHandled == "" {
		delete(secret.Annotations, staxv1alpha1.RotateHandledAnnotation)
	} else {
		secret.Annotations[staxv1alpha1.RotateHandledAnnotation] = st.RotateHandled
	}
	if st.PruneHandled == "" {
		delete(secret.Annotations, staxv1alpha1.PruneHandledAnnotation)
	} else {
		secret.Annotations[staxv1alpha1.PruneHandledAnnotation] = st.PruneHandled
	}
}
