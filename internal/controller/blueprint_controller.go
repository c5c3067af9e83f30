// Package controller reconciles Blueprints. It is deliberately thin: render
// decides what objects a Blueprint needs, secretgen makes values, status says
// what the user sees; this package fetches, calls them and applies the result.
package controller

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/events"
	"k8s.io/utils/clock"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	staxv1alpha1 "github.com/stax-dev/blueprint-operator/api/v1alpha1"
	"github.com/stax-dev/blueprint-operator/internal/apierror"
	"github.com/stax-dev/blueprint-operator/internal/depgraph"
	"github.com/stax-dev/blueprint-operator/internal/logging"
	"github.com/stax-dev/blueprint-operator/internal/metrics"
	"github.com/stax-dev/blueprint-operator/internal/observe"
	"github.com/stax-dev/blueprint-operator/internal/ownership"
	"github.com/stax-dev/blueprint-operator/internal/reference"
	"github.com/stax-dev/blueprint-operator/internal/render"
	"github.com/stax-dev/blueprint-operator/internal/settle"
	"github.com/stax-dev/blueprint-operator/internal/sleep"
	"github.com/stax-dev/blueprint-operator/internal/status"
)

// FieldOwner is the server-side apply field manager of everything the
// operator renders.
const FieldOwner = "stax-blueprint-operator"

// maxSecretAttempts bounds the read-modify-write loop on the generated
// Secret. Each attempt re-reads the Secret from the API server.
const maxSecretAttempts = 5

// BlueprintReconciler reconciles Blueprints.
type BlueprintReconciler struct {
	// Client reads Blueprints, Deployments and Services from the cache and
	// writes everything. It never caches Secrets (see Options.ManagerOptions).
	client.Client
	// apiReader reads straight from the API server: Secrets, and objects the
	// cache has not seen yet, so that cache lag can neither make the operator
	// regenerate a value nor adopt a foreign object.
	apiReader client.Reader
	recorder  events.EventRecorder
	// rand is the entropy source of generated values: crypto/rand.Reader in
	// production.
	rand io.Reader
	// clock decides when scheduled rotations and prunes fall due.
	clock clock.PassiveClock
	// removedValueRetention is how long a value no longer declared is kept,
	// unless the Blueprint sets spec.removedValueRetention.
	removedValueRetention time.Duration
	// progressStatusDelay is how long a new Blueprint's first status waits
	// for its rollout (see DefaultProgressStatusDelay); 0 does not wait.
	progressStatusDelay time.Duration
	// settleClock measures the quiet period of values read from Secrets.
	settleClock clock.PassiveClock
	// requireReferenceableLabel lets a Blueprint read only Secrets labelled
	// staxv1alpha1.LabelReferenceable="true" (see Options).
	requireReferenceableLabel bool
	// settle holds back the rollout of values read from Secrets until they
	// have been quiet for a moment, so a burst of edits rolls a Deployment
	// out once (settle.go).
	settle *settle.Window
	// reconciled is Options.Reconciled.
	reconciled func(ReconcileRecord)
	// httpRoutesWatched: the cluster served HTTPRoutes when the manager
	// started, and they are watched (setup.go).
	httpRoutesWatched bool
	// workloadMetadata reads, by kind, the metadata-only caches of every
	// Deployment and Service (watchWorkloadMetadata): whether a name is
	// taken is known without a request.
	workloadMetadata map[schema.GroupVersionKind]client.Reader
	// secretMetadata reads the metadata-only cache of Secrets (the
	// manager's, filled by the Secret watch): whether the generated Secret
	// exists is known without a request.
	secretMetadata client.Reader
	// secrets holds the Secrets reconciles read or wrote (secretmemo.go).
	secrets *secretMemo
}

// scope is one reconcile's view of a Blueprint.
type scope struct {
	bp       *staxv1alpha1.Blueprint
	plan     *render.Plan
	problems []status.Problem
	// blocked services are left as they run: their references are missing or
	// broken, or what they would use is not the Blueprint's.
	blocked map[string]bool
	// applied services had their Deployment changed in this reconcile.
	applied map[string]bool
	// deployments holds each service's Deployment as last read.
	deployments map[string]*appsv1.Deployment
	// availability is what observe.DeploymentAvailable said of each
	// service's Deployment at the resourceVersion read first, so that
	// status, which reads the same Deployment again, asks once.
	availability map[string]availability
	// generated is the generated Secret as written or read; nil when the
	// name is taken by a foreign Secret.
	generatedSecret *corev1.Secret
	// referenced holds each referenced Secret, nil when it does not exist.
	referenced map[string]*corev1.Secret
	// heldHooks holds the managed secrets whose onRotate hook reads a
	// Secret that is missing or may not be read: their Jobs are not
	// created (status.HoldOf).
	heldHooks map[string]bool
	// notReferenceable holds the referenced Secrets that lack
	// LabelReferenceable under RequireReferenceableLabel; never read.
	notReferenceable map[string]bool
	// digests holds each rendered service's secrets digest.
	digests map[string]string
	// waitingFor holds, per service held back, the dependencies it waits for.
	waitingFor map[string][]string
	// secrets is what status reports of each generated value.
	secrets []staxv1alpha1.ManagedSecretStatus
	// pendingRemovals is what status reports of values kept after removal.
	pendingRemovals []staxv1alpha1.PendingRemoval
	// undeclaredClaims are the Blueprint's claims no volume declares
	// (claims.go).
	undeclaredClaims []string
	// urls holds each exposed service's published URL (routes.go).
	urls map[string]string
	// hookJobs holds the UID of each in-flight rotation's Job as
	// observeHookJobs read it, by Job name.
	hookJobs map[string]types.UID
	// valuesChanged is set when this reconcile generated or rotated a value:
	// it rolls out at once, whatever the quiet period (settle.go).
	valuesChanged bool
	// created holds the typed objects this reconcile created, which it
	// waits to see in the cache (cachewait.go).
	created []client.Object
	// sleep is whether the environment runs (sleep.go); nil without
	// spec.suspend or spec.sleep.
	sleep *sleepState
	// suspended holds, per service scaled to 0 by a suspension or sleep,
	// the count it returns to.
	suspended map[string]int32
}

// errBlueprintGone stops a reconcile of a Blueprint deleted since the cache
// last saw it: the reconcile writes nothing more, status included, and
// returns no error.
var errBlueprintGone = errors.New("the Blueprint was deleted")

// blueprintGone reports whether bp no longer exists as the cache saw it:
// deleted, being deleted, or replaced by a Blueprint of the same name.
func (r *BlueprintReconciler) blueprintGone(ctx context.Context, bp *staxv1alpha1.Blueprint) (bool, error) {
	live := &staxv1alpha1.Blueprint{}
	err := r.apiReader.Get(ctx, client.ObjectKeyFromObject(bp), live)
	if apierrors.IsNotFound(err) {
		return true, nil
	}
	if err != nil {
		return false, apierror.Wrap(apierror.OpRead, "Blueprint", bp.Name, err)
	}
	return live.UID != bp.UID || !live.DeletionTimestamp.IsZero(), nil
}

// stopIfGone ends the reconcile (errBlueprintGone, writing nothing more)
// when the Blueprint was deleted since the cache saw it. Asked before
// creating what would outlive a deleted Blueprint: values or a claim nobody
// owns (under Retain, never collected).
func (r *BlueprintReconciler) stopIfGone(ctx context.Context, sc *scope) error {
	gone, err := r.blueprintGone(ctx, sc.bp)
	if err != nil {
		return err
	}
	if gone {
		return errBlueprintGone
	}
	return nil
}

func (s *scope) problem(p status.Problem, services ...string) {
	s.problems = append(s.problems, p)
	for _, svc := range services {
		s.blocked[svc] = true
	}
}

// RBAC: exactly the verbs the reconciler sends, as the controller suite's
// audit log checks (rbac_audit_test.go), plus what admission and informers
// need of a real cluster (its rbacExceptions). Deployments and Services are
// written by server-side apply (patch; create when the apply creates) and
// deleted when stale, never updated; status is patched, never updated.
// OwnerReferencesPermissionEnforcement admission (on by default on
// OpenShift) needs update on blueprints/finalizers to set
// blockOwnerDeletion, and delete on secrets to add an ownerReference to the
// generated Secret under deletionPolicy Delete; the operator never deletes a
// Secret itself.
// +kubebuilder:rbac:groups=stax.dev,resources=blueprints,verbs=get;list;watch
// +kubebuilder:rbac:groups=stax.dev,resources=blueprints/status,verbs=patch
// +kubebuilder:rbac:groups=stax.dev,resources=blueprints/finalizers,verbs=update
// +kubebuilder:rbac:groups="",resources=secrets,verbs=get;list;watch;create;update;delete
// +kubebuilder:rbac:groups=apps,resources=deployments,verbs=get;list;watch;create;patch;delete
// +kubebuilder:rbac:groups="",resources=services,verbs=get;list;watch;create;patch;delete
// +kubebuilder:rbac:groups=events.k8s.io,resources=events,verbs=create;patch

// Reconcile brings a Blueprint's generated Secret, Deployments and Services to
// what its spec declares, then reports the outcome in one status patch.
func (r *BlueprintReconciler) Reconcile(ctx context.Context, req ctrl.Request) (result ctrl.Result, retErr error) {
	// client-go logs request and response bodies, Secret data included,
	// through this logger at high verbosity: cap it, whatever the flags.
	ctx = ctrl.LoggerInto(ctx, logging.Capped(ctrl.LoggerFrom(ctx)))
	bp := &staxv1alpha1.Blueprint{}
	if r.reconciled != nil {
		rec := ReconcileRecord{Key: req.NamespacedName, Began: time.Now()}
		defer func() { rec.ResourceVersion = bp.ResourceVersion; r.reconciled(rec) }()
	}
	if err := r.Get(ctx, req.NamespacedName, bp); err != nil {
		if apierrors.IsNotFound(err) {
			metrics.Forget(req.NamespacedName)
			r.settle.Forget(req.String())
			r.secrets.retain(req.NamespacedName, nil)
			r.secrets.retain(req.NamespacedName, nil)
			r.secrets.forget(types.NamespacedName{Namespace: req.Namespace, Name: render.GeneratedSecretName(req.Name)})
		}
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	if !bp.DeletionTimestamp.IsZero() {
		metrics.Forget(req.NamespacedName)
		r.settle.Forget(req.String())
		r.secrets.retain(req.NamespacedName, nil)
		r.secrets.forget(types.NamespacedName{Namespace: req.Namespace, Name: render.GeneratedSecretName(req.Name)})
		// Everything the Blueprint owns goes with it through garbage
		// collection; a retained generated Secret has no owner to follow.
		return ctrl.Result{}, nil
	}

	sc := &scope{
		bp:           bp,
		blocked:      map[string]bool{},
		applied:      map[string]bool{},
		deployments:  map[string]*appsv1.Deployment{},
		availability: map[string]availability{},
		referenced:   map[string]*corev1.Secret{},
		// Set by readReferenced under RequireReferenceableLabel.
		notReferenceable: map[string]bool{},
		heldHooks:        map[string]bool{},
		digests:          map[string]string{},
		waitingFor:       map[string][]string{},
		urls:             map[string]string{},
		suspended:        map[string]int32{},
	}
	defer func() {
		if errors.Is(retErr, errBlueprintGone) {
			// What the reconcile saw says nothing final about a Blueprint
			// that is gone: no status, no retry.
			result, retErr = ctrl.Result{}, nil
			return
		}
		statusResult, statusErr := r.patchStatus(ctx, sc, retErr)
		// controller-runtime logs the returned error: its text must not
		// carry an API server's message (see internal/apierror).
		retErr = apierror.Sanitize(errors.Join(retErr, statusErr))
		if retErr == nil {
			result = lowestNonZero(result, statusResult)
		}
	}()

	r.buildPlan(sc)
	for _, phase := range []func(context.Context, *scope) (ctrl.Result, error){
		// References first: what they hold back includes a hook's Job,
		// which the generated Secret's phase creates.
		r.checkReferences,
		r.reconcileGeneratedSecret,
		r.decideSleep,
		r.reconcileClaims,
		r.reconcileWorkloads,
		r.reconcileRoutes,
		r.deleteStaleObjects,
		r.awaitCreated,
	} {
		res, err := phase(ctx, sc)
		if err != nil {
			return ctrl.Result{}, err
		}
		result = lowestNonZero(result, res)
	}
	return result, nil
}

// lowestNonZero merges the results of two phases (Cluster API's
// util.LowestNonZeroResult): the one that comes back sooner, where a
// RequeueAfter of 0 means no timer. Phases set only RequeueAfter.
func lowestNonZero(a, b ctrl.Result) ctrl.Result {
	switch {
	case a.RequeueAfter == 0:
		return b
	case b.RequeueAfter == 0 || a.RequeueAfter <= b.RequeueAfter:
		return a
	default:
		return b
	}
}

// availability is a Deployment's observe.DeploymentAvailable at one
// resourceVersion.
type availability struct {
	resourceVersion string
	available       bool
}

// available is observe.DeploymentAvailable(dep), asked once per
// resourceVersion of the service's Deployment in a reconcile.
func (sc *scope) available(service string, dep *appsv1.Deployment) bool {
	if seen, ok := sc.availability[service]; ok && seen.resourceVersion == dep.ResourceVersion {
		return seen.available
	}
	a := observe.DeploymentAvailable(dep)
	if sc.availability == nil {
		sc.availability = map[string]availability{}
	}
	sc.availability[service] = availability{resourceVersion: dep.ResourceVersion, available: a}
	return a
}

// buildPlan renders the Blueprint. Services that hold a literal credential,
// or whose references cannot be resolved as written, are reported and left
// as they run.
func (r *BlueprintReconciler) buildPlan(sc *scope) {
	plan, errs := render.Build(sc.bp)
	sc.plan = plan
	for _, err := range errs {
		p := status.RenderProblem(err.Error(), len(err.Plaintext) > 0)
		sc.problem(p, err.Service)
		if p.Reason == staxv1alpha1.ReasonInvalidReference {
			metrics.ReferenceFailure(p.Reason)
		}
	}
	// Admission rejects unknown and self dependencies; longer cycles need the
	// whole graph, which a CEL rule cannot walk within its cost budget.
	if cycle := depgraph.Cycle(sc.bp.Spec.Services); cycle != nil {
		sc.problem(status.CycleProblem(cycle), cycle...)
	}
}

// reconcileWorkloads applies each renderable service's Deployment and Service,
// with the digest of the values it consumes on its pod template, and with no
// replicas while a service it depends on is not yet available.
func (r *BlueprintReconciler) reconcileWorkloads(ctx context.Context, sc *scope) (ctrl.Result, error) {
	available := map[string]bool{}
	started := map[string]bool{}
	current := map[string]*appsv1.Deployment{}
	for _, svc := range sc.bp.Spec.Services {
		dep := &appsv1.Deployment{}
		if err := r.Get(ctx, types.NamespacedName{Namespace: sc.bp.Namespace, Name: svc.Name}, dep); err == nil &&
			ownership.Rendered(dep, sc.bp) == ownership.Owned {
			current[svc.Name] = dep
			// A Deployment still scaled down by a suspension or sleep is
			// neither started nor available until it resumes.
			_, asleep := sleep.Recorded(dep.Annotations)
			available[svc.Name] = sc.available(svc.Name, dep) && !asleep
			started[svc.Name] = ptr.Deref(dep.Spec.Replicas, 1) > 0 && !asleep
		}
	}
	held := depgraph.StartOrder(sc.bp.Spec.Services, available, started)
	// The digest of each service's values, or the one it runs with while a
	// change of values read from Secrets settles.
	hold := r.settleValues(sc, current)

	for i := range sc.plan.Services {
		svc := &sc.plan.Services[i]
		if sc.blocked[svc.Name] {
			continue
		}
		svc.SetSecretsDigest(sc.digests[svc.Name])
		waiting := held[svc.Name]
		replicas := sleep.Service{Asleep: sc.asleep(), Waiting: len(waiting) > 0, Declared: svc.Deployment.Spec.Replicas}
		if dep, ok := current[svc.Name]; ok {
			replicas.Annotations, replicas.Live, replicas.OwnHold = dep.Annotations, dep.Spec.Replicas, ownsReplicas(dep)
		}
		if !sc.asleep() && len(waiting) > 0 {
			sc.waitingFor[svc.Name] = waiting
		}
		switch step := sleep.Plan(replicas); {
		case step.ScaleDown:
			if sc.asleep() {
				sc.suspended[svc.Name] = step.ResumeTo
			}
			svc.Suspend(step.ResumeTo)
		case step.Hold:
			svc.SetReplicas(0)
		case step.Restore:
			if err := r.resumeReplicas(ctx, current[svc.Name], step.RestoreTo); err != nil {
				return ctrl.Result{}, err
			}
		}

		dep := &appsv1.Deployment{}
		changed, err := r.applyOwned(ctx, sc, dep, svc.Name, svc.Deployment)
		if err != nil {
			return ctrl.Result{}, err
		}
		sc.applied[svc.Name] = changed
		if dep.Name != "" && ownership.Rendered(dep, sc.bp) == ownership.Owned {
			sc.deployments[svc.Name] = dep
		}
		if svc.Service == nil {
			continue
		}
		service := &corev1.Service{}
		if _, err := r.applyOwned(ctx, sc, service, svc.Name, svc.Service); err != nil {
			return ctrl.Result{}, err
		}
	}
	// Services left as they run still report what runs, and sleep with
	// the others.
	for _, svc := range render.Effective(sc.bp).Spec.Services {
		dep, ok := current[svc.Name]
		if !sc.blocked[svc.Name] || !ok {
			continue
		}
		sc.deployments[svc.Name] = dep
		step := sleep.Plan(sleep.Service{
			Asleep: sc.asleep(), Unrendered: true, Declared: svc.Replicas,
			Annotations: dep.Annotations, Live: dep.Spec.Replicas, OwnHold: ownsReplicas(dep),
		})
		switch {
		case step.ScaleDown:
			sc.suspended[svc.Name] = step.ResumeTo
			if step.Patch {
				if err := r.scaleDownUnrendered(ctx, dep, step.ResumeTo); err != nil {
					return ctrl.Result{}, err
				}
			}
		case step.Restore:
			if err := r.resumeReplicas(ctx, dep, step.RestoreTo); err != nil {
				return ctrl.Result{}, err
			}
		}
	}
	return ctrl.Result{RequeueAfter: hold}, nil
}

// lookupValue finds the value behind a resolved reference among the Secrets
// this reconcile read. It feeds the digest only.
func (s *scope) lookupValue(ref reference.Ref) ([]byte, bool) {
	secret := s.referenced[ref.SecretName]
	if s.generatedSecret != nil && ref.SecretName == s.generatedSecret.Name {
		secret = s.generatedSecret
	}
	if secret == nil {
		return nil, false
	}
	v, ok := secret.Data[ref.Key]
	return v, ok
}

// reportIfForeign reports obj, a rendered object of kind under name, as a
// Conflict when the Blueprint does not control it (ownership.Rendered), and
// says whether it did: such an object is never written.
func (s *scope) reportIfForeign(obj metav1.Object, kind, name string) bool {
	p, ok := status.OwnershipProblem(status.Held{Kind: kind, Name: name}, ownership.Rendered(obj, s.bp))
	if ok {
		s.problem(p, name)
	}
	return ok
}

// kindOf names obj's Go type, which is its kind: Deployment, Service.
func kindOf(obj client.Object) string {
	if u, ok := obj.(*unstructured.Unstructured); ok {
		return u.GetKind()
	}
	kind := fmt.Sprintf("%T", obj)
	return kind[strings.LastIndex(kind, ".")+1:]
}

// deleteStaleObjects deletes the Deployments and Services this Blueprint
// controls that its plan no longer keeps (render.Plan.Keeps: a service no
// longer declared, a Service of a service without ports; never an object
// of a service left out of the plan).
func (r *BlueprintReconciler) deleteStaleObjects(ctx context.Context, sc *scope) (ctrl.Result, error) {
	// The Blueprint's own cached objects, by index (indexRenderedFor), not
	// copied: a label selector, or a list of the namespace filtered here,
	// visits or copies every rendered object of the namespace, once per
	// reconcile of each of its Blueprints. Only an object to delete is
	// copied.
	own := client.MatchingFields{indexRenderedFor: sc.bp.Name}
	deployments := &appsv1.DeploymentList{}
	if err := r.List(ctx, deployments, client.InNamespace(sc.bp.Namespace), own, client.UnsafeDisableDeepCopy); err != nil {
		return ctrl.Result{}, apierror.Wrap(apierror.OpList, "Deployments", "", err)
	}
	for i := range deployments.Items {
		d := &deployments.Items[i]
		if d.Labels[staxv1alpha1.LabelBlueprint] != sc.bp.Name || sc.plan.Keeps("Deployment", d.Name) {
			continue
		}
		if err := r.deleteIfStale(ctx, sc, d.DeepCopy(), false); err != nil {
			return ctrl.Result{}, err
		}
	}
	services := &corev1.ServiceList{}
	if err := r.List(ctx, services, client.InNamespace(sc.bp.Namespace), own, client.UnsafeDisableDeepCopy); err != nil {
		return ctrl.Result{}, apierror.Wrap(apierror.OpList, "Services", "", err)
	}
	for i := range services.Items {
		s := &services.Items[i]
		if s.Labels[staxv1alpha1.LabelBlueprint] != sc.bp.Name || sc.plan.Keeps("Service", s.Name) {
			continue
		}
		if err := r.deleteIfStale(ctx, sc, s.DeepCopy(), false); err != nil {
			return ctrl.Result{}, err
		}
	}
	return ctrl.Result{}, nil
}

// deleteIfStale deletes obj, unless it is kept or not the Blueprint's.
func (r *BlueprintReconciler) deleteIfStale(ctx context.Context, sc *scope, obj client.Object, keep bool) error {
	if keep || ownership.Rendered(obj, sc.bp) != ownership.Owned {
		return nil
	}
	uid := obj.GetUID()
	if err := r.Delete(ctx, obj, client.Preconditions{UID: &uid}); client.IgnoreNotFound(err) != nil {
		return apierror.Wrap(apierror.OpDelete, kindOf(obj), obj.GetName(), err)
	}
	return nil
}
