package observe

import (
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
)

// JobState is what the cluster reports of a rotation hook's Job.
type JobState string

const (
	// JobAbsent: no Job of that name exists.
	JobAbsent JobState = "Absent"
	// JobForeign: a Job of that name exists and is not controlled by the
	// Blueprint: it is not the hook, and is never trusted or changed.
	JobForeign JobState = "Foreign"
	// JobActive: the Job has neither completed nor failed yet.
	JobActive JobState = "Active"
	// JobComplete: the Job's Complete condition is True.
	JobComplete JobState = "Complete"
	// JobFailed: the Job's Failed condition is True (backoffLimit or
	// activeDeadlineSeconds reached).
	JobFailed JobState = "Failed"
)

// Job reports the state of job, which should be controlled by the object
// with UID owner; nil reads as JobAbsent. Only the Job controller's
// terminal conditions count: Complete for success, Failed for failure.
func Job(job *batchv1.Job, owner types.UID) JobState {
	if job == nil {
		return JobAbsent
	}
	if c := metav1.GetControllerOf(job); c == nil || c.UID != owner {
		return JobForeign
	}
	for _, c := range job.Status.Conditions {
		if c.Status != corev1.ConditionTrue {
			continue
		}
		switch c.Type {
		case batchv1.JobComplete:
			return JobComplete
		case batchv1.JobFailed:
			return JobFailed
		}
	}
	return JobActive
}
