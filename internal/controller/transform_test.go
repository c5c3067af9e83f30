package controller

import (
	"encoding/json"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	toolscache "k8s.io/client-go/tools/cache"
	"k8s.io/utils/ptr"

	staxv1alpha1 "github.com/stax-dev/blueprint-operator/api/v1alpha1"
	"github.com/stax-dev/blueprint-operator/internal/applied"
	"github.com/stax-dev/blueprint-operator/internal/observe"
	"github.com/stax-dev/blueprint-operator/internal/ownership"
	"github.com/stax-dev/blueprint-operator/internal/values"
)

func entry(manager string, op metav1.ManagedFieldsOperationType, sub, fields string) metav1.ManagedFieldsEntry {
	return metav1.ManagedFieldsEntry{
		Manager: manager, Operation: op, APIVersion: "apps/v1", FieldsType: "FieldsV1", Subresource: sub,
		FieldsV1: metav1.NewFieldsV1(fields),
	}
}

func ownedDeployment(fields ...metav1.ManagedFieldsEntry) *appsv1.Deployment {
	return &appsv1.Deployment{
		TypeMeta: metav1.TypeMeta{APIVersion: "apps/v1", Kind: "Deployment"},
		ObjectMeta: metav1.ObjectMeta{
			Namespace: "ns", Name: "web", Labels: map[string]string{"app": "web", "team": "a"},
			Annotations:   map[string]string{"kept": "yes"},
			ManagedFields: fields,
		},
		Spec: appsv1.DeploymentSpec{
			Replicas: ptrInt32(3),
			Template: corev1.PodTemplateSpec{Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "web", Image: "web:1"}}}},
		},
		Status: appsv1.DeploymentStatus{Replicas: 3},
	}
}

func ptrInt32(v int32) *int32 { return &v }

func TestTrimForeignManagedFields(t *testing.T) {
	ours := entry(FieldOwner, metav1.ManagedFieldsOperationApply, "",
		`{"f:metadata":{"f:labels":{"f:app":{}}},"f:spec":{"f:replicas":{},"f:template":{"f:spec":{"f:containers":{"k:{\"name\":\"web\"}":{".":{},"f:image":{},"f:name":{}}}}}}}`)
	ours.Time = ptr.To(metav1.Now())
	oursNoReplicas := entry(FieldOwner, metav1.ManagedFieldsOperationApply, "",
		`{"f:metadata":{"f:labels":{"f:app":{}}},"f:spec":{"f:template":{"f:spec":{"f:containers":{"k:{\"name\":\"web\"}":{".":{},"f:image":{},"f:name":{}}}}}}}`)
	oursCreate := entry(FieldOwner, metav1.ManagedFieldsOperationUpdate, "", `{"f:metadata":{"f:annotations":{"f:kept":{}}}}`)
	controllerStatus := entry("kube-controller-manager", metav1.ManagedFieldsOperationUpdate, "status", `{"f:status":{"f:replicas":{}}}`)
	kubectl := entry("kubectl-client-side-apply", metav1.ManagedFieldsOperationUpdate, "", `{"f:metadata":{"f:labels":{"f:team":{}}}}`)
	// What the cache keeps of an entry of ours: all but its time.
	kept := func(e metav1.ManagedFieldsEntry) metav1.ManagedFieldsEntry {
		e.Time = nil
		return e
	}

	for _, tc := range []struct {
		name string
		in   []metav1.ManagedFieldsEntry
		want []metav1.ManagedFieldsEntry
	}{
		{"other managers dropped, every entry of ours kept in order", []metav1.ManagedFieldsEntry{controllerStatus, ours, kubectl, oursCreate}, []metav1.ManagedFieldsEntry{kept(ours), kept(oursCreate)}},
		{"only ours", []metav1.ManagedFieldsEntry{ours}, []metav1.ManagedFieldsEntry{kept(ours)}},
		{"ours without replicas", []metav1.ManagedFieldsEntry{oursNoReplicas}, []metav1.ManagedFieldsEntry{kept(oursNoReplicas)}},
		{"none of ours: none left", []metav1.ManagedFieldsEntry{controllerStatus, kubectl}, nil},
		{"no managedFields", nil, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := ownedDeployment(append([]metav1.ManagedFieldsEntry(nil), tc.in...)...)
			ownsBefore, createBefore := ownsReplicas(d), hasCreateEntry(d)
			out, err := TrimForeignManagedFields(d)
			if err != nil {
				t.Fatal(err)
			}
			got := out.(*appsv1.Deployment)
			if len(got.ManagedFields) != len(tc.want) {
				t.Fatalf("managedFields: got %v, want %v", got.ManagedFields, tc.want)
			}
			for i, e := range got.ManagedFields {
				want := tc.want[i]
				if !jsonEqual(t, fieldSetOf(e), want.FieldsV1.GetRawBytes()) {
					t.Errorf("entry %d: field set %s, want %s", i, fieldSetOf(e), want.FieldsV1.GetRawBytes())
				}
				e.FieldsV1, want.FieldsV1 = nil, nil
				if !equality.Semantic.DeepEqual(e, want) {
					t.Errorf("entry %d: got %v, want %v", i, e, want)
				}
			}
			if len(got.ManagedFields) > 0 && len(got.ManagedFields[0].FieldsV1.GetRawBytes()) >= len(tc.want[0].FieldsV1.GetRawBytes()) {
				t.Errorf("the cached field set (%d bytes) is no smaller than the API server's (%d)", len(got.ManagedFields[0].FieldsV1.GetRawBytes()), len(tc.want[0].FieldsV1.GetRawBytes()))
			}
			// What the reconciler reads of a cached object's entries is
			// unchanged.
			if ownsReplicas(got) != ownsBefore || hasCreateEntry(got) != createBefore {
				t.Errorf("ownsReplicas %v -> %v, hasCreateEntry %v -> %v", ownsBefore, ownsReplicas(got), createBefore, hasCreateEntry(got))
			}
			if got.Spec.Replicas == nil || *got.Spec.Replicas != 3 || got.Labels["team"] != "a" || got.Status.Replicas != 3 {
				t.Errorf("the object itself changed: %+v", got)
			}
		})
	}
	// The cases above reach both answers of what is read.
	if !ownsReplicas(ownedDeployment(ours)) || ownsReplicas(ownedDeployment(oursNoReplicas)) || !hasCreateEntry(ownedDeployment(oursCreate)) || hasCreateEntry(ownedDeployment(ours)) {
		t.Error("the fixtures no longer tell owning replicas, or a create entry, apart")
	}

	// Not an object (an informer's tombstone): passed through.
	tomb := toolscache.DeletedFinalStateUnknown{Key: "ns/web"}
	if out, err := TrimForeignManagedFields(tomb); err != nil || out != any(tomb) {
		t.Errorf("tombstone: %v, %v", out, err)
	}
}

// TestTrimmedFieldSetHoldsOnlyWhatTheTypedObjectHas: the cache keeps of our
// entry only what the typed Deployment it receives still has (a removal by
// another manager stays in our entry and must read as drift,
// internal/applied), found by JSON name, list key and set value in the
// typed object itself.
func TestTrimmedFieldSetHoldsOnlyWhatTheTypedObjectHas(t *testing.T) {
	ours := entry(FieldOwner, metav1.ManagedFieldsOperationApply, "", `{
		"f:metadata":{"f:labels":{"f:app":{},"f:removed":{}},"f:finalizers":{"v:\"stax.dev/kept\"":{},"v:\"stax.dev/gone\"":{}},
			"f:ownerReferences":{"k:{\"uid\":\"bp-uid\"}":{}}},
		"f:spec":{"f:replicas":{},"f:paused":{},"f:template":{"f:spec":{"f:containers":{
			"k:{\"name\":\"web\"}":{".":{},"f:name":{},"f:image":{},"f:args":{},
				"f:env":{"k:{\"name\":\"MODE\"}":{".":{},"f:name":{},"f:value":{}},"k:{\"name\":\"GONE\"}":{".":{},"f:name":{},"f:value":{}}},
				"f:ports":{"k:{\"containerPort\":8080,\"protocol\":\"TCP\"}":{".":{},"f:containerPort":{}},"k:{\"containerPort\":9090,\"protocol\":\"TCP\"}":{".":{},"f:containerPort":{}}}},
			"k:{\"name\":\"sidecar\"}":{".":{},"f:name":{},"f:image":{}}}}}}}`)
	d := ownedDeployment(ours)
	d.Finalizers = []string{"stax.dev/kept"}
	d.Spec.Template.Spec.Containers = []corev1.Container{{
		Name: "web", Image: "web:1",
		Env:   []corev1.EnvVar{{Name: "MODE", Value: "prod"}},
		Ports: []corev1.ContainerPort{{ContainerPort: 8080, Protocol: corev1.ProtocolTCP}},
	}}
	// Gone from the object, still in our entry: the label "removed", the
	// finalizer "stax.dev/gone", replicas (nil) and paused (false, which
	// JSON omits), the container's args, the env var GONE, the port 9090
	// and the container sidecar. The owner reference is left out of every
	// cached set.
	d.Spec.Replicas = nil
	want := `{
		"f:metadata":{"f:labels":{"f:app":{}},"f:finalizers":{"v:\"stax.dev/kept\"":{}}},
		"f:spec":{"f:template":{"f:spec":{"f:containers":{
			"k:{\"name\":\"web\"}":{".":{},"f:name":{},"f:image":{},
				"f:env":{"k:{\"name\":\"MODE\"}":{".":{},"f:name":{},"f:value":{}}},
				"f:ports":{"k:{\"containerPort\":8080,\"protocol\":\"TCP\"}":{".":{},"f:containerPort":{}}}}}}}}}`
	out, err := TrimForeignManagedFields(d)
	if err != nil {
		t.Fatal(err)
	}
	got := out.(*appsv1.Deployment).ManagedFields
	if len(got) != 1 {
		t.Fatalf("managedFields: %v", got)
	}
	if !jsonEqual(t, fieldSetOf(got[0]), []byte(want)) {
		t.Errorf("cached field set:\n%s\nwant:\n%s", fieldSetOf(got[0]), want)
	}
	// The same object as JSON maps (an unstructured object: an HTTPRoute's
	// cache) keeps the same.
	content, err := runtime.DefaultUnstructuredConverter.ToUnstructured(ownedDeployment(ours))
	if err != nil {
		t.Fatal(err)
	}
	u := &unstructured.Unstructured{Object: content}
	u.SetFinalizers(d.Finalizers)
	if err := unstructured.SetNestedField(u.Object, nil, "spec", "replicas"); err != nil {
		t.Fatal(err)
	}
	containers, err := runtime.DefaultUnstructuredConverter.ToUnstructured(&d.Spec.Template.Spec)
	if err != nil {
		t.Fatal(err)
	}
	if err := unstructured.SetNestedField(u.Object, containers["containers"], "spec", "template", "spec", "containers"); err != nil {
		t.Fatal(err)
	}
	out, err = TrimForeignManagedFields(u)
	if err != nil {
		t.Fatal(err)
	}
	if fields := out.(*unstructured.Unstructured).GetManagedFields(); len(fields) != 1 || !jsonEqual(t, fieldSetOf(fields[0]), []byte(want)) {
		t.Errorf("unstructured: cached managedFields %v, want the field set\n%s", fields, want)
	}
}

// ownedBy is e with a field set naming an owner reference of uid, as the
// API server records our apply's.
func ownedBy(e metav1.ManagedFieldsEntry, uid string) metav1.ManagedFieldsEntry {
	var set map[string]any
	if err := json.Unmarshal(e.FieldsV1.GetRawBytes(), &set); err != nil {
		panic(err)
	}
	set["f:metadata"].(map[string]any)["f:ownerReferences"] = map[string]any{`k:{"uid":"` + uid + `"}`: map[string]any{}}
	raw, err := json.Marshal(set)
	if err != nil {
		panic(err)
	}
	e.FieldsV1 = metav1.NewFieldsV1(string(raw))
	return e
}

func TestFieldSetsAreSharedAcrossOwners(t *testing.T) {
	shape := entry(FieldOwner, metav1.ManagedFieldsOperationApply, "",
		`{"f:metadata":{"f:labels":{"f:app":{}}},"f:spec":{"f:replicas":{}}}`)
	a, _ := TrimForeignManagedFields(ownedDeployment(ownedBy(shape, "uid-a")))
	b, _ := TrimForeignManagedFields(ownedDeployment(ownedBy(shape, "uid-b")))
	fa, fb := a.(*appsv1.Deployment).ManagedFields[0].FieldsV1, b.(*appsv1.Deployment).ManagedFields[0].FieldsV1
	if fa != fb {
		t.Errorf("two objects of one shape keep a field set each: %s, %s", fa.GetRawString(), fb.GetRawString())
	}
	set := string(fieldSetOf(a.(*appsv1.Deployment).ManagedFields[0]))
	if strings.Contains(set, "ownerReferences") || !strings.Contains(set, `"f:replicas"`) {
		t.Errorf("shared field set %s: want the ownerReferences part gone, the rest kept", set)
	}
}

func jsonEqual(t *testing.T, a, b []byte) bool {
	t.Helper()
	var x, y any
	if err := json.Unmarshal(a, &x); err != nil {
		t.Fatalf("%s: %v", a, err)
	}
	if err := json.Unmarshal(b, &y); err != nil {
		t.Fatalf("%s: %v", b, err)
	}
	return equality.Semantic.DeepEqual(x, y)
}

// TestTrimCachedWorkloadsKeepWhatIsRead: every answer the reconciler reads
// off a cached Deployment or Service is the same on the trimmed object as
// on the object the API server sent.
func TestTrimCachedWorkloadsKeepWhatIsRead(t *testing.T) {
	bp := &staxv1alpha1.Blueprint{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "shop", UID: "bp-uid"}}
	owner := metav1.OwnerReference{APIVersion: "stax.dev/v1alpha1", Kind: "Blueprint", Name: "shop", UID: "bp-uid", Controller: ptr.To(true), BlockOwnerDeletion: ptr.To(true)}
	desired := map[string]any{
		"metadata": map[string]any{"labels": map[string]any{"app": "web"}, "ownerReferences": []any{map[string]any{
			"apiVersion": "stax.dev/v1alpha1", "kind": "Blueprint", "name": "shop", "uid": "bp-uid", "controller": true, "blockOwnerDeletion": true,
		}}},
		"spec": map[string]any{"replicas": 3, "template": map[string]any{"spec": map[string]any{"containers": []any{map[string]any{"name": "web", "image": "web:1"}}}}},
	}
	want, err := applied.NewDesired(desired)
	if err != nil {
		t.Fatal(err)
	}
	fingerprint := want.Fingerprint
	sent := func(mutate func(*appsv1.Deployment)) *appsv1.Deployment {
		d := ownedDeployment(
			ownedBy(entry(FieldOwner, metav1.ManagedFieldsOperationApply, "",
				`{"f:metadata":{"f:annotations":{"f:stax.dev/rendered-fingerprint":{}},"f:labels":{"f:app":{}}},"f:spec":{"f:replicas":{},"f:template":{"f:spec":{"f:containers":{"k:{\"name\":\"web\"}":{".":{},"f:image":{},"f:name":{}}}}}}}`), "bp-uid"),
			entry("kube-controller-manager", metav1.ManagedFieldsOperationUpdate, "status", `{"f:status":{"f:replicas":{}}}`))
		d.OwnerReferences = []metav1.OwnerReference{owner}
		d.Generation = 2
		d.Annotations = map[string]string{staxv1alpha1.RenderedFingerprintAnnotation: fingerprint, staxv1alpha1.SuspendedReplicasAnnotation: "2", "deployment.kubernetes.io/revision": "4"}
		d.Spec.ProgressDeadlineSeconds = ptr.To[int32](600)
		d.Spec.Selector = &metav1.LabelSelector{MatchLabels: map[string]string{"app": "web"}}
		d.Spec.Template.Annotations = map[string]string{staxv1alpha1.SecretsDigestAnnotation: "sha256:abc"}
		d.Status = appsv1.DeploymentStatus{
			ObservedGeneration: 2, Replicas: 3, UpdatedReplicas: 3, ReadyReplicas: 3, AvailableReplicas: 3,
			Conditions: []appsv1.DeploymentCondition{
				{Type: appsv1.DeploymentAvailable, Status: corev1.ConditionTrue, Reason: "MinimumReplicasAvailable", Message: "Deployment has minimum availability."},
				{Type: appsv1.DeploymentProgressing, Status: corev1.ConditionTrue, Reason: "NewReplicaSetAvailable", Message: `ReplicaSet "web-1" has successfully progressed.`},
			},
		}
		if mutate != nil {
			mutate(d)
		}
		return d
	}
	type answers struct {
		Owned, OwnsReplicas, CreateEntry, Available, UpToDate bool
		Replicas                                              *int32
		Digest, Suspended, Fingerprint                        string
	}
	read := func(d *appsv1.Deployment) answers {
		upToDate, err := applied.UpToDate(want, appliedState(d))
		if err != nil {
			t.Fatal(err)
		}
		return answers{
			Owned: ownership.Rendered(d, bp) == ownership.Owned, OwnsReplicas: ownsReplicas(d), CreateEntry: hasCreateEntry(d),
			Available: observe.DeploymentAvailable(d), UpToDate: upToDate, Replicas: d.Spec.Replicas,
			Digest:      d.Spec.Template.Annotations[staxv1alpha1.SecretsDigestAnnotation],
			Suspended:   d.Annotations[staxv1alpha1.SuspendedReplicasAnnotation],
			Fingerprint: d.Annotations[staxv1alpha1.RenderedFingerprintAnnotation],
		}
	}
	for name, mutate := range map[string]func(*appsv1.Deployment){
		"as applied and rolled out": nil,
		"rolling out":               func(d *appsv1.Deployment) { d.Status.UpdatedReplicas = 1 },
		"past its progress deadline": func(d *appsv1.Deployment) {
			d.Status.Conditions[1] = appsv1.DeploymentCondition{Type: appsv1.DeploymentProgressing, Status: corev1.ConditionFalse, Reason: "ProgressDeadlineExceeded"}
		},
		"an image edited by hand": func(d *appsv1.Deployment) {
			d.ManagedFields[0] = ownedBy(entry(FieldOwner, metav1.ManagedFieldsOperationApply, "",
				`{"f:metadata":{"f:labels":{"f:app":{}}},"f:spec":{"f:replicas":{},"f:template":{"f:spec":{"f:containers":{"k:{\"name\":\"web\"}":{".":{},"f:name":{}}}}}}}`), "bp-uid")
		},
		"an owner reference edited":     func(d *appsv1.Deployment) { d.OwnerReferences[0].BlockOwnerDeletion = ptr.To(false) },
		"another controller's":          func(d *appsv1.Deployment) { d.OwnerReferences[0].UID = "other" },
		"no fingerprint":                func(d *appsv1.Deployment) { delete(d.Annotations, staxv1alpha1.RenderedFingerprintAnnotation) },
		"created by an earlier version": func(d *appsv1.Deployment) { d.ManagedFields[0].Operation = metav1.ManagedFieldsOperationUpdate },
	} {
		t.Run(name, func(t *testing.T) {
			before := read(sent(mutate))
			out, err := TrimCachedDeployment(sent(mutate))
			if err != nil {
				t.Fatal(err)
			}
			// Idempotent, as client-go asks of a transform.
			if out, err = TrimCachedDeployment(out); err != nil {
				t.Fatal(err)
			}
			trimmed := out.(*appsv1.Deployment)
			if got := read(trimmed); !equality.Semantic.DeepEqual(got, before) {
				t.Errorf("read off the trimmed object: %+v, off the object sent: %+v", got, before)
			}
			if len(trimmed.Spec.Template.Spec.Containers) != 0 || trimmed.Spec.Selector != nil || trimmed.Annotations["deployment.kubernetes.io/revision"] != "" || trimmed.Status.Conditions[0].Message != "" {
				t.Errorf("kept what is never read: %+v", trimmed)
			}
		})
	}
	// The cases reach both answers of each question that can differ.
	if a, b := read(sent(nil)), read(sent(func(d *appsv1.Deployment) { d.Status.UpdatedReplicas = 1 })); !a.Available || b.Available || !a.UpToDate {
		t.Errorf("the fixture no longer tells a rolled-out, up-to-date Deployment from one rolling out: %+v %+v", a, b)
	}

	svc := &corev1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "web", OwnerReferences: []metav1.OwnerReference{owner},
		Annotations: map[string]string{staxv1alpha1.RenderedFingerprintAnnotation: "sha256:x"}, Labels: map[string]string{staxv1alpha1.LabelBlueprint: "shop", "team": "a"}},
		Spec: corev1.ServiceSpec{ClusterIP: "10.0.0.1", Ports: []corev1.ServicePort{{Port: 80}}}}
	out, err := TrimCachedService(svc.DeepCopy())
	if err != nil {
		t.Fatal(err)
	}
	got := out.(*corev1.Service)
	if ownership.Rendered(got, bp) != ownership.Owned || got.Annotations[staxv1alpha1.RenderedFingerprintAnnotation] != "sha256:x" ||
		got.Labels[staxv1alpha1.LabelBlueprint] != "shop" || got.Labels["team"] != "" || len(got.Spec.Ports) != 0 {
		t.Errorf("trimmed Service: %+v", got)
	}
}

func TestStripBlueprintMetadata(t *testing.T) {
	for _, tc := range []struct {
		name string
		in   map[string]string
		want map[string]string
	}{
		{"last-applied dropped, the rest kept", map[string]string{corev1.LastAppliedConfigAnnotation: `{"spec":{}}`, "stax.dev/prune-claims": "x"}, map[string]string{"stax.dev/prune-claims": "x"}},
		{"only last-applied", map[string]string{corev1.LastAppliedConfigAnnotation: `{"spec":{}}`}, nil},
		{"no last-applied", map[string]string{"a": "b"}, map[string]string{"a": "b"}},
		{"no annotations", nil, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			bp := &staxv1alpha1.Blueprint{ObjectMeta: metav1.ObjectMeta{
				Name: "bp", Annotations: tc.in,
				ManagedFields: []metav1.ManagedFieldsEntry{entry("kubectl-client-side-apply", metav1.ManagedFieldsOperationUpdate, "", `{"f:spec":{}}`)},
			}, Spec: staxv1alpha1.BlueprintSpec{Description: "kept"}}
			out, err := StripBlueprintMetadata(bp)
			if err != nil {
				t.Fatal(err)
			}
			got := out.(*staxv1alpha1.Blueprint)
			if got.ManagedFields != nil {
				t.Errorf("managedFields kept: %v", got.ManagedFields)
			}
			if !equality.Semantic.DeepEqual(got.Annotations, tc.want) {
				t.Errorf("annotations: got %v, want %v", got.Annotations, tc.want)
			}
			if got.Spec.Description != "kept" {
				t.Errorf("spec changed: %+v", got.Spec)
			}
		})
	}
	if out, err := StripBlueprintMetadata("not an object"); err != nil || out != "not an object" {
		t.Errorf("non-object: %v, %v", out, err)
	}
}

func TestStripWatchedMetadataKeepsIdentity(t *testing.T) {
	in := &metav1.PartialObjectMetadata{
		TypeMeta: metav1.TypeMeta{APIVersion: "apps/v1", Kind: "Deployment"},
		ObjectMeta: metav1.ObjectMeta{
			Namespace: "shop", Name: "api", ResourceVersion: "42", UID: "u1", Generation: 3,
			Labels:      map[string]string{"app": "api"},
			Annotations: map[string]string{"kubectl.kubernetes.io/last-applied-configuration": "{...}"},
			Finalizers:  []string{"example.com/f"},
			OwnerReferences: []metav1.OwnerReference{
				{APIVersion: "example.com/v1", Kind: "Other", Name: "x", UID: "o1"},
				{APIVersion: "stax.dev/v1alpha1", Kind: "Blueprint", Name: "shop", UID: "bp1", Controller: ptr.To(true)},
			},
			ManagedFields: []metav1.ManagedFieldsEntry{{Manager: "kubectl"}},
		},
	}
	got, err := StripWatchedMetadata(in)
	if err != nil {
		t.Fatal(err)
	}
	want := &metav1.PartialObjectMetadata{
		TypeMeta: metav1.TypeMeta{APIVersion: "apps/v1", Kind: "Deployment"},
		ObjectMeta: metav1.ObjectMeta{
			Namespace: "shop", Name: "api", ResourceVersion: "42",
			OwnerReferences: []metav1.OwnerReference{
				{APIVersion: "stax.dev/v1alpha1", Kind: "Blueprint", Name: "shop", UID: "bp1", Controller: ptr.To(true)},
			},
		},
	}
	if !equality.Semantic.DeepEqual(got, want) {
		t.Errorf("StripWatchedMetadata =\n%+v\nwant\n%+v", got, want)
	}
	// What the reconciler asks of a stripped object still has its answer.
	if uid := metav1.GetControllerOf(got.(*metav1.PartialObjectMetadata)).UID; uid != "bp1" {
		t.Errorf("controller UID %q", uid)
	}
}

// A Secret's stripped metadata still says whether it is a Blueprint's
// generated Secret, on its way out, or may be read under the lockdown.
func TestStripWatchedMetadataKeepsVerdictAndLabel(t *testing.T) {
	deleted := metav1.Now()
	in := &metav1.PartialObjectMetadata{
		TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "Secret"},
		ObjectMeta: metav1.ObjectMeta{
			Namespace: "shop", Name: "web-generated", ResourceVersion: "7", DeletionTimestamp: &deleted,
			Labels: map[string]string{staxv1alpha1.LabelReferenceable: "true", "team": "payments"},
			Annotations: map[string]string{
				staxv1alpha1.GeneratedForAnnotation:                "web",
				"kubectl.kubernetes.io/last-applied-configuration": "{\"data\":{...}}",
			},
		},
	}
	got, err := StripWatchedMetadata(in)
	if err != nil {
		t.Fatal(err)
	}
	m := got.(*metav1.PartialObjectMetadata)
	if !equality.Semantic.DeepEqual(m.Labels, map[string]string{staxv1alpha1.LabelReferenceable: "true"}) {
		t.Errorf("labels = %v, want the referenceable label alone", m.Labels)
	}
	if !equality.Semantic.DeepEqual(m.Annotations, map[string]string{staxv1alpha1.GeneratedForAnnotation: "web"}) {
		t.Errorf("annotations = %v, want the generated-for marker alone", m.Annotations)
	}
	bp := &staxv1alpha1.Blueprint{ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "shop", UID: "new"}}
	if v := values.VerdictByMetadata(m, bp); v != ownership.Deleting {
		t.Errorf("verdict from the stripped metadata = %v, want Deleting (marked for web, being deleted)", v)
	}
}

// BenchmarkPresentFields is the cache transform's share per rendered
// Deployment: our field set, less what the object no longer has, for a
// Deployment of two containers with env vars, ports and a volume mount.
func BenchmarkPresentFields(b *testing.B) {
	raw := []byte(`{"f:metadata":{"f:annotations":{"f:stax.dev/rendered-fingerprint":{}},"f:labels":{"f:app.kubernetes.io/instance":{},"f:app.kubernetes.io/name":{},"f:stax.dev/blueprint":{},"f:stax.dev/service":{}},
		"f:ownerReferences":{"k:{\"uid\":\"bp-uid\"}":{}}},
		"f:spec":{"f:replicas":{},"f:selector":{},"f:template":{"f:metadata":{"f:annotations":{"f:stax.dev/secrets-digest":{}},"f:labels":{"f:app.kubernetes.io/name":{},"f:stax.dev/service":{}}},
		"f:spec":{"f:containers":{
			"k:{\"name\":\"web\"}":{".":{},"f:name":{},"f:image":{},
				"f:env":{"k:{\"name\":\"MODE\"}":{".":{},"f:name":{},"f:value":{}},"k:{\"name\":\"DB_PASSWORD\"}":{".":{},"f:name":{},"f:valueFrom":{"f:secretKeyRef":{}}},"k:{\"name\":\"API_KEY\"}":{".":{},"f:name":{},"f:valueFrom":{"f:secretKeyRef":{}}}},
				"f:ports":{"k:{\"containerPort\":8080,\"protocol\":\"TCP\"}":{".":{},"f:containerPort":{},"f:name":{},"f:protocol":{}}},
				"f:volumeMounts":{"k:{\"mountPath\":\"/tmp\"}":{".":{},"f:mountPath":{},"f:name":{}}}},
			"k:{\"name\":\"sidecar\"}":{".":{},"f:name":{},"f:image":{}}},
		"f:volumes":{"k:{\"name\":\"tmp\"}":{".":{},"f:emptyDir":{},"f:name":{}}}}}}}`)
	ref := func(name string) *corev1.EnvVarSource {
		return &corev1.EnvVarSource{SecretKeyRef: &corev1.SecretKeySelector{LocalObjectReference: corev1.LocalObjectReference{Name: "db"}, Key: name}}
	}
	d := ownedDeployment()
	d.Annotations = map[string]string{"stax.dev/rendered-fingerprint": "f"}
	d.Labels = map[string]string{"app.kubernetes.io/instance": "i", "app.kubernetes.io/name": "web", "stax.dev/blueprint": "bp", "stax.dev/service": "web"}
	d.Spec.Selector = &metav1.LabelSelector{MatchLabels: map[string]string{"stax.dev/service": "web"}}
	d.Spec.Template.Annotations = map[string]string{"stax.dev/secrets-digest": "d"}
	d.Spec.Template.Labels = map[string]string{"app.kubernetes.io/name": "web", "stax.dev/service": "web"}
	d.Spec.Template.Spec.Containers = []corev1.Container{{
		Name: "web", Image: "web:1",
		Env:          []corev1.EnvVar{{Name: "MODE", Value: "prod"}, {Name: "DB_PASSWORD", ValueFrom: ref("password")}, {Name: "API_KEY", ValueFrom: ref("key")}},
		Ports:        []corev1.ContainerPort{{Name: "http", ContainerPort: 8080, Protocol: corev1.ProtocolTCP}},
		VolumeMounts: []corev1.VolumeMount{{Name: "tmp", MountPath: "/tmp"}},
	}, {Name: "sidecar", Image: "sidecar:1"}}
	d.Spec.Template.Spec.Volumes = []corev1.Volume{{Name: "tmp", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}}}
	b.ReportAllocs()
	for b.Loop() {
		obj, err := valueOf(d)
		if err != nil {
			b.Fatal(err)
		}
		out, err := presentFields(raw, obj)
		if err != nil || len(out) == 0 {
			b.Fatalf("presentFields: %q, %v", out, err)
		}
	}
}
