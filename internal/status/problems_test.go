package status_test

import (
	"testing"

	"k8s.io/apimachinery/pkg/types"

	staxv1alpha1 "github.com/stax-dev/blueprint-operator/api/v1alpha1"
	"github.com/stax-dev/blueprint-operator/internal/ownership"
	"github.com/stax-dev/blueprint-operator/internal/status"
)

func TestReferenceProblem(t *testing.T) {
	env := status.ReferenceUse{Service: "api", EnvKey: "STRIPE_KEY", Secret: "stripe", Key: "api-key", Namespace: "payments"}
	field := status.ReferenceUse{Service: "api", Field: "args[1]", Secret: "stripe", Key: "api-key", Namespace: "payments"}
	for name, c := range map[string]struct {
		use   status.ReferenceUse
		state status.ReferenceState
		want  status.Problem
	}{
		"env, not referenceable": {env, status.ReferenceNotReferenceable, status.Problem{Reason: staxv1alpha1.ReasonSecretNotReferenceable,
			Message: `service api, env STRIPE_KEY: Secret stripe is not labelled stax.dev/referenceable="true"; this operator reads only Secrets so labelled`}},
		"field, not referenceable": {field, status.ReferenceNotReferenceable, status.Problem{Reason: staxv1alpha1.ReasonSecretNotReferenceable,
			Message: `service api, args[1]: Secret stripe is not labelled stax.dev/referenceable="true"; this operator reads only Secrets so labelled`}},
		"env, Secret not found": {env, status.ReferenceSecretNotFound, status.Problem{Reason: staxv1alpha1.ReasonSecretNotFound,
			Message: "service api, env STRIPE_KEY: Secret stripe not found in namespace payments"}},
		"field, Secret not found": {field, status.ReferenceSecretNotFound, status.Problem{Reason: staxv1alpha1.ReasonSecretNotFound,
			Message: "service api, args[1]: Secret stripe not found in namespace payments"}},
		"env, key not found": {env, status.ReferenceKeyNotFound, status.Problem{Reason: staxv1alpha1.ReasonSecretKeyNotFound,
			Message: "service api, env STRIPE_KEY: Secret stripe has no key api-key"}},
		"field, key not found": {field, status.ReferenceKeyNotFound, status.Problem{Reason: staxv1alpha1.ReasonSecretKeyNotFound,
			Message: "service api, args[1]: Secret stripe has no key api-key"}},
	} {
		t.Run(name, func(t *testing.T) {
			got, ok := status.ReferenceProblem(c.use, c.state)
			if !ok || got != c.want {
				t.Errorf("ReferenceProblem = %+v, %v\nwant %+v, true", got, ok, c.want)
			}
		})
	}
	if got, ok := status.ReferenceProblem(env, status.ReferenceResolved); ok {
		t.Errorf("a resolved reference is a problem: %+v", got)
	}
}

// Whether the Secret may be read comes first (it is never read otherwise),
// then whether it exists, then the key.
func TestReferenceStateOf(t *testing.T) {
	for _, c := range []struct {
		notReferenceable, found, hasKey bool
		want                            status.ReferenceState
	}{
		{false, true, true, status.ReferenceResolved},
		{false, true, false, status.ReferenceKeyNotFound},
		{false, false, false, status.ReferenceSecretNotFound},
		{true, false, false, status.ReferenceNotReferenceable},
		{true, true, true, status.ReferenceNotReferenceable},
	} {
		if got := status.ReferenceStateOf(c.notReferenceable, c.found, c.hasKey); got != c.want {
			t.Errorf("ReferenceStateOf(%v, %v, %v) = %v, want %v", c.notReferenceable, c.found, c.hasKey, got, c.want)
		}
	}
}

func TestOwnershipProblem(t *testing.T) {
	secret := status.Held{Kind: status.KindSecret, Name: "shop-generated", Predecessor: types.UID("5f0c")}
	claim := status.Held{Kind: status.KindClaim, Name: "shop-db-data", Service: "db"}
	deployment := status.Held{Kind: "Deployment", Name: "api"}
	conflict := func(msg string) status.Problem {
		return status.Problem{Reason: staxv1alpha1.ReasonConflict, Message: msg, Stalling: true}
	}
	progressing := func(msg string) status.Problem {
		return status.Problem{Reason: staxv1alpha1.ReasonProgressing, Message: msg}
	}
	for name, c := range map[string]struct {
		held    status.Held
		verdict ownership.Verdict
		want    status.Problem // zero: none
	}{
		"Secret, owned":     {held: secret, verdict: ownership.Owned},
		"Secret, adoptable": {held: secret, verdict: ownership.Adoptable},
		"Secret, foreign": {held: secret, verdict: ownership.Foreign,
			want: conflict("Secret shop-generated exists and is not controlled by this Blueprint; it is left untouched, and services that consume secret values wait until it is removed")},
		"Secret, superseded": {held: secret, verdict: ownership.Superseded,
			want: progressing("waiting for the garbage collector to delete Secret shop-generated, controlled by a deleted Blueprint of the same name (uid 5f0c); new values are generated once it is gone")},
		"Secret, deleting": {held: secret, verdict: ownership.Deleting,
			want: progressing("waiting for the deletion of Secret shop-generated, left by a deleted Blueprint of the same name")},
		"claim, owned":     {held: claim, verdict: ownership.Owned},
		"claim, adoptable": {held: claim, verdict: ownership.Adoptable},
		"claim, foreign": {held: claim, verdict: ownership.Foreign,
			want: conflict("PersistentVolumeClaim shop-db-data exists and is not controlled by this Blueprint; it is left untouched, and service db waits until it is removed")},
		"claim, superseded": {held: claim, verdict: ownership.Superseded,
			want: progressing("waiting for PersistentVolumeClaim shop-db-data, left by a deleted Blueprint of the same name, to be deleted")},
		"claim, deleting": {held: claim, verdict: ownership.Deleting,
			want: progressing("waiting for PersistentVolumeClaim shop-db-data, left by a deleted Blueprint of the same name, to be deleted")},
		"Deployment, owned": {held: deployment, verdict: ownership.Owned},
		"Deployment, foreign": {held: deployment, verdict: ownership.Foreign,
			want: conflict("Deployment api exists and is not controlled by this Blueprint; it is left untouched")},
		"HTTPRoute, foreign": {held: status.Held{Kind: "HTTPRoute", Name: "web"}, verdict: ownership.Foreign,
			want: conflict("HTTPRoute web exists and is not controlled by this Blueprint; it is left untouched")},
	} {
		t.Run(name, func(t *testing.T) {
			got, ok := status.OwnershipProblem(c.held, c.verdict)
			if ok != (c.want != status.Problem{}) || got != c.want {
				t.Errorf("OwnershipProblem = %+v, %v\nwant %+v", got, ok, c.want)
			}
		})
	}
}

func TestProblems(t *testing.T) {
	for name, c := range map[string]struct {
		got, want status.Problem
	}{
		"plaintext": {status.RenderProblem("service api: env STRIPE_KEY holds a literal credential", true),
			status.Problem{Reason: staxv1alpha1.ReasonPlaintextSecret, Message: "service api: env STRIPE_KEY holds a literal credential", Stalling: true}},
		"invalid reference": {status.RenderProblem("service api, env X: bad", false),
			status.Problem{Reason: staxv1alpha1.ReasonInvalidReference, Message: "service api, env X: bad", Stalling: true}},
		"cycle": {status.CycleProblem([]string{"api", "worker", "api"}),
			status.Problem{Reason: staxv1alpha1.ReasonDependencyCycle, Message: "dependsOn forms a cycle: api -> worker -> api", Stalling: true}},
		"schedule": {status.ScheduleProblem("spec.sleep.uptime: bad"),
			status.Problem{Reason: staxv1alpha1.ReasonInvalidSchedule, Message: "spec.sleep.uptime: bad", Stalling: true}},
		"shrink": {status.ShrinkProblem("db", "data", "shop-db-data", "5Gi", "10Gi"),
			status.Problem{Reason: staxv1alpha1.ReasonVolumeShrinkRefused, Stalling: true,
				Message: "service db, volume data: size 5Gi is smaller than the 10Gi PersistentVolumeClaim shop-db-data requests; a claim cannot shrink, so it is left at 10Gi"}},
		"rotation failed": {status.RotationFailedProblem("payments-dev", "db-password", "the Job failed", "payments-dev-db-password-9dbcb143-1"),
			status.Problem{Reason: staxv1alpha1.ReasonRotationFailed, Stalling: true,
				Message: "rotation of secret db-password failed: the Job failed (Job payments-dev-db-password-9dbcb143-1); consumers keep the value in use and the new value was discarded; inspect the Job, then request a new rotation (kubectl blueprint rotate payments-dev db-password)"}},
		"ServiceAccount": {status.ServiceAccountProblem("api", "api-reader", "payments"),
			status.Problem{Reason: staxv1alpha1.ReasonServiceAccountNotFound,
				Message: "service api: ServiceAccount api-reader not found in namespace payments; no pod can be created until it exists"}},
		"pull Secret": {status.PullSecretProblem("api", "regcred", "payments", "registry.example.com/payments/api:1.4.2"),
			status.Problem{Reason: staxv1alpha1.ReasonImagePullSecretNotFound,
				Message: "service api: image pull Secret regcred not found in namespace payments; kubelet pulls registry.example.com/payments/api:1.4.2 without it"}},
		"ServiceAccount not referenceable": {status.ServiceAccountNotReferenceableProblem("api", "ci-deployer"),
			status.Problem{Reason: staxv1alpha1.ReasonServiceAccountNotReferenceable,
				Message: "service api: ServiceAccount ci-deployer is not labelled stax.dev/referenceable=\"true\"; this operator runs pods only as ServiceAccounts so labelled"}},
		"too many Secrets": {status.TooManySecretsProblem(65, 64),
			status.Problem{Reason: staxv1alpha1.ReasonTooManySecrets, Stalling: true,
				Message: "the services name 65 distinct Secrets (env, args, files, onRotate env, imagePullSecrets, routing.tls), more than the 64 one Blueprint may read; no service is rendered and no referenced Secret is read until fewer are named: gather values into fewer Secrets, or split the Blueprint"}},
		"Gateway API": {status.GatewayAPIProblem("web", "gateway.networking.k8s.io/v1"),
			status.Problem{Reason: staxv1alpha1.ReasonGatewayAPINotInstalled, Stalling: true,
				Message: "service web: spec.routing.gateway asks for an HTTPRoute, but the cluster serves no HTTPRoute of gateway.networking.k8s.io/v1; nothing is routed until the Gateway API CRDs are installed"}},
	} {
		t.Run(name, func(t *testing.T) {
			if c.got != c.want {
				t.Errorf("got  %+v\nwant %+v", c.got, c.want)
			}
		})
	}
}

func TestHoldOf(t *testing.T) {
	for _, c := range []struct {
		name        string
		state       status.ReferenceState
		named, hook bool
		want        status.ReferenceHold
	}{
		{"resolved value", status.ReferenceResolved, false, false, status.HoldNothing},
		{"missing value of the pods", status.ReferenceSecretNotFound, false, false, status.HoldService},
		{"missing key of the pods", status.ReferenceKeyNotFound, false, false, status.HoldService},
		{"unlabelled value of the pods", status.ReferenceNotReferenceable, false, false, status.HoldService},
		{"missing value of a hook", status.ReferenceSecretNotFound, false, true, status.HoldHook},
		{"unlabelled value of a hook", status.ReferenceNotReferenceable, false, true, status.HoldHook},
		{"missing pull Secret, TLS Secret or ServiceAccount", status.ReferenceSecretNotFound, true, false, status.HoldNothing},
		{"unlabelled pull Secret, TLS Secret or ServiceAccount", status.ReferenceNotReferenceable, true, false, status.HoldService},
		{"resolved named object", status.ReferenceResolved, true, false, status.HoldNothing},
	} {
		if got := status.HoldOf(c.state, c.named, c.hook); got != c.want {
			t.Errorf("%s: HoldOf = %v, want %v", c.name, got, c.want)
		}
	}
}
