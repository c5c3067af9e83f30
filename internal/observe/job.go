package observe

import (
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	staxv1alpha1 "github.com/stax-dev/blueprint-operator/api/v1alpha1"
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

// HookJob is what marks a hook's Job as the one the operator created for
// the rotation in flight.
type HookJob struct {
	// Owner is the Blueprint's UID, which must control the Job.
	Owner types.UID
	// Token is digest.HookToken of the attempt, which the Job must carry in
	// staxv1alpha1.HookTokenAnnotation. Empty for a rotation staged before
	// Jobs carried one: the Job must then carry Label in
	// staxv1alpha1.LabelRotationHook, as every hook Job has. (A creation
	// time after the staging is no test: it compares the API server's clock
	// with the operator's.)
	Token string
	Label string
}

// Job reports the state of job, which should be the hook's Job that want
// describes; nil reads as JobAbsent, and any other Job as JobForeign (Job
// names are predictable, and a Job someone else made could report Complete
// for a change the system never got). Only the Job controller's terminal
// conditions count: Complete for success, Failed for failure.
func Job(job *batchv1.Job, want HookJob) JobState {
	if job == nil {
		return JobAbsent
	}
	if c := metav1.GetControllerOf(job); c == nil || c.UID != want.Owner {
		return JobForeign
	}
	if want.Token != "" && job.Annotations[staxv1alpha1.HookTokenAnnotation] != want.Token {
		return JobForeign
	}
	if want.Token == "" && job.Labels[staxv1alpha1.LabelRotationHook] != want.Label {
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
