// Command bench measures the Blueprint operator against its floors on envtest
// control planes (kube-apiserver and etcd): a curve over Blueprint counts
// (-sizes; the floor and the operator each on a fresh control plane) of
// convergence time against a plain client's, kube-apiserver CPU, requests
// per Blueprint, peak RSS, steady-state
// writes and a restarted manager's resync; then, at the largest size ≤ 1000,
// how fast a Secret edit reaches the Deployments that consume it and peak
// memory with many unrelated Secrets, and that hostile Blueprints naming
// many missing Secrets cost the manager no Secret read. Every figure is measured next to a baseline in
// the same run (a plain client doing the same work directly, or the same
// manager without the load), because absolute times drift on shared
// machines. API requests are counted by the API server, from its audit log.
//
// The manager runs as a separate process built from ./cmd, as in production.
// It prints a table and writes the figures as JSON after every scenario;
// -merge adds to an existing file, and -report renders README's Performance
// figures and bench/results.svg from it.
//
//	go build -C bench -o ../bin/bench .  (from the repository root, where it runs)
//	KUBEBUILDER_ASSETS=... bin/bench -out bench/results.json
//	KUBEBUILDER_ASSETS=... bin/bench -sizes 10000 -scenarios curve -merge -out bench/results.json
//	bin/bench -report
//	KUBEBUILDER_ASSETS=... bin/bench -smoke -out /tmp/bench-smoke.json
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/go-logr/logr"
	ctrllog "sigs.k8s.io/controller-runtime/pkg/log"
)

type config struct {
	// sizes are the curve's Blueprint counts, smallest first; blueprints
	// is the one the latency, shared and memory scenarios run at.
	sizes           []int
	blueprints      int
	steadyWindow    time.Duration
	merge           bool
	report          bool
	readme          string
	svg             string
	managerManifest string
	chartValues     string
	// shippedLimit runs the curve's managers under the shipped memory
	// limit (bench/limit.go).
	shippedLimit     bool
	perNamespace     int
	shared           int
	unrelatedSecrets int
	secretSize       int
	secretsPerNS     int
	lastApplied      bool
	latencySamples   int
	sharedSamples    int
	restartWindow    time.Duration
	rssSettle        time.Duration
	waitTimeout      time.Duration
	benchWorkers     int
	managerArgs      string
	managerBin       string
	out              string
	keep             bool
	smoke            bool
	mergeFrom        string
	scenarios        string
	rssRepeats       int
	tail             time.Duration
	failOnMiss       bool
	memoryVariants   [][]string
	// heapProfile is where the curve writes the manager's heap profiles,
	// or "" for none.
	heapProfile string
	// cpuProfileSeconds is how long each manager's CPU profile runs from
	// its start (with heapProfile).
	cpuProfileSeconds int

	// The memory scenario's other unrelated kinds, and the peer scenario
	// (bench/memory.go, bench/unrelated.go, bench/peer.go).
	unrelatedDeployments   int
	unrelatedServices      int
	unrelatedClaims        int
	unrelatedIngresses     int
	unrelatedInBlueprintNS float64
	memoryPerKind          bool
	reloaderBin            string
	peerWorkloads          int
	peerSecrets            int
}

func main() {
	cfg, sizes := parseFlags()
	var err error
	if cfg.sizes, err = parseSizes(sizes); err != nil {
		fmt.Fprintln(os.Stderr, "bench: -sizes:", err)
		os.Exit(1)
	}
	if cfg.mergeFrom != "" {
		if err := mergeFrom(cfg.out, cfg.mergeFrom); err != nil {
			fmt.Fprintln(os.Stderr, "bench:", err)
			os.Exit(1)
		}
		return
	}
	if cfg.report {
		if err := report(cfg.out, cfg.readme, cfg.svg, cfg.managerManifest, cfg.chartValues); err != nil {
			fmt.Fprintln(os.Stderr, "bench:", err)
			os.Exit(1)
		}
		return
	}
	// The bench's own controller-runtime cache logs nothing worth reading.
	ctrllog.SetLogger(logr.Discard())
	ctx, cancel := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer cancel()
	if err := run(ctx, cfg); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		if errors.Is(err, errTargetMissed) {
			os.Exit(2)
		}
		os.Exit(1)
	}
}

// parseFlags reads the command line into a config, and returns -sizes
// unparsed.
func parseFlags() (config, string) {
	var cfg config
	sizes := flag.String("sizes", "100,1000", "Blueprint counts of the curve (3 services each), comma-separated; the floor and the operator each get a fresh control plane per size. "+
		"Add 10000 for the 10,000 point (about an hour on 2 cores: too long for CI). Latency, shared and memory run at the largest ≤ 1000")
	flag.DurationVar(&cfg.steadyWindow, "steady-window", 30*time.Second, "how long writes are counted at steady state, all Blueprints Ready and nothing changing")
	flag.BoolVar(&cfg.merge, "merge", false, "load -out and replace only the curve points and rows this run measures")
	flag.StringVar(&cfg.mergeFrom, "merge-from", "", "measure nothing: merge the results file of another run (one that ran while -out was being written, say) into -out, as -merge would have")
	flag.BoolVar(&cfg.report, "report", false, "measure nothing: render README's Performance figures (-readme) and the plot (-svg) from -out")
	flag.StringVar(&cfg.readme, "readme", "README.md", "the README whose bench markers -report rewrites")
	flag.StringVar(&cfg.svg, "svg", "bench/results.svg", "where -report writes the plot")
	flag.StringVar(&cfg.managerManifest, "manager-manifest", "config/manager/manager.yaml", "the manifest whose manager container's memory limit -report draws on the plot and -shipped-limit runs the curve under")
	flag.StringVar(&cfg.chartValues, "chart-values", "dist/chart/values.yaml", "the Helm chart's values, whose sizing comment next to the memory limit -report rewrites")
	flag.BoolVar(&cfg.shippedLimit, "shipped-limit", true, "curve: start every manager with GOMEMLIMIT at 90% of the shipped memory limit (-manager-manifest), as production sets it, and sample its RSS every 200 ms (and VmHWM) against that limit, through converge and restart")
	flag.IntVar(&cfg.perNamespace, "per-namespace", 100, "Blueprints per namespace")
	flag.IntVar(&cfg.shared, "shared", 100, "Blueprints referencing one shared Secret")
	flag.IntVar(&cfg.unrelatedSecrets, "unrelated-secrets", 10000, "unrelated Secrets in other namespaces, for the memory figure")
	flag.IntVar(&cfg.secretSize, "secret-size", 16<<10, "bytes of data in each unrelated Secret")
	flag.IntVar(&cfg.secretsPerNS, "secrets-per-namespace", 500, "unrelated Secrets per namespace")
	flag.BoolVar(&cfg.lastApplied, "last-applied", true, "give each unrelated object kubectl's last-applied-configuration annotation (a JSON copy of the object), as 'kubectl apply' does")
	flag.IntVar(&cfg.latencySamples, "latency-samples", 100, "single Secret edits timed for the latency figure")
	flag.IntVar(&cfg.sharedSamples, "shared-samples", 3, "edits of the shared Secret")
	flag.DurationVar(&cfg.restartWindow, "restart-window", 60*time.Second, "how long writes are counted after a restarted manager's caches sync")
	flag.DurationVar(&cfg.rssSettle, "rss-settle", 15*time.Second, "how long after its caches sync a manager's peak RSS is read")
	flag.DurationVar(&cfg.waitTimeout, "timeout", 10*time.Minute, "longest wait for any one condition")
	flag.IntVar(&cfg.benchWorkers, "bench-workers", 16, "concurrency of the bench's own setup requests (creating Blueprints and Secrets)")
	flag.StringVar(&cfg.managerArgs, "manager-args", "", "extra manager flags, space-separated (e.g. '--max-concurrent-reconciles=8')")
	flag.StringVar(&cfg.managerBin, "manager-bin", "", "a manager binary to use instead of building ./cmd")
	flag.StringVar(&cfg.out, "out", "bench/results.json", "where to write the figures as JSON")
	flag.StringVar(&cfg.heapProfile, "heap-profile", "", "serve the manager's pprof on a free loopback port and, at each curve size, write its heap profile (after a GC) to `DIR`/heap-<size>.pb.gz once converged and DIR/heap-<size>-restart.pb.gz once a restart has resynced; read them with 'go tool pprof'")
	flag.IntVar(&cfg.cpuProfileSeconds, "cpu-profile-seconds", 20, "with -heap-profile: how many seconds of each manager's CPU, from its start, DIR/cpu-<start>.pb.gz profiles (at 10,000 Blueprints a restart's cache sync takes about 20 s, and its reconciles most of a minute more)")
	flag.BoolVar(&cfg.keep, "keep", false, "keep the work directory (audit log, manager logs)")
	// hostile before memory: it wants the manager left running with every
	// Blueprint Ready, and memory leaves none running.
	flag.StringVar(&cfg.scenarios, "scenarios", "peer,curve,latency,shared,hostile,memory", "scenarios to run: peer on a control plane of its own, curve at every size, then the others at the largest size ≤ 1000")
	flag.DurationVar(&cfg.tail, "tail", 3*time.Second, "how long past the last Blueprint's Ready its writes are still counted")
	flag.BoolVar(&cfg.failOnMiss, "fail-on-miss", false, "exit 2 when a target does not hold")
	flag.IntVar(&cfg.rssRepeats, "rss-repeats", 3, "manager starts per memory measurement; the median counts")
	flag.Func("memory-variant", "also measure the memory figure with these extra manager flags (space-separated); repeatable", func(v string) error {
		cfg.memoryVariants = append(cfg.memoryVariants, strings.Fields(v))
		return nil
	})
	flag.IntVar(&cfg.unrelatedDeployments, "unrelated-deployments", 10000, "unrelated Deployments (three containers, env, probes), for the memory figure")
	flag.IntVar(&cfg.unrelatedServices, "unrelated-services", 10000, "unrelated Services (two ports), for the memory figure")
	flag.IntVar(&cfg.unrelatedClaims, "unrelated-claims", 10000, "unrelated PersistentVolumeClaims, for the memory figure")
	flag.IntVar(&cfg.unrelatedIngresses, "unrelated-ingresses", 10000, "unrelated Ingresses (TLS, two paths), for the memory figure")
	flag.Float64Var(&cfg.unrelatedInBlueprintNS, "unrelated-in-blueprint-namespaces", 0.1, "fraction of each kind of unrelated object put in the Blueprints' namespaces; the rest go secrets-per-namespace to a namespace")
	flag.BoolVar(&cfg.memoryPerKind, "memory-per-kind", true, "measure the manager after each kind of unrelated object is added, for each kind's share (else once, with all)")
	flag.StringVar(&cfg.reloaderBin, "reloader-bin", "bin/reloader", "Stakater Reloader binary for the peer scenario ('make reloader'); the scenario is skipped when it is absent")
	flag.IntVar(&cfg.peerWorkloads, "peer-workloads", 50, "peer scenario: Blueprints for the manager and Reloader-annotated Deployments, each consuming a Secret")
	flag.IntVar(&cfg.peerSecrets, "peer-secrets", 1000, "peer scenario: unrelated Secrets of secret-size bytes")
	flag.BoolVar(&cfg.smoke, "smoke", false, "small sizes that run in seconds (CI); explicit size flags still win")
	flag.Parse()
	if cfg.smoke {
		applySmoke(&cfg, sizes)
	}
	return cfg, *sizes
}

// applySmoke sets the sizes of a -smoke run, except those the command line
// sets.
func applySmoke(cfg *config, sizes *string) {
	set := map[string]bool{}
	flag.Visit(func(f *flag.Flag) { set[f.Name] = true })
	smoke := map[string]func(){
		"sizes":                 func() { *sizes = "10,20" },
		"steady-window":         func() { cfg.steadyWindow = 2 * time.Second },
		"per-namespace":         func() { cfg.perNamespace = 10 },
		"shared":                func() { cfg.shared = 10 },
		"unrelated-secrets":     func() { cfg.unrelatedSecrets = 200 },
		"latency-samples":       func() { cfg.latencySamples = 5 },
		"shared-samples":        func() { cfg.sharedSamples = 1 },
		"restart-window":        func() { cfg.restartWindow = 2 * time.Second },
		"tail":                  func() { cfg.tail = time.Second },
		"rss-settle":            func() { cfg.rssSettle = 2 * time.Second },
		"rss-repeats":           func() { cfg.rssRepeats = 1 },
		"timeout":               func() { cfg.waitTimeout = 2 * time.Minute },
		"secrets-per-namespace": func() { cfg.secretsPerNS = 100 },
	}
	smokeUnrelated(cfg, smoke)
	for name, apply := range smoke {
		if !set[name] {
			apply()
		}
	}
}

// knobs are the manager's settings that the baseline copies: the plain
// client runs at the manager's concurrency and client-side rate limits.
type knobs struct {
	MaxConcurrentReconciles int      `json:"maxConcurrentReconciles"`
	KubeAPIQPS              float64  `json:"kubeAPIQPS"`
	KubeAPIBurst            int      `json:"kubeAPIBurst"`
	Args                    []string `json:"args"`
}

// resolveKnobs reads the manager's defaults from its -help and applies the
// flags the bench passes.
func resolveKnobs(bin string, args []string) (knobs, error) {
	help, _ := exec.Command(bin, "-help").CombinedOutput()
	return knobsFromHelp(string(help), args)
}

func knobsFromHelp(help string, args []string) (knobs, error) {
	// -help prints each flag as "  -name type" followed by its indented
	// description, which ends in "(default X)" unless X is the zero value.
	blocks := map[string]string{}
	var current string
	for _, line := range strings.Split(help, "\n") {
		if strings.HasPrefix(line, "  -") {
			current = strings.Fields(line)[0][1:]
		}
		if current != "" {
			blocks[current] += line + "\n"
		}
	}
	def := func(name string) (string, error) {
		block, ok := blocks[name]
		if !ok {
			return "", fmt.Errorf("manager has no flag --%s:\n%s", name, help)
		}
		if m := regexp.MustCompile(`\(default ([^)]+)\)`).FindStringSubmatch(block); m != nil {
			return m[1], nil
		}
		return "0", nil
	}
	value := func(name string) (string, error) {
		v, err := def(name)
		for _, a := range args {
			if after, ok := strings.CutPrefix(a, "--"+name+"="); ok {
				v, err = after, nil
			}
		}
		return v, err
	}
	k := knobs{Args: args}
	mcr, err := value("max-concurrent-reconciles")
	if err != nil {
		return k, err
	}
	qps, err := value("kube-api-qps")
	if err != nil {
		return k, err
	}
	burst, err := value("kube-api-burst")
	if err != nil {
		return k, err
	}
	if k.MaxConcurrentReconciles, err = strconv.Atoi(mcr); err != nil {
		return k, err
	}
	if k.KubeAPIQPS, err = strconv.ParseFloat(qps, 64); err != nil {
		return k, err
	}
	if k.KubeAPIBurst, err = strconv.Atoi(burst); err != nil {
		return k, err
	}
	return k, nil
}

// parseSizes reads -sizes: positive counts, returned sorted and unique.
func parseSizes(v string) ([]int, error) {
	var out []int
	for _, f := range strings.Split(v, ",") {
		f = strings.TrimSpace(f)
		if f == "" {
			continue
		}
		n, err := strconv.Atoi(f)
		// Object names carry a Blueprint's index in four digits.
		if err != nil || n < 1 || n > 10000 {
			return nil, fmt.Errorf("%q is not a Blueprint count from 1 to 10000", f)
		}
		out = append(out, n)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("no size in %q", v)
	}
	slices.Sort(out)
	return slices.Compact(out), nil
}

func buildManager(dir string) (string, error) {
	bin := filepath.Join(dir, "manager")
	cmd := exec.Command("go", "build", "-o", bin, "./cmd")
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("building the manager: %w", err)
	}
	return bin, nil
}

func logf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "%s  "+format+"\n", append([]any{time.Now().Format("15:04:05.000")}, args...)...)
}
