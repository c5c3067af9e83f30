package main

import (
	"bytes"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"k8s.io/apimachinery/pkg/api/resource"

	"github.com/stax-dev/blueprint-operator/bench/internal/audit"
)

func TestKnobsFromHelp(t *testing.T) {
	help := `Usage of manager:
  -kube-api-burst int
    	Burst allowed above --kube-api-qps; 0 keeps client-go's default.
  -kube-api-qps float
    	Client-side rate limit on API requests per second; -1 disables it. (default -1)
  -max-concurrent-reconciles int
    	How many Blueprints are reconciled at once. (default 8)
`
	k, err := knobsFromHelp(help, nil)
	if err != nil {
		t.Fatal(err)
	}
	if k.MaxConcurrentReconciles != 8 || k.KubeAPIQPS != -1 || k.KubeAPIBurst != 0 {
		t.Errorf("defaults: %+v", k)
	}
	k, err = knobsFromHelp(help, []string{"--max-concurrent-reconciles=2", "--kube-api-qps=20", "--kube-api-burst=30"})
	if err != nil {
		t.Fatal(err)
	}
	if k.MaxConcurrentReconciles != 2 || k.KubeAPIQPS != 20 || k.KubeAPIBurst != 30 {
		t.Errorf("flags: %+v", k)
	}
	if _, err := knobsFromHelp("Usage of manager:\n", nil); err == nil {
		t.Error("a manager without the knobs was accepted")
	}
}

func TestCountCreation(t *testing.T) {
	at := time.Now()
	ev := func(verb, resource, sub, name string, code int) audit.Event {
		at = at.Add(time.Millisecond)
		return audit.Event{User: userManager, Verb: verb, Resource: resource, Subresource: sub, Name: name, Code: code, Received: at}
	}
	objects := func(s string) []audit.Event {
		return []audit.Event{
			ev("create", "secrets", "", "bp-"+s+"-generated", 201),
			ev("patch", "deployments", "", "web-"+s, 201), ev("patch", "services", "", "web-"+s, 201),
		}
	}
	within := append(objects("0000"), ev("get", "secrets", "", "bp-0000-ref", 200), ev("patch", "blueprints", "status", "bp-0000", 200))
	within = append(within, ev("list", "secrets", "", "", 200))
	c := countCreation(within, 1)
	if !c.Holds || c.Objects.Max != 3 || c.StatusWrites.Max != 1 || c.Reads.Max != 1 || c.Unattributed != 1 {
		t.Errorf("objects + 1 status + 1 read: %+v", c)
	}
	if c := countCreation(within, 2); c.Holds {
		t.Error("a Blueprint never seen was not counted against the target")
	}
	for name, extra := range map[string][]audit.Event{
		"two status writes": {ev("patch", "blueprints", "status", "bp-0000", 200), ev("patch", "blueprints", "status", "bp-0000", 200)},
		"an Event":          {ev("patch", "blueprints", "status", "bp-0000", 200), ev("create", "events", "", "bp-0000.18a2f3c4d5e6f708", 201)},
		"a re-apply":        {ev("patch", "blueprints", "status", "bp-0000", 200), ev("patch", "deployments", "", "web-0000", 200)},
		"three reads":       {ev("get", "secrets", "", "bp-0000-ref", 200), ev("get", "secrets", "", "bp-0000-ref", 200), ev("get", "deployments", "", "web-0000", 404)},
	} {
		c := countCreation(append(objects("0000"), extra...), 1)
		if c.Holds {
			t.Errorf("%s: held: %+v", name, c)
		}
		if c.Objects.Max != 3 {
			t.Errorf("%s: objects %d", name, c.Objects.Max)
		}
	}
}

func TestBlueprintOfObject(t *testing.T) {
	for name, want := range map[string]string{
		"bp-0042": "0042", "bp-0042-generated": "0042", "web-0042": "0042", "bp-0042.18a2f3c4d5e6f708": "0042",
		"sh-s007": "s007", "web-s007": "s007", "bp-0042-ref": "0042",
	} {
		m := bpSuffix.FindStringSubmatch(name)
		if m == nil || m[1] != want {
			t.Errorf("%s: got %v, want %s", name, m, want)
		}
	}
	for _, name := range []string{"shared", "unrelated-00042", "kube-root-ca.crt"} {
		if m := bpSuffix.FindStringSubmatch(name); m != nil {
			t.Errorf("%s matched %v", name, m)
		}
	}
}

func TestAuditLog(t *testing.T) {
	path := filepath.Join(t.TempDir(), "audit.log")
	lines := `{"kind":"Event","stage":"ResponseComplete","verb":"patch","user":{"username":"blueprint-operator"},"objectRef":{"resource":"deployments","namespace":"bp-00","name":"web-0001","apiGroup":"apps"},"responseStatus":{"code":201},"requestReceivedTimestamp":"2026-01-01T00:00:01.000000Z"}
{"kind":"Event","stage":"ResponseComplete","verb":"get","user":{"username":"blueprint-operator"},"objectRef":{"resource":"secrets","namespace":"bp-00","name":"bp-0001-ref"},"responseStatus":{"code":200},"requestReceivedTimestamp":"2026-01-01T00:00:02.000000Z"}
{"kind":"Event","stage":"ResponseComplete","verb":"create","user":{"username":"bench"},"objectRef":{"resource":"blueprints","namespace":"bp-00","name":"bp-0001"},"responseStatus":{"code":201},"requestReceivedTimestamp":"2026-01-01T00:00:02.500000Z"}
{"kind":"Event","stage":"ResponseComplete","verb":"patch","user":{"username":"blueprint-operator"},"objectRef":{"resource":"blueprints","namespace":"bp-00","name":"bp-0001","subresource":"status"},"responseStatus":{"code":200},"requestReceivedTimestamp":"2026-01-01T00:00:03.000000Z"}
{"kind":"Event","stage":"ResponseComplete","verb":"patch","user":{"username":"blueprint-operator"},"objectRef":{"resource":"blu`
	if err := os.WriteFile(path, []byte(lines), 0o600); err != nil {
		t.Fatal(err)
	}
	l := audit.Open(path)
	from := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	events, err := l.Between(userManager, from, from.Add(2500*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	s := audit.Summarize(events)
	if s.Requests != 2 || s.Writes != 1 || s.ByKind["patch(create) deployments"] != 1 || s.ByKind["get secrets"] != 1 {
		t.Errorf("summary %+v", s)
	}
	// The partial last line is read once it is complete.
	f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = f.WriteString(`eprints","namespace":"bp-00","name":"bp-0001","subresource":"status"},"responseStatus":{"code":200},"requestReceivedTimestamp":"2026-01-01T00:00:04.000000Z"}` + "\n")
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	events, err = l.Between(userManager, from, from.Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if s := audit.Summarize(events); s.ByKind["patch blueprints/status"] != 2 {
		t.Errorf("summary after append %+v", s)
	}
}

func TestPercentile(t *testing.T) {
	var ds []time.Duration
	for i := 1; i <= 100; i++ {
		ds = append(ds, time.Duration(i)*time.Millisecond)
	}
	if p := percentile(ds, 50); p != 50*time.Millisecond {
		t.Errorf("p50 %s", p)
	}
	if p := percentile(ds, 99); p != 99*time.Millisecond {
		t.Errorf("p99 %s", p)
	}
	if p := percentile(ds[:5], 99); p != 5*time.Millisecond {
		t.Errorf("p99 of 5 %s", p)
	}
}

// TestReportUpToDate renders README's bench section and the plot from the
// committed bench/results.json, and fails when either differs from what is
// committed: the figures are generated, never typed.
func TestReportUpToDate(t *testing.T) {
	res, err := readResults("results.json")
	if err != nil {
		t.Fatal(err)
	}
	readme, err := os.ReadFile(filepath.Join("..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	limit, err := readShippedMemoryLimit(filepath.Join("..", "config", "manager", "manager.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	want, err := replaceSection(string(readme), renderSection(res, limit))
	if err != nil {
		t.Fatal(err)
	}
	if string(readme) != want {
		t.Errorf("README.md's bench section differs from bench/results.json: run 'make bench-report' and commit")
	}
	svg, err := renderSVG(res, limit)
	if err != nil {
		t.Fatal(err)
	}
	committed, err := os.ReadFile("results.svg")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(svg, committed) {
		t.Errorf("bench/results.svg differs from bench/results.json: run 'make bench-report' and commit")
	}
}

func TestRenderDeterministic(t *testing.T) {
	res := sampleResults()
	limit := resource.MustParse("256Mi")
	a, err := renderSVG(res, limit)
	if err != nil {
		t.Fatal(err)
	}
	b, err := renderSVG(res, limit)
	if err != nil {
		t.Fatal(err)
	}
	if sa, sb := renderSection(res, limit), renderSection(sampleResults(), limit); !bytes.Equal(a, b) || sa != sb {
		t.Error("the same results rendered differently")
	}
	if !bytes.Contains(a, []byte("Manager peak RSS")) {
		t.Error("the plot has no RSS panel")
	}
	if !bytes.Contains(a, []byte("shipped limit 256 MiB")) {
		t.Error("the plot does not draw the shipped memory limit")
	}
	if _, err := renderSVG(&results{}, limit); err != nil {
		t.Errorf("empty results: %v", err)
	}
}

func samplePoint(n int, run string, opSeconds float64) curvePoint {
	var p curvePoint
	p.Blueprints, p.ServicesPerBlueprint, p.Run, p.CPUs = n, 3, run, 2
	p.Operator.Seconds, p.Floor.Seconds = opSeconds, opSeconds/2
	p.Ratio = 2
	p.Operator.APIServerCPUPerBlueprintMs, p.Floor.APIServerCPUPerBlueprintMs, p.APIServerCPURatio = 60, 40, 1.5
	p.Operator.APIServerCores, p.Operator.MachineCores = 1.6, 1.98
	p.Memory.EmptyPeakKiB, p.Memory.RestartPeakKiB = 40000, 40000+int64(n)*20
	p.Memory.PerBlueprintKiB = 20
	p.Restart.ResyncSeconds = float64(n) / 500
	p.Restart.ListFloorSeconds = p.Restart.ResyncSeconds / 1.5
	p.UnderLimit = &underLimit{LimitKiB: 256 << 10, ConvergePeakKiB: p.Memory.RestartPeakKiB + 1000, RestartPeakKiB: p.Memory.RestartPeakKiB}
	p.Creation.Objects = meanMax{Mean: 7, Max: 7}
	p.Creation.StatusWrites = meanMax{Mean: 1, Max: 1}
	p.Creation.Reads = meanMax{Mean: 1, Max: 2}
	p.Creation.Holds = true
	return p
}

func sampleResults() *results {
	r := &results{}
	r.Run = runInfo{ID: "2026-01-01T00:00:00Z", Command: "go run ./bench", Complete: true, CPUs: 2}
	r.addPoint(samplePoint(1000, r.Run.ID, 40))
	r.addPoint(samplePoint(100, r.Run.ID, 4))
	r.add(row{Scenario: "edit-latency-p99", Figure: "p99", Value: 0.5, Unit: "s", Target: "≤ 1 s", Holds: true})
	return merge(nil, r)
}

func TestCurveRows(t *testing.T) {
	res := sampleResults()
	rows := map[string]row{}
	for _, x := range res.Rows {
		rows[x.Scenario] = x
	}
	conv := rows["convergence"]
	if conv.Blueprints != 1000 || conv.Holds || conv.Limit == "" {
		t.Errorf("convergence at ratio 2 must fail at 1000 and name its limit: %+v", conv)
	}
	if c := rows["apiserver-cpu"]; !c.Holds || c.Blueprints != 1000 {
		t.Errorf("apiserver CPU ratio 1.5 holds: %+v", c)
	}
	if !rows["creation-requests"].Holds || !rows["steady-writes"].Holds || !rows["restart-writes"].Holds {
		t.Errorf("rows %+v", rows)
	}
	// The 10,000-Blueprint targets fail where the largest size is 1000.
	if want := []string{"convergence", "shipped-limit", "memory-per-blueprint"}; res.AllHold || !slices.Equal(res.Failing, want) {
		t.Errorf("failing %v, want %v", res.Failing, want)
	}
	section := renderSection(res, resource.MustParse("256Mi"))
	for _, want := range []string{"**no**: kube-apiserver used 1.60 cores", "| 100 | 4.00 s |", "It grows by 20.0 KiB per Blueprint", "N^1.00 from 100 to 1000"} {
		if !strings.Contains(section, want) {
			t.Errorf("section lacks %q:\n%s", want, section)
		}
	}
	// A restart write at any size fails the row, though read at the largest.
	res.Curve[0].Restart.WritesInWindow = 1
	res.finish()
	for _, x := range res.Rows {
		if x.Scenario == "restart-writes" && x.Holds {
			t.Error("a restart write at 100 Blueprints was hidden")
		}
	}
}

func TestMerge(t *testing.T) {
	old := sampleResults()
	old.Notes = []string{"[" + old.Run.ID + "] old note"}
	cur := &results{}
	cur.Run = runInfo{ID: "2026-02-02T00:00:00Z", Command: "go run ./bench -sizes 10000 -scenarios curve -merge"}
	cur.addPoint(samplePoint(10000, cur.Run.ID, 500))
	cur.note("new note")
	m := merge(old, cur)
	var sizes []int
	for _, p := range m.Curve {
		sizes = append(sizes, p.Blueprints)
	}
	if !slices.Equal(sizes, []int{100, 1000, 10000}) {
		t.Errorf("sizes %v", sizes)
	}
	if len(m.Runs) != 2 || m.Runs[0].ID != old.Run.ID || m.Runs[1].ID != cur.Run.ID {
		t.Errorf("runs %+v", m.Runs)
	}
	if len(m.Notes) != 2 {
		t.Errorf("notes %v", m.Notes)
	}
	var latency, steady *row
	for i, x := range m.Rows {
		switch x.Scenario {
		case "edit-latency-p99":
			latency = &m.Rows[i]
		case "steady-writes":
			steady = &m.Rows[i]
		}
	}
	if latency == nil || latency.Run != old.Run.ID {
		t.Errorf("the earlier run's latency row was lost: %+v", latency)
	}
	if steady == nil || steady.Blueprints != 10000 || steady.Run != cur.Run.ID {
		t.Errorf("steady-writes is not read at the new largest size: %+v", steady)
	}
	// Re-measuring 1000 replaces that point only; the 100 point's run stays.
	again := &results{}
	again.Run = runInfo{ID: "2026-03-03T00:00:00Z"}
	again.addPoint(samplePoint(1000, again.Run.ID, 30))
	m2 := merge(m, again)
	if len(m2.Curve) != 3 || m2.Curve[1].Run != again.Run.ID || m2.Curve[1].Operator.Seconds != 30 || m2.Curve[0].Run != old.Run.ID {
		t.Errorf("curve after re-measuring 1000: %+v", m2.Curve)
	}
	if len(m2.Runs) != 3 {
		t.Errorf("runs %+v", m2.Runs)
	}
}

func TestQueueFromMetrics(t *testing.T) {
	text := `# TYPE controller_runtime_reconcile_total counter
controller_runtime_reconcile_total{controller="blueprint",result="success"} 98
controller_runtime_reconcile_total{controller="blueprint",result="requeue"} 2
controller_runtime_reconcile_total{controller="other",result="success"} 7
# TYPE workqueue_depth gauge
workqueue_depth{controller="blueprint",name="blueprint"} 3
# TYPE controller_runtime_active_workers gauge
controller_runtime_active_workers{controller="blueprint"} 1
`
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(strings.NewReader(text))
	if err != nil {
		t.Fatal(err)
	}
	q, err := queueFromMetrics(fams)
	if err != nil {
		t.Fatal(err)
	}
	if q.reconciles != 100 || q.depth != 3 || q.active != 1 {
		t.Errorf("%+v", q)
	}
	delete(fams, "workqueue_depth")
	if _, err := queueFromMetrics(fams); err == nil {
		t.Error("metrics without the workqueue were accepted")
	}
}

func TestParseSizes(t *testing.T) {
	got, err := parseSizes("1000, 100,1000")
	if err != nil || !slices.Equal(got, []int{100, 1000}) {
		t.Errorf("%v %v", got, err)
	}
	for _, bad := range []string{"", "0", "x", "10001"} {
		if _, err := parseSizes(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

func TestMergeFrom(t *testing.T) {
	dir := t.TempDir()
	out, from := filepath.Join(dir, "results.json"), filepath.Join(dir, "other.json")
	if err := sampleResults().write(out); err != nil {
		t.Fatal(err)
	}
	other := &results{}
	other.Run = runInfo{ID: "2026-02-02T00:00:00Z"}
	other.addPoint(samplePoint(10000, other.Run.ID, 500))
	if err := merge(nil, other).write(from); err != nil {
		t.Fatal(err)
	}
	if err := mergeFrom(out, from); err != nil {
		t.Fatal(err)
	}
	got, err := readResults(out)
	if err != nil {
		t.Fatal(err)
	}
	if n := len(got.Curve); n != 3 || got.Curve[2].Blueprints != 10000 || got.Curve[2].Run != other.Run.ID {
		t.Errorf("curve after merging: %+v", got.Curve)
	}
	// A merged file is not one run: refused, so no run's rows are lost.
	if err := mergeFrom(from, out); err == nil {
		t.Error("merged a file of several runs")
	}
}
