package controller

import (
	"context"
	"time"

	"k8s.io/apimachinery/pkg/util/wait"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/log"
)

// createdCacheWait bounds how long a reconcile waits for the cache to show
// the objects it created.
const createdCacheWait = 5 * time.Second

// awaitCreated waits until the cache holds every object this reconcile
// created, as Cluster API's controllers do after creating Machines
// (clientutil.WaitForObjectsToBeAddedToTheCache): the next reconcile of the
// Blueprint, often queued by this one's own writes, then finds them there
// instead of creating them again, failing with AlreadyExists and reading
// them from the API server. Reads of the cache cost no request. Waiting
// past the bound changes nothing but the request count: the create path
// stays safe on a stale cache.
func (r *BlueprintReconciler) awaitCreated(ctx context.Context, sc *scope) (ctrl.Result, error) {
	if len(sc.created) == 0 {
		return ctrl.Result{}, nil
	}
	err := wait.PollUntilContextTimeout(ctx, 5*time.Millisecond, createdCacheWait, true, func(ctx context.Context) (bool, error) {
		for len(sc.created) > 0 {
			obj := sc.created[0].DeepCopyObject().(client.Object)
			if err := r.Get(ctx, client.ObjectKeyFromObject(obj), obj); err != nil {
				return false, nil //nolint:nilerr // not in the cache yet: poll again
			}
			sc.created = sc.created[1:]
		}
		return true, nil
	})
	if err != nil && ctx.Err() == nil {
		log.FromContext(ctx).V(1).Info("the cache did not show every created object in time; the next reconcile may read them from the API server",
			"waited", createdCacheWait.String(), "missing", len(sc.created))
	}
	return ctrl.Result{}, nil
}
