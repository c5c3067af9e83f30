package controller

import (
	"context"
	"testing"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"
	"sigs.k8s.io/controller-runtime/pkg/client/interceptor"
)

// metadataAt is a Secret metadata cache that shows every Secret at one
// resourceVersion, or none when it is empty.
type metadataAt string

func (m metadataAt) Get(_ context.Context, key client.ObjectKey, obj client.Object, _ ...client.GetOption) error {
	if m == "" {
		return apierrors.NewNotFound(corev1.Resource("secrets"), key.Name)
	}
	obj.SetNamespace(key.Namespace)
	obj.SetName(key.Name)
	obj.SetResourceVersion(string(m))
	return nil
}

func (m metadataAt) List(context.Context, client.ObjectList, ...client.ListOption) error {
	return nil
}

// A Secret read from the API server asks for it at the resourceVersion the
// metadata cache shows, or the memo's when that is newer (served from the
// API server's watch cache), and for the latest when the cache has no
// version of it or the read is a retry after a conflict; a memoised Secret
// at the cache's version is not read.
func TestReadSecretAsksForTheCachedVersion(t *testing.T) {
	key := types.NamespacedName{Namespace: "ns", Name: "db"}
	tests := map[string]struct {
		cache    metadataAt
		memoised string // the memo's resourceVersion; none when empty
		fresh    bool
		wantRead bool
		wantRV   string
	}{
		"cached, not memoised":         {cache: "7", wantRead: true, wantRV: "7"},
		"memoised at the cache's":      {cache: "7", memoised: "7", wantRead: false},
		"memoised at an older version": {cache: "8", memoised: "7", wantRead: true, wantRV: "8"},
		// The memo holds a version the watch has not reported yet (this
		// manager wrote it, or read it after a conflict): never ask for less.
		"memoised at a newer version":   {cache: "7", memoised: "9", wantRead: true, wantRV: "9"},
		"not in the cache yet":          {cache: "", wantRead: true, wantRV: ""},
		"a retry after a conflict":      {cache: "7", memoised: "7", fresh: true, wantRead: true, wantRV: ""},
		"a retry, nothing memoised yet": {cache: "7", fresh: true, wantRead: true, wantRV: ""},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			scheme := runtime.NewScheme()
			if err := corev1.AddToScheme(scheme); err != nil {
				t.Fatal(err)
			}
			var reads []string
			api := interceptor.NewClient(fake.NewClientBuilder().WithScheme(scheme).WithObjects(&corev1.Secret{
				ObjectMeta: metav1.ObjectMeta{Namespace: key.Namespace, Name: key.Name},
				Data:       map[string][]byte{"password": []byte("from the API server")},
			}).Build(), interceptor.Funcs{
				Get: func(ctx context.Context, c client.WithWatch, key client.ObjectKey, obj client.Object, opts ...client.GetOption) error {
					o := &client.GetOptions{}
					o.ApplyOptions(opts)
					rv := ""
					if o.Raw != nil {
						rv = o.Raw.ResourceVersion
					}
					reads = append(reads, rv)
					return c.Get(ctx, key, obj, opts...)
				},
			})
			r := &BlueprintReconciler{apiReader: api, secretMetadata: tc.cache, secrets: newSecretMemo()}
			if tc.memoised != "" {
				r.secrets.put(&corev1.Secret{
					ObjectMeta: metav1.ObjectMeta{Namespace: key.Namespace, Name: key.Name, ResourceVersion: tc.memoised},
					Data:       map[string][]byte{"password": []byte("memoised")},
				})
			}
			var out corev1.Secret
			if err := r.readSecret(context.Background(), key, &out, tc.fresh); err != nil {
				t.Fatal(err)
			}
			if !tc.wantRead {
				if len(reads) != 0 || string(out.Data["password"]) != "memoised" {
					t.Fatalf("reads %q, got %q; want the memo's answer and no read", reads, out.Data["password"])
				}
				return
			}
			if len(reads) != 1 || reads[0] != tc.wantRV {
				t.Fatalf("reads at resourceVersions %q, want one at %q", reads, tc.wantRV)
			}
			if string(out.Data["password"]) != "from the API server" {
				t.Errorf("got %q, want the API server's answer", out.Data["password"])
			}
		})
	}
}
