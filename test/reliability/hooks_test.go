//go:build reliability

package reliability

import (
	"context"
	"fmt"
	"math/rand"
	"sort"
	"sync"
	"time"

	. "github.com/onsi/ginkgo/v2"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	staxv1alpha1 "github.com/stax-dev/blueprint-operator/api/v1alpha1"
	"github.com/stax-dev/blueprint-operator/internal/render"
	"github.com/stax-dev/blueprint-operator/internal/testutil"
	genvalues "github.com/stax-dev/blueprint-operator/internal/values"
)

// hookPlayer plays the Job controller for the operator's onRotate hooks,
// which no kubelet runs here: it finishes each running hook Job after a
// random delay, Complete or (while failing is on) Failed. Before it
// completes a Job it reads, from the generated Secret, the value staged for
// that very rotation: those are the only values a hooked secret may ever
// take after its first. It also records what no Job may ever do: share its
// name with an earlier Job (two Jobs for one rotation), or run while
// another Job of the same secret runs.
type hookPlayer struct {
	ns  string
	rnd *rand.Rand

	mu       sync.Mutex
	failing  bool
	uids     map[string]types.UID
	approved map[string]map[string]bool // "<generated Secret>/<key>" -> values whose hook completed
	problems []string
	complete int
	failed   int
	jobs     int
}

func newHookPlayer(ns string, seed int64) *hookPlayer {
	return &hookPlayer{ns: ns, rnd: rand.New(rand.NewSource(seed)), failing: true, uids: map[string]types.UID{}, approved: map[string]map[string]bool{}}
}

func (p *hookPlayer) setFailing(on bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.failing = on
}

func (p *hookPlayer) run(ctx context.Context) {
	defer GinkgoRecover()
	for {
		select {
		case <-ctx.Done():
			return
		case <-time.After(time.Duration(100+p.rnd.Intn(200)) * time.Millisecond):
		}
		if err := p.scan(ctx); err != nil && ctx.Err() == nil {
			Fail(fmt.Sprintf("hook player: %v", err))
		}
	}
}

func finished(job *batchv1.Job) bool {
	for _, c := range job.Status.Conditions {
		if (c.Type == batchv1.JobComplete || c.Type == batchv1.JobFailed) && c.Status == corev1.ConditionTrue {
			return true
		}
	}
	return false
}

func (p *hookPlayer) scan(ctx context.Context) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	jobs := &batchv1.JobList{}
	if err := k8sClient.List(ctx, jobs, client.InNamespace(p.ns), client.HasLabels{staxv1alpha1.LabelRotationHook}); err != nil {
		return err
	}
	running := map[string][]string{}
	for i := range jobs.Items {
		job := &jobs.Items[i]
		if uid, seen := p.uids[job.Name]; !seen {
			p.uids[job.Name] = job.UID
			p.jobs++
		} else if uid != job.UID {
			p.problems = append(p.problems, "Job "+job.Name+": created twice (two Jobs for one rotation)")
			p.uids[job.Name] = job.UID
		}
		if finished(job) {
			continue
		}
		secretKey := job.Labels[staxv1alpha1.LabelBlueprint] + "/" + job.Labels[staxv1alpha1.LabelRotationHook]
		running[secretKey] = append(running[secretKey], job.Name)
		if p.rnd.Intn(3) != 0 {
			continue
		}
		if p.failing && p.rnd.Intn(3) == 0 {
			if err := testutil.FailJob(ctx, k8sClient, p.ns, job.Name); client.IgnoreNotFound(err) != nil {
				return err
			}
			p.failed++
			continue
		}
		if err := p.approve(ctx, job); err != nil {
			return err
		}
		if err := testutil.CompleteJob(ctx, k8sClient, p.ns, job.Name); client.IgnoreNotFound(err) != nil {
			return err
		}
		p.complete++
	}
	for key, names := range running {
		if len(names) > 1 {
			sort.Strings(names)
			p.problems = append(p.problems, fmt.Sprintf("hook %s: Jobs %v run at once", key, names))
		}
	}
	return nil
}

// approve records the value staged for job's rotation, read before the
// Job is reported Complete: if the Secret no longer stages a value for
// this rotation (it failed, or its secret was removed), nothing is
// approved, and the completion must commit nothing.
func (p *hookPlayer) approve(ctx context.Context, job *batchv1.Job) error {
	bp, name := job.Labels[staxv1alpha1.LabelBlueprint], job.Annotations[staxv1alpha1.RotationSecretAnnotation]
	secret := &corev1.Secret{}
	err := k8sClient.Get(ctx, types.NamespacedName{Namespace: p.ns, Name: render.GeneratedSecretName(bp)}, secret)
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return err
	}
	h := genvalues.DecodeValues(secret.Annotations)[name].Hook
	staged, ok := secret.Data[render.StagedKey(name)]
	if !h.InFlight() || render.HookJobName(bp, name, h.Attempt) != job.Name || !ok {
		return nil
	}
	key := secret.Name + "/" + name
	if p.approved[key] == nil {
		p.approved[key] = map[string]bool{}
	}
	p.approved[key][string(staged)] = true
	return nil
}

// hookProblems checks, over the whole life of m's generated Secret, that
// every value a hooked secret took after its first was staged for a Job
// the player completed; and reports what the player saw go wrong.
func (p *hookPlayer) hookProblems(ns string, m *bpModel) []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	key := types.NamespacedName{Namespace: ns, Name: render.GeneratedSecretName(m.name)}
	hist, ok := valueLog.History(key)
	if !ok {
		return nil
	}
	var problems []string
	for name := range m.hooked {
		seen := hist.Values[name]
		for i := 1; i < len(seen); i++ {
			if !p.approved[key.Name+"/"+name][string(seen[i])] {
				problems = append(problems, fmt.Sprintf("%s: %s took value #%d, which no completed hook was given", key.Name, name, i+1))
			}
		}
	}
	return problems
}

func (p *hookPlayer) counts() (jobs, complete, failed int, problems []string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.jobs, p.complete, p.failed, append([]string(nil), p.problems...)
}
