package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"text/tabwriter"
	"time"
)

// row is one figure against its floor.
type row struct {
	Scenario string  `json:"scenario"`
	Figure   string  `json:"figure"`
	Value    float64 `json:"value"`
	Unit     string  `json:"unit"`
	// ValueText and BaselineText, when set, say Value and Baseline in
	// words (e.g. a breakdown of requests).
	ValueText string `json:"valueText,omitempty"`
	// Baseline is the floor measured in the same run, in Unit.
	Baseline     float64  `json:"baseline"`
	BaselineText string   `json:"baselineText,omitempty"`
	BaselineOf   string   `json:"baselineOf"`
	Ratio        *float64 `json:"ratio,omitempty"`
	Target       string   `json:"target"`
	Holds        bool     `json:"holds"`
	// Limit names the resource that ran out when a target does not hold
	// and the bench can tell (kube-apiserver's CPU, in cores used).
	Limit string `json:"limit,omitempty"`
	// Blueprints is the curve size the row was measured at, if any.
	Blueprints int `json:"blueprints,omitempty"`
	// Run is the run that measured the row (runInfo.ID).
	Run     string `json:"run,omitempty"`
	Details any    `json:"details,omitempty"`
}

// runInfo says which run measured what: the point and rows of a merged
// results file name their run by ID.
type runInfo struct {
	// ID is the start time, RFC 3339, UTC.
	ID        string  `json:"id"`
	Started   string  `json:"started"`
	Seconds   float64 `json:"seconds"`
	CPUs      int     `json:"cpus"`
	GoVersion string  `json:"goVersion"`
	LoadStart string  `json:"loadavgStart"`
	LoadEnd   string  `json:"loadavgEnd"`
	Command   string  `json:"command"`
	// Commit is the code measured (gitCommit).
	Commit                 string   `json:"commit,omitempty"`
	Sizes                  []int    `json:"sizes,omitempty"`
	Scenarios              []string `json:"scenarios,omitempty"`
	Complete               bool     `json:"complete"`
	EmulatorStatusFailures int      `json:"emulatorStatusFailures"`
}

type results struct {
	// Run is the latest run; Runs every run whose figures the file holds.
	Run   runInfo   `json:"run"`
	Runs  []runInfo `json:"runs"`
	Sizes struct {
		Blueprints          int     `json:"blueprints"`
		BlueprintsPerNS     int     `json:"blueprintsPerNamespace"`
		SharedBlueprints    int     `json:"sharedBlueprints"`
		UnrelatedSecrets    int     `json:"unrelatedSecrets"`
		SecretBytes         int     `json:"unrelatedSecretBytes"`
		LatencySamples      int     `json:"latencySamples"`
		SharedSamples       int     `json:"sharedSamples"`
		RestartWindowSecond float64 `json:"restartWindowSeconds"`
		SteadyWindowSecond  float64 `json:"steadyWindowSeconds"`
	} `json:"sizes"`
	Manager knobs `json:"manager"`
	// Curve is one point per Blueprint count, smallest first.
	Curve   []curvePoint `json:"curve"`
	Rows    []row        `json:"results"`
	AllHold bool         `json:"allTargetsHold"`
	Failing []string     `json:"failing,omitempty"`
	// Notes are prefixed with the ID of the run that wrote them.
	Notes []string `json:"notes,omitempty"`
}

func newResults(cfg config) *results {
	r := &results{}
	now := time.Now().UTC()
	r.Run.ID = now.Format(time.RFC3339)
	r.Run.Started = r.Run.ID
	r.Run.CPUs = runtime.NumCPU()
	r.Run.GoVersion = runtime.Version()
	r.Run.Command = strings.TrimSpace("bin/bench " + strings.Join(os.Args[1:], " "))
	r.Run.Sizes = cfg.sizes
	r.Run.Scenarios = strings.Split(cfg.scenarios, ",")
	r.Sizes.Blueprints = cfg.blueprints
	r.Sizes.BlueprintsPerNS = cfg.perNamespace
	r.Sizes.SharedBlueprints = cfg.shared
	r.Sizes.UnrelatedSecrets = cfg.unrelatedSecrets
	r.Sizes.SecretBytes = cfg.secretSize
	r.Sizes.LatencySamples = cfg.latencySamples
	r.Sizes.SharedSamples = cfg.sharedSamples
	r.Sizes.RestartWindowSecond = cfg.restartWindow.Seconds()
	r.Sizes.SteadyWindowSecond = cfg.steadyWindow.Seconds()
	return r
}

// add records a row of this run.
func (r *results) add(x row) {
	x.Run = r.Run.ID
	r.Rows = append(r.Rows, x)
}

// note records a note of this run.
func (r *results) note(format string, args ...any) {
	r.Notes = append(r.Notes, fmt.Sprintf("["+r.Run.ID+"] "+format, args...))
}

// addPoint records (or replaces) this run's curve point for its size.
func (r *results) addPoint(p curvePoint) {
	p.Run, p.Commit = r.Run.ID, r.Run.Commit
	r.Curve = slices.DeleteFunc(r.Curve, func(q curvePoint) bool { return q.Blueprints == p.Blueprints })
	r.Curve = append(r.Curve, p)
	slices.SortFunc(r.Curve, func(a, b curvePoint) int { return a.Blueprints - b.Blueprints })
}

// merge returns base with what cur measured in its place: cur's curve
// points replace base's of the same size, cur's rows replace base's of the
// same scenario. Runs and notes no figure refers to any more are dropped.
func merge(base, cur *results) *results {
	if base == nil {
		out := *cur
		out.Curve = slices.Clone(cur.Curve)
		out.Rows = slices.Clone(cur.Rows)
		out.Runs = []runInfo{cur.Run}
		out.finish()
		return &out
	}
	out := *cur
	out.Curve = nil
	for _, p := range base.Curve {
		if !slices.ContainsFunc(cur.Curve, func(q curvePoint) bool { return q.Blueprints == p.Blueprints }) {
			out.Curve = append(out.Curve, p)
		}
	}
	out.Curve = append(out.Curve, cur.Curve...)
	slices.SortFunc(out.Curve, func(a, b curvePoint) int { return a.Blueprints - b.Blueprints })
	measured := map[string]bool{}
	for _, x := range cur.Rows {
		measured[x.Scenario] = true
	}
	out.Rows = nil
	for _, x := range base.Rows {
		if !measured[x.Scenario] && !isCurveRow(x.Scenario) {
			out.Rows = append(out.Rows, x)
		}
	}
	out.Rows = append(out.Rows, cur.Rows...)
	out.finish()
	used := map[string]bool{cur.Run.ID: true}
	for _, p := range out.Curve {
		used[p.Run] = true
	}
	for _, x := range out.Rows {
		used[x.Run] = true
	}
	out.Runs = nil
	for _, ri := range base.Runs {
		if used[ri.ID] && ri.ID != cur.Run.ID {
			out.Runs = append(out.Runs, ri)
		}
	}
	out.Runs = append(out.Runs, cur.Run)
	out.Notes = nil
	for _, n := range base.Notes {
		id, _, _ := strings.Cut(strings.TrimPrefix(n, "["), "]")
		if used[id] && id != cur.Run.ID {
			out.Notes = append(out.Notes, n)
		}
	}
	out.Notes = append(out.Notes, cur.Notes...)
	return &out
}

// finish derives the curve's target rows from the curve points (so a merge
// recomputes them) and sums up which targets hold.
func (r *results) finish() {
	var rest []row
	for _, x := range r.Rows {
		if !isCurveRow(x.Scenario) {
			rest = append(rest, x)
		}
	}
	r.Rows = append(curveRows(r.Curve), rest...)
	r.AllHold = true
	r.Failing = nil
	for _, x := range r.Rows {
		if !x.Holds {
			r.AllHold = false
			r.Failing = append(r.Failing, x.Scenario)
		}
	}
}

func format(v float64, unit string) string {
	switch unit {
	case "s":
		if v < 10 {
			return fmt.Sprintf("%.3f s", v)
		}
		return fmt.Sprintf("%.1f s", v)
	case "ms":
		return fmt.Sprintf("%.1f ms", v)
	case "MiB":
		return fmt.Sprintf("%.1f MiB", v)
	default:
		return fmt.Sprintf("%g %s", v, unit)
	}
}

func (x row) valueText() string {
	if x.ValueText != "" {
		return x.ValueText
	}
	return format(x.Value, x.Unit)
}

func (x row) baselineText() string {
	if x.BaselineText != "" {
		return x.BaselineText
	}
	return format(x.Baseline, x.Unit)
}

func (r *results) print(w io.Writer) {
	fmt.Fprintf(w, "\n%d CPUs, load %s → %s, %.0f s\n\n", r.Run.CPUs, r.Run.LoadStart, r.Run.LoadEnd, r.Run.Seconds)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "scenario\toperator\tfloor\tratio\ttarget\tholds")
	for _, x := range r.Rows {
		ratio := "-"
		if x.Ratio != nil {
			ratio = fmt.Sprintf("%.2f", *x.Ratio)
		}
		holds := "yes"
		if !x.Holds {
			holds = "NO"
			if x.Limit != "" {
				holds += " (" + x.Limit + ")"
			}
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", x.Scenario, x.valueText(), x.baselineText(), ratio, x.Target, holds)
	}
	_ = tw.Flush()
	fmt.Fprintln(w)
	printCurve(w, r.Curve)
	fmt.Fprintln(w)
	for _, x := range r.Rows {
		fmt.Fprintf(w, "%s: %s; floor: %s\n", x.Scenario, x.Figure, x.BaselineOf)
	}
	for _, n := range r.Notes {
		fmt.Fprintln(w, n)
	}
}

func (r *results) write(path string) error {
	if dir := filepath.Dir(path); dir != "" {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return err
		}
	}
	raw, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return err
	}
	// Write whole or not at all: a run stopped mid-write keeps the last
	// checkpoint.
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, append(raw, '\n'), 0o644); err != nil {
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "wrote %s\n", path)
	return nil
}

func readResults(path string) (*results, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	r := &results{}
	if err := json.Unmarshal(raw, r); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if len(r.Runs) == 0 && r.Run.Started != "" {
		// A file from before runs were recorded: its one run.
		if r.Run.ID == "" {
			r.Run.ID = r.Run.Started
		}
		r.Runs = []runInfo{r.Run}
	}
	for i := range r.Rows {
		if r.Rows[i].Run == "" {
			r.Rows[i].Run = r.Run.ID
		}
	}
	// The curve's rows are derived from its points: derived again, they
	// follow the bench's targets of today, and a point without a newer
	// figure says it was not measured.
	r.finish()
	return r, nil
}

// mergeFrom merges the results of one run, in file from, into the results
// file out: its curve points and rows replace those of the same size and
// scenario, as if it had run with -merge -out out.
func mergeFrom(out, from string) error {
	base, err := readResults(out)
	if err != nil {
		return err
	}
	cur, err := readResults(from)
	if err != nil {
		return err
	}
	if len(cur.Runs) > 1 {
		return fmt.Errorf("%s holds %d runs: merge a single run's results", from, len(cur.Runs))
	}
	return merge(base, cur).write(out)
}
