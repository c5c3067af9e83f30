package main

import (
	"context"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"
	"k8s.io/cli-runtime/pkg/genericiooptions"

	staxv1alpha1 "github.com/stax-dev/blueprint-operator/api/v1alpha1"
	"github.com/stax-dev/blueprint-operator/internal/validate"
)

const stdinArg = "-"

func newValidateCommand(streams genericiooptions.IOStreams) *cobra.Command {
	return &cobra.Command{
		Use:   "validate FILE|DIR|- ...",
		Short: "Check Blueprint manifests offline, as admission and the operator would",
		Long: `Check Blueprint manifests without a cluster.

Every YAML document is read: from FILE, from every *.yaml and *.yml file below
DIR, or from standard input for -. Documents that are not stax.dev/v1alpha1
Blueprints are skipped. Each Blueprint goes through what would refuse it in a
cluster: the CRD's schema and CEL validation rules, evaluated by the API
server's own code on the CRD this plugin was built with; then what the
operator refuses in an admitted Blueprint: malformed references, references
to undeclared auto-generated secrets (in env, command, args or files), values
under the 128-bit entropy floor, dependsOn cycles, and literal credentials in
env, command, args, onRotate hooks or probes (the plaintext guard: each
finding names the field and the rule, never the value). Where admission's
message cannot name the offending value (an unknown dependsOn name, a
colliding secret mountPath), the plugin adds a problem that does.

The CEL rules cover volumes (absolute mountPaths not inside another mount,
secret files or /tmp; size for pvc; replicas at most 1 with a ReadWriteOnce
or ReadWriteOncePod volume, in the service and in every plan), expose (a
port, a domain or exposeHost) and plans (spec.plan names one of spec.plans,
plans name services of the Blueprint). Rules that compare a Blueprint with
its stored version (a pvc volume's size cannot shrink; its type, class and
access mode cannot change) need the old object and are checked only by the API server.

Each problem is printed on standard output as
  FILE: blueprint/NAME: FIELD: message
(without FIELD for rules on the whole Blueprint). The exit code is 1 when any
problem is found, or when no Blueprint is found at all, and 0 otherwise.`,
		Example: `  kubectl blueprint validate blueprint.yaml
  kubectl blueprint validate deploy/
  kustomize build overlays/dev | kubectl blueprint validate -`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			files, err := expandInputs(args)
			if err != nil {
				return err
			}
			var blueprints, problems int
			for _, file := range files {
				results, err := readBlueprints(cmd.Context(), file, streams.In)
				blueprints += len(results)
				problems += printProblems(streams.Out, file, results)
				if err != nil {
					problems++
					fmt.Fprintf(streams.Out, "%s: %v\n", displayName(file), err)
				}
			}
			switch {
			case problems > 0:
				fmt.Fprintf(streams.ErrOut, "%d problem(s) in %d Blueprint(s) from %d file(s)\n", problems, blueprints, len(files))
				return errReported
			case blueprints == 0:
				return fmt.Errorf("no %s Blueprint found in %s", staxv1alpha1.GroupVersion, strings.Join(args, ", "))
			}
			fmt.Fprintf(streams.ErrOut, "OK: %d Blueprint(s) from %d file(s), no problems\n", blueprints, len(files))
			return nil
		},
	}
}

// expandInputs turns the arguments into the files to read, in order: a
// directory stands for every *.yaml and *.yml file below it, in lexical order.
func expandInputs(args []string) ([]string, error) {
	var files []string
	for _, arg := range args {
		if arg == stdinArg {
			files = append(files, arg)
			continue
		}
		info, err := os.Stat(arg)
		if err != nil {
			return nil, err
		}
		if !info.IsDir() {
			files = append(files, arg)
			continue
		}
		err = filepath.WalkDir(arg, func(path string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if ext := filepath.Ext(path); !d.IsDir() && (ext == ".yaml" || ext == ".yml") {
				files = append(files, path)
			}
			return nil
		})
		if err != nil {
			return nil, err
		}
	}
	return files, nil
}

// readBlueprints validates the Blueprints of one file, or of stdin for "-".
func readBlueprints(ctx context.Context, file string, stdin io.Reader) ([]validate.Result, error) {
	if file == stdinArg {
		return validate.Documents(ctx, stdin)
	}
	f, err := os.Open(file)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return validate.Documents(ctx, f)
}

// printProblems writes one line per problem and returns how many it wrote.
func printProblems(w io.Writer, file string, results []validate.Result) int {
	n := 0
	for _, res := range results {
		name := res.Name
		if name == "" {
			name = fmt.Sprintf("(unnamed, document %d)", res.Document)
		}
		for _, p := range res.Problems {
			n++
			if p.Field == "" {
				fmt.Fprintf(w, "%s: blueprint/%s: %s\n", displayName(file), name, p.Message)
				continue
			}
			fmt.Fprintf(w, "%s: blueprint/%s: %s: %s\n", displayName(file), name, p.Field, p.Message)
		}
	}
	return n
}

func displayName(file string) string {
	if file == stdinArg {
		return "<stdin>"
	}
	return file
}
