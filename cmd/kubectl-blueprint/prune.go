package main

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	"sigs.k8s.io/controller-runtime/pkg/client"

	staxv1alpha1 "github.com/stax-dev/blueprint-operator/api/v1alpha1"
	"github.com/stax-dev/blueprint-operator/internal/render"
)

func newPruneCommand(flags *genericclioptions.ConfigFlags, streams genericiooptions.IOStreams) *cobra.Command {
	var claims bool
	cmd := &cobra.Command{
		Use:   "prune NAME [SECRET...] | prune NAME --claims [CLAIM...]",
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
still declared is never pruned.

With --claims, the request is instead to delete PersistentVolumeClaims of
Blueprint NAME whose volume (or service) is no longer declared, with their
data: each CLAIM, or every claim status.undeclaredClaims lists when none is
given. The operator never deletes a claim otherwise. The request is the
Blueprint's ` + staxv1alpha1.PruneClaimsAnnotation + ` annotation with ` + staxv1alpha1.PruneClaimsRequestedAtAnnotation + `;
only claims created before that time are deleted, so a re-sync of the same
annotations never deletes a claim created since. A claim still declared is
never deleted.`,
		Example: `  kubectl blueprint prune payments-dev db-password -n payments
  kubectl blueprint prune payments-dev -n payments
  kubectl blueprint prune payments-dev --claims payments-dev-db-old -n payments`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, namespace, err := newClient(flags, streams.ErrOut)
			if err != nil {
				return err
			}
			name, secrets := args[0], distinct(args[1:])
			if claims {
				return pruneClaims(cmd, c, namespace, name, secrets, streams)
			}
			requestedAt := time.Now().UTC().Format(time.RFC3339)
			var notPending []string
			value := strings.Join(secrets, ",")
			if len(secrets) == 0 {
				value = staxv1alpha1.PruneAllValue
			}
			_, err = requestOnBlueprint(cmd.Context(), c, namespace, name,
				func(bp *staxv1alpha1.Blueprint) error {
					if err := checkPrunable(bp, secrets); err != nil {
						return err
					}
					notPending = notPendingRemoval(bp, secrets)
					return nil
				},
				map[string]string{
					staxv1alpha1.PruneAnnotation:            value,
					staxv1alpha1.PruneRequestedAtAnnotation: requestedAt,
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
	cmd.Flags().BoolVar(&claims, "claims", false, "delete PersistentVolumeClaims no longer declared (status.undeclaredClaims), with their data, instead of kept values")
	return cmd
}

// pruneClaims requests the deletion of claims bp no longer declares.
func pruneClaims(cmd *cobra.Command, c client.Client, namespace, name string, names []string, streams genericiooptions.IOStreams) error {
	// One second ahead: a claim the operator created in the second of the
	// request (RFC 3339 has no fraction) counts as created before it.
	requestedAt := time.Now().Add(time.Second).UTC().Format(time.RFC3339)
	var notListed []string
	value := strings.Join(names, ",")
	if len(names) == 0 {
		value = staxv1alpha1.PruneAllValue
	}
	_, err := requestOnBlueprint(cmd.Context(), c, namespace, name,
		func(bp *staxv1alpha1.Blueprint) error {
			var errs []error
			for _, n := range names {
				for _, svc := range bp.Spec.Services {
					for _, v := range svc.Volumes {
						if render.ClaimName(bp.Name, svc.Name, v.Name) == n {
							errs = append(errs, fmt.Errorf("claim %q is still declared by volume %s of service %s of blueprint %s: remove the volume from the spec first; only claims no longer declared can be pruned", n, v.Name, svc.Name, bp.Name))
						}
					}
				}
			}
			if err := errors.Join(errs...); err != nil {
				return err
			}
			notListed = nil
			for _, n := range names {
				if !slices.Contains(bp.Status.UndeclaredClaims, n) {
					notListed = append(notListed, n)
				}
			}
			return nil
		},
		map[string]string{
			staxv1alpha1.PruneClaimsAnnotation:            value,
			staxv1alpha1.PruneClaimsRequestedAtAnnotation: requestedAt,
		})
	if err != nil {
		return err
	}
	if len(notListed) > 0 {
		if _, err := fmt.Fprintf(streams.ErrOut, "warning: status.undeclaredClaims of blueprint %s does not list %s (yet); the operator deletes only claims it no longer declares\n",
			name, strings.Join(notListed, ", ")); err != nil {
			return err
		}
	}
	what := "every claim no longer declared"
	if len(names) > 0 {
		what = strings.Join(names, ", ")
	}
	_, err = fmt.Fprintf(streams.Out, "blueprint.stax.dev/%s: deletion of %s requested at %s\n", name, what, requestedAt)
	return err
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
