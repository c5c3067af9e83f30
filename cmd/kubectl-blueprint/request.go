package main

import (
	"context"
	"encoding/json"
	"fmt"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/util/retry"
	"sigs.k8s.io/controller-runtime/pkg/client"

	staxv1alpha1 "github.com/stax-dev/blueprint-operator/api/v1alpha1"
)

// requestOnBlueprint puts a request (rotate, prune) on Blueprint name as
// annotations. check runs on the version of the Blueprint that the patch then
// carries the resourceVersion of, so a concurrent change (a secret removed,
// say) makes the patch fail and the whole step run again: what was checked
// is what was requested on. It returns the Blueprint as checked.
func requestOnBlueprint(ctx context.Context, c client.Client, namespace, name string,
	check func(*staxv1alpha1.Blueprint) error, annotations map[string]string) (*staxv1alpha1.Blueprint, error) {
	var checked *staxv1alpha1.Blueprint
	err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		bp := &staxv1alpha1.Blueprint{}
		if err := c.Get(ctx, types.NamespacedName{Namespace: namespace, Name: name}, bp); err != nil {
			if apierrors.IsNotFound(err) {
				return fmt.Errorf("blueprint %q not found in namespace %q", name, namespace)
			}
			return err
		}
		if err := check(bp); err != nil {
			return err
		}
		checked = bp.DeepCopy()
		patch, err := json.Marshal(map[string]any{"metadata": map[string]any{
			"resourceVersion": bp.ResourceVersion,
			"annotations":     annotations,
		}})
		if err != nil {
			return err
		}
		return c.Patch(ctx, bp, client.RawPatch(types.MergePatchType, patch))
	})
	return checked, err
}
