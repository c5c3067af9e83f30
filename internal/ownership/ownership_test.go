package ownership

import (
	"slices"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"

	staxv1alpha1 "github.com/stax-dev/blueprint-operator/api/v1alpha1"
)

func TestIsControlledBy(t *testing.T) {
	ref := func(apiVersion, kind, uid string, controller bool) metav1.OwnerReference {
		return metav1.OwnerReference{
			APIVersion: apiVersion, Kind: kind, Name: "payments-dev", UID: types.UID(uid),
			Controller: ptr.To(controller),
		}
	}
	tests := map[string]struct {
		refs []metav1.OwnerReference
		want bool
	}{
		"controlled by the Blueprint": {
			refs: []metav1.OwnerReference{ref("stax.dev/v1alpha1", "Blueprint", "uid-1", true)},
			want: true,
		},
		"controlled by the Blueprint under another version": {
			refs: []metav1.OwnerReference{ref("stax.dev/v1", "Blueprint", "uid-1", true)},
			want: true,
		},
		"no owner references": {
			want: false,
		},
		"owner but not controller": {
			refs: []metav1.OwnerReference{ref("stax.dev/v1alpha1", "Blueprint", "uid-1", false)},
			want: false,
		},
		"controlled by another Blueprint": {
			refs: []metav1.OwnerReference{ref("stax.dev/v1alpha1", "Blueprint", "uid-2", true)},
			want: false,
		},
		"controlled by another kind with the same uid": {
			refs: []metav1.OwnerReference{ref("apps/v1", "ReplicaSet", "uid-1", true)},
			want: false,
		},
		"controlled by another kind of our group with the same uid": {
			refs: []metav1.OwnerReference{ref("stax.dev/v1alpha1", "BlueprintTemplate", "uid-1", true)},
			want: false,
		},
		"controlled by a Blueprint of another group": {
			refs: []metav1.OwnerReference{ref("example.com/v1", "Blueprint", "uid-1", true)},
			want: false,
		},
		"controlled by a Blueprint of a group ending like ours": {
			refs: []metav1.OwnerReference{ref("notstax.dev/v1alpha1", "Blueprint", "uid-1", true)},
			want: false,
		},
		"non-controller Blueprint ref next to a foreign controller": {
			refs: []metav1.OwnerReference{
				ref("stax.dev/v1alpha1", "Blueprint", "uid-1", false),
				ref("apps/v1", "ReplicaSet", "uid-9", true),
			},
			want: false,
		},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			obj := &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{OwnerReferences: tt.refs}}
			if got := IsControlledBy(obj, "uid-1"); got != tt.want {
				t.Errorf("IsControlledBy(%v, uid-1) = %v, want %v", tt.refs, got, tt.want)
			}
		})
	}
}

func blueprint(policy staxv1alpha1.DeletionPolicy) *staxv1alpha1.Blueprint {
	return &staxv1alpha1.Blueprint{
		ObjectMeta: metav1.ObjectMeta{Name: "payments-dev", Namespace: "team", UID: "uid-1"},
		Spec:       staxv1alpha1.BlueprintSpec{DeletionPolicy: policy},
	}
}

const marker = "stax.dev/generated-for"

// TestRetained is the adoption table of the generated Secret, row by row,
// under both deletion policies (the verdict is the same under both: see
// Retained).
func TestRetained(t *testing.T) {
	bpRef := func(name, uid string) metav1.OwnerReference {
		return metav1.OwnerReference{APIVersion: "stax.dev/v1alpha1", Kind: "Blueprint", Name: name, UID: types.UID(uid), Controller: ptr.To(true)}
	}
	rsRef := metav1.OwnerReference{APIVersion: "apps/v1", Kind: "ReplicaSet", Name: "x", UID: "uid-9", Controller: ptr.To(true)}
	nonController := metav1.OwnerReference{APIVersion: "stax.dev/v1alpha1", Kind: "Blueprint", Name: "payments-dev", UID: "uid-0"}
	deleting := metav1.NewTime(time.Unix(1, 0))
	tests := map[string]struct {
		marker   *string
		refs     []metav1.OwnerReference
		deleting bool
		want     Verdict
	}{
		"controlled by this Blueprint":                                           {marker: ptr.To("payments-dev"), refs: []metav1.OwnerReference{bpRef("payments-dev", "uid-1")}, want: Owned},
		"controlled by this Blueprint without the marker":                        {refs: []metav1.OwnerReference{bpRef("payments-dev", "uid-1")}, want: Owned},
		"controlled by this Blueprint, being deleted":                            {refs: []metav1.OwnerReference{bpRef("payments-dev", "uid-1")}, deleting: true, want: Deleting},
		"orphan marked for this name":                                            {marker: ptr.To("payments-dev"), want: Adoptable},
		"orphan marked for this name, another Blueprint as non-controller owner": {marker: ptr.To("payments-dev"), refs: []metav1.OwnerReference{nonController}, want: Adoptable},
		"orphan marked for this name, being deleted":                             {marker: ptr.To("payments-dev"), deleting: true, want: Deleting},
		"marked for this name, controlled by a predecessor":                      {marker: ptr.To("payments-dev"), refs: []metav1.OwnerReference{bpRef("payments-dev", "uid-0")}, want: Superseded},
		"marked for this name, controlled by a predecessor, being deleted":       {marker: ptr.To("payments-dev"), refs: []metav1.OwnerReference{bpRef("payments-dev", "uid-0")}, deleting: true, want: Superseded},
		"unmarked, controlled by a predecessor":                                  {refs: []metav1.OwnerReference{bpRef("payments-dev", "uid-0")}, want: Superseded},
		"marked for another name, controlled by a predecessor":                   {marker: ptr.To("orders-dev"), refs: []metav1.OwnerReference{bpRef("payments-dev", "uid-0")}, want: Foreign},
		"marked for this name, controlled by another Blueprint":                  {marker: ptr.To("payments-dev"), refs: []metav1.OwnerReference{bpRef("orders-dev", "uid-2")}, want: Foreign},
		"marked for this name, controlled by a ReplicaSet":                       {marker: ptr.To("payments-dev"), refs: []metav1.OwnerReference{rsRef}, want: Foreign},
		"marked for this name, controlled by a Blueprint of another group":       {marker: ptr.To("payments-dev"), refs: []metav1.OwnerReference{{APIVersion: "example.com/v1", Kind: "Blueprint", Name: "payments-dev", UID: "uid-0", Controller: ptr.To(true)}}, want: Foreign},
		"marked for another Blueprint":                                           {marker: ptr.To("orders-dev"), want: Foreign},
		"marked for another Blueprint, being deleted":                            {marker: ptr.To("orders-dev"), deleting: true, want: Foreign},
		"marker empty":                               {marker: ptr.To(""), want: Foreign},
		"no marker, no controller":                   {want: Foreign},
		"no marker, controlled by another Blueprint": {refs: []metav1.OwnerReference{bpRef("orders-dev", "uid-2")}, want: Foreign},
	}
	for _, policy := range []staxv1alpha1.DeletionPolicy{staxv1alpha1.DeletionPolicyDelete, staxv1alpha1.DeletionPolicyRetain} {
		for name, tt := range tests {
			t.Run(string(policy)+"/"+name, func(t *testing.T) {
				obj := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{OwnerReferences: tt.refs}}
				if tt.marker != nil {
					obj.Annotations = map[string]string{marker: *tt.marker}
				}
				if tt.deleting {
					obj.DeletionTimestamp = &deleting
				}
				if got := Retained(obj, blueprint(policy), marker); got != tt.want {
					t.Errorf("Retained = %v, want %v", got, tt.want)
				}
			})
		}
	}
}

func TestRendered(t *testing.T) {
	bp := blueprint(staxv1alpha1.DeletionPolicyDelete)
	owned := &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{OwnerReferences: []metav1.OwnerReference{*metav1.NewControllerRef(bp, staxv1alpha1.GroupVersion.WithKind("Blueprint"))}}}
	if got := Rendered(owned, bp); got != Owned {
		t.Errorf("Rendered(controlled) = %v, want Owned", got)
	}
	// A marker never makes a rendered object adoptable.
	marked := &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Annotations: map[string]string{marker: bp.Name}}}
	if got := Rendered(marked, bp); got != Foreign {
		t.Errorf("Rendered(marked orphan) = %v, want Foreign", got)
	}
}

func TestSetRetention(t *testing.T) {
	other := metav1.OwnerReference{APIVersion: "v1", Kind: "ConfigMap", Name: "keep-me", UID: "uid-cm"}
	predecessor := metav1.OwnerReference{APIVersion: "stax.dev/v1alpha1", Kind: "Blueprint", Name: "payments-dev", UID: "uid-0", Controller: ptr.To(true), BlockOwnerDeletion: ptr.To(true)}
	tests := map[string]struct {
		policy      staxv1alpha1.DeletionPolicy
		annotations map[string]string
		refs        []metav1.OwnerReference
		wantRefs    []types.UID
		wantChanged bool
	}{
		"Delete: a bare object gets the marker and a controller reference": {
			policy: staxv1alpha1.DeletionPolicyDelete, wantRefs: []types.UID{"uid-1"}, wantChanged: true,
		},
		"default policy is Delete": {
			policy: "", wantRefs: []types.UID{"uid-1"}, wantChanged: true,
		},
		"Retain: marker only, no owner reference": {
			policy: staxv1alpha1.DeletionPolicyRetain, wantChanged: true,
		},
		"Retain drops this Blueprint's controller reference": {
			policy: staxv1alpha1.DeletionPolicyRetain, annotations: map[string]string{marker: "payments-dev"},
			refs: []metav1.OwnerReference{*metav1.NewControllerRef(blueprint(""), staxv1alpha1.GroupVersion.WithKind("Blueprint"))}, wantChanged: true,
		},
		"Delete replaces a predecessor's reference and keeps other owners": {
			policy: staxv1alpha1.DeletionPolicyDelete, annotations: map[string]string{marker: "payments-dev"},
			refs: []metav1.OwnerReference{other, predecessor}, wantRefs: []types.UID{"uid-cm", "uid-1"}, wantChanged: true,
		},
		"Retain, already marked: nothing changes": {
			policy: staxv1alpha1.DeletionPolicyRetain, annotations: map[string]string{marker: "payments-dev"},
			refs: []metav1.OwnerReference{other}, wantRefs: []types.UID{"uid-cm"},
		},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			bp := blueprint(tt.policy)
			obj := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Annotations: tt.annotations, OwnerReferences: tt.refs}}
			if got := SetRetention(obj, bp, marker); got != tt.wantChanged {
				t.Errorf("changed = %v, want %v", got, tt.wantChanged)
			}
			if obj.Annotations[marker] != bp.Name {
				t.Errorf("marker = %q, want %q", obj.Annotations[marker], bp.Name)
			}
			var uids []types.UID
			for _, r := range obj.OwnerReferences {
				uids = append(uids, r.UID)
			}
			if !slices.Equal(uids, tt.wantRefs) {
				t.Errorf("owner references %v, want %v", uids, tt.wantRefs)
			}
			if ctrl := metav1.GetControllerOf(obj); (ctrl != nil) != (tt.policy != staxv1alpha1.DeletionPolicyRetain) {
				t.Errorf("controller %v under policy %q", ctrl, tt.policy)
			}
			// Applying it again is a no-op: the reconciler writes nothing.
			if SetRetention(obj, bp, marker) {
				t.Error("second SetRetention reported a change")
			}
		})
	}
}
