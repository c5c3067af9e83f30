package main

import (
	"context"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	goruntime "runtime"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"text/tabwriter"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	corev1ac "k8s.io/client-go/applyconfigurations/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	staxv1alpha1 "github.com/stax-dev/blueprint-operator/api/v1alpha1"
	"github.com/stax-dev/blueprint-operator/bench/internal/audit"
	"github.com/stax-dev/blueprint-operator/bench/internal/proc"
	"github.com/stax-dev/blueprint-operator/internal/testutil"
)

// controllerName is the Blueprint controller's name in the manager's
// metrics (Named("blueprint") in internal/controller/setup.go).
const controllerName = "blueprint"

// phase is one timed creation of N Blueprints: by the operator, or by the
// plain client that is its floor.
type phase struct {
	// Seconds is from the first Blueprint create until the bench saw the
	// last Blueprint Ready.
	Seconds float64 `json:"seconds"`
	// CPU is the CPU seconds each process used during the phase.
	CPU                        cpu     `json:"cpuSeconds"`
	APIServerCPUPerBlueprintMs float64 `json:"apiserverCPUPerBlueprintMs"`
	// APIServerCores and MachineCores are CPU seconds per second of the
	// phase: kube-apiserver's, and that of every process measured
	// (kube-apiserver, etcd, manager, bench) together.
	APIServerCores float64            `json:"apiserverCores"`
	MachineCores   float64            `json:"machineCores"`
	ReadySeconds   map[string]float64 `json:"readySeconds"`
	// Requests are the requests of the phase's actor (manager or plain
	// client); BenchRequests the bench's (Blueprint creates, Deployment
	// status as their controller).
	Requests      audit.Summary `json:"requests"`
	BenchRequests audit.Summary `json:"benchRequests"`
}

func newPhase(n int, took time.Duration, used cpu, ready []time.Duration, reqs, bench audit.Summary) phase {
	s := took.Seconds()
	return phase{
		Seconds: s, CPU: used,
		APIServerCPUPerBlueprintMs: used.APIServer * 1000 / float64(n),
		APIServerCores:             used.APIServer / s,
		MachineCores:               (used.APIServer + used.Etcd + used.Manager + used.Bench) / s,
		ReadySeconds: map[string]float64{
			"p50": percentile(ready, 50).Seconds(), "p90": percentile(ready, 90).Seconds(), "max": percentile(ready, 100).Seconds(),
		},
		Requests: reqs, BenchRequests: bench,
	}
}

type meanMax struct {
	Mean float64 `json:"mean"`
	Max  int     `json:"max"`
}

// creationRequests are the manager's requests for each Blueprint from its
// creation until tail past the last Ready, attributed to a Blueprint by
// the name of the object asked for.
type creationRequests struct {
	Blueprints int `json:"blueprints"`
	// Objects are the rendered objects created (Secret, Deployments,
	// Services); StatusWrites the Blueprint status writes; Events the Events
	// created; OtherWrites every other write (a re-apply, an update);
	// Reads the GETs of a named object.
	Objects      meanMax `json:"objects"`
	StatusWrites meanMax `json:"statusWrites"`
	Events       meanMax `json:"events"`
	OtherWrites  meanMax `json:"otherWrites"`
	Reads        meanMax `json:"reads"`
	// Unattributed are requests that name no Blueprint's object (lists,
	// watches), for all Blueprints together.
	Unattributed int `json:"unattributedRequests"`
	// Worst is the Blueprint with the most requests beyond its objects.
	Worst         string         `json:"worstBlueprint,omitempty"`
	WorstRequests map[string]int `json:"worstBlueprintRequests,omitempty"`
	// Holds: every Blueprint was seen, and none sent more than its objects,
	// one more write (its status) and two reads.
	Holds      bool   `json:"holds"`
	Definition string `json:"definition"`
}

type bpCount struct{ objects, status, events, other, reads int }

func countCreation(events []audit.Event, n int) creationRequests {
	per := map[string]*bpCount{}
	kinds := map[string]map[string]int{}
	out := creationRequests{Definition: "the manager's requests from the first Blueprint's creation until tail past the last Ready, " +
		"attributed to a Blueprint by object name; objects: rendered objects created (Secret, Deployments, Services); " +
		"extra writes: status writes, Events and any other write; reads: GETs of a named object. " +
		"Target per Blueprint: objects + 1 extra write (its status) + at most 2 reads."}
	for _, e := range events {
		m := bpSuffix.FindStringSubmatch(e.Name)
		if m == nil {
			out.Unattributed++
			continue
		}
		c := per[m[1]]
		if c == nil {
			c = &bpCount{}
			per[m[1]] = c
			kinds[m[1]] = map[string]int{}
		}
		kinds[m[1]][e.Kind()]++
		switch {
		case e.Write() && e.Resource == "blueprints" && e.Subresource == "status":
			c.status++
		case e.Write() && e.Resource == "events":
			c.events++
		case e.Created():
			c.objects++
		case e.Write():
			c.other++
		case e.Verb == "get":
			c.reads++
		default:
			out.Unattributed++
		}
	}
	out.Blueprints = len(per)
	out.Holds = len(per) == n
	names := make([]string, 0, len(per))
	for name := range per {
		names = append(names, name)
	}
	sort.Strings(names)
	worst := -1
	acc := func(mm *meanMax, v int) {
		mm.Mean += float64(v)
		mm.Max = max(mm.Max, v)
	}
	for _, name := range names {
		c := per[name]
		acc(&out.Objects, c.objects)
		acc(&out.StatusWrites, c.status)
		acc(&out.Events, c.events)
		acc(&out.OtherWrites, c.other)
		acc(&out.Reads, c.reads)
		if c.status+c.events+c.other > 1 || c.reads > 2 {
			out.Holds = false
		}
		if extra := c.status + c.events + c.other + c.reads; extra > worst {
			worst, out.Worst, out.WorstRequests = extra, name, kinds[name]
		}
	}
	if k := float64(len(per)); k > 0 {
		for _, mm := range []*meanMax{&out.Objects, &out.StatusWrites, &out.Events, &out.OtherWrites, &out.Reads} {
			mm.Mean /= k
		}
	}
	return out
}

// curvePoint is everything measured at one Blueprint count.
type curvePoint struct {
	Blueprints           int    `json:"blueprints"`
	ServicesPerBlueprint int    `json:"servicesPerBlueprint"`
	Run                  string `json:"run"`
	// CPUs is how many the machine had.
	CPUs int `json:"cpus"`
	// Operator: the manager converging the Blueprints; Floor: a plain
	// client server-side applying the same objects and writing each
	// Blueprint's status once, at the manager's concurrency.
	Operator phase   `json:"operator"`
	Floor    phase   `json:"floor"`
	Ratio    float64 `json:"ratio"`
	// APIServerCPURatio is kube-apiserver CPU per Blueprint, operator over
	// floor.
	APIServerCPURatio float64          `json:"apiserverCPURatio"`
	Creation          creationRequests `json:"creationRequestsPerBlueprint"`
	Memory            struct {
		// EmptyPeakKiB is an empty manager's peak (no Blueprint at all, in
		// this run), read as RestartPeakKiB is.
		EmptyPeakKiB int64 `json:"emptyPeakKiB"`
		// ConvergencePeakKiB is the converging manager's peak, read tail
		// past the last Ready.
		ConvergencePeakKiB int64 `json:"convergencePeakKiB"`
		// RestartPeakKiB is the restarted manager's peak, read once it has
		// resynced and run rss-settle past its caches' sync.
		RestartPeakKiB int64 `json:"restartPeakKiB"`
		// PerBlueprintKiB is (RestartPeakKiB − EmptyPeakKiB) / Blueprints.
		PerBlueprintKiB float64 `json:"perBlueprintKiB"`
	} `json:"memory"`
	Steady struct {
		WindowSeconds float64 `json:"windowSeconds"`
		Writes        int     `json:"writes"`
		// Reconciles is how many reconciles the manager reported during the
		// window (controller_runtime_reconcile_total).
		Reconciles float64       `json:"reconciles"`
		Requests   audit.Summary `json:"requests"`
	} `json:"steady"`
	Restart struct {
		CacheSyncSeconds float64 `json:"cacheSyncSeconds"`
		// ResyncSeconds is from the restarted process's start until every
		// Blueprint has been reconciled once and its workqueue is empty.
		ResyncSeconds        float64       `json:"resyncSeconds"`
		WritesDuringResync   int           `json:"writesDuringResync"`
		WindowSeconds        float64       `json:"windowSeconds"`
		WritesInWindow       int           `json:"writesInWindow"`
		Reconciles           float64       `json:"reconcilesDuringResync"`
		RequestsDuringResync audit.Summary `json:"requestsDuringResync"`
		RequestsInWindow     audit.Summary `json:"requestsInWindow"`
		Signal               string        `json:"signal"`
	} `json:"restart"`
}

// curveScenarios are the rows finish derives from the curve; old names
// included, so a merge drops rows an older bench wrote for them.
var curveScenarios = []string{"convergence", "apiserver-cpu", "creation-requests", "steady-writes", "restart-writes", "creation-writes"}

func isCurveRow(s string) bool {
	for _, c := range curveScenarios {
		if s == c {
			return true
		}
	}
	return false
}

// targetPoint is the point the 1,000-Blueprint targets are read at: 1,000,
// or else the largest size below it, or else the smallest.
func targetPoint(points []curvePoint) (curvePoint, bool) {
	if len(points) == 0 {
		return curvePoint{}, false
	}
	best := -1
	for i, p := range points {
		if p.Blueprints <= 1000 {
			best = i
		}
	}
	if best < 0 {
		best = 0
	}
	return points[best], true
}

func limitOf(p curvePoint) string {
	return fmt.Sprintf("kube-apiserver used %.2f cores, all measured processes %.2f, of the machine's %d (operator phase)", p.Operator.APIServerCores, p.Operator.MachineCores, p.CPUs)
}

// curveRows are the target rows read from the curve.
func curveRows(points []curvePoint) []row {
	t, ok := targetPoint(points)
	if !ok {
		return nil
	}
	at := func(n, stated int) string {
		if n == stated {
			return fmt.Sprintf("%d Blueprints", n)
		}
		return fmt.Sprintf("%d Blueprints (target stated at %d, not measured)", n, stated)
	}
	var out []row
	ratio := t.Ratio
	conv := row{
		Scenario: "convergence", Blueprints: t.Blueprints, Run: t.Run,
		Figure: fmt.Sprintf("%s of %d services created at once: time until all Ready", at(t.Blueprints, 1000), t.ServicesPerBlueprint),
		Value:  t.Operator.Seconds, Unit: "s", Baseline: t.Floor.Seconds,
		BaselineOf: "plain client server-side applying the same objects and writing each Blueprint's status once, at the manager's concurrency",
		Ratio:      &ratio, Target: "ratio ≤ 1.5", Holds: ratio <= 1.5,
	}
	if !conv.Holds {
		conv.Limit = limitOf(t)
	}
	out = append(out, conv)
	cr := t.APIServerCPURatio
	cpuRow := row{
		Scenario: "apiserver-cpu", Blueprints: t.Blueprints, Run: t.Run,
		Figure: fmt.Sprintf("kube-apiserver CPU per Blueprint while %s converge", at(t.Blueprints, 1000)),
		Value:  t.Operator.APIServerCPUPerBlueprintMs, Unit: "ms", Baseline: t.Floor.APIServerCPUPerBlueprintMs,
		BaselineOf: "the same floor", Ratio: &cr, Target: "ratio ≤ 1.5", Holds: cr <= 1.5,
	}
	if !cpuRow.Holds {
		cpuRow.Limit = limitOf(t)
	}
	out = append(out, cpuRow)
	c := t.Creation
	out = append(out, row{
		Scenario: "creation-requests", Blueprints: t.Blueprints, Run: t.Run,
		Figure: fmt.Sprintf("manager requests per Blueprint at creation, %s (the most of any Blueprint)", at(t.Blueprints, 1000)),
		Value:  float64(c.Objects.Max + c.StatusWrites.Max + c.Events.Max + c.OtherWrites.Max + c.Reads.Max), Unit: "requests",
		ValueText: fmt.Sprintf("%d objects + %d status + %d Events + %d other writes + %d reads",
			c.Objects.Max, c.StatusWrites.Max, c.Events.Max, c.OtherWrites.Max, c.Reads.Max),
		Baseline: float64(c.Objects.Max + 3), BaselineText: fmt.Sprintf("%d objects + 1 status write + 2 reads", c.Objects.Max),
		BaselineOf: "the objects, one status write and at most two reads", Target: "≤ objects + 1 status write + 2 reads", Holds: c.Holds,
		Details: map[string]any{"mean": map[string]float64{
			"objects": c.Objects.Mean, "statusWrites": c.StatusWrites.Mean, "events": c.Events.Mean, "otherWrites": c.OtherWrites.Mean, "reads": c.Reads.Mean,
		}},
	})
	l := points[len(points)-1]
	steadyHolds, restartHolds := true, true
	for _, p := range points {
		steadyHolds = steadyHolds && p.Steady.Writes == 0
		restartHolds = restartHolds && p.Restart.WritesDuringResync == 0 && p.Restart.WritesInWindow == 0
	}
	out = append(out, row{
		Scenario: "steady-writes", Blueprints: l.Blueprints, Run: l.Run,
		Figure: fmt.Sprintf("steady state, %s Ready and nothing changing: manager writes in %.0f s (0 at every size measured for holds)", at(l.Blueprints, 10000), l.Steady.WindowSeconds),
		Value:  float64(l.Steady.Writes), Unit: "writes", BaselineOf: "no change to make", Target: "0", Holds: steadyHolds,
	})
	out = append(out, row{
		Scenario: "restart-writes", Blueprints: l.Blueprints, Run: l.Run,
		Figure: fmt.Sprintf("manager restarted with %s in place: writes during resync (%.1f s) and in the %.0f s after (0 at every size measured for holds)",
			at(l.Blueprints, 10000), l.Restart.ResyncSeconds, l.Restart.WindowSeconds),
		Value: float64(l.Restart.WritesDuringResync + l.Restart.WritesInWindow), Unit: "writes",
		ValueText:  fmt.Sprintf("%d + %d writes", l.Restart.WritesDuringResync, l.Restart.WritesInWindow),
		BaselineOf: "no change to make", Target: "0", Holds: restartHolds,
	})
	return out
}

func printCurve(w io.Writer, points []curvePoint) {
	if len(points) == 0 {
		return
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "Blueprints\tconverge\tfloor\tratio\tapiserver ms/BP\tfloor\tratio\tpeak RSS\tKiB/BP\tresync\tresync+window writes\tsteady writes")
	for _, p := range points {
		fmt.Fprintf(tw, "%d\t%.2f s\t%.2f s\t%.2f\t%.1f\t%.1f\t%.2f\t%.1f MiB\t%.1f\t%.2f s\t%d+%d\t%d\n", p.Blueprints,
			p.Operator.Seconds, p.Floor.Seconds, p.Ratio, p.Operator.APIServerCPUPerBlueprintMs, p.Floor.APIServerCPUPerBlueprintMs, p.APIServerCPURatio,
			float64(p.Memory.RestartPeakKiB)/1024, p.Memory.PerBlueprintKiB, p.Restart.ResyncSeconds, p.Restart.WritesDuringResync, p.Restart.WritesInWindow, p.Steady.Writes)
	}
	_ = tw.Flush()
}

// curve measures one size on a fresh cluster: the floor, the operator's
// convergence, a steady window and a restart. The manager is left running
// with every Blueprint Ready.
func (r *runner) curve(ctx context.Context) error {
	n := len(r.main)
	var p curvePoint
	p.Blueprints, p.ServicesPerBlueprint, p.CPUs = n, 3, goruntime.NumCPU()
	if r.emptyPeak == nil {
		// An empty manager, once per run, on the first size's cluster
		// before any Blueprint exists.
		synced, err := r.startManager(ctx)
		if err != nil {
			return err
		}
		mem, err := r.memoryAfter(ctx, synced)
		if err != nil {
			return err
		}
		if err := r.stopManager(); err != nil {
			return err
		}
		logf("empty manager peak RSS %d KiB", mem.PeakKiB)
		r.emptyPeak = &mem
	}
	p.Memory.EmptyPeakKiB = r.emptyPeak.PeakKiB

	floor, err := r.floor(ctx)
	if err != nil {
		return fmt.Errorf("floor: %w", err)
	}
	p.Floor = floor
	// The operator gets a fresh control plane too, as the floor had: deleting
	// the floor's objects instead took 23 minutes at 10,000 Blueprints, and
	// would leave the operator's etcd larger than the floor's.
	if err := r.replaceControlPlane(ctx, n, "operator"); err != nil {
		return fmt.Errorf("fresh control plane for the operator: %w", err)
	}

	op, creation, convPeak, err := r.converge(ctx)
	if err != nil {
		return err
	}
	p.Operator, p.Creation = op, creation
	p.Memory.ConvergencePeakKiB = convPeak.PeakKiB
	p.Ratio = op.Seconds / floor.Seconds
	p.APIServerCPURatio = op.APIServerCPUPerBlueprintMs / floor.APIServerCPUPerBlueprintMs

	// Steady state: nothing changes; the manager must write nothing.
	q0, err := r.queue(ctx)
	if err != nil {
		return err
	}
	s0 := time.Now()
	if err := sleepCtx(ctx, r.cfg.steadyWindow); err != nil {
		return err
	}
	q1, err := r.queue(ctx)
	if err != nil {
		return err
	}
	steady, err := r.c.audit.Between(userManager, s0, s0.Add(r.cfg.steadyWindow))
	if err != nil {
		return err
	}
	ss := audit.Summarize(steady)
	p.Steady.WindowSeconds, p.Steady.Writes, p.Steady.Requests, p.Steady.Reconciles = r.cfg.steadyWindow.Seconds(), ss.Writes, ss, q1.reconciles-q0.reconciles
	logf("steady state: %d writes, %d requests, %.0f reconciles in %s", ss.Writes, ss.Requests, p.Steady.Reconciles, r.cfg.steadyWindow)

	// Restart.
	if err := r.stopManager(); err != nil {
		return err
	}
	synced, err := r.startManager(ctx)
	if err != nil {
		return err
	}
	started := r.mgr.Started
	resynced, q, err := r.waitResynced(ctx, n)
	if err != nil {
		return err
	}
	mem, err := r.memoryAfter(ctx, maxTime(synced, resynced.Add(-r.cfg.rssSettle)))
	if err != nil {
		return err
	}
	r.res.restartMemory = mem
	if err := sleepCtx(ctx, time.Until(resynced.Add(r.cfg.restartWindow))); err != nil {
		return err
	}
	during, err := r.c.audit.Between(userManager, started, resynced)
	if err != nil {
		return err
	}
	after, err := r.c.audit.Between(userManager, resynced, resynced.Add(r.cfg.restartWindow))
	if err != nil {
		return err
	}
	sd, sa := audit.Summarize(during), audit.Summarize(after)
	p.Restart.CacheSyncSeconds = synced.Sub(started).Seconds()
	p.Restart.ResyncSeconds = resynced.Sub(started).Seconds()
	p.Restart.WritesDuringResync, p.Restart.WritesInWindow = sd.Writes, sa.Writes
	p.Restart.RequestsDuringResync, p.Restart.RequestsInWindow = sd, sa
	p.Restart.WindowSeconds = r.cfg.restartWindow.Seconds()
	p.Restart.Reconciles = q.reconciles
	p.Restart.Signal = fmt.Sprintf("the manager's metrics: controller_runtime_reconcile_total{controller=%q} ≥ %d, workqueue_depth 0 and controller_runtime_active_workers 0", controllerName, n)
	p.Memory.RestartPeakKiB = mem.PeakKiB
	p.Memory.PerBlueprintKiB = float64(mem.PeakKiB-p.Memory.EmptyPeakKiB) / float64(n)
	logf("restart: resynced %d Blueprints in %s (%.0f reconciles); %d writes during resync, %d in the %s after; peak RSS %d KiB",
		n, resynced.Sub(started).Round(time.Millisecond), q.reconciles, sd.Writes, sa.Writes, r.cfg.restartWindow, mem.PeakKiB)
	r.res.addPoint(p)
	return nil
}

func maxTime(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
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

// floorRefs are r.main's Blueprints in namespaces of the floor's own.
func (r *runner) floorRefs() []bpRef {
	out := make([]bpRef, len(r.main))
	for i, ref := range r.main {
		ref.Namespace = "floor-" + strings.TrimPrefix(ref.Namespace, "bp-")
		out[i] = ref
	}
	return out
}

// floor: what the operator cannot avoid, done by a plain client at the
// manager's concurrency and rate limits: server-side apply each Blueprint's
// Secret, Deployments and Services, and once its Deployments are available
// (the bench plays their controller, as for the operator), write its
// status once (Ready). The bench creates the Blueprints in the timed
// window, as in the operator's phase, and the phase ends as the operator's
// does: when the bench sees the last Blueprint Ready. The caller then
// replaces the control plane, so the manager never sees the floor's objects.
func (r *runner) floor(ctx context.Context) (phase, error) {
	refs := r.floorRefs()
	n := len(refs)
	workers := max(r.knobs.MaxConcurrentReconciles, 1)
	nss := namespacesOf(refs)
	if err := createNamespaces(ctx, r.c.bench, nss...); err != nil {
		return phase{}, err
	}
	applies := make([][]runtime.ApplyConfiguration, n)
	deps := make([][]types.NamespacedName, n)
	secretNames := make([]string, n)
	for i, ref := range refs {
		objs, acs, err := renderPlain(ref, ref.Namespace)
		if err != nil {
			return phase{}, err
		}
		s := objs[0].(*corev1.Secret)
		secretNames[i] = s.Name
		applies[i] = append([]runtime.ApplyConfiguration{
			corev1ac.Secret(s.Name, s.Namespace).WithLabels(s.Labels).WithAnnotations(s.Annotations).WithType(s.Type).WithData(s.Data),
		}, acs...)
		for _, o := range objs {
			if _, ok := o.(*appsv1.Deployment); ok {
				deps[i] = append(deps[i], types.NamespacedName{Namespace: o.GetNamespace(), Name: o.GetName()})
			}
		}
	}
	plain, err := client.New(r.c.baselineConfig, client.Options{Scheme: scheme})
	if err != nil {
		return phase{}, err
	}
	// Discovery before the clock starts: the manager has its REST
	// mappings before its phase, too.
	for _, obj := range []client.Object{&corev1.Secret{}, &appsv1.Deployment{}, &corev1.Service{}, &staxv1alpha1.Blueprint{}} {
		if _, err := plain.GroupVersionKindFor(obj); err != nil {
			return phase{}, err
		}
		gvk, _ := plain.GroupVersionKindFor(obj)
		if _, err := plain.RESTMapper().RESTMapping(gvk.GroupKind(), gvk.Version); err != nil {
			return phase{}, err
		}
	}
	if _, err := r.c.audit.WaitQuiet(ctx, userBench, time.Second, r.cfg.waitTimeout); err != nil {
		return phase{}, err
	}

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var once sync.Once
	var firstErr error
	fail := func(err error) {
		once.Do(func() { firstErr = err; cancel() })
	}
	gens := make([]atomic.Int64, n)
	applied := make(chan int, n)
	type job struct {
		i      int
		status bool
	}
	jobs := make(chan job, 2*n)
	for i := range n {
		jobs <- job{i: i}
	}
	status := func(ctx context.Context, i int) error {
		bp, patch := floorStatusEdit(refs[i].key(), gens[i].Load(), secretNames[i], metav1.Now())
		return plain.Status().Patch(ctx, bp, patch)
	}

	cpu0 := r.c.cpu(nil)
	t0 := time.Now()
	var wg sync.WaitGroup
	// The bench creates the Blueprints, as in the operator's phase.
	wg.Add(1)
	go func() {
		defer wg.Done()
		if err := parallel(ctx, n, r.cfg.benchWorkers, func(ctx context.Context, i int) error {
			bp := blueprint(refs[i])
			if err := r.c.bench.Create(ctx, bp); err != nil {
				return err
			}
			gens[i].Store(bp.Generation)
			return nil
		}); err != nil {
			fail(err)
		}
	}()
	// The plain client's workers apply objects, and write a status once
	// the watcher below finds a Blueprint's Deployments available.
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				var j job
				var ok bool
				select {
				case <-ctx.Done():
					return
				case j, ok = <-jobs:
					if !ok {
						return
					}
				}
				if j.status {
					if err := status(ctx, j.i); err != nil {
						fail(fmt.Errorf("plain client writing status of %s: %w", refs[j.i].key(), err))
						return
					}
					continue
				}
				for _, ac := range applies[j.i] {
					if err := plain.Apply(ctx, ac, client.FieldOwner("bench-floor")); err != nil {
						fail(fmt.Errorf("plain client applying for %s: %w", refs[j.i].key(), err))
						return
					}
				}
				applied <- j.i
			}
		}()
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		defer close(jobs)
		var pending []int
		tick := time.NewTicker(5 * time.Millisecond)
		defer tick.Stop()
		for done := 0; done < n; {
			select {
			case <-ctx.Done():
				return
			case i := <-applied:
				pending = append(pending, i)
				continue
			case <-tick.C:
			}
			kept := pending[:0]
			for _, i := range pending {
				if gens[i].Load() > 0 && r.available(ctx, deps[i]) {
					jobs <- job{i: i, status: true}
					done++
				} else {
					kept = append(kept, i)
				}
			}
			pending = kept
		}
	}()
	ready, err := r.obs.waitReady(ctx, keysOf(refs), r.timeoutFor(n))
	if err != nil {
		fail(err)
	}
	wg.Wait()
	if firstErr != nil {
		return phase{}, firstErr
	}
	used := r.c.cpu(nil).sub(cpu0)
	took := ready.Sub(t0)
	plainEv, err := r.c.audit.Between(userBaseline, t0, ready)
	if err != nil {
		return phase{}, err
	}
	benchEv, err := r.c.audit.Between(userBench, t0, ready)
	if err != nil {
		return phase{}, err
	}
	ph := newPhase(n, took, used, r.obs.readyTimes(keysOf(refs), t0), audit.Summarize(plainEv), audit.Summarize(benchEv))
	logf("floor: %d Blueprints Ready in %s; plain client %s; kube-apiserver %.1f ms per Blueprint",
		n, took.Round(time.Millisecond), ph.Requests.TopKinds(6), ph.APIServerCPUPerBlueprintMs)

	return ph, nil
}

// available reports whether the bench sees every Deployment of keys rolled
// out.
func (r *runner) available(ctx context.Context, keys []types.NamespacedName) bool {
	for _, k := range keys {
		d := &appsv1.Deployment{}
		if err := r.c.cache.Get(ctx, k, d); err != nil || testutil.NeedsRollout(d) {
			return false
		}
	}
	return true
}

// converge starts the manager, creates r.main's Blueprints at once and
// times them until all are Ready; the manager is left running.
func (r *runner) converge(ctx context.Context) (phase, creationRequests, proc.Memory, error) {
	n := len(r.main)
	// Inputs the Blueprints reference exist before they do.
	if err := createNamespaces(ctx, r.c.bench, namespacesOf(r.main)...); err != nil {
		return phase{}, creationRequests{}, proc.Memory{}, err
	}
	if err := parallel(ctx, n, r.cfg.benchWorkers, func(ctx context.Context, i int) error {
		return r.c.bench.Create(ctx, refSecret(r.main[i].Namespace, r.main[i].RefSecret))
	}); err != nil {
		return phase{}, creationRequests{}, proc.Memory{}, err
	}
	if _, err := r.startManager(ctx); err != nil {
		return phase{}, creationRequests{}, proc.Memory{}, err
	}
	if err := r.quiet(ctx, time.Second); err != nil {
		return phase{}, creationRequests{}, proc.Memory{}, err
	}
	cpu0 := r.c.cpu(r.mgr)
	t0 := time.Now()
	if err := parallel(ctx, n, r.cfg.benchWorkers, func(ctx context.Context, i int) error {
		return r.c.bench.Create(ctx, blueprint(r.main[i]))
	}); err != nil {
		return phase{}, creationRequests{}, proc.Memory{}, err
	}
	created := time.Now()
	ready, err := r.obs.waitReady(ctx, keysOf(r.main), r.timeoutFor(n))
	if err != nil {
		return phase{}, creationRequests{}, proc.Memory{}, err
	}
	used := r.c.cpu(r.mgr).sub(cpu0)
	took := ready.Sub(t0)
	readyTimes := r.obs.readyTimes(keysOf(r.main), t0)
	logf("%d Blueprints Ready in %s (created in %s)", n, took.Round(time.Millisecond), created.Sub(t0).Round(time.Millisecond))
	// Requests that come after Ready would be waste too: count a little
	// past.
	if err := sleepCtx(ctx, r.cfg.tail); err != nil {
		return phase{}, creationRequests{}, proc.Memory{}, err
	}
	mem, err := proc.ReadMemory(r.mgr.PID())
	if err != nil {
		return phase{}, creationRequests{}, proc.Memory{}, err
	}
	mgrEv, err := r.c.audit.Between(userManager, t0, ready.Add(r.cfg.tail))
	if err != nil {
		return phase{}, creationRequests{}, proc.Memory{}, err
	}
	benchEv, err := r.c.audit.Between(userBench, t0, ready)
	if err != nil {
		return phase{}, creationRequests{}, proc.Memory{}, err
	}
	ph := newPhase(n, took, used, readyTimes, audit.Summarize(mgrEv), audit.Summarize(benchEv))
	cr := countCreation(mgrEv, n)
	logf("manager: %d requests, %d writes (%s); kube-apiserver %.1f ms per Blueprint", ph.Requests.Requests, ph.Requests.Writes, ph.Requests.TopKinds(8), ph.APIServerCPUPerBlueprintMs)
	return ph, cr, mem, nil
}

// queueState is what the manager's metrics say about the Blueprint
// controller.
type queueState struct {
	reconciles, depth, active float64
}

// queue reads the manager's metrics endpoint.
func (r *runner) queue(ctx context.Context) (queueState, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, r.metricsURL, nil)
	if err != nil {
		return queueState{}, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return queueState{}, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return queueState{}, fmt.Errorf("manager metrics: %s", resp.Status)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(resp.Body)
	if err != nil {
		return queueState{}, err
	}
	return queueFromMetrics(fams)
}

func queueFromMetrics(fams map[string]*dto.MetricFamily) (queueState, error) {
	sum := func(name, label string) (float64, bool) {
		f, ok := fams[name]
		if !ok {
			return 0, false
		}
		var v float64
		found := false
		for _, m := range f.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == label && l.GetValue() == controllerName {
					found = true
					switch {
					case m.Counter != nil:
						v += m.GetCounter().GetValue()
					case m.Gauge != nil:
						v += m.GetGauge().GetValue()
					}
				}
			}
		}
		return v, found
	}
	var q queueState
	var ok bool
	// The counter appears with the first reconcile.
	q.reconciles, _ = sum("controller_runtime_reconcile_total", "controller")
	if q.depth, ok = sum("workqueue_depth", "name"); !ok {
		return q, fmt.Errorf("manager metrics have no workqueue_depth{name=%q}", controllerName)
	}
	if q.active, ok = sum("controller_runtime_active_workers", "controller"); !ok {
		return q, fmt.Errorf("manager metrics have no controller_runtime_active_workers{controller=%q}", controllerName)
	}
	return q, nil
}

// waitResynced waits until the manager has reconciled n Blueprints since
// it started and its queue is empty with no reconcile running.
func (r *runner) waitResynced(ctx context.Context, n int) (time.Time, queueState, error) {
	deadline := time.Now().Add(r.timeoutFor(n))
	for {
		q, err := r.queue(ctx)
		if err == nil && q.reconciles >= float64(n) && q.depth == 0 && q.active == 0 {
			return time.Now(), q, nil
		}
		if time.Now().After(deadline) {
			if err != nil {
				return time.Time{}, q, fmt.Errorf("manager did not resync %d Blueprints within %s: %w", n, r.timeoutFor(n), err)
			}
			return time.Time{}, q, fmt.Errorf("manager did not resync %d Blueprints within %s (last %+v)", n, r.timeoutFor(n), q)
		}
		if err := sleepCtx(ctx, 20*time.Millisecond); err != nil {
			return time.Time{}, q, err
		}
	}
}

// timeoutFor is the longest wait for n Blueprints: -timeout per 1,000.
func (r *runner) timeoutFor(n int) time.Duration {
	return r.cfg.waitTimeout * time.Duration(max(1, (n+999)/1000))
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

// growth is the exponent k of y ∝ N^k between two sizes.
func growth(n1, n2 int, y1, y2 float64) float64 {
	if y1 <= 0 || y2 <= 0 || n1 == n2 {
		return math.NaN()
	}
	return math.Log(y2/y1) / math.Log(float64(n2)/float64(n1))
}

// slope is the least-squares slope of ys over xs.
func slope(xs, ys []float64) float64 {
	if len(xs) < 2 {
		return math.NaN()
	}
	var mx, my float64
	for i := range xs {
		mx += xs[i]
		my += ys[i]
	}
	mx /= float64(len(xs))
	my /= float64(len(xs))
	var sxy, sxx float64
	for i := range xs {
		sxy += (xs[i] - mx) * (ys[i] - my)
		sxx += (xs[i] - mx) * (xs[i] - mx)
	}
	if sxx == 0 {
		return math.NaN()
	}
	return sxy / sxx
}

// floorStatusEdit is the Blueprint and merge patch of its status subresource
// that the floor writes once the Blueprint's three Deployments are
// available: the Ready status the operator writes then.
func floorStatusEdit(key types.NamespacedName, gen int64, secretName string, now metav1.Time) (*staxv1alpha1.Blueprint, client.Patch) {
	bp := &staxv1alpha1.Blueprint{ObjectMeta: metav1.ObjectMeta{Namespace: key.Namespace, Name: key.Name}}
	patch := client.MergeFrom(bp.DeepCopy())
	bp.Status = staxv1alpha1.BlueprintStatus{
		ObservedGeneration:  ptrTo(gen),
		GeneratedSecretName: secretName,
		ServiceCount:        ptrTo(int32(3)),
		ReadyServiceCount:   ptrTo(int32(3)),
		ReadyServices:       "3/3",
		Conditions: []metav1.Condition{{
			Type: staxv1alpha1.ConditionReady, Status: metav1.ConditionTrue, Reason: staxv1alpha1.ReasonAvailable,
			Message: "all 3 services available", ObservedGeneration: gen, LastTransitionTime: now,
		}},
	}
	return bp, patch
}
