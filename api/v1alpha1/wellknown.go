package v1alpha1

// Labels the operator puts on everything it renders and on the generated
// Secret. Select a Blueprint's objects with LabelBlueprint=NAME.
const (
	// LabelBlueprint names the Blueprint an object was rendered for.
	LabelBlueprint = "stax.dev/blueprint"
	// LabelService names the service an object was rendered for.
	LabelService = "stax.dev/service"
	// LabelManagedBy is the recommended Kubernetes label, set to
	// ManagedByValue.
	LabelManagedBy = "app.kubernetes.io/managed-by"
	// LabelName is the recommended Kubernetes label, set to the service name.
	LabelName = "app.kubernetes.io/name"
	// LabelInstance is the recommended Kubernetes label, set to the Blueprint
	// name.
	LabelInstance = "app.kubernetes.io/instance"
	// LabelVolume names the volume a PersistentVolumeClaim was rendered
	// for.
	LabelVolume = "stax.dev/volume"
	// ManagedByValue is the value of LabelManagedBy.
	ManagedByValue = "stax-blueprint-operator"
)

// RotateAnnotation on a Blueprint requests an imperative rotation: it holds
// comma-separated names of managed secrets, each regenerated once. A request
// is identified by this annotation together with RotateRequestedAtAnnotation;
// the handled request is recorded on the generated Secret, so re-applying the
// same annotations (a GitOps re-sync) does not rotate again. To rotate the
// same names again, change RotateRequestedAtAnnotation (kubectl blueprint
// rotate does), or remove the annotation first.
const RotateAnnotation = "stax.dev/rotate"

// RotateRequestedAtAnnotation optionally accompanies RotateAnnotation with
// the time of the request (RFC 3339), so that a repeated request for the same
// names is a new request.
const RotateRequestedAtAnnotation = "stax.dev/rotate-requested-at"

// PruneAnnotation on a Blueprint requests that values kept after their secret
// was removed from the spec be deleted now, before their retention period
// ends: comma-separated names of such values, or PruneAllValue for all of
// them. Like RotateAnnotation, a request is identified by this annotation
// together with PruneRequestedAtAnnotation and the handled request is
// recorded on the generated Secret (PruneHandledAnnotation), so a re-sync of
// the same annotations does not prune again. kubectl blueprint prune sets
// both.
const PruneAnnotation = "stax.dev/prune"

// PruneRequestedAtAnnotation optionally accompanies PruneAnnotation with the
// time of the request (RFC 3339), so that a repeated request is a new one.
const PruneRequestedAtAnnotation = "stax.dev/prune-requested-at"

// PruneClaimsAnnotation on a Blueprint requests that PersistentVolumeClaims
// it owns and no longer declares (status.undeclaredClaims) be deleted, with
// their data: comma-separated claim names, or PruneAllValue for all of them.
// It is carried out only together with PruneClaimsRequestedAtAnnotation, and
// only on claims created before that time, so a re-sync of an old request
// never deletes a claim created since. kubectl blueprint prune --claims
// sets both. A declared claim is never deleted.
const PruneClaimsAnnotation = "stax.dev/prune-claims"

// PruneClaimsRequestedAtAnnotation is the time (RFC 3339) of the request in
// PruneClaimsAnnotation.
const PruneClaimsRequestedAtAnnotation = "stax.dev/prune-claims-requested-at"

// PruneAllValue as PruneAnnotation's value prunes every value pending
// removal.
const PruneAllValue = "*"

// WakeRequestedAtAnnotation on a Blueprint requests that a sleeping
// environment wake (and restarts the idle clock of an awake one): the time
// of the request (RFC 3339), at most 64 characters (a longer value is
// ignored). A request is carried out once: the value handled is recorded in
// status.sleep.handledWakeRequest, so a re-sync of the same annotation does
// not wake again. kubectl blueprint wake sets it.
const WakeRequestedAtAnnotation = "stax.dev/wake-requested-at"

// WakeForAnnotation optionally accompanies WakeRequestedAtAnnotation with
// how long the environment stays awake (a Go duration, at most 8760h), even
// outside spec.sleep.uptime; one hour without it.
const WakeForAnnotation = "stax.dev/wake-for"

// SleepRequestedAtAnnotation on a Blueprint requests that the environment
// sleep now, until its next activity: the time of the request (RFC 3339),
// carried out once like WakeRequestedAtAnnotation
// (status.sleep.handledSleepRequest). kubectl blueprint sleep sets it.
const SleepRequestedAtAnnotation = "stax.dev/sleep-requested-at"

// SuspendedReplicasAnnotation is set on each Deployment of a suspended or
// sleeping Blueprint to the replica count it had when it was scaled to 0,
// so a service whose replicas an autoscaler or kubectl scale owns returns
// to that count on resume.
const SuspendedReplicasAnnotation = "stax.dev/suspended-replicas"

// SecretsDigestAnnotation is set on each rendered pod template. It changes
// exactly when a value the service consumes changes, so the Deployment rolls
// out. It is an HMAC-SHA256 under a key only the operator knows, so it does
// not help anyone guess a value.
const SecretsDigestAnnotation = "stax.dev/secrets-digest"

// RenderedFingerprintAnnotation is set on every Deployment, Service, Ingress
// and HTTPRoute the operator writes, to a SHA-256 fingerprint of what it
// rendered (never a value: rendered objects hold references, not values).
// An object whose fingerprint is that of what the operator renders now, and
// which still holds every rendered field, is not written again.
const RenderedFingerprintAnnotation = "stax.dev/rendered-fingerprint"

// Annotations and keys of the generated Secret. Everything the operator must
// remember about a value lives on the Secret that holds it, never in the
// Blueprint's status: a status can be lost (a restore without status), and
// losing it must never make the operator regenerate a value.
const (
	// GeneratedForAnnotation names the Blueprint a generated Secret belongs
	// to. It survives the Blueprint (deletionPolicy Retain), so a Blueprint of
	// the same name adopts the Secret instead of generating new values.
	GeneratedForAnnotation = "stax.dev/generated-for"
	// ValuesAnnotation records, per value, the rotation token it was made for,
	// when it was made and, once its secret is no longer declared, when it
	// was removed: JSON, names and times only, never a value. The keys it
	// lists (with their NAME.previous, the parts of their type and those
	// parts' previous values, and their staged values) and DigestKey are
	// the only keys of the generated Secret the operator ever deletes.
	ValuesAnnotation = "stax.dev/values"
	// RotateHandledAnnotation records the last imperative rotation request
	// carried out, so a re-sync of the same request does not rotate again.
	RotateHandledAnnotation = "stax.dev/rotate-handled"
	// PruneHandledAnnotation records the last prune request carried out, so
	// a re-sync of the same request does not prune again.
	PruneHandledAnnotation = "stax.dev/prune-handled"
	// DigestKey is the key of the generated Secret that holds the HMAC key of
	// the secrets digest. Managed secret names cannot start with '.'.
	DigestKey = ".digest-key"
	// StagedValuePrefix: while the onRotate hook of managed secret NAME runs,
	// the new value waits under key StagedValuePrefix+NAME of the generated
	// Secret, which no consumer reads; it becomes NAME once the hook
	// succeeds and is deleted if it fails.
	StagedValuePrefix = ".staged."
	// PreviousValueSuffix: after a rotation, the previous value of managed
	// secret NAME stays readable under key NAME.previous of the generated
	// Secret until the next rotation.
	PreviousValueSuffix = ".previous"
	// CAKeyKey is the key of the generated Secret that holds the private key
	// of the Blueprint's CA (PKCS#8 PEM), which signs the leaf of every
	// secret of type tls. Managed secret names cannot start with '.', and no
	// reference may read it.
	CAKeyKey = ".ca-key"
	// CACertKey is the key of the generated Secret that holds the
	// certificate of the Blueprint's CA (PEM); consumers read it as NAME.ca.
	CACertKey = ".ca-crt"
)

// The parts of a generated keypair or certificate: key NAME of the generated
// Secret holds the private key, NAME+PartPublic the public key (types rsa,
// ecdsa, ed25519), NAME+PartCert the leaf certificate and NAME+PartCA the
// CA certificate (type tls). ${secret:NAME.pub}, ${secret:NAME.crt} and
// ${secret:NAME.ca} reference them.
const (
	PartPublic = ".pub"
	PartCert   = ".crt"
	PartCA     = ".ca"
)

// LabelReferenceable on a Secret, set to "true", lets Blueprints of its
// namespace reference it when the operator runs with
// --require-referenceable-label. Without that flag every Secret of the
// namespace may be referenced, as a Pod may mount any of them.
const LabelReferenceable = "stax.dev/referenceable"

// LabelRotationHook is set on every Job the operator runs for an onRotate
// hook, to the name of the managed secret (as a label value: see
// render.HookJobName). The operator's Job cache holds only Jobs with it.
const LabelRotationHook = "stax.dev/rotation-hook"

// RotationSecretAnnotation on a hook's Job names the managed secret whose
// rotation it carries out.
const RotationSecretAnnotation = "stax.dev/rotation-secret"

// HookTokenAnnotation on a hook's Job is the mark (digest.HookToken) by
// which the operator knows the Job as the one it created for that attempt:
// a Job without it, whatever its name, owner and labels, is foreign.
const HookTokenAnnotation = "stax.dev/hook-token"
