package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	staxv1alpha1 "github.com/stax-dev/blueprint-operator/api/v1alpha1"
	"github.com/stax-dev/blueprint-operator/bench/internal/audit"
	"github.com/stax-dev/blueprint-operator/bench/internal/proc"
)

var errTargetMissed = errors.New("a target does not hold")

type runner struct {
	cfg    config
	dir    string
	bin    string
	knobs  knobs
	c      *cluster
	obs    *observer
	mgr    *proc.Manager
	mgrN   int
	main   []bpRef
	shared []bpRef
	res    *results

	// base is the results file a -merge run adds to; merged what was last
	// written.
	base, merged *results
	started      time.Time
	// emptyPeak is an empty manager's peak RSS, measured once per run.
	emptyPeak *proc.Memory
	// metricsURL is the running manager's metrics endpoint.
	metricsURL  string
	stopObs     context.CancelFunc
	statusFails int
}

// hostScenarios run on the cluster of one curve size, with its Blueprints
// Ready: the largest size ≤ 1000.
var hostScenarios = []string{"latency", "shared", "memory"}

// hostSize is the size the host scenarios run at: the largest of sizes
// ≤ 1000, or 0.
func hostSize(sizes []int) int {
	h := 0
	for _, s := range sizes {
		if s <= 1000 && s > h {
			h = s
		}
	}
	return h
}

func run(ctx context.Context, cfg config) error {
	r := &runner{cfg: cfg, started: time.Now()}
	steps := map[string]func(context.Context) error{
		"latency": r.latency,
		"shared":  r.sharedSecret,
		"memory":  r.memory,
	}
	wanted := strings.Split(cfg.scenarios, ",")
	var hosted []string
	curve, peer := false, false
	for _, name := range wanted {
		switch {
		case name == "curve":
			curve = true
		case name == "peer":
			peer = true
		case name == "convergence" || name == "restart":
			return fmt.Errorf("scenario %q is now part of 'curve' (convergence, floor, steady state and restart at each of -sizes)", name)
		case steps[name] != nil:
			hosted = append(hosted, name)
		default:
			return fmt.Errorf("no scenario %q (have peer, curve, %s)", name, strings.Join(hostScenarios, ", "))
		}
	}
	host := hostSize(cfg.sizes)
	if len(hosted) > 0 && host == 0 {
		return fmt.Errorf("scenarios %v run at the largest of -sizes ≤ 1000, and -sizes %v has none", hosted, cfg.sizes)
	}
	cfg.blueprints = host
	r.cfg = cfg
	r.res = newResults(cfg)
	r.res.Run.LoadStart = loadavg()
	if cfg.merge {
		base, err := readResults(cfg.out)
		switch {
		case errors.Is(err, os.ErrNotExist):
			logf("-merge: no %s yet; starting a new one", cfg.out)
		case err != nil:
			return err
		default:
			r.base = base
		}
	}

	dir, err := os.MkdirTemp("", "blueprint-bench-")
	if err != nil {
		return err
	}
	if cfg.keep {
		logf("work directory %s", dir)
	} else {
		defer os.RemoveAll(dir)
	}
	r.dir = dir
	r.bin = cfg.managerBin
	if r.bin == "" {
		logf("building the manager from ./cmd")
		if r.bin, err = buildManager(dir); err != nil {
			return err
		}
	}
	if r.knobs, err = resolveKnobs(r.bin, strings.Fields(cfg.managerArgs)); err != nil {
		return err
	}
	r.res.Manager = r.knobs
	logf("manager knobs: %+v", r.knobs)
	defer r.stopSize()

	if peer {
		// Beside Reloader on a control plane of its own: the same small
		// workload for both, before any curve size leaves objects behind.
		logf("== peer: a fresh control plane")
		if err := r.startSize(ctx, 0); err != nil {
			return err
		}
		if err := r.peer(ctx); err != nil {
			return fmt.Errorf("peer: %w", err)
		}
		if err := r.save(); err != nil {
			return err
		}
		r.stopSize()
	}
	for _, size := range cfg.sizes {
		hostHere := size == host && len(hosted) > 0
		if !curve && !hostHere {
			continue
		}
		logf("== %d Blueprints: a fresh control plane", size)
		if err := r.startSize(ctx, size); err != nil {
			return err
		}
		if curve {
			logf("== curve at %d Blueprints", size)
			if err := r.curve(ctx); err != nil {
				return fmt.Errorf("curve at %d Blueprints: %w", size, err)
			}
			if err := r.save(); err != nil {
				return err
			}
		}
		if hostHere {
			if !curve {
				logf("== %d Blueprints converging for %v", size, hosted)
				if _, _, _, err := r.converge(ctx); err != nil {
					return err
				}
			}
			for _, name := range hosted {
				logf("== %s at %d Blueprints", name, size)
				if err := steps[name](ctx); err != nil {
					return fmt.Errorf("%s: %w", name, err)
				}
				if err := r.save(); err != nil {
					return err
				}
			}
		}
		if r.mgr != nil {
			if exited, err := r.mgr.Exited(); exited {
				return fmt.Errorf("manager exited: %w", err)
			}
		}
		r.stopSize()
	}
	r.res.Run.Complete = true
	if err := r.save(); err != nil {
		return err
	}
	r.merged.print(os.Stdout)
	if cfg.failOnMiss && !r.merged.AllHold {
		return errTargetMissed
	}
	return nil
}

// save writes what is measured so far (merged into -merge's file): a run
// that stops keeps its figures.
func (r *runner) save() error {
	r.res.Run.LoadEnd = loadavg()
	r.res.Run.Seconds = time.Since(r.started).Seconds()
	r.res.Run.EmulatorStatusFailures = r.statusFails
	if r.obs != nil {
		r.res.Run.EmulatorStatusFailures += r.obs.failures()
	}
	r.res.finish()
	r.merged = merge(r.base, r.res)
	return r.merged.write(r.cfg.out)
}

// startSize starts a fresh control plane for size Blueprints, and the
// bench's view of it.
func (r *runner) startSize(ctx context.Context, size int) error {
	return r.startControlPlane(ctx, size, fmt.Sprintf("size-%d", size))
}

// replaceControlPlane stops the manager, the bench's view and the control
// plane, and starts a fresh one for the same size in a directory of its own.
func (r *runner) replaceControlPlane(ctx context.Context, size int, phase string) error {
	r.stopSize()
	return r.startControlPlane(ctx, size, fmt.Sprintf("size-%d-%s", size, phase))
}

func (r *runner) startControlPlane(ctx context.Context, size int, name string) error {
	dir := filepath.Join(r.dir, name)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	logf("starting the control plane")
	c, err := startCluster(ctx, dir, float32(r.knobs.KubeAPIQPS), r.knobs.KubeAPIBurst)
	if err != nil {
		return err
	}
	r.c = c
	r.main = mainSet(size, r.cfg.perNamespace)
	r.shared = sharedSet(r.cfg.shared)
	obsCtx, stop := context.WithCancel(ctx)
	r.stopObs = stop
	// The bench plays the Deployment controller for the operator's
	// Blueprints and the floor's.
	rollout := func(ns string) bool {
		return strings.HasPrefix(ns, "bp-") || strings.HasPrefix(ns, "floor-") || ns == "shared"
	}
	if r.obs, err = r.c.observe(obsCtx, rollout, 4); err != nil {
		return err
	}
	return nil
}

// stopSize stops the manager and the control plane, if running.
func (r *runner) stopSize() {
	if r.mgr != nil {
		_ = r.stopManager()
	}
	if r.obs != nil {
		r.statusFails += r.obs.failures()
		r.obs = nil
	}
	if r.stopObs != nil {
		r.stopObs()
		r.stopObs = nil
	}
	if r.c != nil {
		r.c.stop()
		r.c = nil
	}
}

func (r *runner) startManager(ctx context.Context, extra ...string) (time.Time, error) {
	r.mgrN++
	port, err := freePort()
	if err != nil {
		return time.Time{}, err
	}
	args := append([]string{
		"--kubeconfig=" + r.c.managerKubeconfig,
		// Plain HTTP on loopback: the bench reads the Blueprint
		// controller's reconcile count and workqueue depth.
		fmt.Sprintf("--metrics-bind-address=127.0.0.1:%d", port),
		"--metrics-secure=false",
		"--health-probe-bind-address=0",
	}, r.knobs.Args...)
	args = append(args, extra...)
	m, err := proc.Start(r.bin, args, filepath.Join(r.dir, fmt.Sprintf("manager-%d.log", r.mgrN)))
	if err != nil {
		return time.Time{}, err
	}
	r.mgr = m
	r.metricsURL = fmt.Sprintf("http://127.0.0.1:%d/metrics", port)
	synced, err := m.WaitSynced(ctx, r.cfg.waitTimeout)
	if err != nil {
		return time.Time{}, err
	}
	logf("manager %d (pid %d) synced in %s", r.mgrN, m.PID(), synced.Sub(m.Started).Round(time.Millisecond))
	return synced, nil
}

// quiet waits until the manager has sent no request for d: its queue is
// empty, and a timed step starts from a steady state.
func (r *runner) quiet(ctx context.Context, d time.Duration) error {
	_, err := r.c.audit.WaitQuiet(ctx, userManager, d, r.cfg.waitTimeout)
	return err
}

func (r *runner) stopManager() error {
	if r.mgr == nil {
		return nil
	}
	err := r.mgr.Stop()
	r.mgr = nil
	return err
}

// bpName maps an object name of the bench's sets to its Blueprint's suffix:
// bp-0042, bp-0042-generated, web-0042, bp-0042.<event> give 0042.
var bpSuffix = regexp.MustCompile(`-(\d{4}|s\d{3})(?:$|[-.])`)

// latency: one referenced Secret edited at a time, timed until the bench
// sees the consuming Deployment's new pod template. The floor: a plain client
// editing a Secret and then the Deployment's template itself.
func (r *runner) latency(ctx context.Context) error {
	samples := r.cfg.latencySamples
	var op []time.Duration
	for i := range samples {
		ref := r.main[i*len(r.main)/samples]
		// Each edit meets an idle manager.
		if err := r.quiet(ctx, 300*time.Millisecond); err != nil {
			return err
		}
		ch, _ := r.obs.expectNewDigest(ref.web())
		t0 := time.Now()
		if err := patchSecret(ctx, r.c.bench, ref.Namespace, ref.RefSecret); err != nil {
			return err
		}
		select {
		case t := <-ch:
			op = append(op, t.Sub(t0))
		case <-time.After(r.cfg.waitTimeout):
			return fmt.Errorf("deployment %s kept its template %s after its Secret was edited", ref.web(), r.cfg.waitTimeout)
		case <-ctx.Done():
			return ctx.Err()
		}
		// One edit at a time: let the Blueprint finish its rollout.
		if _, err := r.obs.waitReady(ctx, []types.NamespacedName{ref.key()}, r.cfg.waitTimeout); err != nil {
			return err
		}
	}

	// The floor.
	const ns = "base-latency"
	if err := createNamespaces(ctx, r.c.bench, ns); err != nil {
		return err
	}
	ref := bpRef{Namespace: ns, Name: "bp-latency", Suffix: "latency", RefSecret: "latency-ref"}
	if err := r.c.bench.Create(ctx, refSecret(ns, ref.RefSecret)); err != nil {
		return err
	}
	objs, err := plainObjects(ref, ns)
	if err != nil {
		return err
	}
	for _, obj := range objs {
		if d, ok := obj.(*appsv1.Deployment); ok && d.Name == ref.web().Name {
			if err := r.c.bench.Create(ctx, d); err != nil {
				return err
			}
		}
	}
	if err := r.waitSeen(ctx, ref.web()); err != nil {
		return err
	}
	plain, err := client.New(r.c.baselineConfig, client.Options{Scheme: scheme})
	if err != nil {
		return err
	}
	var base []time.Duration
	for range samples {
		ch, _ := r.obs.expectNewDigest(ref.web())
		t0 := time.Now()
		if err := patchSecret(ctx, plain, ns, ref.RefSecret); err != nil {
			return err
		}
		if err := patchDigest(ctx, plain, ref.web()); err != nil {
			return err
		}
		select {
		case t := <-ch:
			base = append(base, t.Sub(t0))
		case <-time.After(r.cfg.waitTimeout):
			return fmt.Errorf("plain Deployment %s kept its template", ref.web())
		}
	}
	p50, p99 := percentile(op, 50), percentile(op, 99)
	b50, b99 := percentile(base, 50), percentile(base, 99)
	logf("Secret edit to new template: p50 %s p99 %s max %s; plain client p50 %s p99 %s", p50, p99, percentile(op, 100), b50, b99)
	details := map[string]any{
		"samples": samples, "maxSeconds": percentile(op, 100).Seconds(),
		"secretQuietPeriodSeconds": 0.5,
	}
	r.res.add(row{
		Scenario: "edit-latency-p50", Figure: fmt.Sprintf("one referenced Secret edited, %d Blueprints present: edit until the consuming Deployment's template changes, p50", r.obs.blueprints()),
		Value: p50.Seconds(), Unit: "s", Baseline: b50.Seconds(), BaselineOf: "plain client editing the Secret, then the Deployment's template",
		Ratio: ptrTo(p50.Seconds() / b50.Seconds()), Target: "(reported)", Holds: true, Details: details,
	})
	r.res.add(row{
		Scenario: "edit-latency-p99", Figure: "same, p99",
		Value: p99.Seconds(), Unit: "s", Baseline: b99.Seconds(), BaselineOf: "plain client editing the Secret, then the Deployment's template",
		Ratio: ptrTo(p99.Seconds() / b99.Seconds()), Target: "≤ 1 s", Holds: p99 <= time.Second, Details: details,
	})
	return nil
}

func (r *runner) waitSeen(ctx context.Context, key types.NamespacedName) error {
	deadline := time.Now().Add(r.cfg.waitTimeout)
	for {
		d := &appsv1.Deployment{}
		if err := r.c.cache.Get(ctx, key, d); err == nil {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("the bench never saw Deployment %s", key)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// patchSecret gives Secret ns/name's referenced key a new value, as a JSON
// merge patch.
func patchSecret(ctx context.Context, c client.Client, ns, name string) error {
	s, patch := secretEdit(ns, name, randomHex(32))
	return c.Patch(ctx, s, patch)
}

// secretEdit is the Secret and merge patch that set its referenced key to
// value.
func secretEdit(ns, name, value string) (*corev1.Secret, client.Patch) {
	s := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}}
	patch := client.MergeFrom(s.DeepCopy())
	s.StringData = map[string]string{refKey: value}
	return s, patch
}

// patchDigest gives Deployment key's pod template a new secrets digest, as
// the operator does when a referenced Secret changes.
func patchDigest(ctx context.Context, c client.Client, key types.NamespacedName) error {
	d, patch := digestEdit(key, randomHex(64))
	return c.Patch(ctx, d, patch)
}

// digestEdit is the Deployment and merge patch that set its pod template's
// secrets digest to digest.
func digestEdit(key types.NamespacedName, digest string) (*appsv1.Deployment, client.Patch) {
	d := &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Namespace: key.Namespace, Name: key.Name}}
	patch := client.MergeFrom(d.DeepCopy())
	d.Spec.Template.Annotations = map[string]string{staxv1alpha1.SecretsDigestAnnotation: digest}
	return d, patch
}

func percentile(ds []time.Duration, p float64) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := append([]time.Duration(nil), ds...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	// Nearest rank.
	i := int(p/100*float64(len(s))+0.999999) - 1
	return s[min(max(i, 0), len(s)-1)]
}

// sharedSecret: Blueprints referencing one Secret, which is edited; timed
// until every consuming Deployment has its new template. The floor: a plain
// client editing the Secret and then every Deployment's template, at the
// manager's concurrency.
func (r *runner) sharedSecret(ctx context.Context) error {
	n := len(r.shared)
	workers := max(r.knobs.MaxConcurrentReconciles, 1)
	if err := createNamespaces(ctx, r.c.bench, "shared"); err != nil {
		return err
	}
	if err := r.c.bench.Create(ctx, refSecret("shared", "shared")); err != nil {
		return err
	}
	if err := parallel(ctx, n, r.cfg.benchWorkers, func(ctx context.Context, i int) error {
		return r.c.bench.Create(ctx, blueprint(r.shared[i]))
	}); err != nil {
		return err
	}
	if _, err := r.obs.waitReady(ctx, keysOf(r.shared), r.cfg.waitTimeout); err != nil {
		return err
	}
	edit := func(c client.Client, ns, secret string, refs []bpRef, after func(ctx context.Context) error) (time.Duration, error) {
		chans := make([]<-chan time.Time, len(refs))
		for i, ref := range refs {
			chans[i], _ = r.obs.expectNewDigest(ref.web())
		}
		t0 := time.Now()
		if err := patchSecret(ctx, c, ns, secret); err != nil {
			return 0, err
		}
		if after != nil {
			if err := after(ctx); err != nil {
				return 0, err
			}
		}
		var last time.Time
		deadline := time.After(r.cfg.waitTimeout)
		for i, ch := range chans {
			select {
			case t := <-ch:
				if t.After(last) {
					last = t
				}
			case <-deadline:
				return 0, fmt.Errorf("deployment %s kept its template after Secret %s/%s was edited", refs[i].web(), ns, secret)
			}
		}
		return last.Sub(t0), nil
	}
	var op []time.Duration
	var opEvents []audit.Event
	for range r.cfg.sharedSamples {
		if err := r.quiet(ctx, time.Second); err != nil {
			return err
		}
		t0 := time.Now()
		d, err := edit(r.c.bench, "shared", "shared", r.shared, nil)
		if err != nil {
			return err
		}
		ev, err := r.c.audit.Between(userManager, t0, t0.Add(d))
		if err != nil {
			return err
		}
		opEvents = append(opEvents, ev...)
		op = append(op, d)
		if _, err := r.obs.waitReady(ctx, keysOf(r.shared), r.cfg.waitTimeout); err != nil {
			return err
		}
	}

	// The floor.
	const ns = "base-shared"
	if err := createNamespaces(ctx, r.c.bench, ns); err != nil {
		return err
	}
	if err := r.c.bench.Create(ctx, refSecret(ns, "shared")); err != nil {
		return err
	}
	baseRefs := make([]bpRef, n)
	for i, ref := range r.shared {
		ref.Namespace = ns
		baseRefs[i] = ref
		objs, err := plainObjects(ref, ns)
		if err != nil {
			return err
		}
		for _, obj := range objs {
			if d, ok := obj.(*appsv1.Deployment); ok && d.Name == ref.web().Name {
				if err := r.c.bench.Create(ctx, d); err != nil {
					return err
				}
			}
		}
	}
	for _, ref := range baseRefs {
		if err := r.waitSeen(ctx, ref.web()); err != nil {
			return err
		}
	}
	plain, err := client.New(r.c.baselineConfig, client.Options{Scheme: scheme})
	if err != nil {
		return err
	}
	var base []time.Duration
	for range r.cfg.sharedSamples {
		d, err := edit(plain, ns, "shared", baseRefs, func(ctx context.Context) error {
			return parallel(ctx, n, workers, func(ctx context.Context, i int) error {
				return patchDigest(ctx, plain, baseRefs[i].web())
			})
		})
		if err != nil {
			return err
		}
		base = append(base, d)
	}
	worst, baseWorst := percentile(op, 100), percentile(base, 100)
	s := audit.Summarize(opEvents)
	logf("shared Secret edit to all %d templates: %v (worst %s); plain client %v; manager %s", n, op, worst, base, s.TopKinds(6))
	r.res.add(row{
		Scenario: "shared-secret", Figure: fmt.Sprintf("%d Blueprints referencing one shared Secret, which is edited: time until all have the new template (worst of %d)", n, len(op)),
		Value: worst.Seconds(), Unit: "s", Baseline: baseWorst.Seconds(),
		BaselineOf: fmt.Sprintf("plain client editing the Secret, then the %d templates, %d at a time", n, workers),
		Ratio:      ptrTo(worst.Seconds() / baseWorst.Seconds()), Target: "≤ 5 s", Holds: worst <= 5*time.Second,
		Details: map[string]any{"samplesSeconds": seconds(op), "baselineSamplesSeconds": seconds(base), "managerRequests": s},
	})
	return nil
}

func seconds(ds []time.Duration) []float64 {
	out := make([]float64, len(ds))
	for i, d := range ds {
		out[i] = d.Seconds()
	}
	return out
}

// its caches' sync (every Blueprint reconciled once by then).
func (r *runner) memoryAfter(ctx context.Context, synced time.Time) (proc.Memory, error) {
	if d := time.Until(synced.Add(r.cfg.rssSettle)); d > 0 {
		select {
		case <-time.After(d):
		case <-ctx.Done():
			return proc.Memory{}, ctx.Err()
		}
	}
	if exited, err := r.mgr.Exited(); exited {
		return proc.Memory{}, fmt.Errorf("manager exited: %w", err)
	}
	return proc.ReadMemory(r.mgr.PID())
}

func loadavg() string {
	raw, _ := os.ReadFile("/proc/loadavg")
	return strings.TrimSpace(string(raw))
}
