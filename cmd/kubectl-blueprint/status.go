package main

import (
	"bytes"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/spf13/cobra"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	"k8s.io/cli-runtime/pkg/printers"
	"k8s.io/utils/ptr"

	staxv1alpha1 "github.com/stax-dev/blueprint-operator/api/v1alpha1"
	"github.com/stax-dev/blueprint-operator/internal/render"
)

func newStatusCommand(flags *genericclioptions.ConfigFlags, streams genericiooptions.IOStreams) *cobra.Command {
	return &cobra.Command{
		Use:   "status NAME",
		Short: "Show a Blueprint's readiness and consumed values per service",
		Long: `Show Blueprint NAME's Ready condition and a table of its services:

  SERVICE        the service
  READY          ready/desired replicas of its Deployment
  VALUES         the values it consumes: NAME for an auto-generated value of
                 this Blueprint, SECRET/KEY for a key of another Secret
  LAST ROTATION  when the newest auto-generated value it consumes was generated
  REASON         why it is not ready: the services it waits for, else the
                 Blueprint's Ready reason; empty when it is ready

Values themselves are never read or shown.`,
		Example: `  kubectl blueprint status payments-dev -n payments`,
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, namespace, err := newClient(flags, streams.ErrOut)
			if err != nil {
				return err
			}
			bp := &staxv1alpha1.Blueprint{}
			if err := c.Get(cmd.Context(), types.NamespacedName{Namespace: namespace, Name: args[0]}, bp); err != nil {
				if apierrors.IsNotFound(err) {
					return fmt.Errorf("blueprint %q not found in namespace %q", args[0], namespace)
				}
				return err
			}
			return printStatus(streams.Out, bp)
		},
	}
}

func printStatus(w io.Writer, bp *staxv1alpha1.Blueprint) error {
	fmt.Fprintf(w, "Blueprint: %s/%s\n", bp.Namespace, bp.Name)
	ready := meta.FindStatusCondition(bp.Status.Conditions, staxv1alpha1.ConditionReady)
	switch {
	case ready == nil:
		fmt.Fprint(w, "Ready:     Unknown: the operator has not reported on this Blueprint yet\n\n")
	case ready.Message == "":
		fmt.Fprintf(w, "Ready:     %s (%s)\n\n", ready.Status, ready.Reason)
	default:
		fmt.Fprintf(w, "Ready:     %s (%s): %s\n\n", ready.Status, ready.Reason, ready.Message)
	}

	// The plan says which values each service consumes. A service the
	// operator cannot render is missing from it; the Ready condition says
	// why.
	plan, _ := render.Build(bp)
	rendered := map[string]render.Service{}
	for _, svc := range plan.Services {
		rendered[svc.Name] = svc
	}
	services := map[string]staxv1alpha1.ServiceStatus{}
	for _, s := range bp.Status.Services {
		services[s.Name] = s
	}
	lastRotated := map[string]time.Time{}
	for _, s := range bp.Status.Secrets {
		if s.LastRotated != nil {
			lastRotated[s.Name] = s.LastRotated.Time
		}
	}

	var table bytes.Buffer
	tw := printers.GetNewTabWriter(&table)
	fmt.Fprintln(tw, "SERVICE\tREADY\tVALUES\tLAST ROTATION\tREASON")
	for _, spec := range bp.Spec.Services {
		readyColumn, reason := "-", ""
		if st, ok := services[spec.Name]; ok {
			readyColumn = fmt.Sprintf("%d/%d", ptr.Deref(st.ReadyReplicas, 0), ptr.Deref(st.DesiredReplicas, 0))
			switch {
			case st.State == staxv1alpha1.ServiceStateAvailable:
			case st.State == staxv1alpha1.ServiceStateWaitingForDependencies && len(st.WaitingFor) > 0:
				reason = "waiting for: " + strings.Join(st.WaitingFor, ", ")
			case ready != nil:
				reason = ready.Reason
			}
		} else if ready != nil && ready.Status != metav1.ConditionTrue {
			reason = ready.Reason
		}
		values, rotated := consumed(rendered[spec.Name].Uses, lastRotated)
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", spec.Name, readyColumn, values, rotated, reason)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	// The rows of ready services end in an empty REASON, which the tab
	// writer would still pad.
	for line := range strings.Lines(table.String()) {
		if _, err := io.WriteString(w, strings.TrimRight(line, " \n")+"\n"); err != nil {
			return err
		}
	}
	var hooked []staxv1alpha1.ManagedSecretStatus
	for _, s := range bp.Status.Secrets {
		if s.Hook != nil {
			hooked = append(hooked, s)
		}
	}
	if len(hooked) > 0 {
		fmt.Fprint(w, "\nRotation hooks (latest rotation):\n")
		for _, s := range hooked {
			fmt.Fprintf(w, "  %s: %s, Job %s\n", s.Name, s.Hook.State, s.Hook.JobName)
		}
	}
	var certs []staxv1alpha1.ManagedSecretStatus
	for _, s := range bp.Status.Secrets {
		if s.NotAfter != nil {
			certs = append(certs, s)
		}
	}
	if len(certs) > 0 {
		fmt.Fprint(w, "\nCertificates (renewed when two thirds of their validity have passed):\n")
		for _, s := range certs {
			fmt.Fprintf(w, "  %s: expires %s\n", s.Name, formatTime(s.NotAfter))
		}
	}
	if len(bp.Status.PendingRemovals) > 0 {
		fmt.Fprint(w, "\nRemoved from the spec, kept until pruned (kubectl blueprint prune deletes them now):\n")
		for _, p := range bp.Status.PendingRemovals {
			fmt.Fprintf(w, "  %s: removed %s, pruned after %s\n", p.Name, formatTime(p.RemovedAt), formatTime(p.PruneAfter))
		}
	}
	var exposed []string
	for _, svc := range bp.Status.Services {
		if svc.URL != "" {
			exposed = append(exposed, fmt.Sprintf("  %s: %s\n", svc.Name, svc.URL))
		}
	}
	if len(exposed) > 0 {
		fmt.Fprint(w, "\nExposed:\n"+strings.Join(exposed, ""))
	}
	switch sl := bp.Status.Sleep; sl.State {
	case staxv1alpha1.SleepStateSuspended:
		fmt.Fprint(w, "\nSleep: Suspended by spec.suspend\n")
	case staxv1alpha1.SleepStateAsleep:
		wakes := "when woken: kubectl blueprint wake " + bp.Name
		if sl.NextWakeTime != nil {
			wakes = "at " + formatTime(sl.NextWakeTime) + ", or when woken: kubectl blueprint wake " + bp.Name
		}
		fmt.Fprintf(w, "\nSleep: Asleep since %s; wakes %s\n", formatTime(sl.AsleepSince), wakes)
	case staxv1alpha1.SleepStateAwake:
		if sl.NextSleepTime == nil {
			fmt.Fprint(w, "\nSleep: Awake\n")
		} else {
			fmt.Fprintf(w, "\nSleep: Awake; sleeps at %s unless there is activity first\n", formatTime(sl.NextSleepTime))
		}
	}
	if len(bp.Status.UndeclaredClaims) > 0 {
		fmt.Fprint(w, "\nClaims no longer declared, kept with their data (kubectl blueprint prune --claims deletes them):\n")
		for _, c := range bp.Status.UndeclaredClaims {
			fmt.Fprintf(w, "  %s\n", c)
		}
	}
	return nil
}

// consumed names the values a service uses, in env order, and when the newest
// of the auto-generated ones was generated.
func consumed(uses []render.Usage, lastRotated map[string]time.Time) (values, rotated string) {
	var names []string
	var latest time.Time
	seen := map[string]bool{}
	for _, u := range uses {
		name := u.Ref.SecretName + "/" + u.Ref.Key
		if u.Managed {
			// A managed value lives in the generated Secret, which the user
			// never names: the managed secret's own name is what they wrote.
			// A part (NAME.pub, NAME.crt, NAME.ca) rotates with NAME.
			name = u.Ref.Key
			owner := u.Ref.Key
			if o, _, ok := render.SplitPart(owner); ok {
				if _, isManaged := lastRotated[owner]; !isManaged {
					owner = o
				}
			}
			if t := lastRotated[owner]; t.After(latest) {
				latest = t
			}
		}
		if !seen[name] {
			seen[name] = true
			names = append(names, name)
		}
	}
	values, rotated = "-", "-"
	if len(names) > 0 {
		values = strings.Join(names, ",")
	}
	if !latest.IsZero() {
		rotated = latest.UTC().Format(time.RFC3339)
	}
	return values, rotated
}

func formatTime(t *metav1.Time) string {
	if t == nil {
		return "-"
	}
	return t.UTC().Format(time.RFC3339)
}
