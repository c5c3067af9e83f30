package main

import (
	"fmt"
	"math"
	"os"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	"sigs.k8s.io/yaml"
)

// memoryFit is the restarted manager's peak RSS as a line over Blueprints:
// through the points at 1,000 and 10,000, where the issue states its
// target (past the fixed costs that dominate small sizes), or else through
// the two largest measured.
type memoryFit struct {
	From, To curvePoint
	// PerBlueprintKiB is the slope, BaselineKiB the intercept.
	PerBlueprintKiB, BaselineKiB float64
	// Stated: From and To are 1,000 and 10,000.
	Stated bool
}

func fitMemory(points []curvePoint) (memoryFit, bool) {
	var measured []curvePoint
	for _, p := range points {
		if p.Memory.RestartPeakKiB > 0 {
			measured = append(measured, p)
		}
	}
	if len(measured) < 2 {
		return memoryFit{}, false
	}
	f := memoryFit{From: measured[len(measured)-2], To: measured[len(measured)-1]}
	for _, p := range measured[:len(measured)-1] {
		if p.Blueprints == 1000 {
			f.From = p
		}
	}
	f.Stated = f.From.Blueprints == 1000 && f.To.Blueprints == 10000
	xs := []float64{float64(f.From.Blueprints), float64(f.To.Blueprints)}
	ys := []float64{float64(f.From.Memory.RestartPeakKiB), float64(f.To.Memory.RestartPeakKiB)}
	f.PerBlueprintKiB, f.BaselineKiB = fitLine(xs, ys)
	return f, true
}

// fitLine is the least-squares line through xs, ys: slope and intercept.
func fitLine(xs, ys []float64) (float64, float64) {
	s := slope(xs, ys)
	var mx, my float64
	for i := range xs {
		mx += xs[i] / float64(len(xs))
		my += ys[i] / float64(len(ys))
	}
	return s, my - s*mx
}

// memoryPerBlueprintRow is the fit's slope against the target.
func memoryPerBlueprintRow(points []curvePoint) row {
	x := row{
		Scenario: "memory-per-blueprint", Unit: "KiB", Target: "≤ 20 KiB per Blueprint",
		Figure:     "manager peak RSS after restart, per Blueprint: slope of the line through 1000 and 10000 Blueprints",
		BaselineOf: "the line's intercept, so memory ≈ baseline + per-Blueprint × Blueprints",
	}
	f, ok := fitMemory(points)
	if !ok {
		x.ValueText, x.BaselineText, x.Limit = "not measured", "not measured", "fewer than two sizes measured"
		return x
	}
	x.Blueprints, x.Run = f.To.Blueprints, f.To.Run
	x.Figure = fmt.Sprintf("manager peak RSS after restart, per Blueprint: slope of the line through %d and %d Blueprints", f.From.Blueprints, f.To.Blueprints)
	if f.From.Run != f.To.Run {
		x.Figure += fmt.Sprintf(" (the %d point from run %s)", f.From.Blueprints, f.From.Run)
	}
	x.Value, x.ValueText = f.PerBlueprintKiB, fmt.Sprintf("%.1f KiB", f.PerBlueprintKiB)
	x.Baseline = f.BaselineKiB / 1024
	x.BaselineText = fmt.Sprintf("%.1f MiB (an empty manager: %s)", x.Baseline, kib(f.To.Memory.EmptyPeakKiB))
	x.Holds = f.Stated && f.PerBlueprintKiB <= 20
	if !f.Stated {
		x.Limit = "not measured at 1000 and 10000"
	}
	return x
}

// sizing is what a memory limit holds by the fit: the manager keeps its
// heap under GOMEMLIMIT, memoryLimitRatio of the limit, so Held is where
// the line reaches that, rounded down to a hundred (-1: the line does not
// grow). The figures are rounded as printed.
type sizing struct {
	fit                          memoryFit
	BaselineMiB, PerBlueprintKiB float64
	LimitMiB, GoMemLimitMiB      float64
	Held                         int
}

func sizingOf(points []curvePoint, limit resource.Quantity) (sizing, bool) {
	f, ok := fitMemory(points)
	if !ok {
		return sizing{}, false
	}
	s := sizing{fit: f, BaselineMiB: f.BaselineKiB / 1024, PerBlueprintKiB: f.PerBlueprintKiB,
		LimitMiB: float64(limit.Value()) / (1 << 20), GoMemLimitMiB: float64(goMemLimit(limit)) / (1 << 20), Held: -1}
	if f.PerBlueprintKiB > 0 {
		n := (s.GoMemLimitMiB*1024 - f.BaselineKiB) / f.PerBlueprintKiB
		s.Held = max(0, int(math.Floor(n/100))*100)
	}
	return s, true
}

// formula is the sizing rule, rounded as the README and the chart print it.
func (s sizing) formula() string {
	return fmt.Sprintf("memory ≈ %.0f MiB + %.0f KiB × Blueprints", s.BaselineMiB, s.PerBlueprintKiB)
}

// held says how many Blueprints the limit holds.
func (s sizing) held() string {
	if s.Held < 0 {
		return "any number of"
	}
	return fmt.Sprintf("about %d", s.Held)
}

// shortCommit is a commit as the report prints it.
func shortCommit(c string) string {
	if c == "" {
		return "not recorded"
	}
	dirty := strings.HasSuffix(c, "-dirty")
	c = strings.TrimSuffix(c, "-dirty")
	if len(c) > 12 {
		c = c[:12]
	}
	if dirty {
		c += "-dirty"
	}
	return c
}

// sizingParagraph is the README's sizing rule, from the curve and the
// shipped memory limit.
func sizingParagraph(points []curvePoint, limit resource.Quantity) string {
	s, ok := sizingOf(points, limit)
	if !ok {
		return "**Sizing.** Not measured: the fit needs two sizes (1000 and 10000, as the target is stated).\n"
	}
	from := func(p curvePoint) string {
		return fmt.Sprintf("%d Blueprints (run %s, commit %s)", p.Blueprints, p.Run, shortCommit(p.Commit))
	}
	text := fmt.Sprintf("**Sizing.** %s: the line through the restarted manager's peak RSS at %s and %s", s.formula(), from(s.fit.From), from(s.fit.To))
	if !s.fit.Stated {
		text += ", not at 1000 and 10000 as the target is stated"
	}
	return text + fmt.Sprintf(". The shipped memory limit, %.0f MiB (config/manager/manager.yaml), holds %s Blueprints by it at %.0f%% of the limit "+
		"(%.1f MiB, the GOMEMLIMIT the manager sets itself), rounded down to a hundred; `dist/chart/values.yaml` says the same next to its limit.\n",
		s.LimitMiB, s.held(), memoryLimitRatio*100, s.GoMemLimitMiB)
}

// chartSizingMarker begins the comment next to the chart's memory limit
// that -report rewrites, up to the next line that is not a comment.
const chartSizingMarker = "# Sizing, from bench/results.json (make bench-report rewrites this):"

// chartSizingComment is that comment, for the chart's own limit.
func chartSizingComment(points []curvePoint, limit resource.Quantity) []string {
	s, ok := sizingOf(points, limit)
	if !ok {
		return []string{chartSizingMarker, "# not measured yet."}
	}
	return []string{chartSizingMarker, "# " + s.formula() + ";",
		fmt.Sprintf("# this limit holds %s Blueprints at %.0f%% of it (GOMEMLIMIT).", s.held(), memoryLimitRatio*100)}
}

// chartMemoryLimit is manager.resources.limits.memory of the chart's values.
func chartMemoryLimit(values []byte) (resource.Quantity, error) {
	var v struct {
		Manager struct {
			Resources corev1.ResourceRequirements `json:"resources"`
		} `json:"manager"`
	}
	if err := yaml.Unmarshal(values, &v); err != nil {
		return resource.Quantity{}, err
	}
	q, ok := v.Manager.Resources.Limits[corev1.ResourceMemory]
	if !ok || q.IsZero() {
		return q, fmt.Errorf("no manager.resources.limits.memory")
	}
	return q, nil
}

// renderChartValues is the chart's values with the sizing comment
// rewritten from res.
func renderChartValues(res *results, values string) (string, error) {
	limit, err := chartMemoryLimit([]byte(values))
	if err != nil {
		return "", err
	}
	lines := strings.Split(values, "\n")
	i := 0
	for i < len(lines) && strings.TrimSpace(lines[i]) != chartSizingMarker {
		i++
	}
	if i == len(lines) {
		return "", fmt.Errorf("no %q comment", chartSizingMarker)
	}
	j := i + 1
	for j < len(lines) && strings.HasPrefix(strings.TrimSpace(lines[j]), "#") {
		j++
	}
	indent := lines[i][:len(lines[i])-len(strings.TrimLeft(lines[i], " "))]
	var comment []string
	for _, c := range chartSizingComment(res.Curve, limit) {
		comment = append(comment, indent+c)
	}
	return strings.Join(append(append(lines[:i:i], comment...), lines[j:]...), "\n"), nil
}

// writeChartValues rewrites the sizing comment of the chart's values file.
func writeChartValues(res *results, path string) error {
	raw, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	out, err := renderChartValues(res, string(raw))
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	return os.WriteFile(path, []byte(out), 0o644)
}
