package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"
)

var errTargetMissed = errors.New("a target does not hold")

// errSkipped is what a scenario's setup returns when it cannot run here
// (it has logged why); the run goes on without its figures.
var errSkipped = errors.New("scenario skipped")

// scenario is one measurement. The runner starts the control plane it
// runs on and calls setup (create what it measures against, untimed), then
// measure (the timed steps, each next to its floor); the outcome measure
// returns reports itself into the results file.
type scenario interface {
	name() string
	setup(ctx context.Context, e *env) error
	measure(ctx context.Context, e *env) (outcome, error)
}

// outcome is what a scenario measured.
type outcome interface {
	// report records the outcome in res.
	report(res *results)
}

// rows are the target rows a scenario measured.
type rows []row

func (rs rows) report(res *results) {
	for _, x := range rs {
		res.add(x)
	}
}

// hostScenarios run on the cluster of one curve size, with its Blueprints
// Ready: the largest size ≤ 1000.
var hostScenarios = []string{"latency", "shared", "hostile", "memory"}

func newHostScenario(name string) scenario {
	switch name {
	case "latency":
		return &latencyScenario{}
	case "shared":
		return &sharedScenario{}
	case "hostile":
		return &hostileScenario{}
	case "memory":
		return &memoryScenario{}
	}
	return nil
}

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

// plan is which scenarios a run measures: peer on a control plane of its
// own, the curve at every size, and the host scenarios at size host.
type plan struct {
	peer   scenario
	curve  scenario
	hosted []scenario
	host   int
}

func planRun(cfg config) (plan, error) {
	var p plan
	var names []string
	for _, name := range strings.Split(cfg.scenarios, ",") {
		switch {
		case name == "curve":
			p.curve = &curveScenario{}
		case name == "peer":
			p.peer = &peerScenario{}
		case name == "convergence" || name == "restart":
			return p, fmt.Errorf("scenario %q is now part of 'curve' (convergence, floor, steady state and restart at each of -sizes)", name)
		case newHostScenario(name) != nil:
			p.hosted = append(p.hosted, newHostScenario(name))
			names = append(names, name)
		default:
			return p, fmt.Errorf("no scenario %q (have peer, curve, %s)", name, strings.Join(hostScenarios, ", "))
		}
	}
	p.host = hostSize(cfg.sizes)
	if len(p.hosted) > 0 && p.host == 0 {
		return p, fmt.Errorf("scenarios %v run at the largest of -sizes ≤ 1000, and -sizes %v has none", names, cfg.sizes)
	}
	return p, nil
}

// runner runs the plan's scenarios and writes their figures after each.
type runner struct {
	env *env
	res *results
	// base is the results file a -merge run adds to; merged what was last
	// written.
	base, merged *results
	started      time.Time
}

func run(ctx context.Context, cfg config) error {
	p, err := planRun(cfg)
	if err != nil {
		return err
	}
	cfg.blueprints = p.host
	r, cleanup, err := newRunner(cfg)
	if err != nil {
		return err
	}
	defer cleanup()
	if p.peer != nil {
		// Beside Reloader on a control plane of its own: the same small
		// workload for both, before any curve size leaves objects behind.
		logf("== peer: a fresh control plane")
		if err := r.env.startControlPlane(ctx, 0, "size-0"); err != nil {
			return err
		}
		if err := r.runScenario(ctx, p.peer, "peer"); err != nil {
			return err
		}
		r.env.stopControlPlane()
	}
	for _, size := range cfg.sizes {
		if err := r.runSize(ctx, size, p); err != nil {
			return err
		}
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

// newRunner makes the work directory, builds the manager (unless
// -manager-bin names one), reads its knobs and, with -merge, the results
// file to add to. cleanup stops what is running and removes the directory.
func newRunner(cfg config) (_ *runner, cleanup func(), _ error) {
	r := &runner{started: time.Now(), res: newResults(cfg)}
	r.res.Run.LoadStart = loadavg()
	r.res.Run.Commit = gitCommit()
	if cfg.merge {
		base, err := readResults(cfg.out)
		switch {
		case errors.Is(err, os.ErrNotExist):
			logf("-merge: no %s yet; starting a new one", cfg.out)
		case err != nil:
			return nil, nil, err
		default:
			r.base = base
		}
	}
	dir, err := os.MkdirTemp("", "blueprint-bench-")
	if err != nil {
		return nil, nil, err
	}
	e := &env{cfg: cfg, dir: dir, mgr: &managerProc{bin: cfg.managerBin, dir: dir}}
	r.env = e
	cleanup = func() {
		e.stopControlPlane()
		if !cfg.keep {
			_ = os.RemoveAll(dir)
		}
	}
	if cfg.keep {
		logf("work directory %s", dir)
	}
	if e.mgr.bin == "" {
		logf("building the manager from ./cmd")
		if e.mgr.bin, err = buildManager(dir); err != nil {
			cleanup()
			return nil, nil, err
		}
	}
	if e.knobs, err = resolveKnobs(e.mgr.bin, strings.Fields(cfg.managerArgs)); err != nil {
		cleanup()
		return nil, nil, err
	}
	e.mgr.args = e.knobs.Args
	r.res.Manager = e.knobs
	logf("manager knobs: %+v", e.knobs)
	return r, cleanup, nil
}

// runSize measures what the plan measures at size Blueprints, on a fresh
// control plane: the curve, and at the host size the host scenarios.
func (r *runner) runSize(ctx context.Context, size int, p plan) error {
	hostHere := size == p.host && len(p.hosted) > 0
	if p.curve == nil && !hostHere {
		return nil
	}
	e := r.env
	logf("== %d Blueprints: a fresh control plane", size)
	if err := e.startControlPlane(ctx, size, fmt.Sprintf("size-%d", size)); err != nil {
		return err
	}
	if p.curve != nil {
		if err := r.runScenario(ctx, p.curve, fmt.Sprintf("curve at %d Blueprints", size)); err != nil {
			return err
		}
	}
	if hostHere {
		if p.curve == nil {
			var names []string
			for _, s := range p.hosted {
				names = append(names, s.name())
			}
			logf("== %d Blueprints converging for %v", size, names)
			if _, err := e.converge(ctx); err != nil {
				return err
			}
		}
		for _, s := range p.hosted {
			if err := r.runScenario(ctx, s, fmt.Sprintf("%s at %d Blueprints", s.name(), size)); err != nil {
				return err
			}
		}
	}
	if err := e.managerExited(); err != nil {
		return err
	}
	e.stopControlPlane()
	return nil
}

// runScenario sets s up, measures it, records its outcome and writes the
// results so far; its errors name it as title does.
func (r *runner) runScenario(ctx context.Context, s scenario, title string) error {
	logf("== %s", title)
	err := s.setup(ctx, r.env)
	if errors.Is(err, errSkipped) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("%s: %w", title, err)
	}
	out, err := s.measure(ctx, r.env)
	if err != nil {
		return fmt.Errorf("%s: %w", title, err)
	}
	out.report(r.res)
	return r.save()
}

// save writes what is measured so far (merged into -merge's file): a run
// that stops keeps its figures.
func (r *runner) save() error {
	r.res.Run.LoadEnd = loadavg()
	r.res.Run.Seconds = time.Since(r.started).Seconds()
	r.res.Run.EmulatorStatusFailures = r.env.emulatorStatusFailures()
	r.res.finish()
	r.merged = merge(r.base, r.res)
	return r.merged.write(r.env.cfg.out)
}
