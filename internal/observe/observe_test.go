package observe

import (
	"encoding/json"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
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
			mutate: func(d *appsv1.Deployment) { d.DeletionTimestamp = &metav1.Time{} },
			want:   false,
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
		})
	}
}
