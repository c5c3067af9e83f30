package main

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	"sigs.k8s.io/controller-runtime/pkg/client"

	staxv1alpha1 "github.com/stax-dev/blueprint-operator/api/v1alpha1"
	"github.com/stax-dev/blueprint-operator/internal/render"
)

func newRotateCommand(flags *genericclioptions.ConfigFlags, streams genericiooptions.IOStreams) *cobra.Command {
	var wait bool
	var waitTimeout time.Duration
	cmd := &cobra.Command{
		Use:   "rotate NAME SECRET... [--wait]",
		Short: "Ask the operator to regenerate auto-generated values of a Blueprint",
		Long: `Ask the operator to generate a new value for each auto-generated secret
SECRET of Blueprint NAME.

The request is the Blueprint's ` + staxv1alpha1.RotateAnnotation + ` annotation (the secret names) with
` + staxv1alpha1.RotateRequestedAtAnnotation + ` (the time of the request), so asking again for
the same names is a new request. The operator regenerates each value once,
keeps the previous one readable under key SECRET` + staxv1alpha1.PreviousValueSuffix + ` of the generated
Secret until the next rotation, and rolls out the services that use it.

A secret with an onRotate hook is staged first: its hook's Job runs with the
value in use and the new one, and the new value is committed only when the
Job completes. With --wait the command waits until every named value is
rotated (committed, for a hooked secret) and exits 0, or prints the failure
(the secret and its Job) and exits 1. It reads only the Blueprint's status,
never a Secret.

Only secrets with value: auto-generated can be rotated here; a secret that
refers to another Secret changes when that Secret does.`,
		Example: `  kubectl blueprint rotate payments-dev db-password -n payments
  kubectl blueprint rotate payments-dev db-password -n payments --wait --timeout 5m`,
		Args: cobra.MinimumNArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, namespace, err := newClient(flags, streams.ErrOut)
			if err != nil {
				return err
			}
			name, secrets := args[0], distinct(args[1:])
			requestedAt := time.Now().UTC().Format(time.RFC3339)
			before, err := requestOnBlueprint(cmd.Context(), c, namespace, name,
				func(bp *staxv1alpha1.Blueprint) error { return checkRotatable(bp, secrets) },
				map[string]string{
					staxv1alpha1.RotateAnnotation:            strings.Join(secrets, ","),
					staxv1alpha1.RotateRequestedAtAnnotation: requestedAt,
				})
			if err != nil {
				return err
			}
			fmt.Fprintf(streams.Out, "blueprint.stax.dev/%s: rotation of %s requested at %s\n", name, strings.Join(secrets, ", "), requestedAt)
			if !wait {
				return nil
			}
			return waitForRotation(cmd.Context(), c, before, secrets, waitTimeout, streams)
		},
	}
	cmd.Flags().BoolVar(&wait, "wait", false, "wait until each value is rotated (for a secret with onRotate: its hook completed and the value committed), or print the failure")
	cmd.Flags().DurationVar(&waitTimeout, "timeout", 10*time.Minute, "with --wait, how long to wait")
	return cmd
}

// waitInterval is how often --wait reads the Blueprint's status.
const waitInterval = time.Second

// waitForRotation polls bp's status until rotationOutcome says each of
// secrets is done, against what status said before the request.
func waitForRotation(ctx context.Context, c client.Client, before *staxv1alpha1.Blueprint, secrets []string, timeout time.Duration, streams genericiooptions.IOStreams) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	pending := slices.Clone(secrets)
	var failures []error
	for {
		bp := &staxv1alpha1.Blueprint{}
		if err := c.Get(ctx, client.ObjectKeyFromObject(before), bp); err != nil {
			if ctx.Err() != nil {
				break
			}
			return err
		}
		if bp.UID != before.UID {
			return fmt.Errorf("blueprint %s was deleted and created again while waiting", before.Name)
		}
		var still []string
		for _, name := range pending {
			switch outcome := rotationOutcome(before, bp, name); outcome {
			case rotationPending:
				still = append(still, name)
			case rotationDone:
				fmt.Fprintf(streams.Out, "blueprint.stax.dev/%s: %s rotated\n", bp.Name, name)
			default:
				failures = append(failures, errors.New(string(outcome)))
			}
		}
		pending = still
		if len(pending) == 0 {
			return errors.Join(failures...)
		}
		select {
		case <-ctx.Done():
		case <-time.After(waitInterval):
			continue
		}
		break
	}
	failures = append(failures, fmt.Errorf("timed out after %s waiting for the rotation of %s", timeout, strings.Join(pending, ", ")))
	return errors.Join(failures...)
}

// rotationOutcomeText is what --wait learns of one rotation: pending, done,
// or the failure's message.
type rotationOutcomeText string

const (
	rotationPending rotationOutcomeText = ""
	rotationDone    rotationOutcomeText = "done"
)

// rotationOutcome is how far the rotation of secret requested of before
// has got in after.
func rotationOutcome(before, after *staxv1alpha1.Blueprint, secret string) rotationOutcomeText {
	was, now := secretStatus(before, secret), secretStatus(after, secret)
	if hooked(after, secret) {
		// A new rotation gets a new Job name; a request made while one ran
		// is queued, so the Job that ran then is not the answer.
		if now.Hook == nil || (was.Hook != nil && now.Hook.JobName == was.Hook.JobName) {
			return rotationPending
		}
		switch now.Hook.State {
		case staxv1alpha1.RotationStateCommitted:
			return rotationDone
		case staxv1alpha1.RotationStateFailed:
			msg := fmt.Sprintf("rotation of %s failed: Job %s", secret, now.Hook.JobName)
			if c := meta.FindStatusCondition(after.Status.Conditions, staxv1alpha1.ConditionReady); c != nil && c.Reason == staxv1alpha1.ReasonRotationFailed {
				msg += "\n" + c.Message
			}
			return rotationOutcomeText(msg)
		}
		return rotationPending
	}
	if now.LastRotated != nil && (was.LastRotated == nil || now.LastRotated.After(was.LastRotated.Time)) {
		return rotationDone
	}
	return rotationPending
}

func secretStatus(bp *staxv1alpha1.Blueprint, name string) staxv1alpha1.ManagedSecretStatus {
	for _, s := range bp.Status.Secrets {
		if s.Name == name {
			return s
		}
	}
	return staxv1alpha1.ManagedSecretStatus{}
}

func hooked(bp *staxv1alpha1.Blueprint, name string) bool {
	for _, svc := range bp.Spec.Services {
		for _, s := range svc.Secrets {
			if s.Name == name {
				return render.HasHook(s)
			}
		}
	}
	return false
}

// checkRotatable returns an error naming every one of secrets that is not an
// auto-generated secret of bp.
func checkRotatable(bp *staxv1alpha1.Blueprint, secrets []string) error {
	var generated []string
	references := map[string]string{}
	for _, svc := range bp.Spec.Services {
		for _, s := range svc.Secrets {
			if s.Value == staxv1alpha1.AutoGenerated {
				generated = append(generated, s.Name)
			} else {
				references[s.Name] = s.Value
			}
		}
	}
	var errs []error
	for _, name := range secrets {
		switch ref, isRef := references[name]; {
		case slices.Contains(generated, name):
		case isRef:
			errs = append(errs, fmt.Errorf("secret %q of blueprint %s is not auto-generated: it refers to %s, which changes when that Secret does", name, bp.Name, ref))
		default:
			errs = append(errs, fmt.Errorf("blueprint %s has no secret %q", bp.Name, name))
		}
	}
	if len(errs) == 0 {
		return nil
	}
	if len(generated) == 0 {
		errs = append(errs, fmt.Errorf("blueprint %s has no auto-generated secrets", bp.Name))
	} else {
		slices.Sort(generated)
		errs = append(errs, fmt.Errorf("the auto-generated secrets of blueprint %s are: %s", bp.Name, strings.Join(generated, ", ")))
	}
	return errors.Join(errs...)
}

// distinct returns names without repeats, in the order given.
func distinct(names []string) []string {
	var out []string
	for _, n := range names {
		if !slices.Contains(out, n) {
			out = append(out, n)
		}
	}
	return out
}
