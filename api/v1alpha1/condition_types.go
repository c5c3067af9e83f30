package v1alpha1

// Condition types of a Blueprint. Ready, Reconciling and Stalled follow the
// kstatus conventions, so kstatus, Flux health checks, Argo CD and
// `kubectl wait --for=condition=Ready` understand a Blueprint. Ready is in
// every status the operator writes (a new Blueprint's first status may wait
// for its rollout, --progress-status-delay); Reconciling and Stalled only
// while true.
const (
	ConditionReady       = "Ready"
	ConditionReconciling = "Reconciling"
	ConditionStalled     = "Stalled"
)

// Reasons of the Ready, Reconciling and Stalled conditions. They are part of
// the API: users alert on them, and docs/troubleshooting.md has a section for
// each.
const (
	// ReasonAvailable: every service's Deployment is available.
	ReasonAvailable = "Available"
	// ReasonProgressing: objects are applied and Deployments are rolling out.
	ReasonProgressing = "Progressing"
	// ReasonSecretNotFound: a referenced Secret does not exist (yet).
	ReasonSecretNotFound = "SecretNotFound"
	// ReasonSecretKeyNotFound: a referenced Secret lacks the referenced key.
	ReasonSecretKeyNotFound = "SecretKeyNotFound"
	// ReasonSecretNotReferenceable: the operator runs with
	// --require-referenceable-label and a referenced Secret does not carry
	// LabelReferenceable="true"; its data is not read.
	ReasonSecretNotReferenceable = "SecretNotReferenceable"
	// ReasonServiceAccountNotReferenceable: the operator runs with
	// --require-referenceable-label and a service's serviceAccountName
	// names a ServiceAccount that does not carry
	// LabelReferenceable="true". The service is held back: its pods would
	// run with that account's permissions.
	ReasonServiceAccountNotReferenceable = "ServiceAccountNotReferenceable"
	// ReasonTooManySecrets: the services name more distinct Secrets than one
	// Blueprint may read (64). No service is rendered and no referenced
	// Secret is read until fewer are named (the generated Secret is kept
	// as usual); what runs is left as it runs.
	ReasonTooManySecrets = "TooManySecrets"
	// ReasonInvalidReference: a reference cannot be resolved as written.
	ReasonInvalidReference = "InvalidReference"
	// ReasonPlaintextSecret: a service's env, command, args, onRotate hook
	// or probe holds a literal that looks like a credential (the plaintext
	// guard). The service is not rendered with it; what runs keeps running.
	ReasonPlaintextSecret = "PlaintextSecret"
	// ReasonConflict: an object the Blueprint would create exists and is not
	// controlled by it. It is left untouched.
	ReasonConflict = "Conflict"
	// ReasonDependencyCycle: dependsOn forms a cycle, so the services in it
	// could never start.
	ReasonDependencyCycle = "DependencyCycle"
	// ReasonServiceAccountNotFound: a service's serviceAccountName names no
	// ServiceAccount of the namespace. The Deployment is rendered, but no
	// pod can be created until the ServiceAccount exists.
	ReasonServiceAccountNotFound = "ServiceAccountNotFound"
	// ReasonImagePullSecretNotFound: a service's imagePullSecrets name a
	// Secret that does not exist. The Deployment is rendered; kubelet pulls
	// without the credentials.
	ReasonImagePullSecretNotFound = "ImagePullSecretNotFound"
	// ReasonRotationFailed: the onRotate hook of a generated value failed or
	// timed out; consumers keep the value in use and the staged value was
	// discarded. The next rotation request tries again.
	ReasonRotationFailed = "RotationFailed"
	// ReasonVolumeShrinkRefused: a pvc volume's size is smaller than what
	// its PersistentVolumeClaim already requests (admission refuses the
	// edit when it can see the old size; a re-created Blueprint adopting a
	// larger claim is where it cannot). The claim is left as it is.
	ReasonVolumeShrinkRefused = "VolumeShrinkRefused"
	// ReasonGatewayAPINotInstalled: spec.routing.gateway asks for
	// HTTPRoutes, but the cluster has no Gateway API CRDs. Nothing is
	// routed until they are installed.
	ReasonGatewayAPINotInstalled = "GatewayAPINotInstalled"
	// ReasonSuspended: spec.suspend is true, or spec.sleep (or kubectl
	// blueprint sleep) put the environment to sleep: every Deployment runs
	// 0 replicas. Ready is False; Reconciling and Stalled stay False (Argo
	// CD's health check shows Suspended; kstatus reads any Ready=False as
	// InProgress).
	ReasonSuspended = "Suspended"
	// ReasonInvalidSchedule: spec.sleep.uptime passed admission but does not
	// parse: an unknown time zone, or a time range that does not end after
	// it starts. The environment does not sleep on that schedule.
	ReasonInvalidSchedule = "InvalidSchedule"
	// ReasonReconcileError: a transient API error; the reconcile is retried.
	ReasonReconcileError = "ReconcileError"
)
