package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"

	"github.com/spf13/cobra"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	corev1ac "k8s.io/client-go/applyconfigurations/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	staxv1alpha1 "github.com/stax-dev/blueprint-operator/api/v1alpha1"
	"github.com/stax-dev/blueprint-operator/internal/compose"
)

func newImportCommand(flags *genericclioptions.ConfigFlags, streams genericiooptions.IOStreams) *cobra.Command {
	var (
		files, envFiles []string
		name, output    string
		dryRun, keep    bool
	)
	cmd := &cobra.Command{
		Use:   "import -f docker-compose.yml [--env-file .env]... [--name NAME] [-o FILE] [--dry-run] [--keep-values]",
		Short: "Turn a Compose project and its .env into a Blueprint, with its credentials in a Secret and none in the Blueprint",
		Long: `Print a Blueprint for the Compose project of FILE (docker-compose.yml and the
.env beside it, or the --env-file files), parsed by compose-go, the reference
implementation: interpolation, env_file, profiles and extends as docker
compose does them.

No value the plaintext guard's detectors call a credential reaches the
Blueprint:
  - a database password that a database service of the file consumes
    (POSTGRES_PASSWORD, MYSQL_PASSWORD, MYSQL_ROOT_PASSWORD, MARIADB_*,
    MONGO_INITDB_ROOT_PASSWORD, REDIS_PASSWORD, or a password file such an
    image reads through *_FILE) becomes value: auto-generated on that
    service: a new environment starts with a new database;
  - every other place that holds the same password refers to it: a
    variable the detectors call a credential, whole, or the password of a
    URL (a user or database name that equals it stays a literal);
  - any other credential, and every file of Compose's secrets, goes into
    one Secret, NAME-imported (Opaque, labelled stax.dev/blueprint: NAME),
    written by server-side apply with your own credentials, and the
    Blueprint refers to its keys;
  - with --keep-values, database passwords keep their value, in that
    Secret, instead of being generated.

The report on stderr says, one line per variable and field, what it became,
and what could not be mapped (build, host bind mounts, privileged,
network_mode, cap_add, ...) and why. It never holds a value. --dry-run
creates nothing and says what it would create. The Blueprint goes to stdout,
or to FILE with -o; it passes "kubectl blueprint validate", and applied in
the namespace of the Secret it runs.`,
		Example: `  kubectl blueprint import -f docker-compose.yml -n dev > blueprint.yaml
  kubectl blueprint import -f docker-compose.yml --env-file .env.local --name shop --dry-run`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if len(files) == 0 {
				return fmt.Errorf("give the Compose file with -f")
			}
			project, err := compose.Load(cmd.Context(), files, envFiles)
			if err != nil {
				return err
			}
			res, err := compose.Convert(project, compose.Options{Name: name, KeepValues: keep})
			if err != nil {
				return err
			}
			namespace := *flags.Namespace
			if namespace != "" {
				res.Blueprint.Namespace = namespace
			}
			doc, err := blueprintYAML(res.Blueprint)
			if err != nil {
				return err
			}
			// The Blueprint must pass what validate checks, or nothing is
			// created.
			if problems := validateDocument(cmd.Context(), doc); problems != "" {
				return fmt.Errorf("the Blueprint the import made does not validate, nothing was created: %s", problems)
			}
			for _, l := range res.Report {
				fmt.Fprintln(streams.ErrOut, l.String())
			}
			if err := writeImportedSecret(cmd.Context(), flags, streams.ErrOut, res, namespace, dryRun); err != nil {
				return err
			}
			if output != "" {
				if err := os.WriteFile(output, doc, 0o644); err != nil {
					return err
				}
				fmt.Fprintf(streams.ErrOut, "blueprint %s written to %s\n", res.Blueprint.Name, output)
				return nil
			}
			_, err = streams.Out.Write(doc)
			return err
		},
	}
	cmd.Flags().StringArrayVarP(&files, "file", "f", nil, "the Compose file (repeat to merge, as docker compose -f does)")
	cmd.Flags().StringArrayVar(&envFiles, "env-file", nil, "an env file for interpolation (repeatable); the .env beside the Compose file by default")
	cmd.Flags().StringVar(&name, "name", "", "the Blueprint's name; the Compose project's name by default")
	cmd.Flags().StringVarP(&output, "output", "o", "", "write the Blueprint to this file instead of stdout")
	cmd.Flags().BoolVar(&dryRun, "dry-run", false, "create nothing; say what would be created")
	cmd.Flags().BoolVar(&keep, "keep-values", false, "keep database passwords' values (in the imported Secret) instead of having them generated")
	return cmd
}

// blueprintYAML prints a Blueprint as a user commits it: no status, no
// server-side metadata.
func blueprintYAML(bp *staxv1alpha1.Blueprint) ([]byte, error) {
	raw, err := yaml.Marshal(bp)
	if err != nil {
		return nil, err
	}
	var doc map[string]any
	if err := yaml.Unmarshal(raw, &doc); err != nil {
		return nil, err
	}
	delete(doc, "status")
	if meta, ok := doc["metadata"].(map[string]any); ok {
		delete(meta, "creationTimestamp")
	}
	return yaml.Marshal(doc)
}

// validateDocument runs validate's checks on one Blueprint document and
// returns its problems on one line, or "".
func validateDocument(ctx context.Context, doc []byte) string {
	results, err := readBlueprints(ctx, "-", bytes.NewReader(doc))
	if err != nil {
		return err.Error()
	}
	var out strings.Builder
	if printProblems(&out, "-", results) == 0 {
		return ""
	}
	return strings.Join(strings.Fields(strings.ReplaceAll(out.String(), displayName(stdinArg)+": ", "")), " ")
}

// writeImportedSecret creates or updates the imported Secret by server-side
// apply, unless dryRun, and says so. A Secret of that name that is not this
// Blueprint's imported Secret is never changed.
func writeImportedSecret(ctx context.Context, flags *genericclioptions.ConfigFlags, report io.Writer, res *compose.Result, namespace string, dryRun bool) error {
	if len(res.Imported) == 0 {
		fmt.Fprintln(report, "no credential to import: no Secret is needed")
		return nil
	}
	keys := make([]string, 0, len(res.Imported))
	for k := range res.Imported {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	if dryRun {
		where := "the namespace -n or the kubeconfig selects"
		if namespace != "" {
			where = "namespace " + namespace
		}
		fmt.Fprintf(report, "--dry-run: nothing created; would apply Secret %s with keys %s in %s\n", res.SecretName, strings.Join(keys, ", "), where)
		return nil
	}
	c, ns, err := newClient(flags, report)
	if err != nil {
		return err
	}
	existing := &corev1.Secret{}
	err = c.Get(ctx, types.NamespacedName{Namespace: ns, Name: res.SecretName}, existing)
	switch {
	case err == nil && existing.Labels[staxv1alpha1.LabelBlueprint] != res.Blueprint.Name:
		return fmt.Errorf("secret %s exists in namespace %s and is not the imported Secret of blueprint %s (label %s=%s): it is left as it is and nothing was created; pass another --name",
			res.SecretName, ns, res.Blueprint.Name, staxv1alpha1.LabelBlueprint, res.Blueprint.Name)
	case err != nil && !apierrors.IsNotFound(err):
		return readError("secret", res.SecretName, ns, err)
	}
	data := make(map[string][]byte, len(res.Imported))
	for k, v := range res.Imported {
		data[k] = []byte(v)
	}
	secret := corev1ac.Secret(res.SecretName, ns).
		WithLabels(map[string]string{staxv1alpha1.LabelBlueprint: res.Blueprint.Name}).
		WithType(corev1.SecretTypeOpaque).
		WithData(data)
	if err := c.Apply(ctx, secret, client.ForceOwnership); err != nil {
		if apierrors.IsForbidden(err) {
			return fmt.Errorf("cannot write secret %s in namespace %s: your account may not (RBAC: verbs get, create and patch on resource secrets)", res.SecretName, ns)
		}
		return fmt.Errorf("writing secret %s in namespace %s: %s", res.SecretName, ns, apierrors.ReasonForError(err))
	}
	fmt.Fprintf(report, "secret/%s applied in namespace %s with keys %s\n", res.SecretName, ns, strings.Join(keys, ", "))
	return nil
}
