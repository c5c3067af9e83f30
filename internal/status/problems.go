package status

import (
	"fmt"

	"k8s.io/apimachinery/pkg/types"

	staxv1alpha1 "github.com/stax-dev/blueprint-operator/api/v1alpha1"
	"github.com/stax-dev/blueprint-operator/internal/depgraph"
	"github.com/stax-dev/blueprint-operator/internal/ownership"
)

// The problems a reconcile reports, worded here so that the controller only
// says what it found. Every message names services, fields, objects and
// keys, never a value, and never an API server's message.
//
// internal/examples reads the Problem literals of this package to check
// docs/troubleshooting.md and the README's reason table against them: write
// each as a literal with a reason constant of api/v1alpha1, a literal
// Stalling, and a message built from literal text.

// RenderProblem is the problem of a service that render.Build left out:
// a literal credential (plaintext) or a reference it cannot resolve as
// written. The message is render's own error text.
func RenderProblem(message string, plaintext bool) Problem {
	if plaintext {
		return Problem{Reason: staxv1alpha1.ReasonPlaintextSecret, Message: message, Stalling: true}
	}
	return Problem{Reason: staxv1alpha1.ReasonInvalidReference, Message: message, Stalling: true}
}

// CycleProblem is the problem of services whose dependsOn form cycle (as
// depgraph.Cycle returns it).
func CycleProblem(cycle []string) Problem {
	return Problem{
		Reason:   staxv1alpha1.ReasonDependencyCycle,
		Message:  "dependsOn forms a cycle: " + depgraph.Format(cycle),
		Stalling: true,
	}
}

// ScheduleProblem is the problem of a spec.sleep that internal/sleep cannot
// read; the message is its own.
func ScheduleProblem(message string) Problem {
	return Problem{Reason: staxv1alpha1.ReasonInvalidSchedule, Message: message, Stalling: true}
}

// ReferenceUse is one place of a service that reads a key of a Secret the
// Blueprint does not generate.
type ReferenceUse struct {
	Service string
	// EnvKey is the env var that consumes the value; empty when another
	// field does.
	EnvKey string
	// Field is the field that consumes the value when it is not an env
	// var: args[1], a file.
	Field     string
	Secret    string
	Key       string
	Namespace string
}

// ReferenceState is what a reconcile found of a referenced Secret and key.
type ReferenceState int

const (
	// ReferenceResolved: the Secret exists, may be read and holds the key.
	ReferenceResolved ReferenceState = iota
	// ReferenceNotReferenceable: the Secret lacks LabelReferenceable="true"
	// and the operator reads only Secrets so labelled.
	ReferenceNotReferenceable
	// ReferenceSecretNotFound: no Secret of that name in the namespace.
	ReferenceSecretNotFound
	// ReferenceKeyNotFound: the Secret has no such key.
	ReferenceKeyNotFound
)

// ReferenceStateOf is the state of a reference to a Secret, from what was
// found, in the order the checks apply: a Secret that may not be read is
// reported as such (it is never read, so whether it exists or holds the key
// is unknown), then a missing Secret, then a missing key.
func ReferenceStateOf(notReferenceable, found, hasKey bool) ReferenceState {
	switch {
	case notReferenceable:
		return ReferenceNotReferenceable
	case !found:
		return ReferenceSecretNotFound
	case !hasKey:
		return ReferenceKeyNotFound
	default:
		return ReferenceResolved
	}
}

// ReferenceHold is what an unresolved reference holds back.
type ReferenceHold int

const (
	// HoldNothing: the objects are rendered as declared, and whoever
	// reads the object (kubelet, the Ingress controller) decides.
	HoldNothing ReferenceHold = iota
	// HoldService: the service is left as it runs.
	HoldService
	// HoldHook: the onRotate hook's Job is not created; its rotation
	// stays staged, and fails at its deadline unless the reference
	// resolves.
	HoldHook
)

// HoldOf says what a reference in state holds back. A value read by the
// service's pods holds the service, one read by a hook holds the hook. An
// object only named (a pull Secret, the route's TLS Secret, the
// ServiceAccount: named, never read by the operator) holds nothing while
// it is missing, and holds the service when the lockdown forbids it: its
// pods or route would use what the Blueprint may not read.
func HoldOf(state ReferenceState, named, hook bool) ReferenceHold {
	switch {
	case state == ReferenceResolved:
		return HoldNothing
	case named && state != ReferenceNotReferenceable:
		return HoldNothing
	case hook:
		return HoldHook
	}
	return HoldService
}

// ServiceAccountNotReferenceableProblem is the problem of a service whose
// ServiceAccount is not labelled referenceable under the lockdown.
func ServiceAccountNotReferenceableProblem(service, account string) Problem {
	return Problem{
		Reason: staxv1alpha1.ReasonServiceAccountNotReferenceable,
		Message: fmt.Sprintf("service %s: ServiceAccount %s is not labelled %s=\"true\"; this operator runs pods only as ServiceAccounts so labelled",
			service, account, staxv1alpha1.LabelReferenceable),
	}
}

// TooManySecretsProblem is the problem of a Blueprint whose services name
// n distinct Secrets, more than max.
func TooManySecretsProblem(n, max int) Problem {
	return Problem{
		Reason: staxv1alpha1.ReasonTooManySecrets,
		Message: fmt.Sprintf("the services name %d distinct Secrets (env, args, files, onRotate env, imagePullSecrets, routing.tls), more than the %d one Blueprint may read; no service is rendered and no referenced Secret is read until fewer are named: gather values into fewer Secrets, or split the Blueprint",
			n, max),
		Stalling: true,
	}
}

// ReferenceProblem is the problem of a use whose Secret or key is in state;
// ok is false for ReferenceResolved. The message names the env var that
// consumes the value, or else the field. None of these stall: each
// resolves when the Secret or key appears.
func ReferenceProblem(use ReferenceUse, state ReferenceState) (p Problem, ok bool) {
	where := use.Field
	if use.EnvKey != "" {
		where = "env " + use.EnvKey
	}
	switch state {
	case ReferenceNotReferenceable:
		return Problem{
			Reason: staxv1alpha1.ReasonSecretNotReferenceable,
			Message: fmt.Sprintf("service %s, %s: Secret %s is not labelled %s=\"true\"; this operator reads only Secrets so labelled",
				use.Service, where, use.Secret, staxv1alpha1.LabelReferenceable),
		}, true
	case ReferenceSecretNotFound:
		return Problem{
			Reason:  staxv1alpha1.ReasonSecretNotFound,
			Message: fmt.Sprintf("service %s, %s: Secret %s not found in namespace %s", use.Service, where, use.Secret, use.Namespace),
		}, true
	case ReferenceKeyNotFound:
		return Problem{
			Reason:  staxv1alpha1.ReasonSecretKeyNotFound,
			Message: fmt.Sprintf("service %s, %s: Secret %s has no key %s", use.Service, where, use.Secret, use.Key),
		}, true
	}
	return Problem{}, false
}

// The kinds of object OwnershipProblem words apart: the generated Secret
// and a volume's claim may be adopted and outlive their Blueprint (see
// ownership.Retained); every other kind is rendered and never adopted
// (ownership.Rendered).
const (
	KindSecret = "Secret"
	KindClaim  = "PersistentVolumeClaim"
)

// Held is an object under a name the Blueprint would write.
type Held struct {
	// Kind is KindSecret for the generated Secret, KindClaim for a volume's
	// claim, or the kind of a rendered object (Deployment, Service,
	// Ingress, HTTPRoute).
	Kind string
	Name string
	// Service is the service that waits for a claim.
	Service string
	// Predecessor is the UID of the deleted Blueprint of the same name that
	// controls the generated Secret (ownership.Superseded).
	Predecessor types.UID
}

// OwnershipProblem is the problem of an object the ownership verdict says
// the Blueprint may not write: a Conflict, stalling, when it is someone
// else's (Foreign); Progressing while a deleted predecessor's object waits
// to be deleted (Superseded, Deleting). ok is false when it may be written
// (Owned, Adoptable).
func OwnershipProblem(o Held, verdict ownership.Verdict) (p Problem, ok bool) {
	if verdict == ownership.Owned || verdict == ownership.Adoptable {
		return Problem{}, false
	}
	switch o.Kind {
	case KindSecret:
		return generatedSecretProblem(o, verdict), true
	case KindClaim:
		return claimProblem(o, verdict), true
	}
	return Problem{
		Reason:   staxv1alpha1.ReasonConflict,
		Message:  fmt.Sprintf("%s %s exists and is not controlled by this Blueprint; it is left untouched", o.Kind, o.Name),
		Stalling: true,
	}, true
}

func generatedSecretProblem(o Held, verdict ownership.Verdict) Problem {
	switch verdict {
	case ownership.Superseded:
		// Adopting it would make the new Blueprint's values depend on who
		// wins the race with the garbage collector.
		return Problem{
			Reason: staxv1alpha1.ReasonProgressing,
			Message: fmt.Sprintf("waiting for the garbage collector to delete Secret %s, controlled by a deleted Blueprint of the same name (uid %s); new values are generated once it is gone",
				o.Name, o.Predecessor),
		}
	case ownership.Deleting:
		return Problem{
			Reason:  staxv1alpha1.ReasonProgressing,
			Message: fmt.Sprintf("waiting for the deletion of Secret %s, left by a deleted Blueprint of the same name", o.Name),
		}
	}
	return Problem{
		Reason:   staxv1alpha1.ReasonConflict,
		Message:  fmt.Sprintf("Secret %s exists and is not controlled by this Blueprint; it is left untouched, and services that consume secret values wait until it is removed", o.Name),
		Stalling: true,
	}
}

func claimProblem(o Held, verdict ownership.Verdict) Problem {
	if verdict == ownership.Foreign {
		return Problem{
			Reason:   staxv1alpha1.ReasonConflict,
			Message:  fmt.Sprintf("PersistentVolumeClaim %s exists and is not controlled by this Blueprint; it is left untouched, and service %s waits until it is removed", o.Name, o.Service),
			Stalling: true,
		}
	}
	return Problem{
		Reason:  staxv1alpha1.ReasonProgressing,
		Message: fmt.Sprintf("waiting for PersistentVolumeClaim %s, left by a deleted Blueprint of the same name, to be deleted", o.Name),
	}
}

// ShrinkProblem is the problem of a pvc volume whose size (as the spec
// spells it) is smaller than what its claim already requests (current):
// a claim cannot shrink.
func ShrinkProblem(service, volume, claim, size, current string) Problem {
	return Problem{
		Reason: staxv1alpha1.ReasonVolumeShrinkRefused,
		Message: fmt.Sprintf("service %s, volume %s: size %s is smaller than the %s PersistentVolumeClaim %s requests; a claim cannot shrink, so it is left at %s",
			service, volume, size, current, claim, current),
		Stalling: true,
	}
}

// RotationFailedProblem is the problem of a hooked rotation of secret
// that failed, while it is the latest: failure is internal/values' own
// sentence (never the Job's logs), job the Job's name.
func RotationFailedProblem(blueprint, secret, failure, job string) Problem {
	return Problem{
		Reason: staxv1alpha1.ReasonRotationFailed,
		Message: fmt.Sprintf("rotation of secret %s failed: ", secret) + failure +
			fmt.Sprintf(" (Job %s); consumers keep the value in use and the new value was discarded; inspect the Job, then request a new rotation (kubectl blueprint rotate %s %s)", job, blueprint, secret),
		Stalling: true,
	}
}

// ServiceAccountProblem is the problem of a service whose ServiceAccount
// does not exist. It does not hold the Deployment back: the ReplicaSet
// controller creates no pod until it exists.
func ServiceAccountProblem(service, account, namespace string) Problem {
	return Problem{
		Reason: staxv1alpha1.ReasonServiceAccountNotFound,
		Message: fmt.Sprintf("service %s: ServiceAccount %s not found in namespace %s; no pod can be created until it exists",
			service, account, namespace),
	}
}

// PullSecretProblem is the problem of a service whose image pull Secret
// does not exist; kubelet pulls the image without it.
func PullSecretProblem(service, secret, namespace, image string) Problem {
	return Problem{
		Reason: staxv1alpha1.ReasonImagePullSecretNotFound,
		Message: fmt.Sprintf("service %s: image pull Secret %s not found in namespace %s; kubelet pulls %s without it",
			service, secret, namespace, image),
	}
}

// GatewayAPIProblem is the problem of a service routed through a Gateway
// on a cluster that serves no HTTPRoute of groupVersion.
func GatewayAPIProblem(service, groupVersion string) Problem {
	return Problem{
		Reason: staxv1alpha1.ReasonGatewayAPINotInstalled,
		Message: fmt.Sprintf("service %s: spec.routing.gateway asks for an HTTPRoute, but the cluster serves no HTTPRoute of %s; nothing is routed until the Gateway API CRDs are installed",
			service, groupVersion),
		Stalling: true,
	}
}
