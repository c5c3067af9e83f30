package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	utilruntime "k8s.io/apimachinery/pkg/util/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"

	appsv1 "k8s.io/api/apps/v1"

	staxv1alpha1 "github.com/stax-dev/blueprint-operator/api/v1alpha1"
	"github.com/stax-dev/blueprint-operator/bench/internal/audit"
	"github.com/stax-dev/blueprint-operator/bench/internal/proc"
)

// The API server tells the bench's own requests, the plain client's and the
// manager's apart by user name.
const (
	userBench    = "bench"
	userBaseline = "bench-baseline"
	userManager  = "blueprint-operator"
)

var scheme = runtime.NewScheme()

func init() {
	utilruntime.Must(clientgoscheme.AddToScheme(scheme))
	utilruntime.Must(staxv1alpha1.AddToScheme(scheme))
}

// cluster is the envtest control plane with an audit log, and the bench's
// view of it.
type cluster struct {
	env   *envtest.Environment
	audit *audit.Log

	bench client.Client
	cache cache.Cache

	// baselineConfig is the plain client's: its own user, the manager's
	// client-side rate limits.
	baselineConfig *rest.Config
	// managerKubeconfig is the manager's kubeconfig file.
	managerKubeconfig string

	apiserverPID, etcdPID int
}

func startCluster(ctx context.Context, dir string, qps float32, burst int) (_ *cluster, retErr error) {
	if os.Getenv("KUBEBUILDER_ASSETS") == "" {
		return nil, fmt.Errorf("KUBEBUILDER_ASSETS is not set: run through 'make bench', which provides the envtest binaries")
	}
	policy := filepath.Join(dir, "audit-policy.yaml")
	if err := os.WriteFile(policy, []byte(audit.Policy(userBench, userBaseline, userManager)), 0o600); err != nil {
		return nil, err
	}
	auditPath := filepath.Join(dir, "audit.log")
	env := &envtest.Environment{
		CRDDirectoryPaths:     []string{filepath.Join("config", "crd", "bases")},
		ErrorIfCRDPathMissing: true,
	}
	api := env.ControlPlane.GetAPIServer()
	api.StartTimeout = 2 * time.Minute
	api.Configure().
		Append("audit-log-path", auditPath).
		Append("audit-policy-file", policy).
		// One file: rotation would split the log under the reader.
		Set("audit-log-maxsize", "0").
		// envtest's default /24 holds 254 ClusterIPs; every Blueprint
		// service with ports needs one.
		Set("service-cluster-ip-range", "10.96.0.0/16")
	if _, err := env.Start(); err != nil {
		return nil, fmt.Errorf("starting the control plane: %w", err)
	}
	c := &cluster{env: env, audit: audit.Open(auditPath)}
	defer func() {
		if retErr != nil {
			c.stop()
		}
	}()
	c.apiserverPID = proc.FindPID("kube-apiserver", env.ControlPlane.APIServer.CertDir)
	c.etcdPID = proc.FindPID("etcd", env.ControlPlane.Etcd.DataDir)

	benchCfg, err := c.userConfig(userBench)
	if err != nil {
		return nil, err
	}
	benchCfg.QPS, benchCfg.Burst = -1, 0
	if c.bench, err = client.New(benchCfg, client.Options{Scheme: scheme}); err != nil {
		return nil, err
	}
	c.baselineConfig, err = c.userConfig(userBaseline)
	if err != nil {
		return nil, err
	}
	c.baselineConfig.QPS, c.baselineConfig.Burst = qps, burst

	user, err := env.AddUser(envtest.User{Name: userManager, Groups: []string{"system:masters"}}, nil)
	if err != nil {
		return nil, err
	}
	kubeconfig, err := user.KubeConfig()
	if err != nil {
		return nil, err
	}
	c.managerKubeconfig = filepath.Join(dir, "manager.kubeconfig")
	if err := os.WriteFile(c.managerKubeconfig, kubeconfig, 0o600); err != nil {
		return nil, err
	}

	// The bench watches the Blueprints and the operator's Deployments (it
	// plays their controller); unsafe reads are fine, it never mutates what
	// it reads without copying.
	selector := labels.SelectorFromSet(labels.Set{staxv1alpha1.LabelManagedBy: staxv1alpha1.ManagedByValue})
	c.cache, err = cache.New(benchCfg, cache.Options{
		Scheme:                       scheme,
		DefaultUnsafeDisableDeepCopy: ptrTo(true),
		ByObject: map[client.Object]cache.ByObject{
			&appsv1.Deployment{}:      {Label: selector, Transform: cache.TransformStripManagedFields()},
			&staxv1alpha1.Blueprint{}: {Transform: cache.TransformStripManagedFields()},
		},
	})
	if err != nil {
		return nil, err
	}
	return c, nil
}

func ptrTo[T any](v T) *T { return &v }

func (c *cluster) userConfig(name string) (*rest.Config, error) {
	user, err := c.env.AddUser(envtest.User{Name: name, Groups: []string{"system:masters"}}, nil)
	if err != nil {
		return nil, err
	}
	return rest.CopyConfig(user.Config()), nil
}

func (c *cluster) stop() {
	_ = c.env.Stop()
}

// cpu is CPU seconds used so far by each process of the bench.
type cpu struct {
	APIServer float64 `json:"apiserver"`
	Etcd      float64 `json:"etcd"`
	Manager   float64 `json:"manager"`
	Bench     float64 `json:"bench"`
}

func (c *cluster) cpu(m *proc.Manager) cpu {
	out := cpu{
		APIServer: proc.CPUSeconds(c.apiserverPID),
		Etcd:      proc.CPUSeconds(c.etcdPID),
		Bench:     proc.CPUSeconds(os.Getpid()),
	}
	if m != nil {
		out.Manager = proc.CPUSeconds(m.PID())
	}
	return out
}

func (a cpu) sub(b cpu) cpu {
	return cpu{APIServer: a.APIServer - b.APIServer, Etcd: a.Etcd - b.Etcd, Manager: a.Manager - b.Manager, Bench: a.Bench - b.Bench}
}
