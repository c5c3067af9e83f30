package testutil

import (
	"context"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
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
