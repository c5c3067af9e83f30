package main

import (
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/api/resource"
)

func TestSlope(t *testing.T) {
	for _, tc := range []struct {
		name             string
		xs, ys           []float64
		slope, intercept float64
		nan              bool
	}{
		{"two points", []float64{1000, 10000}, []float64{100000, 1000000}, 100, 0, false},
		{"with an intercept", []float64{1000, 10000}, []float64{60000, 240000}, 20, 40000, false},
		{"least squares over three", []float64{0, 1, 2}, []float64{0, 2, 1}, 0.5, 0.5, false},
		{"one point", []float64{100}, []float64{5}, 0, 0, true},
		{"one size twice", []float64{100, 100}, []float64{5, 6}, 0, 0, true},
	} {
		s, c := fitLine(tc.xs, tc.ys)
		if tc.nan != math.IsNaN(slope(tc.xs, tc.ys)) {
			t.Errorf("%s: slope %v", tc.name, slope(tc.xs, tc.ys))
			continue
		}
		if !tc.nan && (math.Abs(s-tc.slope) > 1e-9 || math.Abs(c-tc.intercept) > 1e-6) {
			t.Errorf("%s: %v + %v x, want %v + %v x", tc.name, c, s, tc.intercept, tc.slope)
		}
	}
}

func pointWithRSS(n int, kib int64) curvePoint {
	p := samplePoint(n, "r", 1)
	p.Memory.RestartPeakKiB = kib
	return p
}

func TestMemoryPerBlueprintRow(t *testing.T) {
	for _, tc := range []struct {
		name         string
		points       []curvePoint
		perBlueprint float64
		holds        bool
		limit        string
	}{
		{"1000 and 10000, 20 KiB", []curvePoint{pointWithRSS(100, 50000), pointWithRSS(1000, 60000), pointWithRSS(10000, 240000)}, 20, true, ""},
		{"1000 and 10000, 133 KiB", []curvePoint{pointWithRSS(1000, 186470), pointWithRSS(10000, 1383424)}, 133, false, ""},
		{"largest 1000", []curvePoint{pointWithRSS(100, 40000), pointWithRSS(1000, 49000)}, 10, false, "not measured at 1000 and 10000"},
		{"one size", []curvePoint{pointWithRSS(1000, 49000)}, 0, false, "fewer than two sizes measured"},
	} {
		x := memoryPerBlueprintRow(tc.points)
		if math.Abs(x.Value-tc.perBlueprint) > 0.01 || x.Holds != tc.holds || x.Limit != tc.limit {
			t.Errorf("%s: %v KiB holds %v limit %q; want %v, %v, %q", tc.name, x.Value, x.Holds, x.Limit, tc.perBlueprint, tc.holds, tc.limit)
		}
	}
}

func TestSizing(t *testing.T) {
	limit := resource.MustParse("256Mi")
	// 40000 KiB + 20 KiB × N reaches 90% of 256 MiB (235929.6 KiB) at 9796.
	s, ok := sizingOf([]curvePoint{pointWithRSS(1000, 60000), pointWithRSS(10000, 240000)}, limit)
	if !ok || s.Held != 9700 || s.formula() != "memory ≈ 39 MiB + 20 KiB × Blueprints" || s.GoMemLimitMiB != 230.39999961853027 {
		t.Errorf("%+v %q", s, s.formula())
	}
	// Above the limit already at no Blueprint: none.
	if s, _ := sizingOf([]curvePoint{pointWithRSS(1000, 300000), pointWithRSS(10000, 390000)}, limit); s.Held != 0 {
		t.Errorf("held %d", s.Held)
	}
	if s, _ := sizingOf([]curvePoint{pointWithRSS(1000, 60000), pointWithRSS(10000, 60000)}, limit); s.held() != "any number of" {
		t.Errorf("flat: %q", s.held())
	}
	if _, ok := sizingOf(nil, limit); ok {
		t.Error("sized from nothing")
	}
}

func TestRenderChartValues(t *testing.T) {
	res := &results{Curve: []curvePoint{pointWithRSS(1000, 60000), pointWithRSS(10000, 240000)}}
	values := "manager:\n  resources:\n    limits:\n      cpu: 500m\n      " + chartSizingMarker + "\n      # stale\n      memory: 256Mi\n"
	got, err := renderChartValues(res, values)
	if err != nil {
		t.Fatal(err)
	}
	want := "manager:\n  resources:\n    limits:\n      cpu: 500m\n      " + chartSizingMarker +
		"\n      # memory ≈ 39 MiB + 20 KiB × Blueprints;\n      # this limit holds about 9700 Blueprints at 90% of it (GOMEMLIMIT).\n      memory: 256Mi\n"
	if got != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
	if again, _ := renderChartValues(res, got); again != got {
		t.Errorf("rendering twice changed it:\n%s", again)
	}
	if _, err := renderChartValues(res, "manager:\n  resources:\n    limits:\n      memory: 256Mi\n"); err == nil {
		t.Error("values without the sizing comment accepted")
	}
}

// TestChartSizingUpToDate: the chart's sizing comment says what
// bench/results.json gives for the chart's own limit.
func TestChartSizingUpToDate(t *testing.T) {
	res, err := readResults("results.json")
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join("..", "dist", "chart", "values.yaml")
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	want, err := renderChartValues(res, string(raw))
	if err != nil {
		t.Fatal(err)
	}
	if want != string(raw) {
		t.Errorf("dist/chart/values.yaml's sizing comment differs from bench/results.json: run 'make bench-report' and commit")
	}
	if !strings.Contains(want, "KiB × Blueprints") {
		t.Errorf("no sizing formula in %s", path)
	}
}
