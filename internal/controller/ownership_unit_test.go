package controller

import (
	"context"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"
	"sigs.k8s.io/controller-runtime/pkg/client/interceptor"

	staxv1alpha1 "github.com/stax-dev/blueprint-operator/api/v1alpha1"
	"github.com/stax-dev/blueprint-operator/internal/render"
)

// dataReads counts the reads of a Secret's data (a Get into a
// corev1.Secret, not PartialObjectMetadata) that c answers.
func dataReads(t *testing.T, objs ...client.Object) (client.WithWatch, *map[string]int) {
	t.Helper()
	s := runtime.NewScheme()
	if err := clientgoscheme.AddToScheme(s); err != nil {
		t.Fatal(err)
	}
	reads := map[string]int{}
	c := interceptor.NewClient(fake.NewClientBuilder().WithScheme(s).WithObjects(objs...).Build(), interceptor.Funcs{
		Get: func(ctx context.Context, c client.WithWatch, key client.ObjectKey, obj client.Object, opts ...client.GetOption) error {
			if _, ok := obj.(*corev1.Secret); ok {
				reads[key.Name]++
			}
			return c.Get(ctx, key, obj, opts...)
		},
	})
	return c, &reads
}

func generatedSecretTestBlueprint() *staxv1alpha1.Blueprint {
	return &staxv1alpha1.Blueprint{
		ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "ns", UID: "uid-web"},
		Spec: staxv1alpha1.BlueprintSpec{Services: []staxv1alpha1.BlueprintService{{
			Name: "api", Image: "api:1",
			Env: map[string]staxv1alpha1.EnvValue{"X": "${secret:web-generated/token}"},
		}}},
	}
}

// A Secret that took the name of the Blueprint's generated Secret is never
// read in full, neither as the generated Secret nor as a referenced one
// under the lockdown: its metadata says it is not the Blueprint's.
func TestForeignGeneratedSecretIsNotRead(t *testing.T) {
	bp := generatedSecretTestBlueprint()
	foreign := &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: "web-generated", Namespace: "ns"},
		Type:       corev1.SecretTypeOpaque,
		Data:       map[string][]byte{"token": []byte("someone else's")},
	}
	owned := foreign.DeepCopy()
	owned.OwnerReferences = []metav1.OwnerReference{{APIVersion: staxv1alpha1.GroupVersion.String(), Kind: "Blueprint", Name: "web", UID: bp.UID, Controller: ptr.To(true)}}
	owned.Annotations = map[string]string{staxv1alpha1.GeneratedForAnnotation: "web"}

	for name, tc := range map[string]struct {
		secret   *corev1.Secret
		wantRead bool
	}{
		"foreign": {foreign, false},
		"ours":    {owned, true},
	} {
		t.Run(name, func(t *testing.T) {
			plan, _ := render.Build(bp)
			c, reads := dataReads(t, tc.secret)
			r := &BlueprintReconciler{Client: c, apiReader: c, secretMetadata: c, secrets: newSecretMemo(), requireReferenceableLabel: true}
			sc := &scope{bp: bp, plan: plan, notReferenceable: map[string]bool{}}

			live := &corev1.Secret{}
			if err := r.readGeneratedSecret(context.Background(), bp, types.NamespacedName{Namespace: "ns", Name: "web-generated"}, live, true); err != nil {
				t.Fatal(err)
			}
			if got := (*reads)["web-generated"] > 0; got != tc.wantRead {
				t.Errorf("as the generated Secret: read in full %v, want %v", got, tc.wantRead)
			}
			if !tc.wantRead && (live.Data != nil || live.Name != "web-generated") {
				t.Errorf("live holds %q with data %v; want its metadata only", live.Name, live.Data != nil)
			}

			*reads = map[string]int{}
			r.secrets = newSecretMemo() // nothing remembered from the read above
			got, err := r.readReferenced(context.Background(), sc, "web-generated")
			if err != nil {
				t.Fatal(err)
			}
			if read := (*reads)["web-generated"] > 0; read != tc.wantRead || (got != nil) != tc.wantRead {
				t.Errorf("as a reference under the lockdown: read in full %v, returned %v; want %v", read, got != nil, tc.wantRead)
			}
			if sc.notReferenceable["web-generated"] == tc.wantRead {
				t.Errorf("notReferenceable = %v, want %v", sc.notReferenceable["web-generated"], !tc.wantRead)
			}
		})
	}
}
