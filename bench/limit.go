package main

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/yaml"

	"github.com/stax-dev/blueprint-operator/bench/internal/proc"
)

// managerContainer is the manager's container in config/manager/manager.yaml.
const managerContainer = "manager"

// readShippedMemoryLimit reads the manager's memory limit from the manifest
// at path (config/manager/manager.yaml).
func readShippedMemoryLimit(path string) (resource.Quantity, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return resource.Quantity{}, err
	}
	q, err := shippedMemoryLimit(raw)
	if err != nil {
		return q, fmt.Errorf("%s: %w", path, err)
	}
	return q, nil
}

// shippedMemoryLimit is resources.limits.memory of the container named
// manager of the Deployment in manifest, a stream of YAML documents.
func shippedMemoryLimit(manifest []byte) (resource.Quantity, error) {
	docs := utilyaml.NewYAMLReader(bufio.NewReader(bytes.NewReader(manifest)))
	for {
		doc, err := docs.Read()
		if errors.Is(err, io.EOF) {
			return resource.Quantity{}, fmt.Errorf("no Deployment with a container %q", managerContainer)
		}
		if err != nil {
			return resource.Quantity{}, err
		}
		var tm metav1.TypeMeta
		if err := yaml.Unmarshal(doc, &tm); err != nil {
			return resource.Quantity{}, err
		}
		if tm.Kind != "Deployment" {
			continue
		}
		var d appsv1.Deployment
		if err := yaml.Unmarshal(doc, &d); err != nil {
			return resource.Quantity{}, err
		}
		for _, c := range d.Spec.Template.Spec.Containers {
			if c.Name != managerContainer {
				continue
			}
			q, ok := c.Resources.Limits[corev1.ResourceMemory]
			if !ok || q.IsZero() {
				return resource.Quantity{}, fmt.Errorf("container %q of Deployment %s sets no memory limit", c.Name, d.Name)
			}
			return q, nil
		}
	}
}

// memoryLimitRatio is the share of its memory limit the manager gives the
// Go runtime as GOMEMLIMIT (cmd/main.go's memoryLimitRatio, which package
// main cannot export): keep the two equal.
const memoryLimitRatio = 0.9

// rssSampleEvery is how often the curve samples its managers' RSS under
// the shipped limit.
const rssSampleEvery = 200 * time.Millisecond

// goMemLimit is the GOMEMLIMIT production sets under a memory limit, in
// bytes, rounded down as automemlimit rounds it.
func goMemLimit(limit resource.Quantity) int64 {
	return int64(float64(limit.Value()) * memoryLimitRatio)
}

// underLimit is how a curve point's managers fared under the shipped
// memory limit: started with GOMEMLIMIT as production sets it, their RSS
// watched against the limit, above which the kernel's OOM killer would
// kill the container. Converge is the converging manager from its start
// through the steady window; Restart the restarted one from its start
// until restart-window past its resync.
type underLimit struct {
	LimitKiB        int64        `json:"limitKiB"`
	GoMemLimitBytes int64        `json:"gomemlimitBytes"`
	SampleMillis    int64        `json:"sampleMillis"`
	ConvergePeakKiB int64        `json:"convergePeakKiB"`
	RestartPeakKiB  int64        `json:"restartPeakKiB"`
	Converge        proc.RSSPeak `json:"converge"`
	Restart         proc.RSSPeak `json:"restart"`
	// Exceeded: either peak went above LimitKiB.
	Exceeded bool `json:"exceeded"`
}

func newUnderLimit(limit resource.Quantity, converge, restart proc.RSSPeak) *underLimit {
	u := &underLimit{
		LimitKiB: limit.Value() >> 10, GoMemLimitBytes: goMemLimit(limit), SampleMillis: rssSampleEvery.Milliseconds(),
		ConvergePeakKiB: converge.PeakKiB(), RestartPeakKiB: restart.PeakKiB(), Converge: converge, Restart: restart,
	}
	u.Exceeded = u.ConvergePeakKiB > u.LimitKiB || u.RestartPeakKiB > u.LimitKiB
	return u
}

// underShippedLimit has the managers e starts from now on run as under the
// shipped limit (-manager-manifest): GOMEMLIMIT set, RSS watched.
func underShippedLimit(e *env) (resource.Quantity, error) {
	limit, err := readShippedMemoryLimit(e.cfg.managerManifest)
	if err != nil {
		return limit, err
	}
	e.mgr.env = []string{fmt.Sprintf("GOMEMLIMIT=%d", goMemLimit(limit))}
	e.mgr.watchEvery = rssSampleEvery
	return limit, nil
}

// unlimited has the managers e starts from now on run as before
// underShippedLimit; one running keeps its environment and loses its watch.
func unlimited(e *env) {
	e.mgr.env, e.mgr.watchEvery = nil, 0
	e.mgr.stopWatch()
}

// shippedLimitRow is the managers' peak RSS under the shipped limit at the
// largest size measured; it holds only at 10,000 Blueprints with no size's
// manager ever above the limit.
func shippedLimitRow(points []curvePoint) row {
	l := points[len(points)-1]
	x := row{
		Scenario: "shipped-limit", Blueprints: l.Blueprints, Run: l.Run, Unit: "MiB",
		Figure: fmt.Sprintf("%s: manager peak RSS through converge (and the steady window) and through restart (and the window after), started with GOMEMLIMIT at %.0f%% of the shipped memory limit as production sets it; RSS sampled every %d ms, and VmHWM",
			at(l.Blueprints, 10000), memoryLimitRatio*100, rssSampleEvery.Milliseconds()),
		BaselineOf: "the shipped memory limit (config/manager/manager.yaml), above which the kernel's OOM killer ends the manager",
		Target:     "peak RSS ≤ shipped limit through converge and restart at 10,000",
	}
	u := l.UnderLimit
	if u == nil {
		x.ValueText, x.BaselineText, x.Limit = "not measured", "not measured", "not measured under the shipped limit (-shipped-limit)"
		return x
	}
	var over []string
	for _, p := range points {
		if p.UnderLimit != nil && p.UnderLimit.Exceeded {
			over = append(over, fmt.Sprint(p.Blueprints))
		}
	}
	x.Value = float64(max(u.ConvergePeakKiB, u.RestartPeakKiB)) / 1024
	x.ValueText = fmt.Sprintf("%s converging, %s restarted", kib(u.ConvergePeakKiB), kib(u.RestartPeakKiB))
	x.Baseline = float64(u.LimitKiB) / 1024
	ratio := x.Value / x.Baseline
	x.Ratio = &ratio
	x.Holds = l.Blueprints == 10000 && len(over) == 0
	switch {
	case len(over) > 0:
		x.Limit = fmt.Sprintf("memory: RSS above the shipped limit at %s Blueprints", strings.Join(over, ", "))
	case l.Blueprints != 10000:
		x.Limit = "not measured at 10,000"
	}
	return x
}
