package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"syscall"

	"github.com/spf13/cobra"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	"sigs.k8s.io/controller-runtime/pkg/client"

	staxv1alpha1 "github.com/stax-dev/blueprint-operator/api/v1alpha1"
	"github.com/stax-dev/blueprint-operator/internal/containerenv"
	"github.com/stax-dev/blueprint-operator/internal/redact"
	"github.com/stax-dev/blueprint-operator/internal/render"
)

func newRunCommand(flags *genericclioptions.ConfigFlags, streams genericiooptions.IOStreams) *cobra.Command {
	var noMasking bool
	var filesDir string
	cmd := &cobra.Command{
		Use:   "run NAME SERVICE [--files DIR] [--no-masking] -- COMMAND [ARG...]",
		Short: "Run a local command with the environment a service's container gets, without a file",
		Long: `Run COMMAND on this machine with the environment the container of SERVICE of
Blueprint NAME gets in the cluster: the service's env as the operator renders
it, secret references resolved from the Secrets of the namespace (generated
values from the Blueprint's generated Secret), composed strings expanded as
kubelet expands them, all added to your own environment.

Secrets are read with your kubeconfig and your own permissions: you need get
on each Secret the service reads. Nothing is written to disk. A missing
Blueprint, service, Secret, key or permission stops before COMMAND starts.

What COMMAND prints on stdout and stderr passes through a filter that
replaces every secret value it received with <redacted:REFERENCE> (NAME for a
generated value, SECRET/KEY for a key of a Secret), as op run does. Values
shorter than 4 characters are not masked, and said so. --no-masking turns
the filter off. Literal settings are never masked.

A secret the service receives only as a file (secrets[].mountPath) is not in
the environment. With --files DIR, run creates DIR (which must not exist),
writes each such file under it at its container path (DIR/run/secrets/x for
/run/secrets/x), mode 0400, and removes DIR when COMMAND exits. Without it,
run names the files it leaves out.

COMMAND's exit status is run's exit status (128+N if signal N ended it).
SIGINT, SIGTERM and SIGHUP that run receives are passed on to COMMAND.`,
		Example: `  kubectl blueprint run shop api -n dev -- npm start
  kubectl blueprint run shop api -n dev --files ./.secrets -- ./api --tls-key ./.secrets/run/tls/key.pem`,
		Args: cobra.MinimumNArgs(3),
		RunE: func(cmd *cobra.Command, args []string) error {
			dash := cmd.ArgsLenAtDash()
			if dash != 2 {
				return errors.New("usage: kubectl blueprint run NAME SERVICE [flags] -- COMMAND [ARG...]")
			}
			c, namespace, err := newClient(flags, streams.ErrOut)
			if err != nil {
				return err
			}
			env, err := resolveServiceEnv(cmd.Context(), c, namespace, args[0], args[1], filesDir != "")
			if err != nil {
				return err
			}
			for _, f := range env.files {
				if filesDir == "" {
					fmt.Fprintf(streams.ErrOut, "note: %s of service %s is a file at %s in the container and is not provided: pass --files DIR to have it written for the run\n", f.from, args[1], f.mountPath)
				}
			}
			if filesDir != "" && len(env.files) > 0 {
				cleanup, err := writeSecretFiles(filesDir, env.files)
				defer cleanup()
				if err != nil {
					return err
				}
			}
			masks := env.masks()
			stdout, stderr := streams.Out, streams.ErrOut
			var filters []*redact.Writer
			if !noMasking {
				for _, name := range redact.Skipped(masks) {
					fmt.Fprintf(streams.ErrOut, "note: the value of %s is shorter than %d characters and is not masked\n", name, redact.MinLength)
				}
				o, e := redact.NewWriter(stdout, masks), redact.NewWriter(stderr, masks)
				filters, stdout, stderr = []*redact.Writer{o, e}, o, e
			}
			signals := make(chan os.Signal, 4)
			signal.Notify(signals, syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP)
			defer signal.Stop(signals)
			code, err := runProcess(args[2:], env.environ(os.Environ()), streams.In, stdout, stderr, signals)
			for _, f := range filters {
				if ferr := f.Flush(); ferr != nil && err == nil {
					err = ferr
				}
			}
			if err != nil {
				return err
			}
			if code != 0 {
				return exitCode(code)
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&noMasking, "no-masking", false, "pass COMMAND's output through unfiltered")
	cmd.Flags().StringVar(&filesDir, "files", "", "write the secrets the service receives as files under this new directory for the run, and remove it afterwards")
	return cmd
}

// exitCode is the exit status of the command run started, passed on as the
// plugin's own, with nothing printed.
type exitCode int

func (e exitCode) Error() string { return fmt.Sprintf("exit status %d", int(e)) }

// serviceEnv is what a service's container gets, read for run.
type serviceEnv struct {
	vars  []containerenv.Var
	files []secretFile
	// generated is the name of the Blueprint's generated Secret: its keys
	// are named by the managed secret alone.
	generated string
}

// secretFile is a secret the container receives as a file.
type secretFile struct {
	mountPath string
	from      string // SECRET/KEY, or the managed name
	value     string
	mode      os.FileMode
}

// label names a Secret key for the user: a managed secret by its name, as
// the Blueprint spells it, any other as SECRET/KEY.
func (e *serviceEnv) label(secretName, key string) string {
	if secretName == e.generated {
		return key
	}
	return secretName + "/" + key
}

// masks maps each secret value the process receives to its label.
func (e *serviceEnv) masks() map[string]string {
	m := map[string]string{}
	for _, v := range e.vars {
		if v.From != "" && v.Value != "" {
			name, key, _ := strings.Cut(v.From, "/")
			m[v.Value] = e.label(name, key)
		}
	}
	for _, f := range e.files {
		if f.value != "" {
			m[f.value] = f.from
		}
	}
	return m
}

// environ is base with the service's variables set, theirs winning.
func (e *serviceEnv) environ(base []string) []string {
	set := map[string]bool{}
	for _, v := range e.vars {
		set[v.Name] = true
	}
	var out []string
	for _, kv := range base {
		name, _, _ := strings.Cut(kv, "=")
		if !set[name] {
			out = append(out, kv)
		}
	}
	for _, v := range e.vars {
		out = append(out, v.Name+"="+v.Value)
	}
	return out
}

// resolveServiceEnv reads Blueprint name, renders it as the operator does and
// resolves the environment of service's container; with files, also the
// values it receives as files.
func resolveServiceEnv(ctx context.Context, c client.Client, namespace, name, service string, files bool) (*serviceEnv, error) {
	bp := &staxv1alpha1.Blueprint{}
	if err := c.Get(ctx, types.NamespacedName{Namespace: namespace, Name: name}, bp); err != nil {
		if apierrors.IsNotFound(err) {
			return nil, fmt.Errorf("blueprint %q not found in namespace %q", name, namespace)
		}
		return nil, readError("blueprint", name, namespace, err)
	}
	if !slices.ContainsFunc(bp.Spec.Services, func(s staxv1alpha1.BlueprintService) bool { return s.Name == service }) {
		return nil, fmt.Errorf("blueprint %s has no service %q", name, service)
	}
	plan, errs := render.Build(bp)
	for _, e := range errs {
		if e.Service == service {
			return nil, fmt.Errorf("service %s of blueprint %s cannot be rendered: %s", service, name, e.Error())
		}
	}
	i := slices.IndexFunc(plan.Services, func(s render.Service) bool { return s.Name == service })
	pod, err := podSpec(plan.Services[i])
	if err != nil {
		return nil, err
	}
	secrets := secretCache{ctx: ctx, c: c, namespace: namespace, generated: plan.GeneratedSecretName, blueprint: name, secrets: map[string]*corev1.Secret{}}
	env := &serviceEnv{generated: plan.GeneratedSecretName}
	if env.vars, err = containerenv.Resolve(pod.Containers[0].Env, secrets.read); err != nil {
		return nil, err
	}
	for _, f := range secretFiles(pod) {
		f.from = env.label(f.secretName, f.key)
		if files {
			if f.value, err = secrets.read(f.secretName, f.key); err != nil {
				return nil, err
			}
		}
		env.files = append(env.files, f.secretFile)
	}
	return env, nil
}

// podSpec is the pod template of a rendered service, as the typed API.
func podSpec(svc render.Service) (*corev1.PodSpec, error) {
	raw, err := json.Marshal(svc.Deployment.Spec.Template.Spec)
	if err != nil {
		return nil, err
	}
	pod := &corev1.PodSpec{}
	if err := json.Unmarshal(raw, pod); err != nil {
		return nil, err
	}
	return pod, nil
}

type fileSource struct {
	secretFile
	secretName, key string
}

// secretFiles lists the Secret keys the pod's first container mounts as
// files, from the Secret volumes and mounts the operator renders.
func secretFiles(pod *corev1.PodSpec) []fileSource {
	volumes := map[string]*corev1.SecretVolumeSource{}
	for _, v := range pod.Volumes {
		if v.Secret != nil {
			volumes[v.Name] = v.Secret
		}
	}
	var out []fileSource
	for _, m := range pod.Containers[0].VolumeMounts {
		src, ok := volumes[m.Name]
		if !ok {
			continue
		}
		for _, item := range src.Items {
			if item.Path == m.SubPath {
				out = append(out, fileSource{secretFile: secretFile{mountPath: m.MountPath, mode: 0o400}, secretName: src.SecretName, key: item.Key})
			}
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].mountPath < out[j].mountPath })
	return out
}

// secretCache reads each Secret once, with the user's own credentials.
type secretCache struct {
	ctx                  context.Context
	c                    client.Client
	namespace, generated string
	blueprint            string
	secrets              map[string]*corev1.Secret
}

func (s *secretCache) read(name, key string) (string, error) {
	secret, ok := s.secrets[name]
	if !ok {
		secret = &corev1.Secret{}
		if err := s.c.Get(s.ctx, types.NamespacedName{Namespace: s.namespace, Name: name}, secret); err != nil {
			if apierrors.IsNotFound(err) && name == s.generated {
				return "", fmt.Errorf("secret %s (the generated values of blueprint %s) not found in namespace %s: the operator has not reconciled the Blueprint yet", name, s.blueprint, s.namespace)
			}
			if apierrors.IsNotFound(err) {
				return "", fmt.Errorf("secret %s not found in namespace %s: the service reads its key %s", name, s.namespace, key)
			}
			return "", readError("secret", name, s.namespace, err)
		}
		s.secrets[name] = secret
	}
	value, ok := secret.Data[key]
	if !ok {
		if name == s.generated {
			return "", fmt.Errorf("secret %s has no key %s yet: the operator has not generated that value", name, key)
		}
		return "", fmt.Errorf("secret %s in namespace %s has no key %s", name, s.namespace, key)
	}
	return string(value), nil
}

// readError words a failed read of kind name without the API server's
// message: a refusal names the permission that is missing.
func readError(kind, name, namespace string, err error) error {
	if apierrors.IsForbidden(err) {
		resource := kind + "s"
		if kind == "blueprint" {
			resource = "blueprints.stax.dev"
		}
		return fmt.Errorf("cannot read %s %s in namespace %s: your account may not get %s there (RBAC: verb get on resource %s)", kind, name, namespace, resource, resource)
	}
	return fmt.Errorf("reading %s %s in namespace %s: %s", kind, name, namespace, apierrors.ReasonForError(err))
}

// writeSecretFiles creates dir (which must not exist) and writes each file
// under it at its container path, mode 0400. cleanup removes dir; call it
// even when an error is returned.
func writeSecretFiles(dir string, files []secretFile) (cleanup func(), err error) {
	cleanup = func() {}
	if err := os.Mkdir(dir, 0o700); err != nil {
		if errors.Is(err, os.ErrExist) {
			return cleanup, fmt.Errorf("--files %s exists: give a directory that does not, run removes it at exit", dir)
		}
		return cleanup, fmt.Errorf("--files %s: %w", dir, err)
	}
	cleanup = func() { _ = os.RemoveAll(dir) }
	for _, f := range files {
		path := filepath.Join(dir, filepath.FromSlash(f.mountPath))
		if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
			return cleanup, err
		}
		if err := os.WriteFile(path, []byte(f.value), f.mode); err != nil {
			return cleanup, err
		}
	}
	return cleanup, nil
}

// runProcess runs argv with environ and the given streams, passes on every
// signal that arrives on signals, and returns its exit status: 128+N when
// signal N ended it, as shells report it.
func runProcess(argv, environ []string, stdin io.Reader, stdout, stderr io.Writer, signals <-chan os.Signal) (int, error) {
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Env, cmd.Stdin, cmd.Stdout, cmd.Stderr = environ, stdin, stdout, stderr
	if err := cmd.Start(); err != nil {
		return 0, fmt.Errorf("starting %s: %w", argv[0], err)
	}
	done := make(chan struct{})
	go func() {
		for {
			select {
			case sig := <-signals:
				_ = cmd.Process.Signal(sig)
			case <-done:
				return
			}
		}
	}()
	err := cmd.Wait()
	close(done)
	var exit *exec.ExitError
	if errors.As(err, &exit) {
		if status, ok := exit.Sys().(syscall.WaitStatus); ok && status.Signaled() {
			return 128 + int(status.Signal()), nil
		}
		return exit.ExitCode(), nil
	}
	return 0, err
}
