package main

import (
	"context"
	"fmt"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/selection"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	staxv1alpha1 "github.com/stax-dev/blueprint-operator/api/v1alpha1"
	"github.com/stax-dev/blueprint-operator/bench/internal/audit"
)

// cachedList is one list a starting manager's informers make: a kind, in
// full or as metadata only, with its cache's label selector (nil: all).
type cachedList struct {
	name     string
	gvk      schema.GroupVersionKind
	metadata bool
	selector client.ListOption
}

// cachedLists are what the manager caches, one list per informer. It
// mirrors internal/controller/setup.go: ManagerOptions (Blueprints; Jobs of
// rotation hooks; Deployments, Services, claims and Ingresses a Blueprint
// rendered), watchWorkloadMetadata (every Deployment and Service no
// Blueprint rendered, as metadata) and Setup's WatchesMetadata of Secrets; change both together.
// The selectors are spelled out (Exists on the label, as renderedSelector
// and HookJobSelector are) rather than imported: internal/controller's
// dependencies would all join the bench's go.mod. HTTPRoutes are left out:
// envtest serves no Gateway API, so the manager watches none.
func cachedLists() []cachedList {
	rendered := client.HasLabels{staxv1alpha1.LabelBlueprint}
	hooks := client.HasLabels{staxv1alpha1.LabelRotationHook}
	notRendered := client.MatchingLabelsSelector{Selector: labels.NewSelector().Add(mustRequirement(staxv1alpha1.LabelBlueprint, selection.DoesNotExist))}
	deployment, service := appsv1.SchemeGroupVersion.WithKind("Deployment"), corev1.SchemeGroupVersion.WithKind("Service")
	return []cachedList{
		{"Blueprints", staxv1alpha1.GroupVersion.WithKind("Blueprint"), false, nil},
		{"rendered Deployments", deployment, false, rendered},
		{"rendered Services", service, false, rendered},
		{"Deployments no Blueprint rendered (metadata)", deployment, true, notRendered},
		{"Services no Blueprint rendered (metadata)", service, true, notRendered},
		{"Secrets (metadata)", corev1.SchemeGroupVersion.WithKind("Secret"), true, nil},
		{"rendered PersistentVolumeClaims", corev1.SchemeGroupVersion.WithKind("PersistentVolumeClaim"), false, rendered},
		{"rendered Ingresses", networkingv1.SchemeGroupVersion.WithKind("Ingress"), false, rendered},
		{"rotation-hook Jobs", batchv1.SchemeGroupVersion.WithKind("Job"), false, hooks},
	}
}

func mustRequirement(key string, op selection.Operator) labels.Requirement {
	req, err := labels.NewRequirement(key, op, nil)
	if err != nil {
		panic(err) // a constant key: cannot fail
	}
	return *req
}

// newList is an empty list of l's kind: typed (controller-runtime's client
// asks for protobuf for built-in kinds, JSON for Blueprints), or metadata
// only.
func (l cachedList) newList() (client.ObjectList, error) {
	listGVK := l.gvk.GroupVersion().WithKind(l.gvk.Kind + "List")
	if l.metadata {
		m := &metav1.PartialObjectMetadataList{}
		m.SetGroupVersionKind(listGVK)
		return m, nil
	}
	obj, err := scheme.New(listGVK)
	if err != nil {
		return nil, err
	}
	list, ok := obj.(client.ObjectList)
	if !ok {
		return nil, fmt.Errorf("%s is not a list", listGVK)
	}
	return list, nil
}

// listPageSize is the page an informer's reflector asks for.
const listPageSize = 500

// listAll lists l page by page, as an informer's reflector does, and
// returns how many objects it read.
func listAll(ctx context.Context, c client.Client, l cachedList) (int, error) {
	list, err := l.newList()
	if err != nil {
		return 0, err
	}
	opts := []client.ListOption{client.Limit(listPageSize)}
	if l.selector != nil {
		opts = append(opts, l.selector)
	}
	n, cont := 0, ""
	for {
		if err := c.List(ctx, list, append(opts, client.Continue(cont))...); err != nil {
			return n, fmt.Errorf("listing %s: %w", l.name, err)
		}
		n += meta.LenList(list)
		if cont = list.GetContinue(); cont == "" {
			return n, nil
		}
	}
}

// listFloor is the floor of a restarted manager's resync: a plain client,
// at the manager's rate limits, listing every object the manager caches
// (cachedLists). The lists run at once, as the informers of a starting
// manager do (each starts its own reflector when the caches start), so the
// floor is what the manager could reach, not a sum it need not pay; on 2
// cores kube-apiserver bounds both alike. The REST mappings are looked up
// before the clock starts: the floor is the lists alone.
func listFloor(ctx context.Context, e *env) (time.Duration, map[string]int, error) {
	c, err := e.plainClient()
	if err != nil {
		return 0, nil, err
	}
	lists := cachedLists()
	for _, l := range lists {
		if _, err := c.RESTMapper().RESTMapping(l.gvk.GroupKind(), l.gvk.Version); err != nil {
			return 0, nil, err
		}
	}
	counts := make([]int, len(lists))
	t0 := time.Now()
	err = parallel(ctx, len(lists), len(lists), func(ctx context.Context, i int) error {
		n, err := listAll(ctx, c, lists[i])
		counts[i] = n
		return err
	})
	took := time.Since(t0)
	if err != nil {
		return 0, nil, err
	}
	read := map[string]int{}
	for i, l := range lists {
		read[l.name] = counts[i]
	}
	logf("list floor: %s to list what the manager caches %v", took.Round(time.Millisecond), read)
	return took, read, nil
}

// secretsRead are the Secrets events show read one by one (get secrets),
// each once, in the order first read.
func secretsRead(events []audit.Event) []types.NamespacedName {
	seen := map[types.NamespacedName]bool{}
	var keys []types.NamespacedName
	for _, ev := range events {
		if ev.Verb != "get" || ev.Resource != "secrets" || ev.Subresource != "" || ev.Name == "" {
			continue
		}
		k := types.NamespacedName{Namespace: ev.Namespace, Name: ev.Name}
		if !seen[k] {
			seen[k] = true
			keys = append(keys, k)
		}
	}
	return keys
}

// readFloor is what the reads of a restarted manager's reconciles cost at
// least: a plain client, at the manager's rate limits and as many at once
// as it reconciles Blueprints, reading each Secret in keys once, at least
// as new as a metadata list shows it, as the reconciles do
// (secretReadOptions: the API server answers from its watch cache). The
// manager caches no Secret body, so a restart reads each Secret a
// Blueprint consumes again; the reads follow the caches' sync, so this
// adds to the list floor rather than overlapping it. The resourceVersions
// are listed before the clock starts.
func readFloor(ctx context.Context, e *env, keys []types.NamespacedName, workers int) (time.Duration, error) {
	c, err := e.plainClient()
	if err != nil {
		return 0, err
	}
	versions := map[types.NamespacedName]string{}
	list := &metav1.PartialObjectMetadataList{}
	list.SetGroupVersionKind(corev1.SchemeGroupVersion.WithKind("SecretList"))
	for cont := ""; ; {
		if err := c.List(ctx, list, client.Limit(listPageSize), client.Continue(cont)); err != nil {
			return 0, fmt.Errorf("listing Secrets' metadata: %w", err)
		}
		for _, m := range list.Items {
			versions[types.NamespacedName{Namespace: m.Namespace, Name: m.Name}] = m.ResourceVersion
		}
		if cont = list.GetContinue(); cont == "" {
			break
		}
	}
	t0 := time.Now()
	err = parallel(ctx, len(keys), max(workers, 1), func(ctx context.Context, i int) error {
		s := &corev1.Secret{}
		opts := &client.GetOptions{Raw: &metav1.GetOptions{ResourceVersion: versions[keys[i]]}}
		if err := c.Get(ctx, keys[i], s, opts); err != nil {
			return fmt.Errorf("reading Secret %s: %w", keys[i], err)
		}
		return nil
	})
	took := time.Since(t0)
	if err != nil {
		return 0, err
	}
	logf("read floor: %s to read the %d Secrets the restarted manager read, %d at once", took.Round(time.Millisecond), len(keys), max(workers, 1))
	return took, nil
}

// resyncRow is a restarted manager's resync against its list floor, at
// the largest size measured: resync may cost the lists and as much again
// (the reconciles, each a no-op), no more. When it costs more and the read
// floor was measured, the row says what the lists and the Secret reads
// alone cost against that allowance.
func resyncRow(l curvePoint) row {
	x := row{
		Scenario: "restart-resync", Blueprints: l.Blueprints, Run: l.Run,
		Figure: fmt.Sprintf("manager restarted with %s in place: from process start until every Blueprint has been reconciled once, its workqueue empty and no reconcile running", at(l.Blueprints, 10000)),
		Value:  l.Restart.ResyncSeconds, Unit: "s", Baseline: l.Restart.ListFloorSeconds,
		BaselineOf: "plain client listing every object the manager caches, with its caches' selectors, 500 a page, every list at once as its informers start",
		Target:     "ratio ≤ 2",
	}
	if l.Restart.ListFloorSeconds <= 0 {
		x.BaselineText, x.Limit = "not measured", "no list floor measured at this size"
		return x
	}
	r := l.Restart.ResyncSeconds / l.Restart.ListFloorSeconds
	x.Ratio, x.Holds = &r, r <= 2
	if !x.Holds && l.Restart.ReadFloorSeconds > 0 {
		// What the resync must read with no Secret body cached, against
		// the target's allowance.
		least := l.Restart.ListFloorSeconds + l.Restart.ReadFloorSeconds
		x.Limit = fmt.Sprintf("reading the %d Secrets again: list floor + read floor = %.2f s, %.2f times the list floor, before any reconcile work",
			l.Restart.ReadFloorSecrets, least, least/l.Restart.ListFloorSeconds)
	}
	return x
}
