package main

import (
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/stax-dev/blueprint-operator/bench/internal/proc"
	"github.com/stax-dev/blueprint-operator/internal/testutil"
)

// env is what every scenario shares: the settings, the work directory, the
// manager under test, and the control plane of the size being measured
// with the bench's clients and its observer. What one scenario alone needs
// lives on that scenario.
type env struct {
	cfg   config
	dir   string
	knobs knobs
	mgr   *managerProc

	// c is the running control plane, obs the bench's view of it (it plays
	// the Deployment controller), main the Blueprints of its size.
	c       *cluster
	obs     *observer
	stopObs context.CancelFunc
	main    []bpRef
	// statusFails counts the Deployment status writes of stopped observers
	// that failed and were retried.
	statusFails int
}

// managerProc is the manager under test, a separate process built from
// ./cmd as in production; at most one runs at a time.
type managerProc struct {
	bin  string
	args []string
	dir  string
	// starts counts processes started, for their log file names.
	starts int
	cur    *proc.Manager
	// metricsURL is the running process's metrics endpoint.
	metricsURL string
	// pprofURL is its pprof endpoint (/debug/pprof), with -heap-profile.
	pprofURL string
	// env is added to each process's environment; with watchEvery above
	// 0, each process's RSS is sampled that often into watch.
	env        []string
	watchEvery time.Duration
	watch      *proc.RSSWatch
}

// stopWatch stops the running process's RSS watch and returns what it
// saw; nothing without one.
func (m *managerProc) stopWatch() proc.RSSPeak {
	if m.watch == nil {
		return proc.RSSPeak{}
	}
	p := m.watch.Stop()
	m.watch = nil
	return p
}

// startControlPlane starts a fresh control plane for size Blueprints, in a
// directory of its own (name), and the bench's view of it.
func (e *env) startControlPlane(ctx context.Context, size int, name string) error {
	dir := filepath.Join(e.dir, name)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	logf("starting the control plane")
	c, err := startCluster(ctx, dir, float32(e.knobs.KubeAPIQPS), e.knobs.KubeAPIBurst)
	if err != nil {
		return err
	}
	e.c = c
	e.main = mainSet(size, e.cfg.perNamespace)
	obsCtx, stop := context.WithCancel(ctx)
	e.stopObs = stop
	// The bench plays the Deployment controller for the operator's
	// Blueprints and the floor's.
	rollout := func(ns string) bool {
		return strings.HasPrefix(ns, "bp-") || strings.HasPrefix(ns, "floor-") || ns == "shared"
	}
	if e.obs, err = e.c.observe(obsCtx, rollout, 4); err != nil {
		return err
	}
	return nil
}

// replaceControlPlane stops the manager, the bench's view and the control
// plane, and starts a fresh one for the same size in a directory of its own.
func (e *env) replaceControlPlane(ctx context.Context, size int, phase string) error {
	e.stopControlPlane()
	return e.startControlPlane(ctx, size, fmt.Sprintf("size-%d-%s", size, phase))
}

// stopControlPlane stops the manager and the control plane, if running.
func (e *env) stopControlPlane() {
	_ = e.stopManager()
	if e.obs != nil {
		e.statusFails += e.obs.failures()
		e.obs = nil
	}
	if e.stopObs != nil {
		e.stopObs()
		e.stopObs = nil
	}
	if e.c != nil {
		e.c.stop()
		e.c = nil
	}
}

// emulatorStatusFailures counts the Deployment status writes the bench
// retried, in this run so far.
func (e *env) emulatorStatusFailures() int {
	n := e.statusFails
	if e.obs != nil {
		n += e.obs.failures()
	}
	return n
}

// startManager starts the manager against the running control plane with
// extra flags, and returns when its caches synced.
func (e *env) startManager(ctx context.Context, extra ...string) (time.Time, error) {
	m := e.mgr
	m.starts++
	port, err := freePort()
	if err != nil {
		return time.Time{}, err
	}
	args := append([]string{
		"--kubeconfig=" + e.c.managerKubeconfig,
		// Plain HTTP on loopback: the bench reads the Blueprint
		// controller's reconcile count and workqueue depth.
		fmt.Sprintf("--metrics-bind-address=127.0.0.1:%d", port),
		"--metrics-secure=false",
		"--health-probe-bind-address=0",
	}, m.args...)
	m.pprofURL = ""
	if e.cfg.heapProfile != "" {
		pport, err := freePort()
		if err != nil {
			return time.Time{}, err
		}
		args = append(args, fmt.Sprintf("--pprof-bind-address=127.0.0.1:%d", pport))
		m.pprofURL = fmt.Sprintf("http://127.0.0.1:%d/debug/pprof", pport)
	}
	args = append(args, extra...)
	p, err := proc.Start(m.bin, args, filepath.Join(m.dir, fmt.Sprintf("manager-%d.log", m.starts)), m.env...)
	if err != nil {
		return time.Time{}, err
	}
	m.cur = p
	e.cpuProfile(ctx, m.pprofURL, m.starts, e.cfg.cpuProfileSeconds)
	if m.watchEvery > 0 {
		m.watch = proc.WatchRSS(p.PID(), m.watchEvery)
	}
	m.metricsURL = fmt.Sprintf("http://127.0.0.1:%d/metrics", port)
	synced, err := p.WaitSynced(ctx, e.cfg.waitTimeout)
	if err != nil {
		return time.Time{}, err
	}
	logf("manager %d (pid %d) synced in %s", m.starts, p.PID(), synced.Sub(p.Started).Round(time.Millisecond))
	return synced, nil
}

// stopManager stops the manager, if running.
func (e *env) stopManager() error {
	if e.mgr.cur == nil {
		return nil
	}
	e.mgr.stopWatch()
	err := e.mgr.cur.Stop()
	e.mgr.cur = nil
	return err
}

// managerExited reports the manager's exit, if it has exited.
func (e *env) managerExited() error {
	if e.mgr.cur == nil {
		return nil
	}
	if exited, err := e.mgr.cur.Exited(); exited {
		return fmt.Errorf("manager exited: %w", err)
	}
	return nil
}

// quiet waits until the manager has sent no request for d: its queue is
// empty, and a timed step starts from a steady state.
func (e *env) quiet(ctx context.Context, d time.Duration) error {
	_, err := e.c.audit.WaitQuiet(ctx, userManager, d, e.cfg.waitTimeout)
	return err
}

// memoryAfter reads the manager's peak RSS rss-settle after synced, the
// time its caches synced (every Blueprint reconciled once by then).
func (e *env) memoryAfter(ctx context.Context, synced time.Time) (proc.Memory, error) {
	if err := sleepCtx(ctx, time.Until(synced.Add(e.cfg.rssSettle))); err != nil {
		return proc.Memory{}, err
	}
	if err := e.managerExited(); err != nil {
		return proc.Memory{}, err
	}
	return proc.ReadMemory(e.mgr.cur.PID())
}

// peak starts the manager once with extra flags and returns its peak RSS,
// read rss-settle after its caches synced.
func (e *env) peak(ctx context.Context, extra []string) (proc.Memory, error) {
	synced, err := e.startManager(ctx, extra...)
	if err != nil {
		return proc.Memory{}, err
	}
	m, err := e.memoryAfter(ctx, synced)
	if err != nil {
		return proc.Memory{}, err
	}
	return m, e.stopManager()
}

// peaks starts the manager rss-repeats times with extra flags and returns
// the peak RSS of each start.
func (e *env) peaks(ctx context.Context, extra []string) ([]proc.Memory, error) {
	var out []proc.Memory
	for range max(e.cfg.rssRepeats, 1) {
		m, err := e.peak(ctx, extra)
		if err != nil {
			return nil, err
		}
		out = append(out, m)
	}
	return out, nil
}

// plainClient is the floor's client: its own user, the manager's
// client-side rate limits.
func (e *env) plainClient() (client.Client, error) {
	return client.New(e.c.baselineConfig, client.Options{Scheme: scheme})
}

// waitSeen waits until the bench's cache holds Deployment key.
func (e *env) waitSeen(ctx context.Context, key types.NamespacedName) error {
	deadline := time.Now().Add(e.cfg.waitTimeout)
	for {
		d := &appsv1.Deployment{}
		if err := e.c.cache.Get(ctx, key, d); err == nil {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("the bench never saw Deployment %s", key)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// available reports whether the bench sees every Deployment of keys rolled
// out.
func (e *env) available(ctx context.Context, keys []types.NamespacedName) bool {
	for _, k := range keys {
		d := &appsv1.Deployment{}
		if err := e.c.cache.Get(ctx, k, d); err != nil || testutil.NeedsRollout(d) {
			return false
		}
	}
	return true
}

// timeoutFor is the longest wait for n Blueprints: -timeout per 1,000.
func (e *env) timeoutFor(n int) time.Duration {
	return e.cfg.waitTimeout * time.Duration(max(1, (n+999)/1000))
}

// freePort asks the kernel for a free local port.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return nil
	}
	select {
	case <-time.After(d):
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func maxTime(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

func loadavg() string {
	raw, _ := os.ReadFile("/proc/loadavg")
	return strings.TrimSpace(string(raw))
}
