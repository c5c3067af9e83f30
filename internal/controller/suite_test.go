package controller

import (
	"bytes"
	"context"
	"io"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"go.uber.org/zap/zapcore"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	utilruntime "k8s.io/apimachinery/pkg/util/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	clocktesting "k8s.io/utils/clock/testing"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/config"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
	logf "sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	staxv1alpha1 "github.com/stax-dev/blueprint-operator/api/v1alpha1"
)

var (
	testEnv *envtest.Environment
	cfg     *rest.Config
	// managerCfg authenticates as the manager's own user, bound to the
	// ClusterRole of config/rbac/role.yaml (rbac_audit_test.go).
	managerCfg *rest.Config
	k8sClient  client.Client
	scheme     = runtime.NewScheme()
	// logs collects everything the manager logs, at every verbosity, so the
	// suite can prove no secret value was ever logged.
	logs syncBuffer

	// testClock schedules rotations; specs step it to make them fall due.
	testClock = clocktesting.NewFakeClock(time.Now())

	// reconcilerWrites counts every write request the reconciler sends.
	reconcilerWrites writeCounter
	// reconcilerStatusWrites counts the status writes among them.
	reconcilerStatusWrites writeCounter

	controllerManager *exec.Cmd

	stopManager context.CancelFunc
	// managerCache is the running manager's cache, for specs that prove
	// what it holds and what it does not.
	managerCache cache.Cache
	// managerStarted is when the running manager was started.
	managerStarted time.Time
	managerDone    chan struct{}
)

type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func TestController(t *testing.T) {
	RegisterFailHandler(Fail)
	RunSpecs(t, "Controller Suite")
}

var _ = BeforeSuite(func() {
	// The most verbose level zap knows: every V(n) line is written.
	logf.SetLogger(zap.New(zap.WriteTo(io.MultiWriter(GinkgoWriter, &logs)), zap.UseDevMode(true), zap.Level(zapcore.Level(-127))))
	utilruntime.Must(clientgoscheme.AddToScheme(scheme))
	utilruntime.Must(staxv1alpha1.AddToScheme(scheme))

	testEnv = &envtest.Environment{
		// The Gateway API's standard HTTPRoute and Gateway CRDs
		// (testdata/gateway-api), for spec.routing.gateway.
		CRDDirectoryPaths:     []string{filepath.Join("..", "..", "config", "crd", "bases"), filepath.Join("testdata", "gateway-api")},
		ErrorIfCRDPathMissing: true,
	}
	configureAudit(testEnv)
	var err error
	cfg, err = testEnv.Start()
	DeferCleanup(func() {
		if stopManager != nil {
			stopManager()
			<-managerDone
		}
		if controllerManager != nil {
			_ = controllerManager.Process.Kill()
			_ = controllerManager.Wait()
		}
		Expect(testEnv.Stop()).To(Succeed())
	})
	Expect(err).NotTo(HaveOccurred(), "start envtest; run through 'make test', which provides KUBEBUILDER_ASSETS")
	k8sClient, err = client.New(cfg, client.Options{Scheme: scheme})
	Expect(err).NotTo(HaveOccurred())
	controllerManager = startControllerManager(testEnv)
	managerCfg = managerConfig(testEnv)
	startManager()
})

var _ = AfterSuite(func() {
	// Teardown is registered with DeferCleanup in BeforeSuite, so it runs
	// even when this check fails and no control plane is left behind.
	if k8sClient != nil {
		expectNoReconcilePanicked()
		expectNoValueLeaked()
		expectNoPastedValueLeaked()
		expectRBACMatchesAudit()
		expectEveryWriteNamesItsFieldManager()
		expectNoFullSecretInformer()
		expectBlueprintLogLinesNameIt()
	}
})

// startManager runs the operator the way cmd/main.go does, in-process, with
// the production options. What differs, and only here: rotations are
// scheduled by testClock and the quiet period measured by settleClock, which
// specs step; reconciles are counted (reconciles); and the manager's client
// counts every write it sends (reconcilerWrites). mutate, if given, changes
// the options as a flag would.
func startManager(mutate ...func(*Options)) {
	opts := DefaultOptions()
	opts.Clock = testClock
	opts.SettleClock = settleClock
	opts.Reconciled = recordReconcile
	for _, m := range mutate {
		m(&opts)
	}
	mgr, err := ctrl.NewManager(managerCfg, opts.ManagerOptions(ctrl.Options{
		Scheme:                 scheme,
		Metrics:                metricsserver.Options{BindAddress: "0"},
		HealthProbeBindAddress: "0",
		// A restart builds the controller again in this process.
		Controller: config.Controller{SkipNameValidation: ptr.To(true)},
		NewClient: func(config *rest.Config, options client.Options) (client.Client, error) {
			c, err := client.New(config, options)
			return countingClient{Client: c, writes: &reconcilerWrites, statusWrites: &reconcilerStatusWrites}, err
		},
	}))
	Expect(err).NotTo(HaveOccurred())
	ctx, cancel := context.WithCancel(context.Background())
	Expect(Setup(ctx, mgr, opts)).To(Succeed())
	managerCache = mgr.GetCache()
	managerStarted = time.Now()
	done := make(chan struct{})
	go func() {
		defer GinkgoRecover()
		defer close(done)
		Expect(mgr.Start(ctx)).To(Succeed())
	}()
	stopManager, managerDone = cancel, done
}

// restartManager stops the running manager and starts a new one: a fresh
// process as far as caches and memory go.
func restartManager(mutate ...func(*Options)) {
	stopManager()
	<-managerDone
	startManager(mutate...)
}

// newNamespace gives each spec its own namespace.
func newNamespace() string {
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{GenerateName: "bp-test-"}}
	Expect(k8sClient.Create(context.Background(), ns)).To(Succeed())
	return ns.Name
}
