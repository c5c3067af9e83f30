// Command demo shows the operator's main job end to end on an embedded
// control plane (kube-apiserver and etcd, as envtest runs them): it installs
// the CRD, runs the operator in-process, applies the sample Blueprint, and
// prints what the operator produced. It never prints a secret value.
//
// Run it with `make demo`. DEMO_KEEP=1 keeps the control plane and operator
// running afterwards, prints a kubeconfig for kubectl, and keeps playing the
// Deployment controller (testutil.PlayDeployments) for as long as it runs, so
// a rotation, an edit or another Blueprint reaches Ready as on a cluster.
package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	utilruntime "k8s.io/apimachinery/pkg/util/runtime"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"
	"sigs.k8s.io/yaml"

	staxv1alpha1 "github.com/stax-dev/blueprint-operator/api/v1alpha1"
	"github.com/stax-dev/blueprint-operator/internal/controller"
	"github.com/stax-dev/blueprint-operator/internal/render"
	"github.com/stax-dev/blueprint-operator/internal/testutil"
)

// out is where the demo prints; its test reads it.
var out io.Writer = os.Stdout

// beforeStop, when set (by the demo's test), is called with the demo's
// client once everything is printed, before the control plane stops.
var beforeStop func(ctx context.Context, c client.Client, cfg *rest.Config) error

const (
	namespace  = "demo"
	samplePath = "config/samples/stax_v1alpha1_blueprint.yaml"
	waitFor    = 60 * time.Second
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "demo failed:", err)
		os.Exit(1)
	}
}

func step(format string, args ...any) {
	fmt.Fprintf(out, "\n==> "+format+"\n", args...)
}

func run() error {
	// The operator's own logs go to a file, so the demo's output stays readable.
	logPath := filepath.Join(os.TempDir(), "blueprint-demo-operator.log")
	logFile, err := os.Create(logPath)
	if err != nil {
		return err
	}
	defer logFile.Close()
	ctrl.SetLogger(zap.New(zap.WriteTo(logFile)))

	scheme := runtime.NewScheme()
	utilruntime.Must(clientgoscheme.AddToScheme(scheme))
	utilruntime.Must(staxv1alpha1.AddToScheme(scheme))

	step("Starting a local control plane (kube-apiserver + etcd) and installing the Blueprint CRD")
	env := &envtest.Environment{
		CRDDirectoryPaths:     []string{filepath.Join("config", "crd", "bases")},
		ErrorIfCRDPathMissing: true,
	}
	cfg, err := env.Start()
	if err != nil {
		return fmt.Errorf("starting the control plane (run through 'make demo', which provides KUBEBUILDER_ASSETS): %w", err)
	}
	defer func() {
		step("Stopping the control plane")
		_ = env.Stop()
	}()

	step("Starting the operator (logs: %s)", logPath)
	mgr, err := ctrl.NewManager(cfg, controller.DefaultOptions().ManagerOptions(ctrl.Options{
		Scheme:                 scheme,
		Metrics:                metricsserver.Options{BindAddress: "0"},
		HealthProbeBindAddress: "0",
	}))
	if err != nil {
		return err
	}
	ctx, cancel := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer cancel()
	if err := controller.Setup(ctx, mgr, controller.DefaultOptions()); err != nil {
		return err
	}
	mgrCtx, stopMgr := context.WithCancel(ctx)
	mgrDone := make(chan error, 1)
	go func() { mgrDone <- mgr.Start(mgrCtx) }()
	defer func() {
		stopMgr()
		if err := <-mgrDone; err != nil {
			fmt.Fprintln(out, "operator stopped with an error:", err)
		}
	}()

	c, err := client.New(cfg, client.Options{Scheme: scheme})
	if err != nil {
		return err
	}
	if err := c.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: namespace}}); err != nil {
		return err
	}

	step("Applying %s to namespace %s", samplePath, namespace)
	raw, err := os.ReadFile(samplePath)
	if err != nil {
		return err
	}
	bp := &staxv1alpha1.Blueprint{}
	if err := yaml.UnmarshalStrict(raw, bp); err != nil {
		return fmt.Errorf("decoding %s: %w", samplePath, err)
	}
	bp.Namespace = namespace
	if err := c.Create(ctx, bp); err != nil {
		return err
	}
	key := client.ObjectKeyFromObject(bp)

	step("The sample references ${secret:stripe/api-key}, which does not exist yet")
	if err := waitReady(ctx, c, key, "SecretNotFound"); err != nil {
		return err
	}
	printStatus(ctx, c, key)

	step("Creating Secret stripe (as another tool would); the operator resolves it through its watch")
	token := make([]byte, 24)
	if _, err := io.ReadFull(rand.Reader, token); err != nil {
		return err
	}
	if err := c.Create(ctx, &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: "stripe", Namespace: namespace},
		Data:       map[string][]byte{"api-key": []byte("sk_demo_" + hex.EncodeToString(token))},
	}); err != nil {
		return err
	}
	if err := waitReady(ctx, c, key, "Progressing"); err != nil {
		return err
	}

	step("Generated Secret %s (key names only; values never leave the cluster)", render.GeneratedSecretName(bp.Name))
	generated := &corev1.Secret{}
	if err := c.Get(ctx, types.NamespacedName{Namespace: namespace, Name: render.GeneratedSecretName(bp.Name)}, generated); err != nil {
		return err
	}
	owner := metav1.GetControllerOf(generated)
	fmt.Fprintf(out, "type: %s, controlled by: %s/%s\n", generated.Type, owner.Kind, owner.Name)
	for _, k := range sortedKeys(generated.Data) {
		fmt.Fprintf(out, "  key %-20s %d bytes\n", k, len(generated.Data[k]))
	}

	step("Rendered Deployments: every secret arrives through a secretKeyRef")
	for _, svc := range bp.Spec.Services {
		dep := &appsv1.Deployment{}
		if err := c.Get(ctx, types.NamespacedName{Namespace: namespace, Name: svc.Name}, dep); err != nil {
			return err
		}
		fmt.Fprintf(out, "Deployment %s (replicas %d, image %s)\n", dep.Name, ptr.Deref(dep.Spec.Replicas, 1), dep.Spec.Template.Spec.Containers[0].Image)
		for _, e := range dep.Spec.Template.Spec.Containers[0].Env {
			if ref := e.ValueFrom; ref != nil && ref.SecretKeyRef != nil {
				fmt.Fprintf(out, "  %-22s <- secretKeyRef %s/%s\n", e.Name, ref.SecretKeyRef.Name, ref.SecretKeyRef.Key)
			} else {
				fmt.Fprintf(out, "  %-22s = %s\n", e.Name, e.Value)
			}
		}
		svcObj := &corev1.Service{}
		if err := c.Get(ctx, types.NamespacedName{Namespace: namespace, Name: svc.Name}, svcObj); err == nil {
			fmt.Fprintf(out, "  Service %s: %s port %d\n", svcObj.Name, svcObj.Spec.Type, svcObj.Spec.Ports[0].Port)
		}
	}

	step("The claim of db's volume, and the Ingress of the exposed api")
	if err := printClaimsAndIngresses(ctx, c, bp); err != nil {
		return err
	}

	step("api depends on db, so it has no replicas until db is available")
	printStatus(ctx, c, key)

	step("Playing the Deployment controller (the embedded control plane runs none, nor kubelets): db first, then api")
	if err := rollOut(ctx, c, key); err != nil {
		return err
	}
	printStatus(ctx, c, key)

	if beforeStop != nil {
		if err := beforeStop(ctx, c, cfg); err != nil {
			return err
		}
	}
	if os.Getenv("DEMO_KEEP") == "1" {
		return keepRunning(ctx, env, cfg)
	}
	step("Done. Run 'DEMO_KEEP=1 make demo' to keep the control plane running and use kubectl against it")
	return nil
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// waitReady waits until the Blueprint's Ready condition, for its current
// generation, has the given reason.
func waitReady(ctx context.Context, c client.Client, key types.NamespacedName, reason string) error {
	var last string
	err := wait.PollUntilContextTimeout(ctx, 100*time.Millisecond, waitFor, true, func(ctx context.Context) (bool, error) {
		bp := &staxv1alpha1.Blueprint{}
		if err := c.Get(ctx, key, bp); err != nil {
			return false, err
		}
		cond := meta.FindStatusCondition(bp.Status.Conditions, staxv1alpha1.ConditionReady)
		if cond == nil || cond.ObservedGeneration != bp.Generation {
			return false, nil
		}
		last = cond.Reason
		return cond.Reason == reason, nil
	})
	if err != nil {
		return fmt.Errorf("waiting for Ready reason %s (last seen %q): %w", reason, last, err)
	}
	return nil
}

func printStatus(ctx context.Context, c client.Client, key types.NamespacedName) {
	bp := &staxv1alpha1.Blueprint{}
	if err := c.Get(ctx, key, bp); err != nil {
		fmt.Fprintln(out, "reading status:", err)
		return
	}
	w := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	fmt.Fprintf(w, "Blueprint %s/%s\tservices ready %d/%d\tobservedGeneration %d\n", bp.Namespace, bp.Name,
		ptr.Deref(bp.Status.ReadyServiceCount, 0), ptr.Deref(bp.Status.ServiceCount, 0), ptr.Deref(bp.Status.ObservedGeneration, -1))
	for _, cond := range bp.Status.Conditions {
		fmt.Fprintf(w, "  %s=%s\t%s\t%s\n", cond.Type, cond.Status, cond.Reason, cond.Message)
	}
	for _, s := range bp.Status.Services {
		waiting := ""
		if len(s.WaitingFor) > 0 {
			waiting = "waiting for " + strings.Join(s.WaitingFor, ", ")
		}
		fmt.Fprintf(w, "  service %s\t%s\tready %d/%d\t%s\n", s.Name, s.State, ptr.Deref(s.ReadyReplicas, 0), ptr.Deref(s.DesiredReplicas, 0), waiting)
	}
	_ = w.Flush()
}

// rollOut reports every Deployment of the Blueprint available, again each
// time the operator changes one (api gets its replicas once db is
// available), until the Blueprint is Ready.
func rollOut(ctx context.Context, c client.Client, key types.NamespacedName) error {
	return wait.PollUntilContextTimeout(ctx, 200*time.Millisecond, waitFor, true, func(ctx context.Context) (bool, error) {
		deps := &appsv1.DeploymentList{}
		if err := c.List(ctx, deps, client.InNamespace(key.Namespace), client.MatchingLabels{staxv1alpha1.LabelBlueprint: key.Name}); err != nil {
			return false, err
		}
		for i := range deps.Items {
			d := &deps.Items[i]
			if testutil.NeedsRollout(d) {
				if n := ptr.Deref(d.Spec.Replicas, 1); n > 0 {
					fmt.Fprintf(out, "  Deployment %s: %d replica(s) available\n", d.Name, n)
				}
				if err := testutil.MarkAvailable(ctx, c, d.Namespace, d.Name); err != nil {
					return false, err
				}
			}
		}
		bp := &staxv1alpha1.Blueprint{}
		if err := c.Get(ctx, key, bp); err != nil {
			return false, err
		}
		cond := meta.FindStatusCondition(bp.Status.Conditions, staxv1alpha1.ConditionReady)
		return cond != nil && cond.ObservedGeneration == bp.Generation && cond.Reason == "Available", nil
	})
}

// printClaimsAndIngresses shows the PersistentVolumeClaims and Ingresses the
// operator rendered for bp.
func printClaimsAndIngresses(ctx context.Context, c client.Client, bp *staxv1alpha1.Blueprint) error {
	selector := client.MatchingLabels{staxv1alpha1.LabelBlueprint: bp.Name}
	claims := &corev1.PersistentVolumeClaimList{}
	if err := c.List(ctx, claims, client.InNamespace(namespace), selector); err != nil {
		return err
	}
	for _, pvc := range claims.Items {
		size := pvc.Spec.Resources.Requests[corev1.ResourceStorage]
		owner := "none (deletionPolicy Retain)"
		if ref := metav1.GetControllerOf(&pvc); ref != nil {
			owner = ref.Kind + "/" + ref.Name
		}
		fmt.Fprintf(out, "PersistentVolumeClaim %s: %s %v, volume %s of service %s, controlled by %s\n",
			pvc.Name, size.String(), pvc.Spec.AccessModes, pvc.Labels[staxv1alpha1.LabelVolume], pvc.Labels[staxv1alpha1.LabelService], owner)
	}
	for _, svc := range bp.Spec.Services {
		dep := &appsv1.Deployment{}
		if err := c.Get(ctx, types.NamespacedName{Namespace: namespace, Name: svc.Name}, dep); err != nil {
			return err
		}
		for _, m := range dep.Spec.Template.Spec.Containers[0].VolumeMounts {
			for _, v := range dep.Spec.Template.Spec.Volumes {
				if v.Name == m.Name && v.PersistentVolumeClaim != nil {
					fmt.Fprintf(out, "  mounted by %s at %s (strategy %s)\n", dep.Name, m.MountPath, dep.Spec.Strategy.Type)
				}
			}
		}
	}
	ingresses := &networkingv1.IngressList{}
	if err := c.List(ctx, ingresses, client.InNamespace(namespace), selector); err != nil {
		return err
	}
	for _, ing := range ingresses.Items {
		for _, rule := range ing.Spec.Rules {
			for _, path := range rule.HTTP.Paths {
				fmt.Fprintf(out, "Ingress %s: http://%s%s -> Service %s port %d\n", ing.Name, rule.Host, path.Path, path.Backend.Service.Name, path.Backend.Service.Port.Number)
			}
		}
	}
	return nil
}

func keepRunning(ctx context.Context, env *envtest.Environment, cfg *rest.Config) error {
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return err
	}
	// The embedded control plane runs no Deployment or Job controller:
	// keep playing them, so what a user does with kubectl reaches Ready.
	player, jobs, err := playControllers(ctx, cs)
	if err != nil {
		return err
	}
	user, err := env.AddUser(envtest.User{Name: "demo-admin", Groups: []string{"system:masters"}}, nil)
	if err != nil {
		return err
	}
	kubeconfig, err := user.KubeConfig()
	if err != nil {
		return err
	}
	path := filepath.Join(os.TempDir(), "blueprint-demo.kubeconfig")
	if err := os.WriteFile(path, kubeconfig, 0o600); err != nil {
		return err
	}
	step("The control plane and the operator keep running. In another shell:")
	fmt.Fprintf(out, "  export KUBECONFIG=%s\n  kubectl -n %s get blueprints,deployments,services,secrets,pvc,ingresses\n  kubectl -n %s describe bp payments-dev\n", path, namespace, namespace)
	fmt.Fprintf(out, "  kubectl blueprint rotate payments-dev db-password -n %s   # comes back to Ready\n", namespace)
	fmt.Fprintf(out, "  kubectl blueprint rotate orders db-password -n %s --wait   # after applying examples/postgres-rotation-hook.yaml\n", namespace)
	fmt.Fprintln(out, "  The demo keeps playing the Deployment controller for every Deployment a Blueprint renders")
	fmt.Fprintln(out, "  (it reports each new generation available), and the Job controller for every onRotate hook's")
	fmt.Fprintln(out, "  Job (it reports it Complete), for as long as it runs: a rotation, a hooked rotation, an edit or")
	fmt.Fprintln(out, "  another Blueprint reaches Ready as it would on a cluster. Nothing runs pods here.")
	fmt.Fprintln(out, strings.Repeat(" ", 2)+"Press Ctrl-C to stop and clean up.")
	<-ctx.Done()
	fmt.Fprintf(out, "Played %d rollout(s) of the Deployment controller and %d Job(s) of the Job controller while kept.\n", player.Marks(), jobs.Completed())
	return nil
}

// playControllers plays the Deployment controller and the Job controller
// for what Blueprints render, saying of each Job what a cluster would do.
func playControllers(ctx context.Context, cs kubernetes.Interface) (*testutil.DeploymentPlayer, *testutil.JobPlayer, error) {
	deployments, err := testutil.PlayDeployments(ctx, cs, staxv1alpha1.LabelBlueprint)
	if err != nil {
		return nil, nil, err
	}
	jobs, err := testutil.PlayJobs(ctx, cs, staxv1alpha1.LabelBlueprint, func(job *batchv1.Job) {
		fmt.Fprintf(out, "Job %s would run the hook; the demo reports it Complete\n", job.Name)
	})
	if err != nil {
		return nil, nil, err
	}
	return deployments, jobs, nil
}
