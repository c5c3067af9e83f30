package controller

import (
	"context"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// laggingCache answers NotFound for the first misses reads of each object,
// as an informer does until the watch delivers a create.
type laggingCache struct {
	client.Client
	misses int
	reads  map[string]int
}

func (c *laggingCache) Get(_ context.Context, key client.ObjectKey, obj client.Object, _ ...client.GetOption) error {
	id := kindOf(obj) + "/" + key.String()
	c.reads[id]++
	if c.reads[id] <= c.misses {
		return apierrors.NewNotFound(schema.GroupResource{Resource: kindOf(obj)}, key.Name)
	}
	obj.SetName(key.Name)
	obj.SetNamespace(key.Namespace)
	return nil
}

func TestAwaitCreated(t *testing.T) {
	created := func() []client.Object {
		return []client.Object{
			&appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "api"}},
			&corev1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "api"}},
		}
	}
	t.Run("returns once the cache holds every created object, reading each until it does", func(t *testing.T) {
		cache := &laggingCache{misses: 3, reads: map[string]int{}}
		r := &BlueprintReconciler{Client: cache}
		sc := &scope{created: created()}
		if res, err := r.awaitCreated(context.Background(), sc); err != nil || !res.IsZero() {
			t.Fatalf("awaitCreated: %v, %+v", err, res)
		}
		if len(sc.created) != 0 {
			t.Fatalf("%d objects still awaited", len(sc.created))
		}
		want := map[string]int{"Deployment/ns/api": 4, "Service/ns/api": 4}
		for id, n := range want {
			if cache.reads[id] != n {
				t.Errorf("%s read %d times from the cache, want %d (3 misses, then found)", id, cache.reads[id], n)
			}
		}
	})
	t.Run("a stopping manager ends the wait at once, without an error", func(t *testing.T) {
		cache := &laggingCache{misses: 1 << 30, reads: map[string]int{}}
		r := &BlueprintReconciler{Client: cache}
		sc := &scope{created: created()}
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		start := time.Now()
		if res, err := r.awaitCreated(ctx, sc); err != nil || !res.IsZero() {
			t.Fatalf("awaitCreated: %v, %+v", err, res)
		}
		if waited := time.Since(start); waited >= createdCacheWait {
			t.Fatalf("waited %v with a cancelled context", waited)
		}
		if len(sc.created) != 2 {
			t.Fatalf("%d objects still awaited, want 2 (none was found)", len(sc.created))
		}
	})
	t.Run("nothing created: no read", func(t *testing.T) {
		cache := &laggingCache{reads: map[string]int{}}
		r := &BlueprintReconciler{Client: cache}
		if res, err := r.awaitCreated(context.Background(), &scope{}); err != nil || !res.IsZero() {
			t.Fatalf("awaitCreated: %v, %+v", err, res)
		}
		if len(cache.reads) != 0 {
			t.Fatalf("read %v", cache.reads)
		}
	})
}
