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

// peaks starts the manager rss-repeats times with extra flags and returns
// the peak RSS of each start.
func (r *runner) peaks(ctx context.Context, extra []string) ([]proc.Memory, error) {
	var out []proc.Memory
	for range max(r.cfg.rssRepeats, 1) {
		m, err := r.peak(ctx, extra)
		if err != nil {
			return nil, err
		}
		out = append(out, m)
	}
	return out, nil
}

// peak starts the manager once with extra flags and returns its peak RSS,
// read rss-settle after its caches synced.
func (r *runner) peak(ctx context.Context, extra []string) (proc.Memory, error) {
	synced, err := r.startManager(ctx, extra...)
	if err != nil {
		return proc.Memory{}, err
	}
	m, err := r.memoryAfter(ctx, synced)
	if err != nil {
		return proc.Memory{}, err
	}
	return m, r.stopManager()
}

// memory: the manager's peak RSS with many unrelated objects of every kind
// it renders (Secrets, Deployments, Services, PersistentVolumeClaims,
// Ingresses), created as kubectl apply creates them, mostly in other
// namespaces and some in the Blueprints' own, against the same manager
// started the same way before they existed. Each figure is the median of
// rss-repeats starts. With -memory-per-kind the kinds are added one at a
// time and the manager measured after each, so each kind's share is the
// step it adds; otherwise all are added at once.
func (r *runner) memory(ctx context.Context) error {
	if err := r.stopManager(); err != nil {
		return err
	}
	variants := append([][]string{nil}, r.cfg.memoryVariants...)
	without := make([][]proc.Memory, len(variants))
	for i, v := range variants {
		m, err := r.peaks(ctx, v)
		if err != nil {
			return err
		}
		without[i] = m
	}
	base := medianMemory(without[0])
	logf("manager peak RSS before any unrelated object: %.1f MiB %v", mib(base), without[0])

	bpNS := namespacesOf(r.main)
	var steps []memoryStep
	var kinds []string
	total := 0
	prev := mib(base)
	measure := func(i int) error {
		m, err := r.peaks(ctx, nil)
		if err != nil {
			return err
		}
		med := medianMemory(m)
		steps[i].Starts, steps[i].PeakMiB, steps[i].DeltaMiB = m, mib(med), mib(med)-prev
		prev = mib(med)
		logf("manager peak RSS with unrelated %s: %.1f MiB (+%.1f MiB) %v", strings.Join(kinds[:i+1], ", "), steps[i].PeakMiB, steps[i].DeltaMiB, m)
		return nil
	}
	for _, k := range unrelatedKinds(r.cfg) {
		if k.Count == 0 {
			continue
		}
		meanBytes, err := r.createUnrelated(ctx, k, bpNS)
		if err != nil {
			return err
		}
		inBP := int(float64(k.Count) * r.cfg.unrelatedInBlueprintNS)
		if len(bpNS) == 0 {
			inBP = 0
		}
		steps = append(steps, memoryStep{Kind: k.Name, plural: k.Plural, Count: k.Count, InBlueprintNamespaces: inBP, MeanBytes: meanBytes})
		kinds = append(kinds, k.Plural)
		total += k.Count
		if r.cfg.memoryPerKind {
			if err := measure(len(steps) - 1); err != nil {
				return err
			}
		}
	}
	if len(steps) == 0 {
		return fmt.Errorf("no unrelated objects to create: every -unrelated-* size is 0")
	}
	last := len(steps) - 1
	if !r.cfg.memoryPerKind {
		if err := measure(last); err != nil {
			return err
		}
	}
	with := make([][]proc.Memory, len(variants))
	with[0] = steps[last].Starts
	for i := 1; i < len(variants); i++ {
		m, err := r.peaks(ctx, variants[i])
		if err != nil {
			return err
		}
		with[i] = m
	}
	variantDetails := map[string]any{}
	for i, v := range variants {
		w, wo := medianMemory(with[i]), medianMemory(without[i])
		ratio := float64(w.PeakKiB) / float64(wo.PeakKiB)
		logf("manager %v peak RSS: %d KiB with %d unrelated objects, %d KiB without (ratio %.3f; with %v, without %v)", v, w.PeakKiB, total, wo.PeakKiB, ratio, with[i], without[i])
		if i > 0 {
			variantDetails[strings.Join(v, " ")] = map[string]any{"with": with[i], "without": without[i], "ratio": ratio}
		}
	}
	w := medianMemory(with[0])
	ratio := float64(w.PeakKiB) / float64(base.PeakKiB)
	var counts []string
	for _, s := range steps {
		counts = append(counts, fmt.Sprintf("%d %s", s.Count, s.plural))
	}
	details := map[string]any{
		"with": with[0], "without": without[0], "readAfterSyncSeconds": r.cfg.rssSettle.Seconds(),
		"lastAppliedAnnotation": r.cfg.lastApplied, "fieldManager": kubectlFieldManager,
		"secretBytes": r.cfg.secretSize, "inBlueprintNamespacesFraction": r.cfg.unrelatedInBlueprintNS,
		"perKind": r.cfg.memoryPerKind, "steps": steps, "variants": variantDetails,
	}
	if r.cfg.memoryPerKind && steps[0].Kind == "Secret" {
		// The figure this row reported before the other kinds joined.
		details["secretsOnlyRatio"] = steps[0].PeakMiB / mib(base)
	}
	how := "all added at once"
	if r.cfg.memoryPerKind {
		how = "added one kind at a time, each kind's share in details.steps"
	}
	r.res.add(row{
		Scenario: "memory",
		Figure: fmt.Sprintf("%s unrelated to any Blueprint (%.0f%% of each in the Blueprints' namespaces, created as kubectl apply creates them; %s): manager peak RSS (VmHWM, median of %d starts)",
			strings.Join(counts, ", "), 100*r.cfg.unrelatedInBlueprintNS, how, len(with[0])),
		Value: mib(w), Unit: "MiB", Baseline: mib(base), BaselineOf: "the same manager started the same way before they existed",
		Ratio: ptrTo(ratio), Target: "ratio ≤ 1.2", Holds: ratio <= 1.2,
		Details: details,
	})
	return nil
}
