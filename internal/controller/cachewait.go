package controller

import (
	"context"
	"strconv"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
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

// awaitStatusSeen waits until the cache shows bp at least at the
// resourceVersion its status patch returned, as awaitCreated does for
// created objects. The status patch is a merge patch from the cached
// Blueprint: a reconcile that ran on a copy older than this write would
// leave out of its patch every field it computed the same as that copy
// did, and the write it missed would keep them. That wrote Ready=True
// beside the "1/2" of the Progressing write before it, and took a third
// write to mend. Waiting past the bound is logged and changes nothing.
func (r *BlueprintReconciler) awaitStatusSeen(ctx context.Context, bp client.Object) {
	written, err := strconv.ParseUint(bp.GetResourceVersion(), 10, 64)
	if err != nil {
		return // opaque: nothing to compare against
	}
	seen := func(ctx context.Context) (bool, error) {
		cached := bp.DeepCopyObject().(client.Object)
		if err := r.Get(ctx, client.ObjectKeyFromObject(bp), cached); err != nil {
			return apierrors.IsNotFound(err), nil
		}
		return notOlder(cached.GetResourceVersion(), written), nil
	}
	if err := wait.PollUntilContextTimeout(ctx, 5*time.Millisecond, createdCacheWait, true, seen); err != nil && ctx.Err() == nil {
		log.FromContext(ctx).V(1).Info("the cache did not show the status written in time; the next reconcile may patch from an older copy",
			"waited", createdCacheWait.String())
	}
}

// notOlder reports whether the cached resourceVersion is written or later;
// one that is not a number cannot be compared, and ends the wait.
func notOlder(cached string, written uint64) bool {
	rv, err := strconv.ParseUint(cached, 10, 64)
	if err != nil {
		return true
	}
	return rv >= written
}
