package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	"k8s.io/client-go/util/retry"
	"sigs.k8s.io/controller-runtime/pkg/client"

	staxv1alpha1 "github.com/stax-dev/blueprint-operator/api/v1alpha1"
)

func newPruneCommand(flags *genericclioptions.ConfigFlags, streams genericiooptions.IOStreams) *cobra.Command {
	return &cobra.Command{
		Use:   "prune NAME [SECRET...]",
		Short: "Ask the operator to delete kept values of removed secrets now",
		Long: `Ask the operator to delete, now, the values of Blueprint NAME whose secrets
are no longer declared: each SECRET, or every value pending removal when no
SECRET is given.

A value whose secret is removed from the spec (or whose whole service is)
stays in the generated Secret for the retention period
(spec.removedValueRetention, or the manager's --removed-value-retention,
7 days by default), so a mistaken removal can be undone by declaring the
secret again. status.pendingRemovals lists those values and when they go.
Pruning deletes a value and its SECRET` + staxv1alpha1.PreviousValueSuffix + ` for good.

The request is the Blueprint's ` + staxv1alpha1.PruneAnnotation + ` annotation (the names, or ` + staxv1alpha1.PruneAllValue + `) with
` + staxv1alpha1.PruneRequestedAtAnnotation + ` (the time of the request); the operator carries it
out once, so a re-sync of the same annotations prunes nothing more. A secret
still declared is never pruned.`,
		Example: `  kubectl blueprint prune payments-dev db-password -n payments
  kubectl blueprint prune payments-dev -n payments`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, namespace, err := newClient(flags, streams.ErrOut)
			if err != nil {
				return err
			}
			name, secrets := args[0], distinct(args[1:])
			requestedAt := time.Now().UTC().Format(time.RFC3339)
			var notPending []string
			// As for rotate: the check and the request are made on the same
			// version of the Blueprint.
			err = retry.RetryOnConflict(retry.DefaultRetry, func() error {
				bp := &staxv1alpha1.Blueprint{}
				if err := c.Get(cmd.Context(), types.NamespacedName{Namespace: namespace, Name: name}, bp); err != nil {
					if apierrors.IsNotFound(err) {
						return fmt.Errorf("blueprint %q not found in namespace %q", name, namespace)
					}
					return err
				}
				if err := checkPrunable(bp, secrets); err != nil {
					return err
				}
				notPending = notPendingRemoval(bp, secrets)
				value := strings.Join(secrets, ",")
				if len(secrets) == 0 {
					value = staxv1alpha1.PruneAllValue
				}
				patch, err := json.Marshal(map[string]any{"metadata": map[string]any{
					"resourceVersion": bp.ResourceVersion,
					"annotations": map[string]string{
						staxv1alpha1.PruneAnnotation:            value,
						staxv1alpha1.PruneRequestedAtAnnotation: requestedAt,
					},
				}})
				if err != nil {
					return err
				}
				return c.Patch(cmd.Context(), bp, client.RawPatch(types.MergePatchType, patch))
			})
			if err != nil {
				return err
			}
			if len(notPending) > 0 {
				// The status may lag a spec edit made a moment ago: request
				// anyway; the operator reports names it cannot prune.
				if _, err := fmt.Fprintf(streams.ErrOut, "warning: status.pendingRemovals of blueprint %s does not list %s (yet); the operator ignores names with no value pending removal\n",
					name, strings.Join(notPending, ", ")); err != nil {
					return err
				}
			}
			what := "every value pending removal"
			if len(secrets) > 0 {
				what = strings.Join(secrets, ", ")
			}
			_, err = fmt.Fprintf(streams.Out, "blueprint.stax.dev/%s: prune of %s requested at %s\n", name, what, requestedAt)
			return err
		},
	}
}

// checkPrunable returns an error naming every one of secrets that bp still
// declares: such a value is in use and is never pruned.
func checkPrunable(bp *staxv1alpha1.Blueprint, secrets []string) error {
	var errs []error
	for _, name := range secrets {
		for _, svc := range bp.Spec.Services {
			if slices.ContainsFunc(svc.Secrets, func(s staxv1alpha1.ServiceSecret) bool { return s.Name == name }) {
				errs = append(errs, fmt.Errorf("secret %q is still declared by service %s of blueprint %s: remove it from the spec first; only values no longer declared can be pruned", name, svc.Name, bp.Name))
			}
		}
	}
	return errors.Join(errs...)
}

// notPendingRemoval lists the secrets that bp's status does not report as
// pending removal.
func notPendingRemoval(bp *staxv1alpha1.Blueprint, secrets []string) []string {
	var out []string
	for _, name := range secrets {
		if !slices.ContainsFunc(bp.Status.PendingRemovals, func(p staxv1alpha1.PendingRemoval) bool { return p.Name == name }) {
			out = append(out, name)
		}
	}
	return out
}
