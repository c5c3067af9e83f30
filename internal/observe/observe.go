// Package observe reads what the cluster reports about rendered objects. It
// is pure: it takes objects as read and never talks to the API server.
//
// Whether a Deployment is available with its current template is kstatus's
// answer (sigs.k8s.io/cli-utils), the same one Flux and the Argo CD health
// checks give, rather than a predicate of our own.
package observe

import (
	appsv1 "k8s.io/api/apps/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	kstatus "sigs.k8s.io/cli-utils/pkg/kstatus/status"
)

// DeploymentAvailable reports whether d runs its current template on all
// desired replicas, as kstatus computes it: the Deployment controller has
// observed the latest generation, every replica is updated, ready and
// available, no old replica is left, and the rollout neither failed nor is
// still progressing. A Deployment scaled to 0 is available once no pod is
// left.
func DeploymentAvailable(d *appsv1.Deployment) bool {
	content, err := runtime.DefaultUnstructuredConverter.ToUnstructured(statusViewOf(d))
	if err != nil {
		return false
	}
	res, err := kstatus.Compute(&unstructured.Unstructured{Object: content})
	return err == nil && res.Status == kstatus.CurrentStatus
}

// deploymentStatusView is a Deployment as kstatus reads it: its apiVersion
// and kind (by which kstatus picks its rules; a typed object read through
// a typed client carries neither), metadata's generation and
// deletionTimestamp, spec's replicas and progress deadline, and
// status, under the API's JSON names. A reconcile asks this of every
// Deployment of its Blueprint: converting each whole cached Deployment
// (labels, owners, managedFields, and every field of an empty pod
// template) was most of the cost of asking.
type deploymentStatusView struct {
	APIVersion string                  `json:"apiVersion"`
	Kind       string                  `json:"kind"`
	Metadata   deploymentMetadataView  `json:"metadata"`
	Spec       deploymentSpecView      `json:"spec"`
	Status     appsv1.DeploymentStatus `json:"status"`
}

type deploymentMetadataView struct {
	Name              string       `json:"name,omitempty"`
	Namespace         string       `json:"namespace,omitempty"`
	Generation        int64        `json:"generation,omitempty"`
	DeletionTimestamp *metav1.Time `json:"deletionTimestamp,omitempty"`
}

type deploymentSpecView struct {
	Replicas                *int32 `json:"replicas,omitempty"`
	ProgressDeadlineSeconds *int32 `json:"progressDeadlineSeconds,omitempty"`
}

func statusViewOf(d *appsv1.Deployment) *deploymentStatusView {
	return &deploymentStatusView{
		APIVersion: appsv1.SchemeGroupVersion.String(),
		Kind:       "Deployment",
		Metadata: deploymentMetadataView{
			Name: d.Name, Namespace: d.Namespace, Generation: d.Generation, DeletionTimestamp: d.DeletionTimestamp,
		},
		Spec: deploymentSpecView{
			Replicas: d.Spec.Replicas, ProgressDeadlineSeconds: d.Spec.ProgressDeadlineSeconds,
		},
		Status: d.Status,
	}
}
