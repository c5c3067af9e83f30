package main

import (
	"fmt"
	"time"

	"github.com/spf13/cobra"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/cli-runtime/pkg/genericiooptions"

	staxv1alpha1 "github.com/stax-dev/blueprint-operator/api/v1alpha1"
	"github.com/stax-dev/blueprint-operator/internal/sleep"
)

func newWakeCommand(flags *genericclioptions.ConfigFlags, streams genericiooptions.IOStreams) *cobra.Command {
	var period time.Duration
	cmd := &cobra.Command{
		Use:   "wake NAME [--for DURATION]",
		Short: "Wake a sleeping Blueprint, or restart the idle clock of an awake one",
		Long: `Ask the operator to wake the environment of Blueprint NAME.

The request is the Blueprint's ` + staxv1alpha1.WakeRequestedAtAnnotation + ` annotation (the time of the
request) with ` + staxv1alpha1.WakeForAnnotation + ` (--for), carried out once. A sleeping
environment resumes: each service returns to its declared replicas, or to
the count it had when it went to sleep, in dependsOn order. The idle clock
(spec.sleep.afterIdle) restarts, and the environment stays awake for --for
even outside spec.sleep.uptime. On an awake environment the request only
restarts the idle clock. It does not override spec.suspend.`,
		Example: `  kubectl blueprint wake payments-dev -n payments
  kubectl blueprint wake payments-dev -n payments --for 8h`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if period <= 0 || period > sleep.MaxWakeFor {
				return fmt.Errorf("--for %s: want a duration over 0s and at most 8760h", period)
			}
			return requestNow(cmd, flags, streams, args[0], "wake for "+period.String(), func(at string) map[string]string {
				return map[string]string{staxv1alpha1.WakeRequestedAtAnnotation: at, staxv1alpha1.WakeForAnnotation: period.String()}
			})
		},
	}
	cmd.Flags().DurationVar(&period, "for", sleep.DefaultWakeFor, "how long the environment stays awake, even outside spec.sleep.uptime")
	return cmd
}

func newSleepCommand(flags *genericclioptions.ConfigFlags, streams genericiooptions.IOStreams) *cobra.Command {
	return &cobra.Command{
		Use:   "sleep NAME",
		Short: "Put a Blueprint's environment to sleep now",
		Long: `Ask the operator to put the environment of Blueprint NAME to sleep now:
every Deployment goes to 0 replicas, and everything else is kept (values,
claims, Services, routes). It sleeps until its next activity: a wake request
(kubectl blueprint wake), a change of the spec, or the start of an
spec.sleep.uptime range.

The request is the Blueprint's ` + staxv1alpha1.SleepRequestedAtAnnotation + ` annotation (the time of
the request), carried out once.`,
		Example: `  kubectl blueprint sleep payments-dev -n payments`,
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return requestNow(cmd, flags, streams, args[0], "sleep", func(at string) map[string]string {
				return map[string]string{staxv1alpha1.SleepRequestedAtAnnotation: at}
			})
		},
	}
}

// requestNow sets the annotations of a request made now on Blueprint name
// and says so: "blueprint.stax.dev/NAME: WHAT requested at TIME".
func requestNow(cmd *cobra.Command, flags *genericclioptions.ConfigFlags, streams genericiooptions.IOStreams, name, what string, annotations func(at string) map[string]string) error {
	c, namespace, err := newClient(flags, streams.ErrOut)
	if err != nil {
		return err
	}
	requestedAt := time.Now().UTC().Format(time.RFC3339Nano)
	if _, err := requestOnBlueprint(cmd.Context(), c, namespace, name,
		func(*staxv1alpha1.Blueprint) error { return nil }, annotations(requestedAt)); err != nil {
		return err
	}
	fmt.Fprintf(streams.Out, "blueprint.stax.dev/%s: %s requested at %s\n", name, what, requestedAt)
	return nil
}
