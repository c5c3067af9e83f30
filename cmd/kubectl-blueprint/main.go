// Command kubectl-blueprint is the kubectl plugin for Blueprints: it
// validates and renders Blueprint manifests offline, imports a Compose
// project into a Blueprint, runs a local process with a service's
// environment, requests rotations of generated values and shows a
// Blueprint's status per service.
//
// Installed on the PATH it runs as `kubectl blueprint`.
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"

	"github.com/spf13/cobra"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/cli-runtime/pkg/genericiooptions"
)

// errReported means the command has already told the user what is wrong (the
// problems validate found, say) and only the exit code is left to set.
var errReported = errors.New("reported")

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	code := run(ctx, os.Args[1:], genericiooptions.IOStreams{In: os.Stdin, Out: os.Stdout, ErrOut: os.Stderr})
	stop()
	os.Exit(code)
}

// run executes the plugin with args and returns its exit code.
func run(ctx context.Context, args []string, streams genericiooptions.IOStreams) int {
	root := newRootCommand(streams)
	root.SetArgs(args)
	if err := root.ExecuteContext(ctx); err != nil {
		var code exitCode
		if errors.As(err, &code) {
			return int(code)
		}
		if !errors.Is(err, errReported) {
			fmt.Fprintln(streams.ErrOut, "error:", err)
		}
		return 1
	}
	return 0
}

func newRootCommand(streams genericiooptions.IOStreams) *cobra.Command {
	flags := genericclioptions.NewConfigFlags(true)
	root := &cobra.Command{
		Use:   "kubectl-blueprint",
		Short: "Validate, render, import, run, rotate, prune, inspect, wake and put to sleep stax.dev Blueprints",
		Annotations: map[string]string{
			cobra.CommandDisplayNameAnnotation: "kubectl blueprint",
		},
		// Errors are printed once, by run; a usage dump would bury them.
		SilenceErrors: true,
		SilenceUsage:  true,
		// kubectl completes plugins itself, through the hidden __complete
		// command that cobra keeps.
		CompletionOptions: cobra.CompletionOptions{DisableDefaultCmd: true},
	}
	root.SetIn(streams.In)
	root.SetOut(streams.Out)
	root.SetErr(streams.ErrOut)
	flags.AddFlags(root.PersistentFlags())
	root.AddCommand(
		newValidateCommand(streams),
		newRenderCommand(flags, streams),
		newRotateCommand(flags, streams),
		newPruneCommand(flags, streams),
		newStatusCommand(flags, streams),
		newRunCommand(flags, streams),
		newImportCommand(flags, streams),
		newWakeCommand(flags, streams),
		newSleepCommand(flags, streams),
	)
	return root
}
