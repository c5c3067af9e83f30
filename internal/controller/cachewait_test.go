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

	staxv1alpha1 "github.com/stax-dev/blueprint-operator/api/v1alpha1"
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

// staleBlueprints answers reads of a Blueprint at resourceVersion "5" for
// the first stale reads, then at "7", as an informer does until the watch
// delivers the status write.
type staleBlueprints struct {
	client.Client
	stale, reads int
}

func (c *staleBlueprints) Get(_ context.Context, key client.ObjectKey, obj client.Object, _ ...client.GetOption) error {
	c.reads++
	obj.SetName(key.Name)
	obj.SetNamespace(key.Namespace)
	if c.reads <= c.stale {
		obj.SetResourceVersion("5")
	} else {
		obj.SetResourceVersion("7")
	}
	return nil
}

func TestAwaitStatusSeen(t *testing.T) {
	written := func(rv string) *staxv1alpha1.Blueprint {
		return &staxv1alpha1.Blueprint{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "bp", ResourceVersion: rv}}
	}
	t.Run("returns once the cache shows the written resourceVersion, reading until it does", func(t *testing.T) {
		cache := &staleBlueprints{stale: 3}
		(&BlueprintReconciler{Client: cache}).awaitStatusSeen(context.Background(), written("7"))
		if cache.reads != 4 {
			t.Fatalf("read %d times, want 4 (3 stale, then the write)", cache.reads)
		}
	})
	t.Run("a newer resourceVersion in the cache counts as seen", func(t *testing.T) {
		cache := &staleBlueprints{stale: 3}
		(&BlueprintReconciler{Client: cache}).awaitStatusSeen(context.Background(), written("6"))
		if cache.reads != 4 {
			t.Fatalf("read %d times, want 4: 5 is older than 6, 7 is newer", cache.reads)
		}
	})
	t.Run("a stopping manager ends the wait at once", func(t *testing.T) {
		cache := &staleBlueprints{stale: 1 << 30}
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		start := time.Now()
		(&BlueprintReconciler{Client: cache}).awaitStatusSeen(ctx, written("7"))
		if waited := time.Since(start); waited >= createdCacheWait {
			t.Fatalf("waited %v with a cancelled context", waited)
		}
	})
	t.Run("a Blueprint gone from the cache ends the wait", func(t *testing.T) {
		cache := &laggingCache{misses: 1 << 30, reads: map[string]int{}}
		(&BlueprintReconciler{Client: cache}).awaitStatusSeen(context.Background(), written("7"))
		if cache.reads["Blueprint/ns/bp"] != 1 {
			t.Fatalf("read %v, want one read", cache.reads)
		}
	})
}
