package main

import (
	"context"
	"fmt"
	"regexp"
	"sort"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	staxv1alpha1 "github.com/stax-dev/blueprint-operator/api/v1alpha1"
)

// bpSuffix maps an object name of the bench's sets to its Blueprint's
// suffix: bp-0042, bp-0042-generated, web-0042, bp-0042.<event> give 0042.
var bpSuffix = regexp.MustCompile(`-(\d{4}|s\d{3})(?:$|[-.])`)

// latencyScenario: one referenced Secret edited at a time, timed until the
// bench sees the consuming Deployment's new pod template. The floor: a
// plain client editing a Secret and then the Deployment's template itself.
type latencyScenario struct {
	// floor is the floor's Blueprint-less Deployment and its Secret, plain
	// the floor's client.
	floor bpRef
	plain client.Client
}

func (*latencyScenario) name() string { return "latency" }

// setup creates the floor's Secret and Deployment (no Blueprint: no manager
// acts on them) and its client.
func (s *latencyScenario) setup(ctx context.Context, e *env) error {
	const ns = "base-latency"
	s.floor = bpRef{Namespace: ns, Name: "bp-latency", Suffix: "latency", RefSecret: "latency-ref"}
	if err := createNamespaces(ctx, e.c.bench, ns); err != nil {
		return err
	}
	if err := e.c.bench.Create(ctx, refSecret(ns, s.floor.RefSecret)); err != nil {
		return err
	}
	if err := createWebDeployment(ctx, e, s.floor); err != nil {
		return err
	}
	if err := e.waitSeen(ctx, s.floor.web()); err != nil {
		return err
	}
	var err error
	s.plain, err = e.plainClient()
	return err
}

// createWebDeployment creates ref's web Deployment as the operator renders
// it, without its Blueprint.
func createWebDeployment(ctx context.Context, e *env, ref bpRef) error {
	objs, err := plainObjects(ref, ref.Namespace)
	if err != nil {
		return err
	}
	for _, obj := range objs {
		if d, ok := obj.(*appsv1.Deployment); ok && d.Name == ref.web().Name {
			if err := e.c.bench.Create(ctx, d); err != nil {
				return err
			}
		}
	}
	return nil
}

func (s *latencyScenario) measure(ctx context.Context, e *env) (outcome, error) {
	samples := e.cfg.latencySamples
	var op []time.Duration
	for i := range samples {
		ref := e.main[i*len(e.main)/samples]
		// Each edit meets an idle manager.
		if err := e.quiet(ctx, 300*time.Millisecond); err != nil {
			return nil, err
		}
		d, err := timeEdit(ctx, e, ref.web(), func() error { return patchSecret(ctx, e.c.bench, ref.Namespace, ref.RefSecret) })
		if err != nil {
			return nil, fmt.Errorf("deployment %s after its Secret was edited: %w", ref.web(), err)
		}
		op = append(op, d)
		// One edit at a time: let the Blueprint finish its rollout.
		if _, err := e.obs.waitReady(ctx, []types.NamespacedName{ref.key()}, e.cfg.waitTimeout); err != nil {
			return nil, err
		}
	}
	var base []time.Duration
	for range samples {
		d, err := timeEdit(ctx, e, s.floor.web(), func() error {
			if err := patchSecret(ctx, s.plain, s.floor.Namespace, s.floor.RefSecret); err != nil {
				return err
			}
			return patchDigest(ctx, s.plain, s.floor.web())
		})
		if err != nil {
			return nil, fmt.Errorf("plain Deployment %s: %w", s.floor.web(), err)
		}
		base = append(base, d)
	}
	return latencyRows(op, base, e.obs.blueprints()), nil
}

// timeEdit times edit until the bench sees Deployment key with a new
// secrets digest.
func timeEdit(ctx context.Context, e *env, key types.NamespacedName, edit func() error) (time.Duration, error) {
	ch, _ := e.obs.expectNewDigest(key)
	t0 := time.Now()
	if err := edit(); err != nil {
		return 0, err
	}
	select {
	case t := <-ch:
		return t.Sub(t0), nil
	case <-time.After(e.cfg.waitTimeout):
		return 0, fmt.Errorf("kept its template %s", e.cfg.waitTimeout)
	case <-ctx.Done():
		return 0, ctx.Err()
	}
}

// latencyRows are the p50 and p99 rows of the operator's samples op
// against the floor's base, with blueprints present.
func latencyRows(op, base []time.Duration, blueprints int) rows {
	p50, p99 := percentile(op, 50), percentile(op, 99)
	b50, b99 := percentile(base, 50), percentile(base, 99)
	logf("Secret edit to new template: p50 %s p99 %s max %s; plain client p50 %s p99 %s", p50, p99, percentile(op, 100), b50, b99)
	details := map[string]any{
		"samples": len(op), "maxSeconds": percentile(op, 100).Seconds(),
		"secretQuietPeriodSeconds": 0.5,
	}
	const baselineOf = "plain client editing the Secret, then the Deployment's template"
	return rows{{
		Scenario: "edit-latency-p50", Figure: fmt.Sprintf("one referenced Secret edited, %d Blueprints present: edit until the consuming Deployment's template changes, p50", blueprints),
		Value: p50.Seconds(), Unit: "s", Baseline: b50.Seconds(), BaselineOf: baselineOf,
		Ratio: ptrTo(p50.Seconds() / b50.Seconds()), Target: "(reported)", Holds: true, Details: details,
	}, {
		Scenario: "edit-latency-p99", Figure: "same, p99",
		Value: p99.Seconds(), Unit: "s", Baseline: b99.Seconds(), BaselineOf: baselineOf,
		Ratio: ptrTo(p99.Seconds() / b99.Seconds()), Target: "≤ 1 s", Holds: p99 <= time.Second, Details: details,
	}}
}

// patchSecret gives Secret ns/name's referenced key a new value, as a JSON
// merge patch.
func patchSecret(ctx context.Context, c client.Client, ns, name string) error {
	s, patch := secretEdit(ns, name, randomHex(32))
	return c.Patch(ctx, s, patch)
}

// secretEdit is the Secret and merge patch that set its referenced key to
// value.
func secretEdit(ns, name, value string) (*corev1.Secret, client.Patch) {
	s := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}}
	patch := client.MergeFrom(s.DeepCopy())
	s.StringData = map[string]string{refKey: value}
	return s, patch
}

// patchDigest gives Deployment key's pod template a new secrets digest, as
// the operator does when a referenced Secret changes.
func patchDigest(ctx context.Context, c client.Client, key types.NamespacedName) error {
	d, patch := digestEdit(key, randomHex(64))
	return c.Patch(ctx, d, patch)
}

// digestEdit is the Deployment and merge patch that set its pod template's
// secrets digest to digest.
func digestEdit(key types.NamespacedName, digest string) (*appsv1.Deployment, client.Patch) {
	d := &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Namespace: key.Namespace, Name: key.Name}}
	patch := client.MergeFrom(d.DeepCopy())
	d.Spec.Template.Annotations = map[string]string{staxv1alpha1.SecretsDigestAnnotation: digest}
	return d, patch
}

func percentile(ds []time.Duration, p float64) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := append([]time.Duration(nil), ds...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	// Nearest rank.
	i := int(p/100*float64(len(s))+0.999999) - 1
	return s[min(max(i, 0), len(s)-1)]
}
