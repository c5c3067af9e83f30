package observe

import (
	"testing"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	staxv1alpha1 "github.com/stax-dev/blueprint-operator/api/v1alpha1"
)

func TestJob(t *testing.T) {
	owned := func(conds ...batchv1.JobCondition) *batchv1.Job {
		return &batchv1.Job{
			ObjectMeta: metav1.ObjectMeta{
				OwnerReferences: []metav1.OwnerReference{{UID: "bp", Controller: ptr.To(true)}},
				Annotations:     map[string]string{staxv1alpha1.HookTokenAnnotation: "mark"},
			},
			Status: batchv1.JobStatus{Conditions: conds},
		}
	}
	cond := func(t batchv1.JobConditionType, s corev1.ConditionStatus) batchv1.JobCondition {
		return batchv1.JobCondition{Type: t, Status: s}
	}
	for name, tc := range map[string]struct {
		job  *batchv1.Job
		want JobState
	}{
		"absent":                                 {nil, JobAbsent},
		"no controller":                          {&batchv1.Job{}, JobForeign},
		"another controller":                     {&batchv1.Job{ObjectMeta: metav1.ObjectMeta{OwnerReferences: []metav1.OwnerReference{{UID: "other", Controller: ptr.To(true)}}}}, JobForeign},
		"an owner that is not the controller":    {&batchv1.Job{ObjectMeta: metav1.ObjectMeta{OwnerReferences: []metav1.OwnerReference{{UID: "bp"}}}}, JobForeign},
		"just created":                           {owned(), JobActive},
		"success criteria met, not yet Complete": {owned(cond(batchv1.JobSuccessCriteriaMet, corev1.ConditionTrue)), JobActive},
		"failure target, not yet Failed":         {owned(cond(batchv1.JobFailureTarget, corev1.ConditionTrue)), JobActive},
		"suspended":                              {owned(cond(batchv1.JobSuspended, corev1.ConditionTrue)), JobActive},
		"Complete":                               {owned(cond(batchv1.JobSuccessCriteriaMet, corev1.ConditionTrue), cond(batchv1.JobComplete, corev1.ConditionTrue)), JobComplete},
		"Complete False":                         {owned(cond(batchv1.JobComplete, corev1.ConditionFalse)), JobActive},
		"Failed":                                 {owned(cond(batchv1.JobFailureTarget, corev1.ConditionTrue), cond(batchv1.JobFailed, corev1.ConditionTrue)), JobFailed},
	} {
		if got := Job(tc.job, HookJob{Owner: "bp", Token: "mark"}); got != tc.want {
			t.Errorf("%s: Job = %s, want %s", name, got, tc.want)
		}
	}
}

// TestJobMark: Job names are predictable, so a Job the Blueprint controls
// and that reports Complete is the hook's only with the attempt's mark. A
// rotation staged before Jobs carried one asks for the hook's label
// instead.
func TestJobMark(t *testing.T) {
	job := func(mark, label string) *batchv1.Job {
		j := &batchv1.Job{
			ObjectMeta: metav1.ObjectMeta{
				OwnerReferences: []metav1.OwnerReference{{UID: "bp", Controller: ptr.To(true)}},
				Labels:          map[string]string{staxv1alpha1.LabelRotationHook: label},
			},
			Status: batchv1.JobStatus{Conditions: []batchv1.JobCondition{{Type: batchv1.JobComplete, Status: corev1.ConditionTrue}}},
		}
		if mark != "" {
			j.Annotations = map[string]string{staxv1alpha1.HookTokenAnnotation: mark}
		}
		return j
	}
	marked := HookJob{Owner: "bp", Token: "mark-of-attempt-2", Label: "hook"}
	legacy := HookJob{Owner: "bp", Label: "hook"}
	for name, tc := range map[string]struct {
		job  *batchv1.Job
		want HookJob
		is   JobState
	}{
		"the attempt's mark":                 {job("mark-of-attempt-2", "hook"), marked, JobComplete},
		"no mark":                            {job("", "hook"), marked, JobForeign},
		"another attempt's mark":             {job("mark-of-attempt-1", "hook"), marked, JobForeign},
		"staged before marks: the label":     {job("", "hook"), legacy, JobComplete},
		"staged before marks: another label": {job("", "other"), legacy, JobForeign},
	} {
		if got := Job(tc.job, tc.want); got != tc.is {
			t.Errorf("%s: Job = %s, want %s", name, got, tc.is)
		}
	}
}
