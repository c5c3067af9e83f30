package observe

import (
	"encoding/json"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/utils/ptr"
	kstatus "sigs.k8s.io/cli-utils/pkg/kstatus/status"
)

func toJSON(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

func TestDeploymentAvailable(t *testing.T) {
	// healthy is a Deployment of 2 replicas whose rollout has completed.
	healthy := func() *appsv1.Deployment {
		return &appsv1.Deployment{
			ObjectMeta: metav1.ObjectMeta{Generation: 3},
			// The API server defaults progressDeadlineSeconds to 600.
			Spec: appsv1.DeploymentSpec{Replicas: ptr.To[int32](2), ProgressDeadlineSeconds: ptr.To[int32](600)},
			Status: appsv1.DeploymentStatus{
				ObservedGeneration: 3,
				Replicas:           2,
				UpdatedReplicas:    2,
				ReadyReplicas:      2,
				AvailableReplicas:  2,
				Conditions: []appsv1.DeploymentCondition{
					{Type: appsv1.DeploymentAvailable, Status: corev1.ConditionTrue, Reason: "MinimumReplicasAvailable"},
					{Type: appsv1.DeploymentProgressing, Status: corev1.ConditionTrue, Reason: "NewReplicaSetAvailable"},
				},
			},
		}
	}
	tests := map[string]struct {
		mutate func(d *appsv1.Deployment)
		want   bool
	}{
		"rollout complete": {
			mutate: func(*appsv1.Deployment) {},
			want:   true,
		},
		"no conditions yet but all replicas updated and available": {
			// The Deployment controller has not yet said the new ReplicaSet
			// is available.
			mutate: func(d *appsv1.Deployment) { d.Status.Conditions = nil },
			want:   false,
		},
		"new ReplicaSet still rolling out": {
			mutate: func(d *appsv1.Deployment) {
				d.Status.Conditions[1] = appsv1.DeploymentCondition{
					Type: appsv1.DeploymentProgressing, Status: corev1.ConditionTrue, Reason: "ReplicaSetUpdated",
				}
			},
			want: false,
		},
		"being deleted": {
			// A zero time encodes as null, which kstatus fails to read: a
			// real one, so that the answer is about deletion.
			mutate: func(d *appsv1.Deployment) {
				d.DeletionTimestamp = ptr.To(metav1.NewTime(time.Date(2026, 12, 6, 14, 0, 0, 0, time.UTC)))
			},
			want: false,
		},
		"newer spec not yet observed": {
			mutate: func(d *appsv1.Deployment) { d.Generation = 4 },
			want:   false,
		},
		"fewer updated replicas than desired": {
			mutate: func(d *appsv1.Deployment) { d.Status.UpdatedReplicas = 1 },
			want:   false,
		},
		"fewer available replicas than desired": {
			mutate: func(d *appsv1.Deployment) { d.Status.AvailableReplicas = 1; d.Status.ReadyReplicas = 1 },
			want:   false,
		},
		"old replicas still running": {
			mutate: func(d *appsv1.Deployment) { d.Status.Replicas = 3; d.Status.AvailableReplicas = 3 },
			want:   false,
		},
		"progress deadline exceeded": {
			mutate: func(d *appsv1.Deployment) {
				d.Status.Conditions[1] = appsv1.DeploymentCondition{
					Type: appsv1.DeploymentProgressing, Status: corev1.ConditionFalse, Reason: "ProgressDeadlineExceeded",
				}
			},
			want: false,
		},
		"available condition false": {
			mutate: func(d *appsv1.Deployment) {
				d.Status.Conditions[0] = appsv1.DeploymentCondition{
					Type: appsv1.DeploymentAvailable, Status: corev1.ConditionFalse, Reason: "MinimumReplicasUnavailable",
				}
			},
			want: false,
		},
		"scaled to zero": {
			mutate: func(d *appsv1.Deployment) {
				d.Spec.Replicas = ptr.To[int32](0)
				d.Status.Replicas, d.Status.UpdatedReplicas, d.Status.ReadyReplicas, d.Status.AvailableReplicas = 0, 0, 0, 0
			},
			want: true,
		},
		"scaled to zero with pods still terminating": {
			mutate: func(d *appsv1.Deployment) {
				d.Spec.Replicas = ptr.To[int32](0)
				d.Status.UpdatedReplicas = 0
			},
			want: false,
		},
		"replicas unset defaults to one": {
			mutate: func(d *appsv1.Deployment) {
				d.Spec.Replicas = nil
				d.Status.Replicas, d.Status.UpdatedReplicas, d.Status.ReadyReplicas, d.Status.AvailableReplicas = 1, 1, 1, 1
			},
			want: true,
		},
		"replicas unset and none available": {
			mutate: func(d *appsv1.Deployment) {
				d.Spec.Replicas = nil
				d.Status = appsv1.DeploymentStatus{ObservedGeneration: 3}
			},
			want: false,
		},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			d := healthy()
			tt.mutate(d)
			if got := DeploymentAvailable(d); got != tt.want {
				t.Errorf("DeploymentAvailable() = %v, want %v for status %s", got, tt.want, toJSON(d.Status))
			}
			// DeploymentAvailable hands kstatus only part of the object
			// (statusView): a whole Deployment, as the API server sends
			// it, gets the same answer from it as from kstatus.
			full := withEverythingElse(d)
			if got, whole := DeploymentAvailable(full), kstatusCurrent(t, full); got != tt.want || whole != tt.want {
				t.Errorf("on the whole object: DeploymentAvailable() = %v, kstatus = %v, want %v", got, whole, tt.want)
			}
		})
	}
}

// withEverythingElse is d with what the API server sends of a Deployment
// besides what kstatus reads: labels, annotations, owners, managedFields,
// a selector, a strategy and a pod template.
func withEverythingElse(d *appsv1.Deployment) *appsv1.Deployment {
	full := d.DeepCopy()
	full.Name, full.Namespace, full.UID, full.ResourceVersion = "web", "shop", "uid-1", "42"
	full.Labels = map[string]string{"app": "web", "stax.dev/blueprint": "shop"}
	full.Annotations = map[string]string{"deployment.kubernetes.io/revision": "4"}
	full.OwnerReferences = []metav1.OwnerReference{{APIVersion: "stax.dev/v1alpha1", Kind: "Blueprint", Name: "shop", UID: "bp-uid", Controller: ptr.To(true)}}
	full.ManagedFields = []metav1.ManagedFieldsEntry{{
		Manager: "stax-operator", Operation: metav1.ManagedFieldsOperationApply, APIVersion: "apps/v1", FieldsType: "FieldsV1",
		FieldsV1: metav1.NewFieldsV1(`{"f:spec":{"f:replicas":{}}}`),
	}}
	full.Spec.Selector = &metav1.LabelSelector{MatchLabels: map[string]string{"app": "web"}}
	full.Spec.Strategy = appsv1.DeploymentStrategy{Type: appsv1.RollingUpdateDeploymentStrategyType}
	full.Spec.Template = corev1.PodTemplateSpec{
		ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "web"}},
		Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "web", Image: "web:1", Env: []corev1.EnvVar{{Name: "MODE", Value: "prod"}}}}},
	}
	return full
}

// kstatusCurrent is kstatus's answer on the whole of d.
func kstatusCurrent(t *testing.T, d *appsv1.Deployment) bool {
	t.Helper()
	content, err := runtime.DefaultUnstructuredConverter.ToUnstructured(d)
	if err != nil {
		t.Fatal(err)
	}
	u := &unstructured.Unstructured{Object: content}
	u.SetAPIVersion("apps/v1")
	u.SetKind("Deployment")
	res, err := kstatus.Compute(u)
	if err != nil {
		t.Fatal(err)
	}
	return res.Status == kstatus.CurrentStatus
}
