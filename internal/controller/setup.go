package controller

import (
	"context"
	"crypto/rand"
	"io"
	"sync"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/selection"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/util/workqueue"
	"k8s.io/utils/clock"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	crcontroller "sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"
	"sigs.k8s.io/controller-runtime/pkg/source"

	staxv1alpha1 "github.com/stax-dev/blueprint-operator/api/v1alpha1"
	"github.com/stax-dev/blueprint-operator/internal/render"
	"github.com/stax-dev/blueprint-operator/internal/settle"
)

// Field indexes over Blueprints, so an event on a Secret, Deployment or
// Service finds the Blueprints that care about its name without a list scan.
const (
	// indexSecretNames: every Secret a Blueprint reads or writes, referenced
	// Secrets and its generated Secret.
	indexSecretNames = "stax.dev/secret-names"
	// indexServiceNames: the names of a Blueprint's services, which are the
	// names of its Deployments and Services.
	indexServiceNames = "stax.dev/service-names"
	// indexRenderedFor, over the cached Deployments and Services: the
	// Blueprint each was rendered for (its stax.dev/blueprint label), so a
	// reconcile lists its own objects, not every one of its namespace.
	indexRenderedFor = "stax.dev/rendered-for"
)

// DefaultSecretQuietPeriod is how long the values a Blueprint reads from
// Secrets must stay the same before a change of them rolls its Deployments
// out. A Secret edited several times in a row, or several Secrets updated by
// one apply, then roll a Deployment out once instead of once per edit. Only
// that rollout waits: spec edits, rotations and status are reconciled at once.
const DefaultSecretQuietPeriod = 500 * time.Millisecond

// DefaultRemovedValueRetention is how long a generated value whose secret is
// no longer declared stays in the generated Secret, unless the Blueprint
// sets spec.removedValueRetention (manager flag --removed-value-retention).
const DefaultRemovedValueRetention = 7 * 24 * time.Hour

// DefaultProgressStatusDelay is how long the first status of a new
// Blueprint waits for its rollout (manager flag --progress-status-delay). A
// Blueprint whose Deployments are available within it gets one status
// write, Ready, instead of Progressing and then Ready; one still rolling out
// after it is reported Progressing. Until then its status is the unwritten
// default (observedGeneration -1), which kstatus, Flux and Argo CD already
// read as in progress. Problems are reported at once.
const DefaultProgressStatusDelay = 5 * time.Second

// DefaultSecretMaxWait caps the quiet period: values that keep changing are
// rolled out this long after the first change that was held back, even while
// the churn goes on.
const DefaultSecretMaxWait = 5 * time.Second

// Options configures the Blueprint controller and the manager it runs in.
// DefaultOptions is what cmd/main.go runs with its flags at their defaults,
// and what every test suite starts from; a test that needs another knob sets
// it where it builds its options.
type Options struct {
	// MaxConcurrentReconciles is how many Blueprints are reconciled at once.
	MaxConcurrentReconciles int
	// WatchNamespaces restricts the manager's cache, and with it every watch
	// and index, to these namespaces; none means the whole cluster.
	WatchNamespaces []string
	// StripSecretMetadata keeps only what identifies each Secret in the
	// metadata-only Secret watch's cache (see StripWatchedMetadata).
	StripSecretMetadata bool
	// SecretQuietPeriod is DefaultSecretQuietPeriod unless set.
	SecretQuietPeriod time.Duration
	// SecretMaxWait is DefaultSecretMaxWait unless set; never less than
	// SecretQuietPeriod.
	SecretMaxWait time.Duration
	// RequireReferenceableLabel, when set, lets a Blueprint read only the
	// Secrets labelled staxv1alpha1.LabelReferenceable="true", besides its
	// own generated Secret: any other reference is reported as
	// ReasonSecretNotReferenceable and its data is never read.
	RequireReferenceableLabel bool
	// SettleClock measures the quiet period and its cap; the real clock when
	// nil. Tests hold it still to drive a burst of edits at their own pace.
	SettleClock clock.PassiveClock
	// Reconciled, when set, is called after every reconcile of a Blueprint.
	// Tests use it to prove that a reconcile they say changed nothing did
	// run, and saw what they changed; nil in production.
	Reconciled func(ReconcileRecord)
	// Clock decides when scheduled rotations fall due; the real clock when
	// nil. Tests step a fake one.
	Clock clock.PassiveClock
	// Rand is the entropy source of generated values; crypto/rand.Reader
	// when nil.
	Rand io.Reader
	// RemovedValueRetention is how long a value no longer declared is kept
	// (DefaultRemovedValueRetention in DefaultOptions); 0 prunes at once.
	RemovedValueRetention time.Duration
	// ProgressStatusDelay is how long a new Blueprint's first status waits
	// for its rollout (DefaultProgressStatusDelay in DefaultOptions); 0
	// writes Progressing at once.
	ProgressStatusDelay time.Duration
}

// ReconcileRecord describes one completed reconcile, for Options.Reconciled.
type ReconcileRecord struct {
	Key types.NamespacedName
	// Began is when the reconcile began: every Secret it read, it read from
	// the API server after this.
	Began time.Time
	// ResourceVersion is that of the Blueprint it reconciled; empty when
	// the Blueprint was not found.
	ResourceVersion string
}

// DefaultOptions are the production defaults, the ones `make bench`
// measured best.
func DefaultOptions() Options {
	return Options{
		MaxConcurrentReconciles: 8,
		StripSecretMetadata:     true,
		SecretQuietPeriod:       DefaultSecretQuietPeriod,
		RemovedValueRetention:   DefaultRemovedValueRetention,
		SecretMaxWait:           DefaultSecretMaxWait,
		ProgressStatusDelay:     DefaultProgressStatusDelay,
	}
}

// Backoff of a Blueprint whose reconcile fails: from retryBaseDelay,
// doubling, up to retryMaxDelay (about 17 minutes, as docs/troubleshooting.md
// says), controller-runtime's defaults spelt out so a test can hold them.
const (
	retryBaseDelay = 5 * time.Millisecond
	retryMaxDelay  = 1000 * time.Second
)

// controllerOptions are the Blueprint controller's.
func (o Options) controllerOptions() crcontroller.Options {
	return crcontroller.Options{
		MaxConcurrentReconciles: o.MaxConcurrentReconciles,
		RateLimiter:             workqueue.NewTypedItemExponentialFailureRateLimiter[reconcile.Request](retryBaseDelay, retryMaxDelay),
	}
}

// ManagerOptions completes base, the manager's options, with what the
// controller needs of the manager's client and cache: Secrets are never
// cached (a cached Get would start an informer holding every Secret of the
// cluster in memory; they are read from the API server when needed and
// watched as metadata only), and the cache is restricted to
// WatchNamespaces. The uncached Secret reads need no restriction: the
// reconciler only reads in the Blueprint's own namespace.
func (o Options) ManagerOptions(base ctrl.Options) ctrl.Options {
	base.Client.Cache = &client.CacheOptions{DisableFor: []client.Object{&corev1.Secret{}}}
	cacheOptions := cache.Options{DefaultNamespaces: namespaceConfigs(o.WatchNamespaces)}
	cacheOptions.ByObject = map[client.Object]cache.ByObject{
		// Only the Jobs of rotation hooks: the cache must not hold every
		// Job of the cluster.
		&batchv1.Job{}: {Label: HookJobSelector()},
		// Claims and Ingresses are cached only where a Blueprint rendered
		// them: never every object of the cluster. A foreign object in the
		// way is found by the uncached read that precedes every create.
		&corev1.PersistentVolumeClaim{}: {Label: renderedSelector()},
		&networkingv1.Ingress{}:         {Label: renderedSelector(), Transform: TrimForeignManagedFields},
		// Deployments and Services only where a Blueprint rendered them,
		// and of those only what the reconciler reads: our managedFields
		// entry (the no-op check, internal/applied), our labels and
		// annotations, and a Deployment's rollout status (transform.go). A
		// foreign object in the way of a service is noticed by the
		// metadata-only watch of its own cache (watchWorkloadMetadata) and
		// read as metadata only.
		&appsv1.Deployment{}:      {Label: renderedSelector(), Transform: TrimCachedDeployment},
		&corev1.Service{}:         {Label: renderedSelector(), Transform: TrimCachedService},
		&staxv1alpha1.Blueprint{}: {Transform: StripBlueprintMetadata},
	}
	if o.StripSecretMetadata {
		cacheOptions.ByObject[&corev1.Secret{}] = cache.ByObject{Transform: StripWatchedMetadata}
	}
	base.Cache = cacheOptions
	return base
}

// HookJobSelector selects the Jobs the operator runs for onRotate hooks,
// the only Jobs its cache holds.
func HookJobSelector() labels.Selector {
	req, err := labels.NewRequirement(staxv1alpha1.LabelRotationHook, selection.Exists, nil)
	if err != nil {
		// A constant, valid label key.
		panic(err)
	}
	return labels.NewSelector().Add(*req)
}

// Setup registers the Blueprint controller and its field indexes with mgr,
// which must have been built with o.ManagerOptions. It is the only way the
// controller is wired, in production and in every test.
func Setup(ctx context.Context, mgr ctrl.Manager, o Options) error {
	r := &BlueprintReconciler{
		// Every write goes under the operator's field manager, named once
		// here (a write may name ResumeFieldOwner instead).
		Client:                    client.WithFieldOwner(mgr.GetClient(), FieldOwner),
		apiReader:                 mgr.GetAPIReader(),
		recorder:                  mgr.GetEventRecorder("blueprint-controller"),
		rand:                      o.Rand,
		clock:                     o.Clock,
		settleClock:               o.SettleClock,
		requireReferenceableLabel: o.RequireReferenceableLabel,
		removedValueRetention:     o.RemovedValueRetention,
		progressStatusDelay:       o.ProgressStatusDelay,
		reconciled:                o.Reconciled,
		secretMetadata:            mgr.GetCache(),
		secrets:                   newSecretMemo(),
		workloadMetadata:          map[schema.GroupVersionKind]client.Reader{},
	}
	if r.rand == nil {
		r.rand = rand.Reader
	}
	if r.clock == nil {
		r.clock = clock.RealClock{}
	}
	if r.settleClock == nil {
		// The quiet period is wall-clock time, whatever clock schedules
		// rotations.
		r.settleClock = clock.RealClock{}
	}
	quiet, maxWait := o.SecretQuietPeriod, o.SecretMaxWait
	if quiet == 0 {
		quiet = DefaultSecretQuietPeriod
	}
	if maxWait == 0 {
		maxWait = DefaultSecretMaxWait
	}
	r.settle = settle.New(quiet, maxWait)
	indexer := mgr.GetFieldIndexer()
	if err := indexer.IndexField(ctx, &staxv1alpha1.Blueprint{}, indexSecretNames, secretNames); err != nil {
		return err
	}
	if err := indexer.IndexField(ctx, &staxv1alpha1.Blueprint{}, indexServiceNames, serviceNames); err != nil {
		return err
	}
	for _, rendered := range []client.Object{&appsv1.Deployment{}, &corev1.Service{}} {
		if err := indexer.IndexField(ctx, rendered, indexRenderedFor, renderedFor); err != nil {
			return err
		}
	}
	b := ctrl.NewControllerManagedBy(mgr).
		For(&staxv1alpha1.Blueprint{}).
		Named("blueprint").
		WithOptions(o.controllerOptions()).
		// The Deployments and Services Blueprints rendered, in full (the
		// manager's cache holds only those, selected by label). Foreign
		// objects in the way of a service are watched as metadata only
		// below (watchWorkloadMetadata).
		Watches(&appsv1.Deployment{}, handler.EnqueueRequestsFromMapFunc(r.blueprintsByIndex(indexServiceNames))).
		Watches(&corev1.Service{}, handler.EnqueueRequestsFromMapFunc(r.blueprintsByIndex(indexServiceNames))).
		// Metadata is enough to notice that a referenced Secret appeared,
		// changed or went away; the reconcile reads its content, and only a
		// change of a value it consumes holds the rollout back (settle).
		WatchesMetadata(&corev1.Secret{}, handler.EnqueueRequestsFromMapFunc(r.blueprintsByIndex(indexSecretNames))).
		// Claims and Ingresses carry their Blueprint's name as a label.
		Watches(&corev1.PersistentVolumeClaim{}, handler.EnqueueRequestsFromMapFunc(blueprintByLabel)).
		Watches(&networkingv1.Ingress{}, handler.EnqueueRequestsFromMapFunc(blueprintByLabel)).
		// A hook's Job reporting Complete or Failed carries its rotation on.
		Owns(&batchv1.Job{})
	if err := watchWorkloadMetadata(mgr, b, r, o.WatchNamespaces); err != nil {
		return err
	}
	watched, err := watchHTTPRoutes(mgr, b, o.WatchNamespaces)
	if err != nil {
		return err
	}
	r.httpRoutesWatched = watched
	return b.Complete(r)
}

// namespaceConfigs restricts a cache to namespaces (--watch-namespaces);
// none means the whole cluster.
func namespaceConfigs(namespaces []string) map[string]cache.Config {
	if len(namespaces) == 0 {
		return nil
	}
	out := make(map[string]cache.Config, len(namespaces))
	for _, ns := range namespaces {
		out[ns] = cache.Config{}
	}
	return out
}

// notRenderedSelector selects the objects rendered for no Blueprint: the
// complement of renderedSelector.
func notRenderedSelector() labels.Selector {
	req, err := labels.NewRequirement(staxv1alpha1.LabelBlueprint, selection.DoesNotExist, nil)
	if err != nil {
		panic(err) // a constant key: cannot fail
	}
	return labels.NewSelector().Add(*req)
}

// renderedSelector selects the objects rendered for some Blueprint.
func renderedSelector() labels.Selector {
	req, err := labels.NewRequirement(staxv1alpha1.LabelBlueprint, selection.Exists, nil)
	if err != nil {
		panic(err) // a constant key: cannot fail
	}
	return labels.NewSelector().Add(*req)
}

// watchWorkloadMetadata watches every Deployment and Service no Blueprint
// rendered (no stax.dev/blueprint label) as metadata only, with
// managedFields and annotations stripped, and maps each by name
// to the Blueprints with a service of that name: a foreign object that takes
// a rendered name triggers a reconcile, which reports Conflict, and its
// deletion another, which clears it, without polling. The watch needs a
// cache of its own: the manager's cache keys its per-kind configuration by
// group, version and kind, so its label selector for Deployments and
// Services would also select their metadata informers.
func watchWorkloadMetadata(mgr ctrl.Manager, b *builder.TypedBuilder[reconcile.Request], r *BlueprintReconciler, namespaces []string) error {
	opts := cache.Options{
		Scheme: mgr.GetScheme(), Mapper: mgr.GetRESTMapper(),
		// Only metadata objects live in this cache, and nothing reads them
		// but the map function, which needs namespace and name.
		DefaultTransform: StripWatchedMetadata,
		// What Blueprints rendered is in the manager's cache already
		// (selected by the same label): held once, not twice.
		DefaultLabelSelector: notRenderedSelector(),
	}
	opts.DefaultNamespaces = namespaceConfigs(namespaces)
	metadata, err := cache.New(mgr.GetConfig(), opts)
	if err != nil {
		return err
	}
	if err := mgr.Add(metadata); err != nil {
		return err
	}
	for _, gvk := range []schema.GroupVersionKind{appsv1.SchemeGroupVersion.WithKind("Deployment"), corev1.SchemeGroupVersion.WithKind("Service")} {
		obj := &metav1.PartialObjectMetadata{}
		obj.SetGroupVersionKind(gvk)
		b.WatchesRawSource(source.Kind(metadata, client.Object(obj), handler.EnqueueRequestsFromMapFunc(r.blueprintsByIndex(indexServiceNames))))
		r.workloadMetadata[gvk] = metadata
	}
	return nil
}

// watchHTTPRoutes watches the HTTPRoutes Blueprints rendered, when the
// cluster serves the Gateway API: through a cache of their own, selected by
// label as the manager's Ingress cache is. Without the Gateway API CRDs the
// manager starts without this watch (the reconciler reports
// GatewayAPINotInstalled to Blueprints that ask for a Gateway); CRDs
// installed later are watched after the manager restarts, and reconciled
// meanwhile on every other event of the Blueprint.
func watchHTTPRoutes(mgr ctrl.Manager, b *builder.TypedBuilder[reconcile.Request], namespaces []string) (bool, error) {
	if _, err := mgr.GetRESTMapper().RESTMapping(render.HTTPRouteGVK.GroupKind(), render.HTTPRouteGVK.Version); err != nil {
		if meta.IsNoMatchError(err) {
			return false, nil
		}
		return false, err
	}
	route := &unstructured.Unstructured{}
	route.SetGroupVersionKind(render.HTTPRouteGVK)
	opts := cache.Options{
		Scheme: mgr.GetScheme(), Mapper: mgr.GetRESTMapper(),
		ByObject: map[client.Object]cache.ByObject{route: {Label: renderedSelector(), Transform: TrimForeignManagedFields}},
	}
	opts.DefaultNamespaces = namespaceConfigs(namespaces)
	routes, err := cache.New(mgr.GetConfig(), opts)
	if err != nil {
		return false, err
	}
	if err := mgr.Add(routes); err != nil {
		return false, err
	}
	b.WatchesRawSource(source.Kind(routes, client.Object(route), handler.EnqueueRequestsFromMapFunc(blueprintByLabel)))
	return true, nil
}

// blueprintByLabel maps an object rendered for a Blueprint to it.
func blueprintByLabel(_ context.Context, obj client.Object) []reconcile.Request {
	name := obj.GetLabels()[staxv1alpha1.LabelBlueprint]
	if name == "" {
		return nil
	}
	return []reconcile.Request{{NamespacedName: types.NamespacedName{Namespace: obj.GetNamespace(), Name: name}}}
}

// StripWatchedMetadata is the cache transform of the metadata-only watches
// (Secrets; every Deployment and Service, in a cache of their own): of each
// object it keeps only what the reconciler reads from these caches, that
// is namespace, name and resourceVersion (does it exist, has it changed
// since it was read: secretmemo.go), its controller reference (is a
// Deployment or Service in the way ours), and what says whether a Secret is
// a Blueprint's generated one or may be read under the lockdown without
// reading it: the stax.dev/generated-for annotation, the
// stax.dev/referenceable label and the deletion timestamp. It drops every
// other label and annotation, managedFields, finalizers and the other
// timestamps. These caches hold every such
// object of the cluster, nearly all unrelated to any Blueprint, so each is
// kept as one small struct, with the namespace and type strings shared;
// annotations alone can be large (kubectl's last-applied-configuration holds
// a Secret's whole data). Never use it for the typed caches of what
// Blueprints render: the reconciler reads their fingerprint annotation and
// our managedFields entries.
func StripWatchedMetadata(obj any) (any, error) {
	m, ok := obj.(*metav1.PartialObjectMetadata)
	if !ok {
		if a, err := meta.Accessor(obj); err == nil {
			a.SetManagedFields(nil)
			a.SetAnnotations(nil)
		}
		return obj, nil
	}
	out := &metav1.PartialObjectMetadata{TypeMeta: metav1.TypeMeta{
		APIVersion: interned.of(m.APIVersion), Kind: interned.of(m.Kind),
	}}
	out.Name = m.Name
	out.Namespace = interned.of(m.Namespace)
	out.ResourceVersion = m.ResourceVersion
	if ref := metav1.GetControllerOf(m); ref != nil {
		out.OwnerReferences = []metav1.OwnerReference{*ref}
	}
	if v, ok := m.Labels[staxv1alpha1.LabelReferenceable]; ok {
		out.Labels = map[string]string{staxv1alpha1.LabelReferenceable: interned.of(v)}
	}
	if v, ok := m.Annotations[staxv1alpha1.GeneratedForAnnotation]; ok {
		out.Annotations = map[string]string{staxv1alpha1.GeneratedForAnnotation: v}
	}
	out.DeletionTimestamp = m.DeletionTimestamp
	return out, nil
}

// interned shares the strings many cached objects repeat (namespaces,
// kinds): there are as many as namespaces, not as objects.
var interned = &stringTable{strings: map[string]string{}}

type stringTable struct {
	mu      sync.Mutex
	strings map[string]string
}

func (t *stringTable) of(s string) string {
	t.mu.Lock()
	defer t.mu.Unlock()
	if v, ok := t.strings[s]; ok {
		return v
	}
	t.strings[s] = s
	return s
}

func (r *BlueprintReconciler) blueprintsByIndex(index string) handler.MapFunc {
	return func(ctx context.Context, obj client.Object) []reconcile.Request {
		var list staxv1alpha1.BlueprintList
		// Only the names are read: the cache's own objects, not a deep
		// copy of each Blueprint for every event of every object it renders
		// or reads (80,000 copies in a restart at 10,000 Blueprints).
		if err := r.List(ctx, &list, client.InNamespace(obj.GetNamespace()), client.MatchingFields{index: obj.GetName()}, client.UnsafeDisableDeepCopy); err != nil {
			ctrl.LoggerFrom(ctx).Error(err, "listing Blueprints by index", "index", index)
			return nil
		}
		requests := make([]reconcile.Request, 0, len(list.Items))
		for _, bp := range list.Items {
			requests = append(requests, reconcile.Request{NamespacedName: client.ObjectKeyFromObject(&bp)})
		}
		return requests
	}
}

// secretNames indexes a Blueprint by every Secret whose change concerns it
// (render.WatchedSecretNames: the plan's own reads, so no path is missed).
func secretNames(obj client.Object) []string {
	return render.WatchedSecretNames(obj.(*staxv1alpha1.Blueprint))
}

func serviceNames(obj client.Object) []string {
	bp := obj.(*staxv1alpha1.Blueprint)
	out := make([]string, 0, len(bp.Spec.Services))
	for _, svc := range bp.Spec.Services {
		out = append(out, svc.Name)
	}
	return out
}

// renderedFor is the index value of indexRenderedFor: the name of the
// Blueprint obj was rendered for, if any.
func renderedFor(obj client.Object) []string {
	if name := obj.GetLabels()[staxv1alpha1.LabelBlueprint]; name != "" {
		return []string{name}
	}
	return nil
}
