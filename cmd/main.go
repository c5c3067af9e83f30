// Command manager runs the Blueprint operator.
package main

import (
	"crypto/tls"
	"flag"
	"os"
	"runtime/debug"
	"time"

	"github.com/KimMachineGun/automemlimit/memlimit"

	"k8s.io/apimachinery/pkg/runtime"
	utilruntime "k8s.io/apimachinery/pkg/util/runtime"
	"k8s.io/apimachinery/pkg/util/wait"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/healthz"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"
	"sigs.k8s.io/controller-runtime/pkg/metrics/filters"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	staxv1alpha1 "github.com/stax-dev/blueprint-operator/api/v1alpha1"
	"github.com/stax-dev/blueprint-operator/internal/controller"
	"github.com/stax-dev/blueprint-operator/internal/managerflags"
	"github.com/stax-dev/blueprint-operator/internal/plaintext"
)

var scheme = runtime.NewScheme()

func init() {
	utilruntime.Must(clientgoscheme.AddToScheme(scheme))
	utilruntime.Must(staxv1alpha1.AddToScheme(scheme))
}

// memoryLimitRatio is the share of the container's memory limit the Go
// runtime may use before it collects harder: the rest is left for what
// the runtime does not count (stacks, OS buffers), so the collector, not
// the kernel's OOM killer, acts first.
const memoryLimitRatio = 0.9

// setMemoryLimit sets GOMEMLIMIT to memoryLimitRatio of the limit provider
// reports (the container's cgroup in production), unless GOMEMLIMIT or
// AUTOMEMLIMIT is set in the environment; without a limit the Go limit
// stays off. It returns the Go memory limit in effect.
func setMemoryLimit(provider memlimit.Provider) (int64, error) {
	return memlimit.Set(memlimit.WithRatio(memoryLimitRatio), memlimit.WithProvider(provider))
}

// gcPercent is the manager's GOGC: the heap may grow by half of what was
// live at the last collection before the next one, not by all of it (Go's
// default, 100). Most of what the manager holds is its caches, which live
// as long as it does, and the garbage of decoding watch events and
// rendering comes on top: at 100 the manager's RSS was three to four times
// its live heap (bench/NOTES.md). The collector runs about twice as often
// for it.
const gcPercent = 50

// setGCPercent sets the collector's target to gcPercent unless GOGC is set
// in the environment, and returns the one in effect.
func setGCPercent() int {
	if _, set := os.LookupEnv("GOGC"); set {
		current := debug.SetGCPercent(100)
		debug.SetGCPercent(current)
		return current
	}
	debug.SetGCPercent(gcPercent)
	return gcPercent
}

func main() {
	flags := managerflags.Bind(flag.CommandLine)
	flag.Parse()

	ctrl.SetLogger(zap.New(zap.UseFlagOptions(&flags.Zap)))
	setupLog := ctrl.Log.WithName("setup")
	if limit, err := setMemoryLimit(memlimit.FromCgroup); err != nil {
		setupLog.Error(err, "could not read the container's memory limit; GOMEMLIMIT is left as it was")
	} else {
		setupLog.Info("Go memory limit", "GOMEMLIMIT", limit)
	}
	setupLog.Info("Go collector target", "GOGC", setGCPercent())
	controllerOptions := flags.Controller
	if controllerOptions.RemovedValueRetention < 0 {
		setupLog.Error(nil, "--removed-value-retention must not be negative", "value", controllerOptions.RemovedValueRetention.String())
		os.Exit(1)
	}

	var tlsOpts []func(*tls.Config)
	if !flags.EnableHTTP2 {
		tlsOpts = append(tlsOpts, func(c *tls.Config) { c.NextProtos = []string{"http/1.1"} })
	}
	metricsOptions := metricsserver.Options{
		BindAddress:   flags.MetricsAddr,
		SecureServing: flags.SecureMetrics,
		TLSOpts:       tlsOpts,
	}
	if flags.SecureMetrics {
		metricsOptions.FilterProvider = filters.WithAuthenticationAndAuthorization
	}

	restConfig := ctrl.GetConfigOrDie()
	if flags.KubeAPIQPS != 0 {
		restConfig.QPS = float32(flags.KubeAPIQPS)
	}
	if flags.KubeAPIBurst > 0 {
		restConfig.Burst = flags.KubeAPIBurst
	}
	managerOptions := controllerOptions.ManagerOptions(ctrl.Options{
		Scheme:                  scheme,
		Metrics:                 metricsOptions,
		HealthProbeBindAddress:  flags.ProbeAddr,
		PprofBindAddress:        flags.PprofAddr,
		LeaderElection:          flags.LeaderElect,
		LeaderElectionID:        "blueprint-operator.stax.dev",
		LeaderElectionNamespace: flags.LeaderElectionNamespace,
		LeaseDuration:           &flags.LeaseDuration,
		RenewDeadline:           &flags.RenewDeadline,
		RetryPeriod:             &flags.RetryPeriod,
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

	// The plaintext guard's detector (about 14 MiB) is needed by the first
	// Blueprint rendered: built now, it is part of the manager's baseline.
	plaintext.Load()
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
