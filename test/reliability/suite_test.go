//go:build reliability

// Package reliability proves the operator under faults and restarts: the
// real manager binary, as a subprocess, against an envtest API server
// through a fault-injecting proxy, killed with SIGKILL at random points, and
// as two leader-electing replicas. Every claim is checked against the API
// server directly (never through the proxy, never the manager's cache) and
// against the API server's audit log.
//
// Run it with `make test-reliability`. Sizes come from the environment (see
// the settings below); the defaults fit a 2-core CI machine.
package reliability

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	utilruntime "k8s.io/apimachinery/pkg/util/runtime"
	"k8s.io/client-go/kubernetes"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"

	staxv1alpha1 "github.com/stax-dev/blueprint-operator/api/v1alpha1"
	"github.com/stax-dev/blueprint-operator/internal/testutil"
)

// Settings, from the environment.
var (
	// RELIABILITY_MANAGER_BINARY, if set, is the manager binary to run
	// instead of building ./cmd.

	// faultBlueprints Blueprints (1-2 services each) converge under faultRate.
	faultBlueprints = envInt("RELIABILITY_BLUEPRINTS", 200)
	faultRate       = envFloat("RELIABILITY_FAULT_RATE", 0.2)
	// kills is how many times the manager is SIGKILLed during churn, with
	// at most killLive Blueprints alive at a time.
	kills    = envInt("RELIABILITY_KILLS", 50)
	killLive = envInt("RELIABILITY_KILL_BLUEPRINTS", 20)
	// convergeTimeout bounds each wait for every Blueprint to be Ready.
	convergeTimeout = envDuration("RELIABILITY_CONVERGE_TIMEOUT", 4*time.Minute)
)

var (
	testEnv *envtest.Environment
	// cfg reaches the API server directly, as system:masters.
	cfg       *rest.Config
	k8sClient client.Client
	clientset kubernetes.Interface
	scheme    = runtime.NewScheme()

	assetsDir     string
	managerBinary string
	// workDir keeps kubeconfigs, manager logs and the audit log; it is
	// removed after a passing run and kept (and named) after a failing one.
	workDir      string
	auditLogPath string

	valueLog *testutil.ValueLog
	player   *testutil.DeploymentPlayer
	gc       *exec.Cmd

	suiteCtx    context.Context
	suiteCancel context.CancelFunc
)

// Users the audit policy records: the two leader-electing managers.
const (
	leaderUserA = "leader-a"
	leaderUserB = "leader-b"
)

func TestReliability(t *testing.T) {
	RegisterFailHandler(Fail)
	RunSpecs(t, "Reliability Suite")
}

var _ = BeforeSuite(func() {
	utilruntime.Must(clientgoscheme.AddToScheme(scheme))
	utilruntime.Must(staxv1alpha1.AddToScheme(scheme))
	assetsDir = os.Getenv("KUBEBUILDER_ASSETS")
	Expect(assetsDir).NotTo(BeEmpty(), "run through 'make test-reliability', which provides KUBEBUILDER_ASSETS")

	var err error
	workDir, err = os.MkdirTemp("", "reliability-")
	Expect(err).NotTo(HaveOccurred())
	GinkgoWriter.Printf("work dir (kubeconfigs, manager logs, audit log): %s\n", workDir)
	GinkgoWriter.Printf("sizes: %d Blueprints at fault rate %.2f; %d kills with up to %d Blueprints; seed %d\n",
		faultBlueprints, faultRate, kills, killLive, GinkgoRandomSeed())

	if managerBinary = os.Getenv("RELIABILITY_MANAGER_BINARY"); managerBinary != "" {
		// A binary built elsewhere: a release, or a deliberately broken
		// build that shows the suite catches what it claims to.
		GinkgoWriter.Printf("manager binary: %s\n", managerBinary)
	} else {
		By("building the manager binary")
		managerBinary = filepath.Join(workDir, "manager")
		build := exec.Command("go", "build", "-o", managerBinary, "./cmd")
		build.Dir = filepath.Join("..", "..")
		out, err := build.CombinedOutput()
		Expect(err).NotTo(HaveOccurred(), "go build ./cmd: %s", out)
	}

	By("starting the control plane with an audit log")
	auditLogPath = filepath.Join(workDir, "audit.log")
	policy := filepath.Join(workDir, "audit-policy.yaml")
	Expect(os.WriteFile(policy, []byte(fmt.Sprintf(`apiVersion: audit.k8s.io/v1
kind: Policy
omitStages: ["RequestReceived"]
rules:
- level: Metadata
  users: [%q, %q]
- level: None
`, leaderUserA, leaderUserB)), 0o600)).To(Succeed())
	testEnv = &envtest.Environment{
		CRDDirectoryPaths:     []string{filepath.Join("..", "..", "config", "crd", "bases")},
		ErrorIfCRDPathMissing: true,
	}
	testEnv.ControlPlane.GetAPIServer().Configure().
		Append("audit-log-path", auditLogPath).
		Append("audit-policy-file", policy)
	cfg, err = testEnv.Start()
	Expect(err).NotTo(HaveOccurred())
	// Cleanups run after AfterSuite, whatever failed before.
	DeferCleanup(func() { Expect(testEnv.Stop()).To(Succeed()) })
	cfg.QPS, cfg.Burst = -1, 0 // the test's own client is never the bottleneck
	k8sClient, err = client.New(cfg, client.Options{Scheme: scheme})
	Expect(err).NotTo(HaveOccurred())
	clientset, err = kubernetes.NewForConfig(cfg)
	Expect(err).NotTo(HaveOccurred())

	By("running the garbage collector")
	gc, err = testutil.StartGarbageCollector(testEnv, assetsDir, workDir, nil)
	Expect(err).NotTo(HaveOccurred())
	DeferCleanup(func() { _ = gc.Process.Kill(); _ = gc.Wait() })

	suiteCtx, suiteCancel = context.WithCancel(context.Background())
	DeferCleanup(func() { suiteCancel() })
	By("recording every version of every generated Secret, from the API server directly")
	valueLog, err = testutil.StartValueLog(suiteCtx, clientset, staxv1alpha1.LabelBlueprint)
	Expect(err).NotTo(HaveOccurred())
	By("playing the Deployment controller")
	player, err = testutil.PlayDeployments(suiteCtx, clientset, staxv1alpha1.LabelBlueprint)
	Expect(err).NotTo(HaveOccurred())
})

var _ = AfterSuite(func() {
	if valueLog != nil {
		By("checking that no generated value reached a manager log or the audit log")
		expectNoValueInFiles(workDir)
		Expect(valueLog.Err()).NotTo(HaveOccurred())
	}
})

// The work dir goes once everything passed, unless RELIABILITY_KEEP is set.
var _ = ReportAfterSuite("reliability work dir", func(r Report) {
	switch {
	case workDir == "":
	case !r.SuiteSucceeded:
		fmt.Fprintf(os.Stderr, "manager logs and the audit log are kept in %s\n", workDir)
	case os.Getenv("RELIABILITY_KEEP") != "":
		fmt.Fprintf(os.Stderr, "kept %s\n", workDir)
	default:
		_ = os.RemoveAll(workDir)
	}
})

// expectNoValueInFiles searches every file under dir for every value the
// value log saw, raw, base64 and hex encoded. A hit names the file, never
// the value.
func expectNoValueInFiles(dir string) {
	all := valueLog.AllValues()
	entries, err := os.ReadDir(dir)
	Expect(err).NotTo(HaveOccurred())
	for _, e := range entries {
		if e.IsDir() || e.Name() == "manager" {
			continue
		}
		text, err := os.ReadFile(filepath.Join(dir, e.Name()))
		Expect(err).NotTo(HaveOccurred())
		leaked := 0
		for _, v := range all {
			for _, form := range [][]byte{v, []byte(base64.StdEncoding.EncodeToString(v)), []byte(hex.EncodeToString(v))} {
				if bytes.Contains(text, form) {
					leaked++
				}
			}
		}
		Expect(leaked).To(BeZero(), "%d generated value(s) found in %s", leaked, e.Name())
	}
}

// newNamespace creates a namespace for one spec.
func newNamespace(prefix string) string {
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{GenerateName: prefix + "-"}}
	Expect(k8sClient.Create(context.Background(), ns)).To(Succeed())
	// Managers of later specs must not find this spec's Blueprints; what
	// they own goes through garbage collection.
	DeferCleanup(func() {
		Expect(k8sClient.DeleteAllOf(context.Background(), &staxv1alpha1.Blueprint{}, client.InNamespace(ns.Name))).To(Succeed())
	})
	return ns.Name
}

func envInt(name string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(name)); err == nil && v > 0 {
		return v
	}
	return def
}

func envFloat(name string, def float64) float64 {
	if v, err := strconv.ParseFloat(os.Getenv(name), 64); err == nil && v >= 0 && v <= 1 {
		return v
	}
	return def
}

func envDuration(name string, def time.Duration) time.Duration {
	if v, err := time.ParseDuration(os.Getenv(name)); err == nil && v > 0 {
		return v
	}
	return def
}
