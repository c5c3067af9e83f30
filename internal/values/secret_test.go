package values

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	staxv1alpha1 "github.com/stax-dev/blueprint-operator/api/v1alpha1"
	"github.com/stax-dev/blueprint-operator/internal/ownership"
)

// TestVerdict: the type check comes before the adoption table, so a
// non-Opaque Secret is never the generated Secret, whoever controls it.
func TestVerdict(t *testing.T) {
	bp := &staxv1alpha1.Blueprint{ObjectMeta: metav1.ObjectMeta{Name: "payments-dev", Namespace: "team", UID: "uid-1"}}
	own := *metav1.NewControllerRef(bp, staxv1alpha1.GroupVersion.WithKind("Blueprint"))
	predecessor := metav1.OwnerReference{APIVersion: "stax.dev/v1alpha1", Kind: "Blueprint", Name: "payments-dev", UID: "uid-0", Controller: ptr.To(true)}
	marked := map[string]string{staxv1alpha1.GeneratedForAnnotation: "payments-dev"}
	tests := map[string]struct {
		typ   corev1.SecretType
		refs  []metav1.OwnerReference
		annot map[string]string
		want  ownership.Verdict
	}{
		"Opaque, controlled by this Blueprint":                           {typ: corev1.SecretTypeOpaque, refs: []metav1.OwnerReference{own}, want: ownership.Owned},
		"Opaque orphan marked for this name":                             {typ: corev1.SecretTypeOpaque, annot: marked, want: ownership.Adoptable},
		"Opaque, controlled by a predecessor":                            {typ: corev1.SecretTypeOpaque, annot: marked, refs: []metav1.OwnerReference{predecessor}, want: ownership.Superseded},
		"service-account token, controlled by this":                      {typ: corev1.SecretTypeServiceAccountToken, refs: []metav1.OwnerReference{own}, want: ownership.Foreign},
		"TLS orphan marked for this name":                                {typ: corev1.SecretTypeTLS, annot: marked, want: ownership.Foreign},
		"empty type (the API server defaults it to Opaque; unread here)": {typ: "", annot: marked, want: ownership.Foreign},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			s := &corev1.Secret{Type: tt.typ, ObjectMeta: metav1.ObjectMeta{Annotations: tt.annot, OwnerReferences: tt.refs}}
			if got := Verdict(s, bp); got != tt.want {
				t.Errorf("Verdict = %v, want %v", got, tt.want)
			}
		})
	}
}
