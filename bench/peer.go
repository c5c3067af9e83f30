package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"

	staxv1alpha1 "github.com/stax-dev/blueprint-operator/api/v1alpha1"
	"github.com/stax-dev/blueprint-operator/bench/internal/proc"
	"github.com/stax-dev/blueprint-operator/internal/testutil"
)

// The peer scenario's namespaces: the manager's Blueprints, Reloader's
// Deployments, and the unrelated Secrets both see.
const (
	peerBlueprintNS = "peer-bp"
	peerReloaderNS  = "peer-rl"
	userReloader    = "reloader"
	// reloaderAuto is the annotation that asks Reloader to roll a workload
	// out when a Secret or ConfigMap it consumes changes.
	reloaderAuto = "reloader.stakater.com/auto"
)

// kubeconfigFor writes a kubeconfig of a new user of the API server with
// the manager's rights, and returns its path.
func (c *cluster) kubeconfigFor(dir, name string) (string, error) {
	user, err := c.env.AddUser(envtest.User{Name: name, Groups: []string{"system:masters"}}, nil)
	if err != nil {
		return "", err
	}
	raw, err := user.KubeConfig()
	if err != nil {
		return "", err
	}
	path := filepath.Join(dir, name+".kubeconfig")
	return path, os.WriteFile(path, raw, 0o600)
}

func peerRefs(n int) []bpRef {
	out := make([]bpRef, n)
	for i := range out {
		suffix := fmt.Sprintf("p%03d", i)
		out[i] = bpRef{Namespace: peerBlueprintNS, Name: "peer-" + suffix, Suffix: suffix, RefSecret: "peer-" + suffix + "-ref"}
	}
	return out
}

// peerBlueprint is one service consuming a key of a referenced Secret: the
// manager's half of the workloads.
func peerBlueprint(r bpRef) *staxv1alpha1.Blueprint {
	return &staxv1alpha1.Blueprint{
		ObjectMeta: metav1.ObjectMeta{Namespace: r.Namespace, Name: r.Name},
		Spec: staxv1alpha1.BlueprintSpec{
			Description: "bench peer",
			Services: []staxv1alpha1.BlueprintService{{
				Name: "web-" + r.Suffix, Image: "ghcr.io/example/web:1.0.0",
				Env: map[string]staxv1alpha1.EnvValue{
					"LOG_LEVEL": "info",
					"TOKEN":     staxv1alpha1.EnvValue("${secret:" + r.RefSecret + "/" + refKey + "}"),
				},
			}},
		},
	}
}

// reloaderDeployment is Reloader's half: a Deployment annotated for
// Reloader, consuming the same key of a Secret of its own.
func reloaderDeployment(i int) *appsv1.Deployment {
	name := fmt.Sprintf("rl-%03d", i)
	labels := map[string]string{"app": name}
	return &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Namespace: peerReloaderNS, Name: name, Annotations: map[string]string{reloaderAuto: "true"}},
		Spec: appsv1.DeploymentSpec{
			Replicas: ptrTo(int32(1)),
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec: corev1.PodSpec{Containers: []corev1.Container{{
					Name: "web", Image: "ghcr.io/example/web:1.0.0",
					Env: []corev1.EnvVar{
						{Name: "LOG_LEVEL", Value: "info"},
						{Name: "TOKEN", ValueFrom: &corev1.EnvVarSource{SecretKeyRef: &corev1.SecretKeySelector{
							LocalObjectReference: corev1.LocalObjectReference{Name: name}, Key: refKey}}},
					},
				}}},
			},
		},
	}
}

// peerScenario: the manager beside Stakater Reloader (a binary built from
// its source, -reloader-bin) on the same API server, with the same
// workloads: peer-workloads Blueprints of one service consuming a Secret
// for the manager, as many Deployments annotated for Reloader consuming a
// Secret each, and peer-secrets unrelated Secrets of secret-size bytes.
// Both see every object; each is started rss-repeats times, one process at
// a time, and its peak RSS read rss-settle after it is ready (the manager:
// caches synced; Reloader: it has rolled a Deployment out for a Secret
// edit, which it does only once its caches synced). Run it before the
// other scenarios, which leave thousands of objects behind; it deletes its
// own.
type peerScenario struct {
	// bin is Reloader's binary, kubeconfig its user's.
	bin, kubeconfig string
	refs            []bpRef
	noiseNS         []string
}

func (*peerScenario) name() string { return "peer" }

// setup creates both workloads and the unrelated Secrets, and has the
// manager make its workloads once (the bench rolls them out), so both
// processes then start against the same steady cluster. Without a Reloader
// binary the scenario is skipped.
func (s *peerScenario) setup(ctx context.Context, e *env) error {
	s.bin = e.cfg.reloaderBin
	if abs, err := filepath.Abs(s.bin); err == nil {
		s.bin = abs
	}
	if st, err := os.Stat(s.bin); err != nil || st.IsDir() {
		logf("peer: SKIPPED, no Reloader binary at %s: 'make reloader' builds it (or pass -reloader-bin)", s.bin)
		return errSkipped
	}
	if err := e.stopManager(); err != nil {
		return err
	}
	var err error
	if s.kubeconfig, err = e.c.kubeconfigFor(e.dir, userReloader); err != nil {
		return err
	}
	if err := s.createObjects(ctx, e); err != nil {
		return err
	}
	if _, err := e.startManager(ctx); err != nil {
		return err
	}
	if err := rollOutUntilReady(ctx, e, s.refs); err != nil {
		return err
	}
	if err := e.quiet(ctx, time.Second); err != nil {
		return err
	}
	return e.stopManager()
}

// createObjects creates the Blueprints and Reloader's Deployments with
// their Secrets, and the unrelated Secrets.
func (s *peerScenario) createObjects(ctx context.Context, e *env) error {
	n := e.cfg.peerWorkloads
	s.refs = peerRefs(n)
	perNS := max(e.cfg.secretsPerNS, 1)
	s.noiseNS = nil
	for i := 0; i*perNS < e.cfg.peerSecrets; i++ {
		s.noiseNS = append(s.noiseNS, fmt.Sprintf("peer-noise-%02d", i))
	}
	if err := createNamespaces(ctx, e.c.bench, append([]string{peerBlueprintNS, peerReloaderNS}, s.noiseNS...)...); err != nil {
		return err
	}
	t0 := time.Now()
	if err := parallel(ctx, n, e.cfg.benchWorkers, func(ctx context.Context, i int) error {
		if err := e.c.bench.Create(ctx, refSecret(peerBlueprintNS, s.refs[i].RefSecret)); err != nil {
			return err
		}
		if err := e.c.bench.Create(ctx, peerBlueprint(s.refs[i])); err != nil {
			return err
		}
		d := reloaderDeployment(i)
		if err := e.c.bench.Create(ctx, refSecret(peerReloaderNS, d.Name)); err != nil {
			return err
		}
		if err := e.c.bench.Create(ctx, d); err != nil {
			return err
		}
		return testutil.MarkAvailable(ctx, e.c.bench, d.Namespace, d.Name)
	}); err != nil {
		return err
	}
	if err := parallel(ctx, e.cfg.peerSecrets, e.cfg.benchWorkers, func(ctx context.Context, i int) error {
		sec := unrelatedSecret(i, e.cfg.secretSize)
		sec.SetNamespace(s.noiseNS[i/perNS])
		if e.cfg.lastApplied {
			if err := kubectlApplied(sec); err != nil {
				return err
			}
		}
		return e.c.bench.Create(ctx, sec, client.FieldOwner(kubectlFieldManager))
	}); err != nil {
		return err
	}
	logf("peer: %d Blueprints, %d Reloader Deployments, %d unrelated %d-byte Secrets created in %s", n, n, e.cfg.peerSecrets, e.cfg.secretSize, time.Since(t0).Round(time.Millisecond))
	return nil
}

// measure starts the manager and Reloader alternately, so both see the
// same machine load, then deletes what setup created.
func (s *peerScenario) measure(ctx context.Context, e *env) (outcome, error) {
	var mgr, rl []proc.Memory
	for i := range max(e.cfg.rssRepeats, 1) {
		m, err := e.peak(ctx, nil)
		if err != nil {
			return nil, err
		}
		mgr = append(mgr, m)
		p, err := reloaderPeak(ctx, e, s.bin, s.kubeconfig, i)
		if err != nil {
			return nil, err
		}
		rl = append(rl, p)
	}
	mm, rm := medianMemory(mgr), medianMemory(rl)
	ratio := float64(mm.PeakKiB) / float64(rm.PeakKiB)
	logf("peer: manager peak RSS %.1f MiB %v; Reloader %.1f MiB %v (ratio %.3f)", mib(mm), mgr, mib(rm), rl, ratio)
	out := rows{{
		Scenario: "peer-reloader",
		Figure: fmt.Sprintf("beside Stakater Reloader %s on the same API server, %d workloads each (Blueprints of one service consuming a Secret; Deployments annotated %s consuming a Secret) and %d unrelated %d KiB Secrets: manager peak RSS (VmHWM, median of %d starts)",
			reloaderVersion(s.bin), len(s.refs), reloaderAuto, e.cfg.peerSecrets, e.cfg.secretSize>>10, len(mgr)),
		Value: mib(mm), Unit: "MiB", Baseline: mib(rm),
		BaselineOf: fmt.Sprintf("Reloader's peak RSS, started the same way (median of %d starts)", len(rl)),
		Ratio:      ptrTo(ratio), Target: "below Reloader's", Holds: mm.PeakKiB < rm.PeakKiB,
		Details: map[string]any{"manager": mgr, "reloader": rl, "readAfterReadySeconds": e.cfg.rssSettle.Seconds(), "lastAppliedAnnotation": e.cfg.lastApplied},
	}}
	if err := peerCleanup(ctx, e, s.noiseNS); err != nil {
		return nil, err
	}
	return out, nil
}

// rollOutUntilReady plays the Deployment controller for the Blueprints of
// refs until all are Ready.
func rollOutUntilReady(ctx context.Context, e *env, refs []bpRef) error {
	keys := keysOf(refs)
	deadline := time.Now().Add(e.cfg.waitTimeout)
	for e.obs.readyCount(keys) < len(keys) {
		for _, ref := range refs {
			if err := testutil.RollOut(ctx, e.c.bench, ref.Namespace, ref.Name); err != nil {
				return err
			}
		}
		if time.Now().After(deadline) {
			return &timeoutError{what: "peer Blueprints Ready", got: e.obs.readyCount(keys), want: len(keys), after: e.cfg.waitTimeout}
		}
		if err := sleepCtx(ctx, 100*time.Millisecond); err != nil {
			return err
		}
	}
	return nil
}

// reloaderPeak starts Reloader, waits until it is ready, reads its peak RSS
// rss-settle later and stops it. Ready is when it has rolled Deployment
// rl-000 out for an edit of its Secret: Reloader acts on edits only once
// its Secret and ConfigMap caches synced, so the bench edits the Secret
// every second until the Deployment's template changes.
func reloaderPeak(ctx context.Context, e *env, bin, kubeconfig string, n int) (proc.Memory, error) {
	// env execs Reloader in its own process: the PID, and VmHWM, are
	// Reloader's. Reloader reads its kubeconfig from KUBECONFIG only.
	m, err := proc.Start("env", []string{"KUBECONFIG=" + kubeconfig, bin, "--log-level=info"}, filepath.Join(e.dir, fmt.Sprintf("reloader-%d.log", n)))
	if err != nil {
		return proc.Memory{}, err
	}
	defer func() { _ = m.Stop() }()
	key := types.NamespacedName{Namespace: peerReloaderNS, Name: "rl-000"}
	template := func() (string, error) {
		d := &appsv1.Deployment{}
		if err := e.c.bench.Get(ctx, key, d); err != nil {
			return "", err
		}
		raw, err := json.Marshal(d.Spec.Template)
		return string(raw), err
	}
	before, err := template()
	if err != nil {
		return proc.Memory{}, err
	}
	deadline := time.Now().Add(e.cfg.waitTimeout)
	var ready time.Time
	for ready.IsZero() {
		if exited, err := m.Exited(); exited {
			raw, _ := os.ReadFile(m.LogPath)
			return proc.Memory{}, fmt.Errorf("reloader exited (%w); log %s:\n%s", err, m.LogPath, lastLines(string(raw), 20))
		}
		if time.Now().After(deadline) {
			return proc.Memory{}, fmt.Errorf("reloader never rolled %s out for an edit of its Secret within %s; log %s", key, e.cfg.waitTimeout, m.LogPath)
		}
		if err := patchSecret(ctx, e.c.bench, key.Namespace, key.Name); err != nil {
			return proc.Memory{}, err
		}
		for range 10 {
			select {
			case <-ctx.Done():
				return proc.Memory{}, ctx.Err()
			case <-time.After(100 * time.Millisecond):
			}
			now, err := template()
			if err != nil {
				return proc.Memory{}, err
			}
			if now != before {
				ready = time.Now()
				break
			}
		}
	}
	logf("reloader %d (pid %d) ready in %s", n, m.PID(), ready.Sub(m.Started).Round(time.Millisecond))
	select {
	case <-time.After(time.Until(ready.Add(e.cfg.rssSettle))):
	case <-ctx.Done():
		return proc.Memory{}, ctx.Err()
	}
	if exited, err := m.Exited(); exited {
		return proc.Memory{}, fmt.Errorf("reloader exited: %w", err)
	}
	return proc.ReadMemory(m.PID())
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return strings.Join(lines[max(len(lines)-n, 0):], "\n")
}

// reloaderVersion is the version bin was built from, as make reloader
// names it (bin/reloader links to bin/reloader-VERSION), or "(version
// unknown)".
func reloaderVersion(bin string) string {
	target, err := filepath.EvalSymlinks(bin)
	if err != nil {
		return "(version unknown)"
	}
	if v, ok := strings.CutPrefix(filepath.Base(target), "reloader-"); ok {
		return v
	}
	return "(version unknown)"
}

// peerCleanup deletes what the peer scenario created, so the scenarios after
// it measure what they create. envtest runs no namespace controller: the
// objects are deleted one kind at a time.
func peerCleanup(ctx context.Context, e *env, noiseNS []string) error {
	var errs []error
	del := func(obj client.Object, ns string) {
		errs = append(errs, e.c.bench.DeleteAllOf(ctx, obj, client.InNamespace(ns)))
	}
	del(&staxv1alpha1.Blueprint{}, peerBlueprintNS)
	for _, ns := range []string{peerBlueprintNS, peerReloaderNS} {
		del(&appsv1.Deployment{}, ns)
		del(&corev1.Service{}, ns)
		del(&corev1.Secret{}, ns)
	}
	for _, ns := range noiseNS {
		del(&corev1.Secret{}, ns)
	}
	return errors.Join(errs...)
}
