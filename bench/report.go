package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/stax-dev/blueprint-operator/bench/internal/proc"
)

// row is one figure against its floor.
type row struct {
	Scenario string  `json:"scenario"`
	Figure   string  `json:"figure"`
	Value    float64 `json:"value"`
	Unit     string  `json:"unit"`
	// Baseline is the floor measured in the same run, in Unit.
	Baseline   float64  `json:"baseline"`
	BaselineOf string   `json:"baselineOf"`
	Ratio      *float64 `json:"ratio,omitempty"`
	Target     string   `json:"target"`
	Holds      bool     `json:"holds"`
	Details    any      `json:"details,omitempty"`
}

type results struct {
	Run struct {
		Started                string  `json:"started"`
		Seconds                float64 `json:"seconds"`
		CPUs                   int     `json:"cpus"`
		GoVersion              string  `json:"goVersion"`
		LoadStart              string  `json:"loadavgStart"`
		LoadEnd                string  `json:"loadavgEnd"`
		Command                string  `json:"command"`
		EmulatorStatusFailures int     `json:"emulatorStatusFailures"`
	} `json:"run"`
	Sizes struct {
		Blueprints          int     `json:"blueprints"`
		BlueprintsPerNS     int     `json:"blueprintsPerNamespace"`
		SharedBlueprints    int     `json:"sharedBlueprints"`
		UnrelatedSecrets    int     `json:"unrelatedSecrets"`
		SecretBytes         int     `json:"unrelatedSecretBytes"`
		LatencySamples      int     `json:"latencySamples"`
		SharedSamples       int     `json:"sharedSamples"`
		RestartWindowSecond float64 `json:"restartWindowSeconds"`
	} `json:"sizes"`
	Manager knobs    `json:"manager"`
	Rows    []row    `json:"results"`
	AllHold bool     `json:"allTargetsHold"`
	Failing []string `json:"failing,omitempty"`
	Notes   []string `json:"notes,omitempty"`

	restartMemory proc.Memory
}

func newResults(cfg config) *results {
	r := &results{}
	r.Run.Started = time.Now().UTC().Format(time.RFC3339)
	r.Run.CPUs = runtime.NumCPU()
	r.Run.GoVersion = runtime.Version()
	r.Run.Command = strings.TrimSpace("go run ./bench " + strings.Join(os.Args[1:], " "))
	r.Sizes.Blueprints = cfg.blueprints
	r.Sizes.BlueprintsPerNS = cfg.perNamespace
	r.Sizes.SharedBlueprints = cfg.shared
	r.Sizes.UnrelatedSecrets = cfg.unrelatedSecrets
	r.Sizes.SecretBytes = cfg.secretSize
	r.Sizes.LatencySamples = cfg.latencySamples
	r.Sizes.SharedSamples = cfg.sharedSamples
	r.Sizes.RestartWindowSecond = cfg.restartWindow.Seconds()
	return r
}

func (r *results) add(x row) { r.Rows = append(r.Rows, x) }

func (r *results) finish() {
	r.AllHold = true
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
	case "MiB":
		return fmt.Sprintf("%.1f MiB", v)
	default:
		return fmt.Sprintf("%g %s", v, unit)
	}
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
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", x.Scenario, format(x.Value, x.Unit), format(x.Baseline, x.Unit), ratio, x.Target, holds)
	}
	_ = tw.Flush()
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
	if err := os.WriteFile(path, append(raw, '\n'), 0o644); err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "wrote %s\n", path)
	return nil
}

func convertJSON(v any) (string, error) {
	raw, err := json.Marshal(v)
	return string(raw), err
}
