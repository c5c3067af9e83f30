// Package testutil holds helpers that envtest suites share: playing the
// Deployment controller, running kube-controller-manager's garbage
// collector, and recording every value of generated Secrets straight from
// the API server. It is imported by tests only.
//
// Nothing here ever prints a Secret value: values are kept in memory and
// compared there; failures name Secrets and keys, never contents.
package testutil

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sync/atomic"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/util/retry"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"

	staxv1alpha1 "github.com/stax-dev/blueprint-operator/api/v1alpha1"
)

// AvailableStatus is the status the Deployment controller reports once every
// replica of d's current template is updated and available.
func AvailableStatus(d *appsv1.Deployment) appsv1.DeploymentStatus {
	replicas := ptr.Deref(d.Spec.Replicas, 1)
	now := metav1.Now()
	return appsv1.DeploymentStatus{
		ObservedGeneration: d.Generation,
		Replicas:           replicas, UpdatedReplicas: replicas, ReadyReplicas: replicas, AvailableReplicas: replicas,
		Conditions: []appsv1.DeploymentCondition{{
			Type: appsv1.DeploymentAvailable, Status: corev1.ConditionTrue, Reason: "MinimumReplicasAvailable",
			LastUpdateTime: now, LastTransitionTime: now,
		}, {
			Type: appsv1.DeploymentProgressing, Status: corev1.ConditionTrue, Reason: "NewReplicaSetAvailable",
			LastUpdateTime: now, LastTransitionTime: now,
		}},
	}
}

// NeedsRollout reports whether d's current generation is not yet reported
// available, by comparing d's status with what AvailableStatus would write.
// It deliberately does not ask the operator's own availability rule
// (internal/observe): the stand-in must not decide "rolled out" with the
// predicate under test.
func NeedsRollout(d *appsv1.Deployment) bool {
	want := AvailableStatus(d)
	st := d.Status
	if st.ObservedGeneration != want.ObservedGeneration || st.Replicas != want.Replicas || st.UpdatedReplicas != want.UpdatedReplicas ||
		st.ReadyReplicas != want.ReadyReplicas || st.AvailableReplicas != want.AvailableReplicas {
		return true
	}
	for _, wc := range want.Conditions {
		found := false
		for _, c := range st.Conditions {
			if c.Type == wc.Type && c.Status == wc.Status && c.Reason == wc.Reason {
				found = true
			}
		}
		if !found {
			return true
		}
	}
	return false
}

// MarkAvailable plays the Deployment controller, which envtest does not run,
// for one Deployment: every replica of its current template is reported
// updated and available. It retries conflicts.
func MarkAvailable(ctx context.Context, c client.Client, ns, name string) error {
	return retry.RetryOnConflict(retry.DefaultRetry, func() error {
		d := &appsv1.Deployment{}
		if err := c.Get(ctx, types.NamespacedName{Namespace: ns, Name: name}, d); err != nil {
			return err
		}
		d.Status = AvailableStatus(d)
		return c.Status().Update(ctx, d)
	})
}

// RollOut marks every Deployment of a Blueprint whose current generation is
// not yet available. Call it until the Blueprint is Ready: services held
// back by dependsOn get replicas only after their dependencies are reported
// available.
func RollOut(ctx context.Context, c client.Client, ns, blueprint string) error {
	deps := &appsv1.DeploymentList{}
	if err := c.List(ctx, deps, client.InNamespace(ns), client.MatchingLabels{staxv1alpha1.LabelBlueprint: blueprint}); err != nil {
		return err
	}
	for i := range deps.Items {
		if d := &deps.Items[i]; NeedsRollout(d) {
			if err := MarkAvailable(ctx, c, ns, d.Name); client.IgnoreNotFound(err) != nil {
				return err
			}
		}
	}
	return nil
}

// IsReady reports whether bp is Ready for its current spec: Ready=True with
// reason Available, observed at the current generation.
func IsReady(bp *staxv1alpha1.Blueprint) bool {
	c := meta.FindStatusCondition(bp.Status.Conditions, staxv1alpha1.ConditionReady)
	return c != nil && c.Status == metav1.ConditionTrue && c.Reason == "Available" &&
		c.ObservedGeneration == bp.Generation && ptr.Deref(bp.Status.ObservedGeneration, -1) == bp.Generation
}

// DeploymentPlayer plays the Deployment controller for every Deployment
// matching a label selector, for as long as its context lives: whenever one
// shows a generation not yet reported available, it reports it available.
type DeploymentPlayer struct {
	marks atomic.Int64
}

// PlayDeployments starts a DeploymentPlayer on cs (a client straight to the
// API server). It returns once its informer has synced.
func PlayDeployments(ctx context.Context, cs kubernetes.Interface, labelSelector string) (*DeploymentPlayer, error) {
	p := &DeploymentPlayer{}
	factory := playerFactory(cs, labelSelector)
	inf := factory.Apps().V1().Deployments().Informer()
	mark := func(obj any) {
		d, ok := obj.(*appsv1.Deployment)
		if !ok || !NeedsRollout(d) || !d.DeletionTimestamp.IsZero() {
			return
		}
		d = d.DeepCopy()
		d.Status = AvailableStatus(d)
		// A conflict means a newer version exists; its own event follows.
		if _, err := cs.AppsV1().Deployments(d.Namespace).UpdateStatus(ctx, d, metav1.UpdateOptions{}); err == nil {
			p.marks.Add(1)
		}
	}
	if err := play(ctx, factory, inf, mark); err != nil {
		return nil, err
	}
	return p, nil
}

// playerFactory is the informer factory of a player: objects matching
// labelSelector, resynced every 3 s so that a missed update is played again.
func playerFactory(cs kubernetes.Interface, labelSelector string) informers.SharedInformerFactory {
	return informers.NewSharedInformerFactoryWithOptions(cs, 3*time.Second,
		informers.WithTweakListOptions(func(o *metav1.ListOptions) { o.LabelSelector = labelSelector }))
}

// play calls act on every object inf sees added or updated, starts factory
// and returns once it has synced.
func play(ctx context.Context, factory informers.SharedInformerFactory, inf cache.SharedIndexInformer, act func(any)) error {
	if _, err := inf.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    act,
		UpdateFunc: func(_, obj any) { act(obj) },
	}); err != nil {
		return err
	}
	factory.Start(ctx.Done())
	for typ, ok := range factory.WaitForCacheSync(ctx.Done()) {
		if !ok {
			return fmt.Errorf("informer for %v did not sync", typ)
		}
	}
	return nil
}

// Marks is how many rollouts the player reported.
func (p *DeploymentPlayer) Marks() int64 { return p.marks.Load() }

// StartGarbageCollector runs kube-controller-manager's garbage collector
// against env (envtest runs no controllers), as a system:masters user. The
// binary lives next to kube-apiserver in assetsDir; its kubeconfig is
// written into dir. out receives its logs (nil discards them).
func StartGarbageCollector(env *envtest.Environment, assetsDir, dir string, out io.Writer) (*exec.Cmd, error) {
	binary := filepath.Join(assetsDir, "kube-controller-manager")
	if _, err := os.Stat(binary); err != nil {
		return nil, fmt.Errorf("kube-controller-manager is needed for garbage collection (make envtest builds it): %w", err)
	}
	user, err := env.AddUser(envtest.User{Name: "kube-controller-manager", Groups: []string{"system:masters"}}, nil)
	if err != nil {
		return nil, err
	}
	kubeconfig, err := user.KubeConfig()
	if err != nil {
		return nil, err
	}
	path := filepath.Join(dir, "kube-controller-manager.kubeconfig")
	if err := os.WriteFile(path, kubeconfig, 0o600); err != nil {
		return nil, err
	}
	cmd := exec.Command(binary,
		"--kubeconfig="+path,
		"--controllers=garbage-collector-controller",
		"--leader-elect=false",
		"--secure-port=0",
		"--use-service-account-credentials=false",
	)
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	return cmd, nil
}

// IgnoreConflictOrNotFound is for best-effort writes racing the operator.
func IgnoreConflictOrNotFound(err error) error {
	if apierrors.IsConflict(err) || apierrors.IsNotFound(err) {
		return nil
	}
	return err
}

// ControllerUID is the UID of obj's controller, empty when it has none. Tests
// compare it with a Blueprint's UID themselves rather than asking the
// operator's own ownership rules.
func ControllerUID(obj metav1.Object) types.UID {
	if ref := metav1.GetControllerOf(obj); ref != nil && ref.Kind == "Blueprint" {
		return ref.UID
	}
	return ""
}
