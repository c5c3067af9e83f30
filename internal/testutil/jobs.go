package testutil

import (
	"context"
	"sync/atomic"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/util/retry"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// CompleteJob plays the Job controller, which envtest does not run: it
// reports Job ns/name succeeded, with what the API server's Job status
// validation requires of a finished Job: a startTime, SuccessCriteriaMet
// before Complete, and a completionTime.
func CompleteJob(ctx context.Context, c client.Client, ns, name string) error {
	return finishJob(ctx, c, ns, name, func(job *batchv1.Job, now metav1.Time) {
		job.Status.Succeeded = 1
		job.Status.CompletionTime = &now
		job.Status.Conditions = append(job.Status.Conditions,
			batchv1.JobCondition{Type: batchv1.JobSuccessCriteriaMet, Status: corev1.ConditionTrue, Reason: batchv1.JobReasonCompletionsReached, Message: "Reached expected number of succeeded pods", LastProbeTime: now, LastTransitionTime: now},
			batchv1.JobCondition{Type: batchv1.JobComplete, Status: corev1.ConditionTrue, Reason: batchv1.JobReasonCompletionsReached, Message: "Reached expected number of succeeded pods", LastProbeTime: now, LastTransitionTime: now},
		)
	})
}

// FailJob plays the Job controller: it reports Job ns/name failed after its
// backoffLimit, with FailureTarget before Failed, as the API server's Job
// status validation requires.
func FailJob(ctx context.Context, c client.Client, ns, name string) error {
	return finishJob(ctx, c, ns, name, func(job *batchv1.Job, now metav1.Time) {
		job.Status.Failed = 1
		if job.Spec.BackoffLimit != nil {
			job.Status.Failed = *job.Spec.BackoffLimit + 1
		}
		job.Status.Conditions = append(job.Status.Conditions,
			batchv1.JobCondition{Type: batchv1.JobFailureTarget, Status: corev1.ConditionTrue, Reason: batchv1.JobReasonBackoffLimitExceeded, Message: "Job has reached the specified backoff limit", LastProbeTime: now, LastTransitionTime: now},
			batchv1.JobCondition{Type: batchv1.JobFailed, Status: corev1.ConditionTrue, Reason: batchv1.JobReasonBackoffLimitExceeded, Message: "Job has reached the specified backoff limit", LastProbeTime: now, LastTransitionTime: now},
		)
	})
}

// StartJob plays the Job controller's first sync of Job ns/name: a
// startTime and one active pod.
func StartJob(ctx context.Context, c client.Client, ns, name string) error {
	return retry.RetryOnConflict(retry.DefaultRetry, func() error {
		job := &batchv1.Job{}
		if err := c.Get(ctx, types.NamespacedName{Namespace: ns, Name: name}, job); err != nil {
			return err
		}
		if job.Status.StartTime == nil {
			now := metav1.NewTime(time.Now().Truncate(time.Second))
			job.Status.StartTime = &now
		}
		job.Status.Active = 1
		return c.Status().Update(ctx, job)
	})
}

func finishJob(ctx context.Context, c client.Client, ns, name string, finish func(*batchv1.Job, metav1.Time)) error {
	return retry.RetryOnConflict(retry.DefaultRetry, func() error {
		job := &batchv1.Job{}
		if err := c.Get(ctx, types.NamespacedName{Namespace: ns, Name: name}, job); err != nil {
			return err
		}
		now := metav1.NewTime(time.Now().Truncate(time.Second))
		if job.Status.StartTime == nil {
			job.Status.StartTime = &now
		}
		job.Status.Active = 0
		finish(job, now)
		return c.Status().Update(ctx, job)
	})
}

// JobPlayer plays the Job controller for every Job matching a label
// selector, for as long as its context lives: each Job that has not finished
// is reported Complete, as CompleteJob does.
type JobPlayer struct {
	completed atomic.Int64
}

// PlayJobs starts a JobPlayer on cs (a client straight to the API server);
// completed, if not nil, is called with each Job it reports Complete. It
// returns once its informer has synced.
func PlayJobs(ctx context.Context, cs kubernetes.Interface, labelSelector string, completed func(*batchv1.Job)) (*JobPlayer, error) {
	p := &JobPlayer{}
	factory := playerFactory(cs, labelSelector)
	inf := factory.Batch().V1().Jobs().Informer()
	complete := func(obj any) {
		job, ok := obj.(*batchv1.Job)
		if !ok || jobFinished(job) || !job.DeletionTimestamp.IsZero() {
			return
		}
		job = job.DeepCopy()
		now := metav1.NewTime(time.Now().Truncate(time.Second))
		if job.Status.StartTime == nil {
			job.Status.StartTime = &now
		}
		job.Status.Active, job.Status.Succeeded, job.Status.CompletionTime = 0, 1, &now
		job.Status.Conditions = append(job.Status.Conditions,
			batchv1.JobCondition{Type: batchv1.JobSuccessCriteriaMet, Status: corev1.ConditionTrue, Reason: batchv1.JobReasonCompletionsReached, Message: "Reached expected number of succeeded pods", LastProbeTime: now, LastTransitionTime: now},
			batchv1.JobCondition{Type: batchv1.JobComplete, Status: corev1.ConditionTrue, Reason: batchv1.JobReasonCompletionsReached, Message: "Reached expected number of succeeded pods", LastProbeTime: now, LastTransitionTime: now},
		)
		// A conflict means a newer version exists; its own event follows.
		// Counted once completed has returned: a caller that waits for the
		// count has seen what completed did (the demo's test reads what it
		// printed), which the Job's condition alone does not promise.
		if _, err := cs.BatchV1().Jobs(job.Namespace).UpdateStatus(ctx, job, metav1.UpdateOptions{}); err == nil {
			if completed != nil {
				completed(job)
			}
			p.completed.Add(1)
		}
	}
	if err := play(ctx, factory, inf, complete); err != nil {
		return nil, err
	}
	return p, nil
}

// Completed is how many Jobs the player reported Complete, each counted
// after its completed callback returned.
func (p *JobPlayer) Completed() int64 { return p.completed.Load() }

func jobFinished(job *batchv1.Job) bool {
	for _, c := range job.Status.Conditions {
		if (c.Type == batchv1.JobComplete || c.Type == batchv1.JobFailed) && c.Status == corev1.ConditionTrue {
			return true
		}
	}
	return false
}
