// Package controller reconciles Blueprints. It is deliberately thin: render
// decides what objects a Blueprint needs, secretgen makes values, status says
// what the user sees; this package fetches, calls them and applies the result.
package controller

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	appsv1ac "k8s.io/client-go/applyconfigurations/apps/v1"
	corev1ac "k8s.io/client-go/applyconfigurations/core/v1"
	"k8s.io/client-go/tools/events"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/log"

	staxv1alpha1 "github.com/stax-dev/blueprint-operator/api/v1alpha1"
	"github.com/stax-dev/blueprint-operator/internal/render"
	"github.com/stax-dev/blueprint-operator/internal/secretgen"
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
	// writes everything. It never caches Secrets (see ClientOptions).
	client.Client
	// APIReader reads straight from the API server: Secrets, and objects the
	// cache has not seen yet, so that cache lag can neither make the operator
	// regenerate a value nor adopt a foreign object.
	APIReader client.Reader
	Recorder  events.EventRecorder
	// Rand is the entropy source of generated values: crypto/rand.Reader in
	// production.
	Rand io.Reader
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
}

func (s *scope) problem(p status.Problem, services ...string) {
	s.problems = append(s.problems, p)
	for _, svc := range services {
		s.blocked[svc] = true
	}
}

// +kubebuilder:rbac:groups=stax.dev,resources=blueprints,verbs=get;list;watch
// +kubebuilder:rbac:groups=stax.dev,resources=blueprints/status,verbs=get;update;patch
// +kubebuilder:rbac:groups="",resources=secrets,verbs=get;list;watch;create;update;delete
// +kubebuilder:rbac:groups=apps,resources=deployments,verbs=get;list;watch;create;update;patch;delete
// +kubebuilder:rbac:groups="",resources=services,verbs=get;list;watch;create;update;patch;delete
// +kubebuilder:rbac:groups=events.k8s.io,resources=events,verbs=create;patch

// Reconcile brings a Blueprint's generated Secret, Deployments and Services to
// what its spec declares, then reports the outcome in one status patch.
func (r *BlueprintReconciler) Reconcile(ctx context.Context, req ctrl.Request) (_ ctrl.Result, retErr error) {
	bp := &staxv1alpha1.Blueprint{}
	if err := r.Get(ctx, req.NamespacedName, bp); err != nil {
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	if !bp.DeletionTimestamp.IsZero() {
		// Everything the Blueprint owns goes with it through garbage collection.
		return ctrl.Result{}, nil
	}

	sc := &scope{
		bp:          bp,
		blocked:     map[string]bool{},
		applied:     map[string]bool{},
		deployments: map[string]*appsv1.Deployment{},
	}
	defer func() {
		retErr = errors.Join(retErr, r.patchStatus(ctx, sc, retErr))
	}()

	r.buildPlan(sc)
	for _, phase := range []func(context.Context, *scope) error{
		r.reconcileGeneratedSecret,
		r.checkReferences,
		r.reconcileWorkloads,
		r.deleteStaleObjects,
	} {
		if err := phase(ctx, sc); err != nil {
			return ctrl.Result{}, err
		}
	}
	return ctrl.Result{}, nil
}

// buildPlan renders the Blueprint. Services whose references cannot be
// resolved as written are reported and left as they run.
func (r *BlueprintReconciler) buildPlan(sc *scope) {
	plan, errs := render.Build(sc.bp)
	sc.plan = plan
	for _, err := range errs {
		sc.problem(status.Problem{Reason: status.ReasonInvalidReference, Message: err.Error(), Stalling: true}, err.Service)
	}
}

// reconcileGeneratedSecret makes the generated Secret hold exactly one value
// per managed secret: missing values are generated, values of removed
// secrets are dropped, and an existing value is never replaced. Every decision
// is taken on a fresh read from the API server and written with that read's
// resourceVersion, so a stale cache or a concurrent writer makes the write
// fail and the loop read again, never overwrite.
func (r *BlueprintReconciler) reconcileGeneratedSecret(ctx context.Context, sc *scope) error {
	name := sc.plan.GeneratedSecretName
	key := types.NamespacedName{Namespace: sc.bp.Namespace, Name: name}
	for range maxSecretAttempts {
		live := &corev1.Secret{}
		err := r.APIReader.Get(ctx, key, live)
		switch {
		case apierrors.IsNotFound(err):
			if len(sc.plan.Managed) == 0 {
				return nil
			}
			secret, generated, err := r.newGeneratedSecret(sc)
			if err != nil {
				return err
			}
			if err := r.Create(ctx, secret); err != nil {
				if apierrors.IsAlreadyExists(err) {
					continue
				}
				return fmt.Errorf("creating Secret %s: %w", name, err)
			}
			r.eventGenerated(sc, generated)
			return nil
		case err != nil:
			return fmt.Errorf("reading Secret %s: %w", name, err)
		}

		if !render.IsControlledBy(live, string(sc.bp.UID)) {
			sc.problem(status.Problem{
				Reason:   status.ReasonConflict,
				Message:  fmt.Sprintf("Secret %s exists and is not controlled by this Blueprint; it is left untouched, and services that use generated values wait until it is removed", name),
				Stalling: true,
			}, servicesUsingManaged(sc.plan)...)
			return nil
		}
		if len(sc.plan.Managed) == 0 {
			// The last managed secret was removed from the spec.
			err := r.Delete(ctx, live, client.Preconditions{UID: &live.UID, ResourceVersion: &live.ResourceVersion})
			if apierrors.IsConflict(err) || apierrors.IsNotFound(err) {
				continue
			}
			return err
		}

		generated, removed, err := r.syncGeneratedData(sc, live)
		if err != nil {
			return err
		}
		if len(generated) == 0 && len(removed) == 0 {
			return nil
		}
		// Update carries live's resourceVersion: if anyone wrote the Secret
		// since we read it, the API server refuses and we read again.
		if err := r.Update(ctx, live); err != nil {
			if apierrors.IsConflict(err) {
				continue
			}
			return fmt.Errorf("updating Secret %s: %w", name, err)
		}
		r.eventGenerated(sc, generated)
		if len(removed) > 0 {
			r.Recorder.Eventf(sc.bp, live, corev1.EventTypeNormal, "Removed", "RemoveValues",
				"removed value(s) no longer declared from Secret %s: %s", name, strings.Join(removed, ", "))
		}
		return nil
	}
	return fmt.Errorf("Secret %s changed on every one of %d attempts; retrying", name, maxSecretAttempts)
}

// syncGeneratedData adds a value for every managed secret the Secret lacks and
// drops keys no longer declared. It never touches an existing declared key.
func (r *BlueprintReconciler) syncGeneratedData(sc *scope, live *corev1.Secret) (generated, removed []string, err error) {
	if live.Data == nil {
		live.Data = map[string][]byte{}
	}
	declared := map[string]bool{}
	for _, m := range sc.plan.Managed {
		declared[m.Name] = true
		if _, ok := live.Data[m.Name]; ok {
			continue
		}
		value, err := secretgen.Generate(r.Rand, string(m.Charset), m.Length)
		if err != nil {
			return nil, nil, fmt.Errorf("generating value %s: %w", m.Name, err)
		}
		live.Data[m.Name] = value
		generated = append(generated, m.Name)
	}
	for k := range live.Data {
		if !declared[k] {
			delete(live.Data, k)
			removed = append(removed, k)
		}
	}
	sort.Strings(removed)
	return generated, removed, nil
}

func (r *BlueprintReconciler) newGeneratedSecret(sc *scope) (*corev1.Secret, []string, error) {
	secret := &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{
			Name:      sc.plan.GeneratedSecretName,
			Namespace: sc.bp.Namespace,
			Labels: map[string]string{
				render.LabelBlueprint: sc.bp.Name,
				render.LabelManagedBy: render.ManagedByValue,
			},
			OwnerReferences: []metav1.OwnerReference{*ownerReference(sc.bp)},
		},
		Type: corev1.SecretTypeOpaque,
	}
	generated, _, err := r.syncGeneratedData(sc, secret)
	return secret, generated, err
}

func (r *BlueprintReconciler) eventGenerated(sc *scope, names []string) {
	if len(names) == 0 {
		return
	}
	r.Recorder.Eventf(sc.bp, nil, corev1.EventTypeNormal, "Generated", "GenerateValues",
		"generated value(s) in Secret %s: %s", sc.plan.GeneratedSecretName, strings.Join(names, ", "))
}

func ownerReference(bp *staxv1alpha1.Blueprint) *metav1.OwnerReference {
	ref := metav1.NewControllerRef(bp, staxv1alpha1.GroupVersion.WithKind("Blueprint"))
	return ref
}

func servicesUsingManaged(plan *render.Plan) []string {
	var out []string
	for _, svc := range plan.Services {
		for _, use := range svc.Uses {
			if use.Managed {
				out = append(out, svc.Name)
				break
			}
		}
	}
	return out
}

// checkReferences confirms that every referenced Secret and key exists. It
// reads from the API server, because Secrets are not cached: the operator
// watches only their metadata, so that it does not hold every Secret of the
// cluster in memory.
func (r *BlueprintReconciler) checkReferences(ctx context.Context, sc *scope) error {
	secrets := map[string]*corev1.Secret{}
	for _, svc := range sc.plan.Services {
		for _, use := range svc.Uses {
			if use.Managed {
				continue
			}
			name := use.Ref.SecretName
			secret, seen := secrets[name]
			if !seen {
				secret = &corev1.Secret{}
				err := r.APIReader.Get(ctx, types.NamespacedName{Namespace: sc.bp.Namespace, Name: name}, secret)
				switch {
				case apierrors.IsNotFound(err):
					secret = nil
				case err != nil:
					return fmt.Errorf("reading referenced Secret %s: %w", name, err)
				}
				secrets[name] = secret
			}
			switch {
			case secret == nil:
				sc.problem(status.Problem{
					Reason:  status.ReasonSecretNotFound,
					Message: fmt.Sprintf("service %s, env %s: Secret %s not found in namespace %s", svc.Name, use.EnvKey, name, sc.bp.Namespace),
				}, svc.Name)
			case !hasKey(secret, use.Ref.Key):
				sc.problem(status.Problem{
					Reason:  status.ReasonSecretKeyNotFound,
					Message: fmt.Sprintf("service %s, env %s: Secret %s has no key %s", svc.Name, use.EnvKey, name, use.Ref.Key),
				}, svc.Name)
			}
		}
	}
	return nil
}

func hasKey(s *corev1.Secret, key string) bool {
	if _, ok := s.Data[key]; ok {
		return true
	}
	_, ok := s.StringData[key]
	return ok
}

// reconcileWorkloads applies each renderable service's Deployment and Service.
func (r *BlueprintReconciler) reconcileWorkloads(ctx context.Context, sc *scope) error {
	for _, svc := range sc.plan.Services {
		if sc.blocked[svc.Name] {
			continue
		}
		dep := &appsv1.Deployment{}
		changed, err := r.applyOwned(ctx, sc, dep, svc.Deployment, func() (bool, error) {
			extracted, err := appsv1ac.ExtractDeployment(dep, FieldOwner)
			return err == nil && equality.Semantic.DeepEqual(extracted, svc.Deployment), err
		})
		if err != nil {
			return err
		}
		sc.applied[svc.Name] = changed
		if dep.Name != "" && render.IsControlledBy(dep, string(sc.bp.UID)) {
			sc.deployments[svc.Name] = dep
		}
		if svc.Service == nil {
			continue
		}
		service := &corev1.Service{}
		if _, err := r.applyOwned(ctx, sc, service, svc.Service, func() (bool, error) {
			extracted, err := corev1ac.ExtractService(service, FieldOwner)
			return err == nil && equality.Semantic.DeepEqual(extracted, svc.Service), err
		}); err != nil {
			return err
		}
	}
	// Services left as they run still report what runs.
	for name := range sc.blocked {
		dep := &appsv1.Deployment{}
		if err := r.Get(ctx, types.NamespacedName{Namespace: sc.bp.Namespace, Name: name}, dep); err == nil &&
			render.IsControlledBy(dep, string(sc.bp.UID)) {
			sc.deployments[name] = dep
		}
	}
	return nil
}

// namedApplyConfiguration is a rendered object: an apply configuration that
// knows its name.
type namedApplyConfiguration interface {
	runtime.ApplyConfiguration
	GetName() *string
}

// applyOwned server-side applies desired unless the live object already holds
// exactly what we own of it. It never writes an object the Blueprint does not
// control: such an object is reported as a Conflict and left untouched.
// It returns whether it wrote.
func (r *BlueprintReconciler) applyOwned(ctx context.Context, sc *scope, live client.Object, desired namedApplyConfiguration, upToDate func() (bool, error)) (bool, error) {
	key := types.NamespacedName{Namespace: sc.bp.Namespace, Name: *desired.GetName()}
	kind := fmt.Sprintf("%T", live)
	kind = kind[strings.LastIndex(kind, ".")+1:]
	err := r.Get(ctx, key, live)
	if apierrors.IsNotFound(err) {
		// The cache may not have seen an object created moments ago; ask the
		// API server before creating, so a foreign object is never taken over.
		err = r.APIReader.Get(ctx, key, live)
		if apierrors.IsNotFound(err) {
			// No ForceOwnership: should an object appear between the read and
			// this apply, conflicting fields make the apply fail instead of
			// taking them over.
			if err := r.Apply(ctx, desired, client.FieldOwner(FieldOwner)); err != nil {
				return false, fmt.Errorf("creating %s %s: %w", kind, key.Name, err)
			}
			return true, nil
		}
	}
	if err != nil {
		return false, fmt.Errorf("reading %s %s: %w", kind, key.Name, err)
	}
	if !render.IsControlledBy(live, string(sc.bp.UID)) {
		sc.problem(status.Problem{
			Reason:   status.ReasonConflict,
			Message:  fmt.Sprintf("%s %s exists and is not controlled by this Blueprint; it is left untouched", kind, key.Name),
			Stalling: true,
		}, key.Name)
		return false, nil
	}
	same, err := upToDate()
	if err != nil {
		return false, fmt.Errorf("comparing %s %s: %w", kind, key.Name, err)
	}
	if same {
		return false, nil
	}
	// ForceOwnership: fields we render are ours; a hand edit is reverted.
	if err := r.Apply(ctx, desired, client.FieldOwner(FieldOwner), client.ForceOwnership); err != nil {
		return false, fmt.Errorf("applying %s %s: %w", kind, key.Name, err)
	}
	return true, nil
}

// deleteStaleObjects deletes Deployments of services no longer declared and
// Services of services that no longer have ports. Only objects this
// Blueprint controls are considered.
func (r *BlueprintReconciler) deleteStaleObjects(ctx context.Context, sc *scope) error {
	wantDeployment := map[string]bool{}
	wantService := map[string]bool{}
	for _, svc := range sc.bp.Spec.Services {
		wantDeployment[svc.Name] = true
		wantService[svc.Name] = len(svc.Ports) > 0
	}
	selector := client.MatchingLabels{render.LabelBlueprint: sc.bp.Name}
	deployments := &appsv1.DeploymentList{}
	if err := r.List(ctx, deployments, client.InNamespace(sc.bp.Namespace), selector); err != nil {
		return err
	}
	for i := range deployments.Items {
		if err := r.deleteIfStale(ctx, sc, &deployments.Items[i], wantDeployment); err != nil {
			return err
		}
	}
	services := &corev1.ServiceList{}
	if err := r.List(ctx, services, client.InNamespace(sc.bp.Namespace), selector); err != nil {
		return err
	}
	for i := range services.Items {
		if err := r.deleteIfStale(ctx, sc, &services.Items[i], wantService); err != nil {
			return err
		}
	}
	return nil
}

func (r *BlueprintReconciler) deleteIfStale(ctx context.Context, sc *scope, obj client.Object, want map[string]bool) error {
	if want[obj.GetName()] || !render.IsControlledBy(obj, string(sc.bp.UID)) {
		return nil
	}
	uid := obj.GetUID()
	if err := r.Delete(ctx, obj, client.Preconditions{UID: &uid}); client.IgnoreNotFound(err) != nil {
		return fmt.Errorf("deleting %s: %w", obj.GetName(), err)
	}
	return nil
}

// observe summarises the reconcile for status.
func (sc *scope) observe(reconcileErr error) status.Observation {
	obs := status.Observation{
		Generation: sc.bp.Generation,
		Problems:   sc.problems,
		Err:        reconcileErr,
	}
	if sc.plan != nil && len(sc.plan.Managed) > 0 {
		obs.GeneratedSecretName = sc.plan.GeneratedSecretName
	}
	for _, svc := range sc.bp.Spec.Services {
		o := status.ServiceObservation{Name: svc.Name, Desired: 1}
		if svc.Replicas != nil {
			o.Desired = *svc.Replicas
		}
		if dep, ok := sc.deployments[svc.Name]; ok {
			o.Ready = dep.Status.ReadyReplicas
			o.Available = !sc.applied[svc.Name] && !sc.blocked[svc.Name] && render.DeploymentAvailable(dep)
		}
		obs.Services = append(obs.Services, o)
	}
	return obs
}

// patchStatus writes the status computed from this reconcile, once, and only
// if it differs from what is stored.
func (r *BlueprintReconciler) patchStatus(ctx context.Context, sc *scope, reconcileErr error) error {
	if ctx.Err() != nil {
		// The manager is stopping: the reconcile was cut short, which says
		// nothing about the Blueprint. The next run reports its state.
		return nil
	}
	before := sc.bp.DeepCopy()
	status.Apply(&sc.bp.Status, sc.observe(reconcileErr))
	if equality.Semantic.DeepEqual(before.Status, sc.bp.Status) {
		return nil
	}
	if err := r.Status().Patch(ctx, sc.bp, client.MergeFrom(before)); err != nil {
		return client.IgnoreNotFound(err)
	}
	oldReady := meta.FindStatusCondition(before.Status.Conditions, staxv1alpha1.ConditionReady)
	newReady := meta.FindStatusCondition(sc.bp.Status.Conditions, staxv1alpha1.ConditionReady)
	if newReady != nil && newReady.Status == metav1.ConditionFalse && newReady.Reason != status.ReasonProgressing &&
		(oldReady == nil || oldReady.Reason != newReady.Reason || oldReady.Message != newReady.Message) {
		r.Recorder.Eventf(sc.bp, nil, corev1.EventTypeWarning, newReady.Reason, "Reconcile", "%s", newReady.Message)
	}
	log.FromContext(ctx).V(1).Info("status updated", "ready", readyString(newReady), "readyServices", sc.bp.Status.ReadyServices)
	return nil
}

func readyString(c *metav1.Condition) string {
	if c == nil {
		return "Unknown"
	}
	return string(c.Status) + "/" + c.Reason
}
