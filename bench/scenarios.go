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
	"k8s.io/apimachinery/pkg/runtime"
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
}

func run(ctx context.Context, cfg config) error {
	started := time.Now()
	dir, err := os.MkdirTemp("", "blueprint-bench-")
	if err != nil {
		return err
	}
	if cfg.keep {
		logf("work directory %s", dir)
	} else {
		defer os.RemoveAll(dir)
	}
	r := &runner{cfg: cfg, dir: dir, res: newResults(cfg)}
	r.res.Run.LoadStart = loadavg()

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

	logf("starting the control plane")
	r.c, err = startCluster(ctx, dir, float32(r.knobs.KubeAPIQPS), r.knobs.KubeAPIBurst)
	if err != nil {
		return err
	}
	defer r.c.stop()
	defer func() {
		if r.mgr != nil {
			_ = r.mgr.Stop()
		}
	}()

	r.main = mainSet(cfg.blueprints, cfg.perNamespace)
	r.shared = sharedSet(cfg.shared)
	operatorNS := map[string]bool{}
	for _, ns := range append(namespacesOf(r.main), namespacesOf(r.shared)...) {
		operatorNS[ns] = true
	}
	obsCtx, stopObs := context.WithCancel(ctx)
	defer stopObs()
	if r.obs, err = r.c.observe(obsCtx, func(ns string) bool { return operatorNS[ns] }, 4); err != nil {
		return err
	}

	steps := map[string]func(context.Context) error{
		"convergence": r.convergence,
		"latency":     r.latency,
		"shared":      r.sharedSecret,
		"restart":     r.restart,
		"memory":      r.memory,
		"peer":        r.peer,
	}
	for _, name := range strings.Split(cfg.scenarios, ",") {
		step, ok := steps[name]
		if !ok {
			return fmt.Errorf("no scenario %q", name)
		}
		logf("== %s", name)
		if err := step(ctx); err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
	}
	if r.mgr != nil {
		if exited, err := r.mgr.Exited(); exited {
			return fmt.Errorf("manager exited: %w", err)
		}
	}
	r.res.Run.LoadEnd = loadavg()
	r.res.Run.Seconds = time.Since(started).Seconds()
	r.res.Run.EmulatorStatusFailures = r.obs.statusFails
	r.res.finish()
	r.res.print(os.Stdout)
	if err := r.res.write(cfg.out); err != nil {
		return err
	}
	if cfg.failOnMiss && !r.res.AllHold {
		return errTargetMissed
	}
	return nil
}

func (r *runner) startManager(ctx context.Context, extra ...string) (time.Time, error) {
	r.mgrN++
	args := append([]string{
		"--kubeconfig=" + r.c.managerKubeconfig,
		"--metrics-bind-address=0",
		"--health-probe-bind-address=0",
	}, r.knobs.Args...)
	args = append(args, extra...)
	m, err := proc.Start(r.bin, args, filepath.Join(r.dir, fmt.Sprintf("manager-%d.log", r.mgrN)))
	if err != nil {
		return time.Time{}, err
	}
	r.mgr = m
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

// convergence: a plain client creates the objects of N Blueprints directly,
// at the manager's concurrency (the floor); then N Blueprints are created at
// once and timed until all are Ready, with the bench playing the Deployment
// controller. The manager's writes per Blueprint are counted from the audit
// log.
func (r *runner) convergence(ctx context.Context) error {
	n := len(r.main)
	workers := max(r.knobs.MaxConcurrentReconciles, 1)

	// The floor, before the manager runs, so it sees none of it.
	baseNS := func(ns string) string { return "base-" + strings.TrimPrefix(ns, "bp-") }
	var nss []string
	for _, ns := range namespacesOf(r.main) {
		nss = append(nss, baseNS(ns))
	}
	if err := createNamespaces(ctx, r.c.bench, nss...); err != nil {
		return err
	}
	objects := make([][]client.Object, n)
	for i, ref := range r.main {
		objs, err := plainObjects(ref, baseNS(ref.Namespace))
		if err != nil {
			return err
		}
		objects[i] = objs
	}
	plain, err := client.New(r.c.baselineConfig, client.Options{Scheme: scheme})
	if err != nil {
		return err
	}
	cpu0 := r.c.cpu(nil)
	t0 := time.Now()
	if err := parallel(ctx, n, workers, func(ctx context.Context, i int) error {
		for _, obj := range objects[i] {
			if err := plain.Create(ctx, obj); err != nil {
				return fmt.Errorf("plain client creating %s %s/%s: %w", fmt.Sprintf("%T", obj), obj.GetNamespace(), obj.GetName(), err)
			}
		}
		return nil
	}); err != nil {
		return err
	}
	t1 := time.Now()
	baseCPU := r.c.cpu(nil).sub(cpu0)
	baseline := t1.Sub(t0)
	baseEvents, err := r.c.audit.Between(userBaseline, t0, t1)
	if err != nil {
		return err
	}
	baseSummary := audit.Summarize(baseEvents)
	logf("plain client: %d objects in %s (%s)", baseSummary.Writes, baseline.Round(time.Millisecond), baseSummary.TopKinds(4))
	for _, ns := range nss {
		for _, obj := range []client.Object{&appsv1.Deployment{}, &corev1.Service{}, &corev1.Secret{}} {
			if err := r.c.bench.DeleteAllOf(ctx, obj, client.InNamespace(ns)); err != nil {
				return err
			}
		}
	}

	// The same objects server-side applied, as the manager writes them: how
	// much of the difference is the apply itself.
	ssaNS := func(ns string) string { return "ssa-" + strings.TrimPrefix(ns, "bp-") }
	var ssaNSs []string
	for _, ns := range namespacesOf(r.main) {
		ssaNSs = append(ssaNSs, ssaNS(ns))
	}
	if err := createNamespaces(ctx, r.c.bench, ssaNSs...); err != nil {
		return err
	}
	secrets := make([]client.Object, n)
	applies := make([][]runtime.ApplyConfiguration, n)
	for i, ref := range r.main {
		objs, acs, err := renderPlain(ref, ssaNS(ref.Namespace))
		if err != nil {
			return err
		}
		secrets[i], applies[i] = objs[0], acs
	}
	cpu0 = r.c.cpu(nil)
	t0 = time.Now()
	if err := parallel(ctx, n, workers, func(ctx context.Context, i int) error {
		if err := plain.Create(ctx, secrets[i]); err != nil {
			return err
		}
		for _, ac := range applies[i] {
			if err := plain.Apply(ctx, ac, client.FieldOwner("bench-apply")); err != nil {
				return fmt.Errorf("plain client applying: %w", err)
			}
		}
		return nil
	}); err != nil {
		return err
	}
	t1 = time.Now()
	ssaCPU := r.c.cpu(nil).sub(cpu0)
	ssa := t1.Sub(t0)
	logf("plain client with server-side apply: %s", ssa.Round(time.Millisecond))
	for _, ns := range ssaNSs {
		for _, obj := range []client.Object{&appsv1.Deployment{}, &corev1.Service{}, &corev1.Secret{}} {
			if err := r.c.bench.DeleteAllOf(ctx, obj, client.InNamespace(ns)); err != nil {
				return err
			}
		}
	}

	// Inputs the Blueprints reference exist before they do.
	if err := createNamespaces(ctx, r.c.bench, namespacesOf(r.main)...); err != nil {
		return err
	}
	if err := parallel(ctx, n, r.cfg.benchWorkers, func(ctx context.Context, i int) error {
		return r.c.bench.Create(ctx, refSecret(r.main[i].Namespace, r.main[i].RefSecret))
	}); err != nil {
		return err
	}
	if _, err := r.startManager(ctx); err != nil {
		return err
	}

	if err := r.quiet(ctx, time.Second); err != nil {
		return err
	}
	cpu0 = r.c.cpu(r.mgr)
	t0 = time.Now()
	if err := parallel(ctx, n, r.cfg.benchWorkers, func(ctx context.Context, i int) error {
		return r.c.bench.Create(ctx, blueprint(r.main[i]))
	}); err != nil {
		return err
	}
	created := time.Now()
	ready, err := r.obs.waitReady(ctx, keysOf(r.main), r.cfg.waitTimeout)
	if err != nil {
		return err
	}
	opCPU := r.c.cpu(r.mgr).sub(cpu0)
	took := ready.Sub(t0)
	readyTimes := r.obs.readyTimes(keysOf(r.main), t0)
	logf("%d Blueprints Ready in %s (created in %s); plain client %s", n, took.Round(time.Millisecond), created.Sub(t0).Round(time.Millisecond), baseline.Round(time.Millisecond))

	// Writes that come after Ready would be waste too: count a little past.
	tail := r.cfg.tail
	time.Sleep(tail)
	mgrEvents, err := r.c.audit.Between(userManager, t0, ready.Add(tail))
	if err != nil {
		return err
	}
	benchEvents, err := r.c.audit.Between(userBench, t0, ready)
	if err != nil {
		return err
	}
	per := perBlueprint(mgrEvents)
	mgrSummary := audit.Summarize(mgrEvents)
	benchSummary := audit.Summarize(benchEvents)
	logf("manager: %d requests, %d writes (%s)", mgrSummary.Requests, mgrSummary.Writes, mgrSummary.TopKinds(8))
	r.res.Notes = append(r.res.Notes, fmt.Sprintf(
		"convergence: kube-apiserver CPU per Blueprint %.0f ms with the operator, %.0f ms for the plain client (%.0f ms when it server-side applies); "+
			"requests per Blueprint: manager %.1f writes + %.1f reads, bench %.1f writes (Blueprint create, Deployment status); plain client %.1f writes",
		opCPU.APIServer*1000/float64(n), baseCPU.APIServer*1000/float64(n), ssaCPU.APIServer*1000/float64(n),
		float64(mgrSummary.Writes)/float64(n), float64(mgrSummary.Requests-mgrSummary.Writes)/float64(n),
		float64(benchSummary.Writes)/float64(n), float64(baseSummary.Writes)/float64(n)))

	r.res.add(row{
		Scenario: "convergence", Figure: fmt.Sprintf("%d Blueprints of 3 services created at once: time until all Ready", n),
		Value: took.Seconds(), Unit: "s", Baseline: baseline.Seconds(),
		BaselineOf: fmt.Sprintf("plain client creating the same %d Secrets, Deployments and Services, %d at a time", baseSummary.Writes, workers),
		Ratio:      ptrTo(took.Seconds() / baseline.Seconds()), Target: "ratio ≤ 1.3", Holds: took.Seconds()/baseline.Seconds() <= 1.3,
		Details: map[string]any{
			"blueprintsCreatedSeconds": created.Sub(t0).Seconds(),
			"readySeconds": map[string]float64{
				"p10": percentile(readyTimes, 10).Seconds(), "p50": percentile(readyTimes, 50).Seconds(),
				"p90": percentile(readyTimes, 90).Seconds(), "max": percentile(readyTimes, 100).Seconds(),
			},
			"managerRequests":         mgrSummary,
			"plainClientRequests":     baseSummary,
			"benchRequests":           benchSummary,
			"cpuSeconds":              map[string]cpu{"operator": opCPU, "plainClient": baseCPU, "plainClientApply": ssaCPU},
			"plainClientApplySeconds": ssa.Seconds(),
			"apiserverCPUPerBlueprintMs": map[string]float64{
				"operator":         opCPU.APIServer * 1000 / float64(n),
				"plainClient":      baseCPU.APIServer * 1000 / float64(n),
				"plainClientApply": ssaCPU.APIServer * 1000 / float64(n),
			},
			"requestsPerBlueprint": map[string]float64{
				"managerReads":  float64(mgrSummary.Requests-mgrSummary.Writes) / float64(n),
				"managerWrites": float64(mgrSummary.Writes) / float64(n),
				"benchWrites":   float64(benchSummary.Writes) / float64(n),
				"plainClient":   float64(baseSummary.Writes) / float64(n),
			},
			"apiServerWritesPerSecond": map[string]float64{
				"plainClient": float64(baseSummary.Writes) / baseline.Seconds(),
				"operator":    float64(mgrSummary.Writes+benchSummary.Writes) / took.Seconds(),
			},
		},
	})

	st := per.stats()
	floor := st.MeanCreates + 1
	r.res.add(row{
		Scenario: "creation-writes", Figure: "server-side writes per Blueprint at creation (the most of any Blueprint)",
		Value: float64(st.MaxCreation), Unit: "writes", Baseline: floor,
		BaselineOf: fmt.Sprintf("objects created per Blueprint (%.0f, an Event included) + 1 status write", st.MeanCreates),
		Ratio:      ptrTo(float64(st.MaxCreation) / floor), Target: "≤ objects created + 1 status write",
		Holds: st.Blueprints == len(r.main) && st.WorstExcess <= 0,
		Details: map[string]any{
			"perBlueprint": st,
			"definition": "creation: every object the manager created for the Blueprint, every other write before its last create, and the one status write after it; " +
				"rollout (not counted): status writes after that, as its Deployments report progress (the last says Ready). " +
				fmt.Sprintf("Counted from creation until %s after all are Ready.", r.cfg.tail),
		},
	})
	return nil
}

// bpName maps an object name of the bench's sets to its Blueprint's suffix:
// bp-0042, bp-0042-generated, web-0042, bp-0042.<event> give 0042.
var bpSuffix = regexp.MustCompile(`-(\d{4}|s\d{3})(?:$|[-.])`)

// bpWrites are the manager's writes for one Blueprint, in the order the
// API server received them.
type bpWrites struct {
	events []audit.Event
}

// split divides a Blueprint's writes into creation and rollout: creation is
// every object created, every other write up to the last create, and the
// first status write after it (the reconcile that creates the objects ends
// with one status write); rollout is the status writes after that, made as
// its Deployments report progress. A write of anything else after the
// objects exist is waste, and counts as creation too.
func (w *bpWrites) split() (creates, creation, rollout int) {
	last := -1
	for i, e := range w.events {
		if e.Created() {
			last = i
		}
	}
	firstStatus := true
	for i, e := range w.events {
		isStatus := e.Resource == "blueprints" && e.Subresource == "status"
		switch {
		case e.Created():
			creates++
			creation++
		case isStatus && i > last && firstStatus:
			firstStatus = false
			creation++
		case isStatus && i > last:
			rollout++
		default:
			creation++
		}
	}
	return creates, creation, rollout
}

type perBP map[string]*bpWrites

func perBlueprint(events []audit.Event) perBP {
	out := perBP{}
	sorted := append([]audit.Event(nil), events...)
	sort.SliceStable(sorted, func(i, j int) bool { return sorted[i].Received.Before(sorted[j].Received) })
	for _, e := range sorted {
		if !e.Write() {
			continue
		}
		m := bpSuffix.FindStringSubmatch(e.Name)
		if m == nil {
			continue
		}
		w := out[m[1]]
		if w == nil {
			w = &bpWrites{}
			out[m[1]] = w
		}
		w.events = append(w.events, e)
	}
	return out
}

// creationStats summarises creation writes per Blueprint.
type creationStats struct {
	Blueprints int `json:"blueprints"`
	// WorstExcess is the most creation writes of any Blueprint beyond its
	// objects created plus one status write; ≤ 0 meets the target.
	WorstExcess  int            `json:"worstExcess"`
	MaxCreation  int            `json:"maxCreationWrites"`
	MeanCreation float64        `json:"meanCreationWrites"`
	MeanCreates  float64        `json:"meanObjectsCreated"`
	MeanRollout  float64        `json:"meanRolloutStatusWrites"`
	MaxRollout   int            `json:"maxRolloutStatusWrites"`
	Worst        string         `json:"worstBlueprint,omitempty"`
	WorstWrites  map[string]int `json:"worstBlueprintWrites,omitempty"`
}

func (p perBP) stats() creationStats {
	st := creationStats{Blueprints: len(p), WorstExcess: -1 << 30}
	for name, w := range p {
		creates, creation, rollout := w.split()
		if excess := creation - creates - 1; excess > st.WorstExcess {
			st.WorstExcess, st.Worst = excess, name
			st.WorstWrites = map[string]int{}
			for _, e := range w.events {
				st.WorstWrites[e.Kind()]++
			}
		}
		st.MaxCreation = max(st.MaxCreation, creation)
		st.MaxRollout = max(st.MaxRollout, rollout)
		st.MeanCreation += float64(creation)
		st.MeanCreates += float64(creates)
		st.MeanRollout += float64(rollout)
	}
	if len(p) > 0 {
		n := float64(len(p))
		st.MeanCreation /= n
		st.MeanCreates /= n
		st.MeanRollout /= n
	}
	return st
}

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

func patchSecret(ctx context.Context, c client.Client, ns, name string) error {
	s := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}}
	patch := []byte(fmt.Sprintf(`{"stringData":{%q:%q}}`, refKey, randomHex(32)))
	return c.Patch(ctx, s, client.RawPatch(types.MergePatchType, patch))
}

func patchDigest(ctx context.Context, c client.Client, key types.NamespacedName) error {
	d := &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Namespace: key.Namespace, Name: key.Name}}
	patch := []byte(fmt.Sprintf(`{"spec":{"template":{"metadata":{"annotations":{%q:%q}}}}}`, staxv1alpha1.SecretsDigestAnnotation, randomHex(64)))
	return c.Patch(ctx, d, client.RawPatch(types.MergePatchType, patch))
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

// restart: with every Blueprint Ready and quiet, the manager is restarted;
// its writes are counted for a window after its caches sync. Its peak RSS
// is the memory figure's baseline.
func (r *runner) restart(ctx context.Context) error {
	all := append(keysOf(r.main), keysOf(r.shared)...)
	if _, err := r.obs.waitReady(ctx, all, r.cfg.waitTimeout); err != nil {
		return err
	}
	if err := r.quiet(ctx, 2*time.Second); err != nil {
		return err
	}
	if err := r.stopManager(); err != nil {
		return err
	}
	synced, err := r.startManager(ctx)
	if err != nil {
		return err
	}
	started := r.mgr.Started
	cpu0 := r.c.cpu(r.mgr)
	mem, err := r.memoryAfter(ctx, synced)
	if err != nil {
		return err
	}
	r.res.restartMemory = mem
	if d := time.Until(synced.Add(r.cfg.restartWindow)); d > 0 {
		select {
		case <-time.After(d):
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	end := synced.Add(r.cfg.restartWindow)
	window, err := r.c.audit.Between(userManager, synced, end)
	if err != nil {
		return err
	}
	before, err := r.c.audit.Between(userManager, started, synced)
	if err != nil {
		return err
	}
	s, sb := audit.Summarize(window), audit.Summarize(before)
	cpuUsed := r.c.cpu(r.mgr).sub(cpu0)
	logf("restart: %d writes in %s after sync (%d requests: %s); %d writes before sync", s.Writes, r.cfg.restartWindow, s.Requests, s.TopKinds(6), sb.Writes)
	r.res.add(row{
		Scenario: "restart-writes", Figure: fmt.Sprintf("steady state, manager restarted with all %d Blueprints in place: writes in the %s after caches sync", len(all), r.cfg.restartWindow),
		Value: float64(s.Writes), Unit: "writes", Baseline: 0, BaselineOf: "no change to make",
		Target: "0", Holds: s.Writes == 0 && sb.Writes == 0,
		Details: map[string]any{"requestsInWindow": s, "requestsBeforeSync": sb, "peakRSS": mem, "syncSeconds": synced.Sub(started).Seconds(), "cpuSeconds": cpuUsed},
	})
	return nil
}

// memoryAfter reads the manager's peak RSS once it has run rss-settle past
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
