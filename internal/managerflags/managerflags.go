// Package managerflags declares the manager's command-line flags and their
// defaults. cmd/main.go parses them; internal/examples holds README's flag
// tables to the same FlagSet, so a default changed here fails there until the
// README says it.
package managerflags

import (
	"flag"
	"fmt"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/util/validation"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"

	staxv1alpha1 "github.com/stax-dev/blueprint-operator/api/v1alpha1"
	"github.com/stax-dev/blueprint-operator/internal/controller"
)

// Manager holds the value of every flag once the FlagSet is parsed.
type Manager struct {
	MetricsAddr             string
	ProbeAddr               string
	PprofAddr               string
	LeaderElect             bool
	SecureMetrics           bool
	EnableHTTP2             bool
	LeaderElectionNamespace string
	LeaseDuration           time.Duration
	RenewDeadline           time.Duration
	RetryPeriod             time.Duration
	KubeAPIQPS              float64
	KubeAPIBurst            int
	// The controller's knobs start at its production defaults, which
	// every test suite runs too.
	Controller controller.Options
	Zap        zap.Options
}

// Bind declares every flag of the manager, the zap logging flags included,
// on fs, and returns where their values land when fs is parsed.
func Bind(fs *flag.FlagSet) *Manager {
	m := &Manager{Controller: controller.DefaultOptions(), Zap: zap.Options{Development: false}}
	fs.StringVar(&m.MetricsAddr, "metrics-bind-address", "0", "The address the metrics endpoint binds to. "+
		"Use :8443 for HTTPS or :8080 for HTTP, or leave as 0 to disable the metrics service.")
	fs.StringVar(&m.ProbeAddr, "health-probe-bind-address", ":8081", "The address the probe endpoint binds to.")
	fs.StringVar(&m.PprofAddr, "pprof-bind-address", "0", "The address Go's pprof endpoints (/debug/pprof/) bind to, "+
		"plain HTTP without authentication, for profiling (e.g. 127.0.0.1:6060); 0 (the default) disables them.")
	fs.BoolVar(&m.LeaderElect, "leader-elect", false,
		"Enable leader election for controller manager. Enabling this will ensure there is only one active controller manager.")
	fs.StringVar(&m.LeaderElectionNamespace, "leader-election-namespace", "",
		"Namespace of the leader election Lease. Defaults to the namespace the manager runs in; required out of cluster.")
	fs.DurationVar(&m.LeaseDuration, "leader-election-lease-duration", 15*time.Second,
		"How long a non-leader waits after the last observed renewal before it takes the lease over.")
	fs.DurationVar(&m.RenewDeadline, "leader-election-renew-deadline", 10*time.Second,
		"How long the leader keeps retrying to renew the lease before it gives up leadership.")
	fs.DurationVar(&m.RetryPeriod, "leader-election-retry-period", 2*time.Second,
		"How often candidates and the leader try to acquire or renew the lease.")
	fs.BoolVar(&m.SecureMetrics, "metrics-secure", true,
		"If set, the metrics endpoint is served securely via HTTPS, with authentication and authorization.")
	fs.BoolVar(&m.EnableHTTP2, "enable-http2", false,
		"If set, HTTP/2 will be enabled for the metrics server (off by default: HTTP/2 Rapid Reset, CVE-2023-44487).")
	fs.Func("watch-namespaces", "Comma-separated namespaces whose Blueprints this manager reconciles; empty (the default) "+
		"watches the whole cluster. RBAC must match: grant the manager's rules with a Role and RoleBinding in each of these "+
		"namespaces instead of the ClusterRole (the Helm chart's watchNamespaces value renders both). "+
		"Leader election does not go through the cache and is unaffected.",
		func(v string) (err error) {
			m.Controller.WatchNamespaces, err = ParseNamespaces(v)
			return err
		})
	fs.IntVar(&m.Controller.MaxConcurrentReconciles, "max-concurrent-reconciles", m.Controller.MaxConcurrentReconciles,
		"How many Blueprints are reconciled at once.")
	fs.Float64Var(&m.KubeAPIQPS, "kube-api-qps", -1,
		"Client-side rate limit on API requests per second; -1 disables it and leaves load control to the API server's priority and fairness.")
	fs.IntVar(&m.KubeAPIBurst, "kube-api-burst", 0,
		"Burst allowed above --kube-api-qps; 0 keeps client-go's default. Ignored when --kube-api-qps is -1.")
	fs.BoolVar(&m.Controller.StripSecretMetadata, "strip-secret-metadata", m.Controller.StripSecretMetadata,
		"Keep only namespace, name, resourceVersion and the controller ownerReference of each Secret in the metadata-only Secret watch's cache (nothing reads the rest), so many or large Secrets elsewhere in the cluster cost little memory.")
	fs.DurationVar(&m.Controller.RemovedValueRetention, "removed-value-retention", m.Controller.RemovedValueRetention,
		"How long a generated value whose secret is no longer declared stays in the generated Secret before it is pruned, "+
			"unless the Blueprint sets spec.removedValueRetention; 0 prunes at once.")
	fs.DurationVar(&m.Controller.SecretQuietPeriod, "secret-quiet-period", m.Controller.SecretQuietPeriod,
		"How long the values a Blueprint reads from Secrets must stay the same before a change of them rolls its Deployments out, "+
			"so a burst of edits rolls out once. Only that rollout waits: spec edits, rotations and status are reconciled at once.")
	fs.DurationVar(&m.Controller.SecretMaxWait, "secret-max-wait", m.Controller.SecretMaxWait,
		"The longest a change of values read from Secrets is held back by --secret-quiet-period while the Secrets keep changing; "+
			"after it the latest values roll out even while the churn goes on. Never less than --secret-quiet-period.")
	fs.DurationVar(&m.Controller.ProgressStatusDelay, "progress-status-delay", m.Controller.ProgressStatusDelay,
		"How long a new Blueprint's first status waits for its rollout: Deployments available within it give one status write (Ready) "+
			"instead of Progressing then Ready. Until then status is unwritten, which kstatus, Flux and Argo CD read as in progress; "+
			"problems are reported at once. 0 writes Progressing at once.")
	fs.BoolVar(&m.Controller.RequireReferenceableLabel, "require-referenceable-label", m.Controller.RequireReferenceableLabel,
		"Lockdown for shared clusters: a Blueprint may reference only Secrets labelled "+staxv1alpha1.LabelReferenceable+"=\"true\" "+
			"(besides its own generated Secret); any other reference is reported as "+staxv1alpha1.ReasonSecretNotReferenceable+
			" and its data is never read.")
	m.Zap.BindFlags(fs)
	return m
}

// ParseNamespaces reads the value of --watch-namespaces. A misspelt
// namespace fails here rather than as a cache that never syncs.
func ParseNamespaces(v string) ([]string, error) {
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
