package main

import (
	"context"
	"fmt"
	"sort"
	"strings"

	"github.com/stax-dev/blueprint-operator/bench/internal/proc"
)

// memoryStep is the manager's peak RSS after one more kind of unrelated
// objects was added.
type memoryStep struct {
	Kind   string `json:"kind"`
	plural string
	Count  int `json:"count"`
	// InBlueprintNamespaces of Count sit in the Blueprints' namespaces.
	InBlueprintNamespaces int `json:"inBlueprintNamespaces"`
	// MeanBytes is the mean size of one object as created, in JSON.
	MeanBytes int `json:"meanBytes"`
	// PeakMiB is the median peak RSS with this kind and those before it.
	PeakMiB float64       `json:"peakMiB"`
	Starts  []proc.Memory `json:"starts"`
	// DeltaMiB is PeakMiB less the step before's: this kind's share.
	DeltaMiB float64 `json:"deltaMiB"`
}

func medianMemory(ms []proc.Memory) proc.Memory {
	s := append([]proc.Memory(nil), ms...)
	sort.Slice(s, func(i, j int) bool { return s[i].PeakKiB < s[j].PeakKiB })
	return s[len(s)/2]
}

func mib(m proc.Memory) float64 { return float64(m.PeakKiB) / 1024 }

// memoryScenario: the manager's peak RSS with many unrelated objects of
// every kind it renders (Secrets, Deployments, Services,
// PersistentVolumeClaims, Ingresses), created as kubectl apply creates
// them, mostly in other namespaces and some in the Blueprints' own,
// against the same manager started the same way before they existed. Each
// figure is the median of rss-repeats starts. With -memory-per-kind the
// kinds are added one at a time and the manager measured after each, so
// each kind's share is the step it adds; otherwise all are added at once.
type memoryScenario struct {
	// variants are the manager's flags of each measurement: none, then
	// each -memory-variant; without their peaks before any unrelated
	// object, with after all.
	variants      [][]string
	without, with [][]proc.Memory
	// steps are the kinds added so far, with their counts and the peaks
	// measured after them.
	steps []memoryStep
	total int
}

func (*memoryScenario) name() string { return "memory" }

// setup stops the manager: the scenario starts its own, one at a time.
func (s *memoryScenario) setup(_ context.Context, e *env) error {
	s.variants = append([][]string{nil}, e.cfg.memoryVariants...)
	return e.stopManager()
}

func (s *memoryScenario) measure(ctx context.Context, e *env) (outcome, error) {
	s.without = make([][]proc.Memory, len(s.variants))
	for i, v := range s.variants {
		m, err := e.peaks(ctx, v)
		if err != nil {
			return nil, err
		}
		s.without[i] = m
	}
	logf("manager peak RSS before any unrelated object: %.1f MiB %v", mib(medianMemory(s.without[0])), s.without[0])
	if err := s.addUnrelated(ctx, e); err != nil {
		return nil, err
	}
	s.with = make([][]proc.Memory, len(s.variants))
	s.with[0] = s.steps[len(s.steps)-1].Starts
	for i := 1; i < len(s.variants); i++ {
		m, err := e.peaks(ctx, s.variants[i])
		if err != nil {
			return nil, err
		}
		s.with[i] = m
	}
	return rows{s.row(e.cfg)}, nil
}

// addUnrelated creates each kind of unrelated objects in turn and measures
// the manager after each (-memory-per-kind) or after the last.
func (s *memoryScenario) addUnrelated(ctx context.Context, e *env) error {
	bpNS := namespacesOf(e.main)
	for _, k := range unrelatedKinds(e.cfg) {
		if k.Count == 0 {
			continue
		}
		meanBytes, err := createUnrelated(ctx, e, k, bpNS)
		if err != nil {
			return err
		}
		inBP := int(float64(k.Count) * e.cfg.unrelatedInBlueprintNS)
		if len(bpNS) == 0 {
			inBP = 0
		}
		s.steps = append(s.steps, memoryStep{Kind: k.Name, plural: k.Plural, Count: k.Count, InBlueprintNamespaces: inBP, MeanBytes: meanBytes})
		s.total += k.Count
		if e.cfg.memoryPerKind {
			if err := s.measureStep(ctx, e, len(s.steps)-1); err != nil {
				return err
			}
		}
	}
	if len(s.steps) == 0 {
		return fmt.Errorf("no unrelated objects to create: every -unrelated-* size is 0")
	}
	if !e.cfg.memoryPerKind {
		return s.measureStep(ctx, e, len(s.steps)-1)
	}
	return nil
}

// measureStep measures the manager with the kinds of steps[:i+1] present:
// step i's peak, and its share over the last step measured.
func (s *memoryScenario) measureStep(ctx context.Context, e *env, i int) error {
	m, err := e.peaks(ctx, nil)
	if err != nil {
		return err
	}
	prev := mib(medianMemory(s.without[0]))
	for j := i - 1; j >= 0; j-- {
		if s.steps[j].Starts != nil {
			prev = s.steps[j].PeakMiB
			break
		}
	}
	med := medianMemory(m)
	s.steps[i].Starts, s.steps[i].PeakMiB, s.steps[i].DeltaMiB = m, mib(med), mib(med)-prev
	var kinds []string
	for _, st := range s.steps[:i+1] {
		kinds = append(kinds, st.plural)
	}
	logf("manager peak RSS with unrelated %s: %.1f MiB (+%.1f MiB) %v", strings.Join(kinds, ", "), s.steps[i].PeakMiB, s.steps[i].DeltaMiB, m)
	return nil
}

// row is the memory figure: the manager with every unrelated object
// against the manager before they existed.
func (s *memoryScenario) row(cfg config) row {
	base := medianMemory(s.without[0])
	variantDetails := map[string]any{}
	for i, v := range s.variants {
		w, wo := medianMemory(s.with[i]), medianMemory(s.without[i])
		ratio := float64(w.PeakKiB) / float64(wo.PeakKiB)
		logf("manager %v peak RSS: %d KiB with %d unrelated objects, %d KiB without (ratio %.3f; with %v, without %v)", v, w.PeakKiB, s.total, wo.PeakKiB, ratio, s.with[i], s.without[i])
		if i > 0 {
			variantDetails[strings.Join(v, " ")] = map[string]any{"with": s.with[i], "without": s.without[i], "ratio": ratio}
		}
	}
	w := medianMemory(s.with[0])
	ratio := float64(w.PeakKiB) / float64(base.PeakKiB)
	var counts []string
	for _, st := range s.steps {
		counts = append(counts, fmt.Sprintf("%d %s", st.Count, st.plural))
	}
	details := map[string]any{
		"with": s.with[0], "without": s.without[0], "readAfterSyncSeconds": cfg.rssSettle.Seconds(),
		"lastAppliedAnnotation": cfg.lastApplied, "fieldManager": kubectlFieldManager,
		"secretBytes": cfg.secretSize, "inBlueprintNamespacesFraction": cfg.unrelatedInBlueprintNS,
		"perKind": cfg.memoryPerKind, "steps": s.steps, "variants": variantDetails,
	}
	if cfg.memoryPerKind && s.steps[0].Kind == "Secret" {
		// The figure this row reported before the other kinds joined.
		details["secretsOnlyRatio"] = s.steps[0].PeakMiB / mib(base)
	}
	how := "all added at once"
	if cfg.memoryPerKind {
		how = "added one kind at a time, each kind's share in details.steps"
	}
	return row{
		Scenario: "memory",
		Figure: fmt.Sprintf("%s unrelated to any Blueprint (%.0f%% of each in the Blueprints' namespaces, created as kubectl apply creates them; %s): manager peak RSS (VmHWM, median of %d starts)",
			strings.Join(counts, ", "), 100*cfg.unrelatedInBlueprintNS, how, len(s.with[0])),
		Value: mib(w), Unit: "MiB", Baseline: mib(base), BaselineOf: "the same manager started the same way before they existed",
		Ratio: ptrTo(ratio), Target: "ratio ≤ 1.2", Holds: ratio <= 1.2,
		Details: details,
	}
}
