package render

import (
	"crypto/sha256"
	"encoding/hex"
	"slices"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation"
	corev1ac "k8s.io/client-go/applyconfigurations/core/v1"

	staxv1alpha1 "github.com/stax-dev/blueprint-operator/api/v1alpha1"
	"github.com/stax-dev/blueprint-operator/internal/ownership"
)

// volumeNamePrefix starts the pod volume name of every Blueprint volume, so
// none collides with the /tmp volume or a secret file's volume.
const volumeNamePrefix = "vol-"

// PodVolumeName names the pod volume of a Blueprint volume: vol-NAME. A pod
// volume's name is a DNS label of at most 63 characters, and a volume's name
// may have 63 itself: one that vol- would push past 63 is cut, and a digest
// of the whole name keeps it unique among the service's volumes. Every
// name that fits is unchanged.
func PodVolumeName(volume string) string {
	name := volumeNamePrefix + volume
	if len(name) <= validation.DNS1123LabelMaxLength {
		return name
	}
	sum := sha256.Sum256([]byte(volume))
	// 4 + 46 + 1 + 12 = 63.
	return volumeNamePrefix + strings.TrimRight(volume[:46], "-") + "-" + hex.EncodeToString(sum[:6])
}

// ClaimName is the deterministic name of the PersistentVolumeClaim of a pvc
// volume: BLUEPRINT-SERVICE-VOLUME. The API bounds each part to 63
// characters, so it is at most 191, well within the 253 a claim's name may
// have.
func ClaimName(blueprint, service, volume string) string {
	return blueprint + "-" + service + "-" + volume
}

// Claim is a PersistentVolumeClaim a Blueprint declares.
type Claim struct {
	Service string
	Volume  string
	Name    string
	Size    resource.Quantity
	// StorageClassName is empty for the cluster's default class.
	StorageClassName string
	AccessMode       corev1.PersistentVolumeAccessMode
}

// ClaimLabels returns the labels of a claim: those of every object rendered
// for its service, and the volume's name.
func ClaimLabels(blueprint, service, volume string) map[string]string {
	labels := Labels(blueprint, service)
	labels[staxv1alpha1.LabelVolume] = volume
	return labels
}

func accessModeOrDefault(m staxv1alpha1.VolumeAccessMode) corev1.PersistentVolumeAccessMode {
	if m == "" {
		return corev1.ReadWriteOnce
	}
	return corev1.PersistentVolumeAccessMode(m)
}

// singlePod reports whether a volume may be mounted by one pod at a time
// only: a ReadWriteOnce or ReadWriteOncePod claim.
func singlePod(v *staxv1alpha1.ServiceVolume) bool {
	return v.Type == staxv1alpha1.VolumeTypePVC && accessModeOrDefault(v.AccessMode) != corev1.ReadWriteMany
}

// NeedsRecreate reports whether a service must roll out with strategy
// Recreate: it mounts a claim one pod at a time may use, so a new pod
// would wait on the old one forever under RollingUpdate.
func NeedsRecreate(svc *staxv1alpha1.BlueprintService) bool {
	for i := range svc.Volumes {
		if singlePod(&svc.Volumes[i]) {
			return true
		}
	}
	return false
}

// volumes renders a service's volumes and mounts, and the claims of its pvc
// volumes.
func volumes(bp *staxv1alpha1.Blueprint, svc *staxv1alpha1.BlueprintService) ([]*corev1ac.VolumeApplyConfiguration, []*corev1ac.VolumeMountApplyConfiguration, []Claim) {
	var vols []*corev1ac.VolumeApplyConfiguration
	var mounts []*corev1ac.VolumeMountApplyConfiguration
	var claims []Claim
	for i := range svc.Volumes {
		v := &svc.Volumes[i]
		name := PodVolumeName(v.Name)
		vol := corev1ac.Volume().WithName(name)
		switch v.Type {
		case staxv1alpha1.VolumeTypePVC:
			c := Claim{
				Service: svc.Name, Volume: v.Name, Name: ClaimName(bp.Name, svc.Name, v.Name),
				StorageClassName: v.StorageClassName, AccessMode: accessModeOrDefault(v.AccessMode),
			}
			// Admission checks it is a quantity; an unparsable one
			// (a stored object from before a rule) requests nothing.
			if q, err := resource.ParseQuantity(v.Size); err == nil {
				c.Size = q
			}
			claims = append(claims, c)
			vol.WithPersistentVolumeClaim(corev1ac.PersistentVolumeClaimVolumeSource().WithClaimName(c.Name))
		default:
			dir := corev1ac.EmptyDirVolumeSource()
			if q, err := resource.ParseQuantity(v.Size); err == nil {
				dir.WithSizeLimit(q)
			}
			vol.WithEmptyDir(dir)
		}
		vols = append(vols, vol)
		mounts = append(mounts, corev1ac.VolumeMount().WithName(name).WithMountPath(v.MountPath))
	}
	return vols, mounts, claims
}

// NewClaim is the PersistentVolumeClaim to create for c, marked as bp's and
// owned as its deletion policy says (ownership.SetRetention).
func NewClaim(c Claim, bp *staxv1alpha1.Blueprint) *corev1.PersistentVolumeClaim {
	pvc := &corev1.PersistentVolumeClaim{
		ObjectMeta: metav1.ObjectMeta{Name: c.Name, Namespace: bp.Namespace, Labels: ClaimLabels(bp.Name, c.Service, c.Volume)},
		Spec: corev1.PersistentVolumeClaimSpec{
			AccessModes: []corev1.PersistentVolumeAccessMode{c.AccessMode},
			Resources:   corev1.VolumeResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceStorage: c.Size}},
		},
	}
	if c.StorageClassName != "" {
		pvc.Spec.StorageClassName = &c.StorageClassName
	}
	ownership.SetRetention(pvc, bp, staxv1alpha1.GeneratedForAnnotation)
	return pvc
}

// ClaimVerdict is ownership's adoption table for a claim: the same as the
// generated Secret's (ownership.Retained with GeneratedForAnnotation).
func ClaimVerdict(pvc *corev1.PersistentVolumeClaim, bp *staxv1alpha1.Blueprint) ownership.Verdict {
	return ownership.Retained(pvc, bp, staxv1alpha1.GeneratedForAnnotation)
}

// ClaimUpdate is what must change on an existing claim of the Blueprint.
type ClaimUpdate struct {
	// Changed: write the claim (labels, ownership, a larger size).
	Changed bool
	// Expanded: the size request was raised to the volume's size.
	Expanded bool
	// Shrink: the volume asks for less than the claim requests; the size
	// is left as it is (a claim can only grow).
	Shrink bool
}

// UpdateClaim brings an existing claim (Owned or Adoptable) to c: labels,
// marker and ownership as bp's deletion policy says, and an expansion
// request when c is larger. A smaller size is reported, never written. The
// claim's class and access modes are immutable and left as they are.
func UpdateClaim(pvc *corev1.PersistentVolumeClaim, c Claim, bp *staxv1alpha1.Blueprint) ClaimUpdate {
	var u ClaimUpdate
	for k, v := range ClaimLabels(bp.Name, c.Service, c.Volume) {
		if pvc.Labels[k] != v {
			if pvc.Labels == nil {
				pvc.Labels = map[string]string{}
			}
			pvc.Labels[k] = v
			u.Changed = true
		}
	}
	if ownership.SetRetention(pvc, bp, staxv1alpha1.GeneratedForAnnotation) {
		u.Changed = true
	}
	current := pvc.Spec.Resources.Requests[corev1.ResourceStorage]
	switch c.Size.Cmp(current) {
	case 1:
		if pvc.Spec.Resources.Requests == nil {
			pvc.Spec.Resources.Requests = corev1.ResourceList{}
		}
		pvc.Spec.Resources.Requests[corev1.ResourceStorage] = c.Size
		u.Changed, u.Expanded = true, true
	case -1:
		u.Shrink = true
	}
	return u
}

// UndeclaredClaims returns the names of the claims in live that are bp's
// (owned, or marked for it and adoptable) and that no volume declares.
// They are kept, never deleted, while the Blueprint lives.
func UndeclaredClaims(live []corev1.PersistentVolumeClaim, declared []Claim, bp *staxv1alpha1.Blueprint) []string {
	want := map[string]bool{}
	for _, c := range declared {
		want[c.Name] = true
	}
	var out []string
	for i := range live {
		pvc := &live[i]
		if want[pvc.Name] {
			continue
		}
		switch ClaimVerdict(pvc, bp) {
		case ownership.Owned, ownership.Adoptable:
			out = append(out, pvc.Name)
		}
	}
	return out
}

// ClaimPruneRequest is a request to delete undeclared claims
// (PruneClaimsAnnotation with PruneClaimsRequestedAtAnnotation).
type ClaimPruneRequest struct {
	// All: every undeclared claim; otherwise Names.
	All   bool
	Names []string
	// At is when it was requested: only claims created before it go.
	At time.Time
}

// ParseClaimPruneRequest reads a claim prune request from a Blueprint's
// annotations. ok is false without one, or without a valid time (a request
// without a time could delete, on a re-sync, a claim created since).
func ParseClaimPruneRequest(annotations map[string]string) (ClaimPruneRequest, bool) {
	raw := annotations[staxv1alpha1.PruneClaimsAnnotation]
	at, err := time.Parse(time.RFC3339, annotations[staxv1alpha1.PruneClaimsRequestedAtAnnotation])
	if strings.TrimSpace(raw) == "" || err != nil {
		return ClaimPruneRequest{}, false
	}
	var req ClaimPruneRequest
	req.At = at
	for _, n := range strings.Split(raw, ",") {
		switch n = strings.TrimSpace(n); n {
		case "":
		case staxv1alpha1.PruneAllValue:
			req.All = true
		default:
			req.Names = append(req.Names, n)
		}
	}
	return req, req.All || len(req.Names) > 0
}

// ClaimsToPrune returns the claims of live that req deletes: undeclared
// (named in undeclared), named by req (or req.All), and created before
// req.At.
func ClaimsToPrune(live []corev1.PersistentVolumeClaim, undeclared []string, req ClaimPruneRequest) []corev1.PersistentVolumeClaim {
	var out []corev1.PersistentVolumeClaim
	for _, pvc := range live {
		if !slices.Contains(undeclared, pvc.Name) || (!req.All && !slices.Contains(req.Names, pvc.Name)) {
			continue
		}
		if !pvc.CreationTimestamp.Time.Before(req.At) {
			continue
		}
		out = append(out, pvc)
	}
	return out
}
