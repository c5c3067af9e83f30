// Command manager runs the Blueprint operator.
package main

import (
	"crypto/tls"
	"flag"
	"fmt"
	"os"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/runtime"
	utilruntime "k8s.io/apimachinery/pkg/util/runtime"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/wait"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/healthz"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"
	"sigs.k8s.io/controller-runtime/pkg/metrics/filters"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	staxv1alpha1 "github.com/stax-dev/blueprint-operator/api/v1alpha1"
	"github.com/stax-dev/blueprint-operator/internal/controller"
)

var scheme = runtime.NewScheme()

func init() {
	utilruntime.Must(clientgoscheme.AddToScheme(scheme))
	utilruntime.Must(staxv1alpha1.AddToScheme(scheme))
}

func main() {
	var (
		metricsAddr          string
		probeAddr            string
		enableLeaderElection bool
		secureMetrics        bool
		enableHTTP2          bool
		leaderElectionNS     string
		leaseDuration        time.Duration
		renewDeadline        time.Duration
		retryPeriod          time.Duration
		kubeAPIQPS           float64
		kubeAPIBurst         int
		// The controller's knobs start at its production defaults, which
		// every test suite runs too.
		controllerOptions = controller.DefaultOptions()
	)
	flag.StringVar(&metricsAddr, "metrics-bind-address", "0", "The address the metrics endpoint binds to. "+
		"Use :8443 for HTTPS or :8080 for HTTP, or leave as 0 to disable the metrics service.")
	flag.StringVar(&probeAddr, "health-probe-bind-address", ":8081", "The address the probe endpoint binds to.")
	flag.BoolVar(&enableLeaderElection, "leader-elect", false,
		"Enable leader election for controller manager. Enabling this will ensure there is only one active controller manager.")
	flag.StringVar(&leaderElectionNS, "leader-election-namespace", "",
		"Namespace of the leader election Lease. Defaults to the namespace the manager runs in; required out of cluster.")
	flag.DurationVar(&leaseDuration, "leader-election-lease-duration", 15*time.Second,
		"How long a non-leader waits after the last observed renewal before it takes the lease over.")
	flag.DurationVar(&renewDeadline, "leader-election-renew-deadline", 10*time.Second,
		"How long the leader keeps retrying to renew the lease before it gives up leadership.")
	flag.DurationVar(&retryPeriod, "leader-election-retry-period", 2*time.Second,
		"How often candidates and the leader try to acquire or renew the lease.")
	flag.BoolVar(&secureMetrics, "metrics-secure", true,
		"If set, the metrics endpoint is served securely via HTTPS, with authentication and authorization.")
	flag.BoolVar(&enableHTTP2, "enable-http2", false,
		"If set, HTTP/2 will be enabled for the metrics server (off by default: HTTP/2 Rapid Reset, CVE-2023-44487).")
	flag.Func("watch-namespaces", "Comma-separated namespaces whose Blueprints this manager reconciles; empty (the default) "+
		"watches the whole cluster. RBAC must match: grant the manager's rules with a Role and RoleBinding in each of these "+
		"namespaces instead of the ClusterRole (the Helm chart's watchNamespaces value renders both). "+
		"Leader election does not go through the cache and is unaffected.",
		func(v string) (err error) {
			controllerOptions.WatchNamespaces, err = parseNamespaces(v)
			return err
		})
	flag.IntVar(&controllerOptions.MaxConcurrentReconciles, "max-concurrent-reconciles", controllerOptions.MaxConcurrentReconciles,
		"How many Blueprints are reconciled at once.")
	flag.Float64Var(&kubeAPIQPS, "kube-api-qps", -1,
		"Client-side rate limit on API requests per second; -1 disables it and leaves load control to the API server's priority and fairness.")
	flag.IntVar(&kubeAPIBurst, "kube-api-burst", 0,
		"Burst allowed above --kube-api-qps; 0 keeps client-go's default. Ignored when --kube-api-qps is -1.")
	flag.BoolVar(&controllerOptions.StripSecretMetadata, "strip-secret-metadata", controllerOptions.StripSecretMetadata,
		"Keep only namespace, name, resourceVersion and the controller ownerReference of each Secret in the metadata-only Secret watch's cache (nothing reads the rest), so many or large Secrets elsewhere in the cluster cost little memory.")
	flag.DurationVar(&controllerOptions.RemovedValueRetention, "removed-value-retention", controllerOptions.RemovedValueRetention,
		"How long a generated value whose secret is no longer declared stays in the generated Secret before it is pruned, "+
			"unless the Blueprint sets spec.removedValueRetention; 0 prunes at once.")
	flag.DurationVar(&controllerOptions.SecretQuietPeriod, "secret-quiet-period", controllerOptions.SecretQuietPeriod,
		"How long the values a Blueprint reads from Secrets must stay the same before a change of them rolls its Deployments out, "+
			"so a burst of edits rolls out once. Only that rollout waits: spec edits, rotations and status are reconciled at once.")
	flag.DurationVar(&controllerOptions.SecretMaxWait, "secret-max-wait", controllerOptions.SecretMaxWait,
		"The longest a change of values read from Secrets is held back by --secret-quiet-period while the Secrets keep changing; "+
			"after it the latest values roll out even while the churn goes on. Never less than --secret-quiet-period.")
	flag.DurationVar(&controllerOptions.ProgressStatusDelay, "progress-status-delay", controllerOptions.ProgressStatusDelay,
		"How long a new Blueprint's first status waits for its rollout: Deployments available within it give one status write (Ready) "+
			"instead of Progressing then Ready. Until then status is unwritten, which kstatus, Flux and Argo CD read as in progress; "+
			"problems are reported at once. 0 writes Progressing at once.")
	flag.BoolVar(&controllerOptions.RequireReferenceableLabel, "require-referenceable-label", controllerOptions.RequireReferenceableLabel,
		"Lockdown for shared clusters: a Blueprint may reference only Secrets labelled "+staxv1alpha1.LabelReferenceable+"=\"true\" "+
			"(besides its own generated Secret); any other reference is reported as "+staxv1alpha1.ReasonSecretNotReferenceable+
			" and its data is never read.")
	opts := zap.Options{Development: false}
	opts.BindFlags(flag.CommandLine)
	flag.Parse()

	ctrl.SetLogger(zap.New(zap.UseFlagOptions(&opts)))
	setupLog := ctrl.Log.WithName("setup")
	if controllerOptions.RemovedValueRetention < 0 {
		setupLog.Error(nil, "--removed-value-retention must not be negative", "value", controllerOptions.RemovedValueRetention.String())
		os.Exit(1)
	}

	var tlsOpts []func(*tls.Config)
	if !enableHTTP2 {
		tlsOpts = append(tlsOpts, func(c *tls.Config) { c.NextProtos = []string{"http/1.1"} })
	}
	metricsOptions := metricsserver.Options{
		BindAddress:   metricsAddr,
		SecureServing: secureMetrics,
		TLSOpts:       tlsOpts,
	}
	if secureMetrics {
		metricsOptions.FilterProvider = filters.WithAuthenticationAndAuthorization
	}

	restConfig := ctrl.GetConfigOrDie()
	if kubeAPIQPS != 0 {
		restConfig.QPS = float32(kubeAPIQPS)
	}
	if kubeAPIBurst > 0 {
		restConfig.Burst = kubeAPIBurst
	}
	managerOptions := controllerOptions.ManagerOptions(ctrl.Options{
		Scheme:                  scheme,
		Metrics:                 metricsOptions,
		HealthProbeBindAddress:  probeAddr,
		LeaderElection:          enableLeaderElection,
		LeaderElectionID:        "blueprint-operator.stax.dev",
		LeaderElectionNamespace: leaderElectionNS,
		LeaseDuration:           &leaseDuration,
		RenewDeadline:           &renewDeadline,
		RetryPeriod:             &retryPeriod,
		// The process exits right after the manager stops, so the lease can
		// be handed over at once instead of after its duration.
		LeaderElectionReleaseOnCancel: true,
	})
	// NewManager asks the API server for its resources; one transient error
	// there must not crash the pod into CrashLoopBackOff, so retry briefly.
	var mgr ctrl.Manager
	err := wait.ExponentialBackoff(wait.Backoff{Duration: 500 * time.Millisecond, Factor: 2, Cap: 10 * time.Second, Steps: 6}, func() (bool, error) {
		var err error
		if mgr, err = ctrl.NewManager(restConfig, managerOptions); err != nil {
			setupLog.Error(err, "unable to create manager; retrying")
			return false, nil
		}
		return true, nil
	})
	if err != nil {
		setupLog.Error(err, "unable to create manager")
		os.Exit(1)
	}

	ctx := ctrl.SetupSignalHandler()
	if err := controller.Setup(ctx, mgr, controllerOptions); err != nil {
		setupLog.Error(err, "unable to create controller", "controller", "Blueprint")
		os.Exit(1)
	}
	if err := mgr.AddHealthzCheck("healthz", healthz.Ping); err != nil {
		setupLog.Error(err, "unable to set up health check")
		os.Exit(1)
	}
	if err := mgr.AddReadyzCheck("readyz", healthz.Ping); err != nil {
		setupLog.Error(err, "unable to set up ready check")
		os.Exit(1)
	}

	setupLog.Info("starting manager", "watchNamespaces", controllerOptions.WatchNamespaces)
	if err := mgr.Start(ctx); err != nil {
		setupLog.Error(err, "problem running manager")
		os.Exit(1)
	}
}

// parseNamespaces reads the value of --watch-namespaces. A misspelt
// namespace fails here rather than as a cache that never syncs.
func parseNamespaces(v string) ([]string, error) {
	var namespaces []string
	for _, ns := range strings.Split(v, ",") {
		ns = strings.TrimSpace(ns)
		if ns == "" {
			continue
		}
		if errs := validation.IsDNS1123Label(ns); len(errs) > 0 {
			return nil, fmt.Errorf("namespace %q: %s", ns, strings.Join(errs, "; "))
		}
		namespaces = append(namespaces, ns)
	}
	return namespaces, nil
}
