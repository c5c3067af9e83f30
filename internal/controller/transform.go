package controller

import (
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/structured-merge-diff/v6/value"

	staxv1alpha1 "github.com/stax-dev/blueprint-operator/api/v1alpha1"
)

// Cache transforms that keep less of each cached object than the API server
// sends, without changing what the reconciler reads of it.

// TrimForeignManagedFields is a cache transform for the objects the operator
// renders and writes only by server-side apply (Deployments, Services,
// Ingresses): it keeps the managedFields entries of FieldOwner, whatever
// their operation (an Apply, or the Update an earlier version's plain
// Create recorded), and drops every other manager's (the Deployment
// controller's status updates, kubectl's, an autoscaler's). Of our entries
// it keeps the field set, which is what internal/applied decides drift from
// (ownsReplicas reads it too), less the ownerReferences part (the reference
// itself is kept, and compared by value), deflated and shared between
// every object of the same shape (fieldsets.go). The fold reads the whole list from the API
// server (foldCreateFields).
//
// Never use it for a kind the reconciler writes with Update from the cache:
// an Update that carries managedFields replaces the object's whole list, and
// would drop the entries trimmed here from the object itself.
func TrimForeignManagedFields(obj any) (any, error) {
	m, err := meta.Accessor(obj)
	if err != nil {
		return obj, nil //nolint:nilerr // no metadata (a tombstone): nothing to trim, kept as it is
	}
	fields := m.GetManagedFields()
	if len(fields) == 0 {
		return obj, nil
	}
	var content value.Value
	var kept []metav1.ManagedFieldsEntry
	for _, f := range fields {
		if f.Manager != FieldOwner {
			continue
		}
		if content == nil {
			if content, err = valueOf(obj); err != nil {
				return nil, err
			}
		}
		set, err := fieldSets.of(f.FieldsV1, content)
		if err != nil {
			return nil, err
		}
		kept = append(kept, metav1.ManagedFieldsEntry{
			Manager: FieldOwner, Operation: f.Operation, APIVersion: interned.of(f.APIVersion),
			FieldsType: f.FieldsType, FieldsV1: set, Subresource: f.Subresource,
		})
	}
	m.SetManagedFields(kept)
	return obj, nil
}

// TrimCachedDeployment is the cache transform for the Deployments
// Blueprints render: TrimForeignManagedFields, the labels and annotations
// of the operator (stax.dev/), and of spec and status only what the
// reconciler reads: replicas and whether the rollout is done (kstatus:
// generation, progressDeadlineSeconds, observedGeneration, replica counts,
// conditions without their messages and times), and the pod template's secrets digest. No rendered
// value is kept: drift is told from our managedFields entry
// (internal/applied). About a tenth of the object the API server sends.
func TrimCachedDeployment(obj any) (any, error) {
	d, ok := obj.(*appsv1.Deployment)
	if !ok {
		return TrimForeignManagedFields(obj)
	}
	if _, err := TrimForeignManagedFields(d); err != nil {
		return nil, err
	}
	trimMetadata(&d.ObjectMeta)
	digest, hasDigest := d.Spec.Template.Annotations[staxv1alpha1.SecretsDigestAnnotation]
	d.Spec = appsv1.DeploymentSpec{Replicas: d.Spec.Replicas, Paused: d.Spec.Paused, ProgressDeadlineSeconds: d.Spec.ProgressDeadlineSeconds}
	if hasDigest {
		d.Spec.Template.Annotations = map[string]string{staxv1alpha1.SecretsDigestAnnotation: digest}
	}
	conditions := make([]appsv1.DeploymentCondition, 0, len(d.Status.Conditions))
	for _, c := range d.Status.Conditions {
		conditions = append(conditions, appsv1.DeploymentCondition{
			Type: c.Type, Status: c.Status, Reason: interned.of(c.Reason),
		})
	}
	d.Status.Conditions = conditions
	d.Status.CollisionCount = nil
	return d, nil
}

// TrimCachedService is the cache transform for the Services Blueprints
// render: TrimForeignManagedFields and the operator's labels and
// annotations; the reconciler reads nothing of their spec or status.
func TrimCachedService(obj any) (any, error) {
	s, ok := obj.(*corev1.Service)
	if !ok {
		return TrimForeignManagedFields(obj)
	}
	if _, err := TrimForeignManagedFields(s); err != nil {
		return nil, err
	}
	trimMetadata(&s.ObjectMeta)
	s.Spec = corev1.ServiceSpec{}
	s.Status = corev1.ServiceStatus{}
	return s, nil
}

// trimMetadata keeps of a rendered object's labels and annotations those
// of the operator (stax.dev/): the others (kubectl's, the Deployment
// controller's revision) are never read. The operator's labels are: the
// reconciler lists a Blueprint's objects from the cache by them.
func trimMetadata(m *metav1.ObjectMeta) {
	m.Labels = operatorKeys(m.Labels)
	m.Annotations = operatorKeys(m.Annotations)
	m.Namespace = interned.of(m.Namespace)
}

func operatorKeys(in map[string]string) map[string]string {
	var out map[string]string
	for k, v := range in {
		if !strings.HasPrefix(k, "stax.dev/") {
			continue
		}
		if out == nil {
			out = make(map[string]string, len(in))
		}
		out[interned.of(k)] = v
	}
	return out
}

// valueOf is obj as field sets name it: an unstructured object's content,
// or a typed object read where it stands (value.NewValueReflect), which
// builds nothing of the fields a field set does not name.
func valueOf(obj any) (value.Value, error) {
	if u, ok := obj.(*unstructured.Unstructured); ok {
		return value.NewValueInterface(u.Object), nil
	}
	return value.NewValueReflect(obj)
}

// StripBlueprintMetadata is the cache transform for Blueprints: it drops
// their managedFields and kubectl's last-applied-configuration annotation
// (a whole copy of the spec when a Blueprint was applied with kubectl
// apply), which nothing in the operator reads. Its other annotations stay:
// the reconciler reads some (a claim prune request). Status is written with
// a merge patch computed between two copies of the cached Blueprint, so
// what is stripped from both is never part of it.
func StripBlueprintMetadata(obj any) (any, error) {
	m, err := meta.Accessor(obj)
	if err != nil {
		return obj, nil //nolint:nilerr // no metadata (a tombstone): nothing to trim, kept as it is
	}
	m.SetManagedFields(nil)
	if a := m.GetAnnotations(); a != nil {
		if _, ok := a[corev1.LastAppliedConfigAnnotation]; ok {
			delete(a, corev1.LastAppliedConfigAnnotation)
			if len(a) == 0 {
				a = nil
			}
			m.SetAnnotations(a)
		}
	}
	return obj, nil
}
