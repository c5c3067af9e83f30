package main

import (
	"context"
	"fmt"
	"io"
	goruntime "runtime"
	"sort"
	"text/tabwriter"
	"time"

	"k8s.io/apimachinery/pkg/api/resource"

	"github.com/stax-dev/blueprint-operator/bench/internal/audit"
	"github.com/stax-dev/blueprint-operator/bench/internal/proc"
)

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
	// Commit is the commit the manager was built from (gitCommit).
	Commit string `json:"commit,omitempty"`
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
		// ListFloorSeconds is the resync's floor: a plain client listing
		// every object the manager caches (listFloor), just before the
		// restart; ListFloorObjects what it read of each list.
		ListFloorSeconds float64        `json:"listFloorSeconds,omitempty"`
		ListFloorObjects map[string]int `json:"listFloorObjects,omitempty"`
		// ReadFloorSeconds is what the reads of the resync's reconciles cost
		// at least: a plain client reading, as many at once as the manager
		// reconciles, each of the ReadFloorSecrets Secrets the restarted
		// manager read (readFloor), after the restart window. It follows the
		// list floor: reconciles start once the caches have synced.
		ReadFloorSeconds float64 `json:"readFloorSeconds,omitempty"`
		ReadFloorSecrets int     `json:"readFloorSecrets,omitempty"`
	} `json:"restart"`
	// UnderLimit is how the managers fared under the shipped memory limit
	// (-shipped-limit); nil when not measured.
	UnderLimit *underLimit `json:"underLimit,omitempty"`
}

// curveScenarios are the rows finish derives from the curve; old names
// included, so a merge drops rows an older bench wrote for them.
var curveScenarios = []string{"convergence", "apiserver-cpu", "creation-requests", "steady-writes", "restart-writes", "restart-resync", "shipped-limit", "memory-per-blueprint", "creation-writes"}

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

// at names n Blueprints, and says so when the target is stated at another
// size.
func at(n, stated int) string {
	if n == stated {
		return fmt.Sprintf("%d Blueprints", n)
	}
	return fmt.Sprintf("%d Blueprints (target stated at %d, not measured)", n, stated)
}

// curveRows are the target rows read from the curve.
func curveRows(points []curvePoint) []row {
	t, ok := targetPoint(points)
	if !ok {
		return nil
	}
	var out []row
	ratio := t.Ratio
	conv := row{
		Scenario: "convergence", Blueprints: t.Blueprints, Run: t.Run,
		Figure: fmt.Sprintf("%s of %d services created at once: time until all Ready", at(t.Blueprints, 1000), t.ServicesPerBlueprint),
		Value:  t.Operator.Seconds, Unit: "s", Baseline: t.Floor.Seconds,
		BaselineOf: "plain client server-side applying the same objects and writing each Blueprint's status once, at the manager's concurrency",
		Ratio:      &ratio, Target: "ratio ≤ 1.2", Holds: ratio <= 1.2,
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
	return append(out, resyncRow(l), shippedLimitRow(points), memoryPerBlueprintRow(points))
}

func printCurve(w io.Writer, points []curvePoint) {
	if len(points) == 0 {
		return
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "Blueprints\tconverge\tfloor\tratio\tapiserver ms/BP\tfloor\tratio\tpeak RSS\tKiB/BP\tunder GOMEMLIMIT\tresync\tlist floor\tresync+window writes\tsteady writes")
	for _, p := range points {
		fmt.Fprintf(tw, "%d\t%.2f s\t%.2f s\t%.2f\t%.1f\t%.1f\t%.2f\t%.1f MiB\t%.1f\t%s\t%.2f s\t%s\t%d+%d\t%d\n", p.Blueprints,
			p.Operator.Seconds, p.Floor.Seconds, p.Ratio, p.Operator.APIServerCPUPerBlueprintMs, p.Floor.APIServerCPUPerBlueprintMs, p.APIServerCPURatio,
			float64(p.Memory.RestartPeakKiB)/1024, p.Memory.PerBlueprintKiB, underLimitText(p.UnderLimit), p.Restart.ResyncSeconds,
			secondsOrNot(p.Restart.ListFloorSeconds), p.Restart.WritesDuringResync, p.Restart.WritesInWindow, p.Steady.Writes)
	}
	_ = tw.Flush()
}

func (p curvePoint) report(res *results) { res.addPoint(p) }

// curveScenario measures one size on a fresh control plane: the floor,
// the operator's convergence, a steady window and a restart. The manager
// is left running with every Blueprint Ready, for the host scenarios.
type curveScenario struct {
	// emptyPeak is an empty manager's peak RSS, measured once per run.
	emptyPeak *proc.Memory
	// floor is this size's floor, prepared by setup.
	floor *floorPhase
	// limit is the shipped memory limit its managers run under, with
	// -shipped-limit; nil without.
	limit *resource.Quantity
}

func (*curveScenario) name() string { return "curve" }

// setup has the managers run under the shipped limit (-shipped-limit),
// measures an empty manager, once per run on the first size's control
// plane before any Blueprint exists, and prepares the floor.
func (s *curveScenario) setup(ctx context.Context, e *env) error {
	if e.cfg.shippedLimit {
		limit, err := underShippedLimit(e)
		if err != nil {
			return err
		}
		s.limit = &limit
		logf("managers run with GOMEMLIMIT=%d, %.0f%% of the shipped limit %s", goMemLimit(limit), memoryLimitRatio*100, limit.String())
	}
	if s.emptyPeak == nil {
		synced, err := e.startManager(ctx)
		if err != nil {
			return err
		}
		mem, err := e.memoryAfter(ctx, synced)
		if err != nil {
			return err
		}
		if err := e.stopManager(); err != nil {
			return err
		}
		logf("empty manager peak RSS %d KiB", mem.PeakKiB)
		s.emptyPeak = &mem
	}
	f, err := prepareFloor(ctx, e)
	if err != nil {
		return fmt.Errorf("floor: %w", err)
	}
	s.floor = f
	return nil
}

func (s *curveScenario) measure(ctx context.Context, e *env) (outcome, error) {
	// The scenarios after the curve start their managers as before; the
	// one left running keeps its GOMEMLIMIT.
	defer unlimited(e)
	n := len(e.main)
	var p curvePoint
	p.Blueprints, p.ServicesPerBlueprint, p.CPUs = n, 3, goruntime.NumCPU()
	p.Memory.EmptyPeakKiB = s.emptyPeak.PeakKiB
	floor, err := s.floor.run(ctx, e)
	if err != nil {
		return nil, fmt.Errorf("floor: %w", err)
	}
	p.Floor = floor
	// The operator gets a fresh control plane too, as the floor had: deleting
	// the floor's objects instead took 23 minutes at 10,000 Blueprints, and
	// would leave the operator's etcd larger than the floor's.
	if err := e.replaceControlPlane(ctx, n, "operator"); err != nil {
		return nil, fmt.Errorf("fresh control plane for the operator: %w", err)
	}
	conv, err := e.converge(ctx)
	if err != nil {
		return nil, err
	}
	p.Operator, p.Creation = conv.phase, conv.creation
	p.Memory.ConvergencePeakKiB = conv.peak.PeakKiB
	p.Ratio = p.Operator.Seconds / floor.Seconds
	p.APIServerCPURatio = p.Operator.APIServerCPUPerBlueprintMs / floor.APIServerCPUPerBlueprintMs
	// After the peak RSS was read, which the profile's GC would not lower.
	if err := e.heapProfile(ctx, fmt.Sprint(n)); err != nil {
		return nil, err
	}
	if err := measureSteady(ctx, e, &p); err != nil {
		return nil, err
	}
	converging := e.mgr.stopWatch()
	if err := measureRestart(ctx, e, &p); err != nil {
		return nil, err
	}
	if s.limit != nil {
		p.UnderLimit = newUnderLimit(*s.limit, converging, e.mgr.stopWatch())
		logf("under the shipped limit (%d KiB): peak RSS %d KiB converging, %d KiB restarted; exceeded: %t",
			p.UnderLimit.LimitKiB, p.UnderLimit.ConvergePeakKiB, p.UnderLimit.RestartPeakKiB, p.UnderLimit.Exceeded)
	}
	return p, nil
}

// measureSteady counts the manager's writes over steady-window with every
// Blueprint Ready and nothing changing: it must write nothing.
func measureSteady(ctx context.Context, e *env, p *curvePoint) error {
	q0, err := e.queue(ctx)
	if err != nil {
		return err
	}
	s0 := time.Now()
	if err := sleepCtx(ctx, e.cfg.steadyWindow); err != nil {
		return err
	}
	q1, err := e.queue(ctx)
	if err != nil {
		return err
	}
	steady, err := e.c.audit.Between(userManager, s0, s0.Add(e.cfg.steadyWindow))
	if err != nil {
		return err
	}
	ss := audit.Summarize(steady)
	p.Steady.WindowSeconds, p.Steady.Writes, p.Steady.Requests, p.Steady.Reconciles = e.cfg.steadyWindow.Seconds(), ss.Writes, ss, q1.reconciles-q0.reconciles
	logf("steady state: %d writes, %d requests, %.0f reconciles in %s", ss.Writes, ss.Requests, p.Steady.Reconciles, e.cfg.steadyWindow)
	return nil
}

// measureRestart restarts the manager with every Blueprint in place and
// times its resync, reads its peak RSS, and counts its writes during the
// resync and in restart-window after.
func measureRestart(ctx context.Context, e *env, p *curvePoint) error {
	n := p.Blueprints
	if err := e.stopManager(); err != nil {
		return err
	}
	// With no manager running, kube-apiserver serves the floor's lists as
	// it will the restarted manager's.
	floor, read, err := listFloor(ctx, e)
	if err != nil {
		return fmt.Errorf("list floor: %w", err)
	}
	p.Restart.ListFloorSeconds, p.Restart.ListFloorObjects = floor.Seconds(), read
	synced, err := e.startManager(ctx)
	if err != nil {
		return err
	}
	started := e.mgr.cur.Started
	resynced, q, err := e.waitResynced(ctx, n)
	if err != nil {
		return err
	}
	mem, err := e.memoryAfter(ctx, maxTime(synced, resynced.Add(-e.cfg.rssSettle)))
	if err != nil {
		return err
	}
	if err := e.heapProfile(ctx, fmt.Sprintf("%d-restart", n)); err != nil {
		return err
	}
	if err := sleepCtx(ctx, time.Until(resynced.Add(e.cfg.restartWindow))); err != nil {
		return err
	}
	during, err := e.c.audit.Between(userManager, started, resynced)
	if err != nil {
		return err
	}
	after, err := e.c.audit.Between(userManager, resynced, resynced.Add(e.cfg.restartWindow))
	if err != nil {
		return err
	}
	sd, sa := audit.Summarize(during), audit.Summarize(after)
	p.Restart.CacheSyncSeconds = synced.Sub(started).Seconds()
	p.Restart.ResyncSeconds = resynced.Sub(started).Seconds()
	p.Restart.WritesDuringResync, p.Restart.WritesInWindow = sd.Writes, sa.Writes
	p.Restart.RequestsDuringResync, p.Restart.RequestsInWindow = sd, sa
	p.Restart.WindowSeconds = e.cfg.restartWindow.Seconds()
	p.Restart.Reconciles = q.reconciles
	p.Restart.Signal = fmt.Sprintf("the manager's metrics: controller_runtime_reconcile_total{controller=%q} ≥ %d, workqueue_depth 0 and controller_runtime_active_workers 0", controllerName, n)
	p.Memory.RestartPeakKiB = mem.PeakKiB
	p.Memory.PerBlueprintKiB = float64(mem.PeakKiB-p.Memory.EmptyPeakKiB) / float64(n)
	logf("restart: resynced %d Blueprints in %s (%.0f reconciles); %d writes during resync, %d in the %s after; peak RSS %d KiB",
		n, resynced.Sub(started).Round(time.Millisecond), q.reconciles, sd.Writes, sa.Writes, e.cfg.restartWindow, mem.PeakKiB)
	// The manager is left running, idle, for the under-limit figures.
	keys := secretsRead(during)
	reads, err := readFloor(ctx, e, keys, e.knobs.MaxConcurrentReconciles)
	if err != nil {
		return fmt.Errorf("read floor: %w", err)
	}
	p.Restart.ReadFloorSeconds, p.Restart.ReadFloorSecrets = reads.Seconds(), len(keys)
	return nil
}

// convergence is the operator's phase of a curve point.
type convergence struct {
	phase    phase
	creation creationRequests
	// peak is the manager's peak RSS tail past the last Ready.
	peak proc.Memory
}

// converge starts the manager, creates e.main's Blueprints at once and
// times them until all are Ready; the manager is left running.
func (e *env) converge(ctx context.Context) (convergence, error) {
	n := len(e.main)
	// Inputs the Blueprints reference exist before they do.
	if err := createNamespaces(ctx, e.c.bench, namespacesOf(e.main)...); err != nil {
		return convergence{}, err
	}
	if err := parallel(ctx, n, e.cfg.benchWorkers, func(ctx context.Context, i int) error {
		return e.c.bench.Create(ctx, refSecret(e.main[i].Namespace, e.main[i].RefSecret))
	}); err != nil {
		return convergence{}, err
	}
	if _, err := e.startManager(ctx); err != nil {
		return convergence{}, err
	}
	if err := e.quiet(ctx, time.Second); err != nil {
		return convergence{}, err
	}
	cpu0 := e.c.cpu(e.mgr.cur)
	t0 := time.Now()
	if err := parallel(ctx, n, e.cfg.benchWorkers, func(ctx context.Context, i int) error {
		return e.c.bench.Create(ctx, blueprint(e.main[i]))
	}); err != nil {
		return convergence{}, err
	}
	created := time.Now()
	ready, err := e.obs.waitReady(ctx, keysOf(e.main), e.timeoutFor(n))
	if err != nil {
		return convergence{}, err
	}
	used := e.c.cpu(e.mgr.cur).sub(cpu0)
	logf("%d Blueprints Ready in %s (created in %s)", n, ready.Sub(t0).Round(time.Millisecond), created.Sub(t0).Round(time.Millisecond))
	return e.convergenceOf(ctx, t0, ready, used)
}

// convergenceOf accounts for a convergence from t0 to ready, which took
// the CPU seconds in used: requests that come after Ready would be waste too, so the manager's
// are counted, and its peak RSS read, tail past ready.
func (e *env) convergenceOf(ctx context.Context, t0, ready time.Time, used cpu) (convergence, error) {
	n := len(e.main)
	readyTimes := e.obs.readyTimes(keysOf(e.main), t0)
	if err := sleepCtx(ctx, e.cfg.tail); err != nil {
		return convergence{}, err
	}
	mem, err := proc.ReadMemory(e.mgr.cur.PID())
	if err != nil {
		return convergence{}, err
	}
	mgrEv, err := e.c.audit.Between(userManager, t0, ready.Add(e.cfg.tail))
	if err != nil {
		return convergence{}, err
	}
	benchEv, err := e.c.audit.Between(userBench, t0, ready)
	if err != nil {
		return convergence{}, err
	}
	ph := newPhase(n, ready.Sub(t0), used, readyTimes, audit.Summarize(mgrEv), audit.Summarize(benchEv))
	logf("manager: %d requests, %d writes (%s); kube-apiserver %.1f ms per Blueprint", ph.Requests.Requests, ph.Requests.Writes, ph.Requests.TopKinds(8), ph.APIServerCPUPerBlueprintMs)
	return convergence{phase: ph, creation: countCreation(mgrEv, n), peak: mem}, nil
}
