package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	utilruntime "k8s.io/apimachinery/pkg/util/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
	"sigs.k8s.io/yaml"

	staxv1alpha1 "github.com/stax-dev/blueprint-operator/api/v1alpha1"
)

// cluster is a kube-apiserver with the Blueprint CRD, shared by the tests
// that need one and started by the first of them, so that the offline tests
// run without one. There is no operator: the tests play its part where they
// need status.
var cluster struct {
	once       sync.Once
	env        *envtest.Environment
	dir        string
	kubeconfig string
	client     client.Client
	err        error
}

// startCluster returns the path of an admin kubeconfig for the shared API
// server, and a client for setting up what a test needs.
func startCluster(t *testing.T) (kubeconfig string, c client.Client) {
	t.Helper()
	cluster.once.Do(func() { cluster.err = bootCluster() })
	if cluster.err != nil {
		t.Fatalf("starting envtest (run through 'make test', which provides KUBEBUILDER_ASSETS): %v", cluster.err)
	}
	return cluster.kubeconfig, cluster.client
}

func bootCluster() error {
	cluster.env = &envtest.Environment{
		CRDDirectoryPaths:     []string{filepath.Join("..", "..", "config", "crd", "bases")},
		ErrorIfCRDPathMissing: true,
	}
	cfg, err := cluster.env.Start()
	if err != nil {
		return err
	}
	scheme := runtime.NewScheme()
	utilruntime.Must(clientgoscheme.AddToScheme(scheme))
	utilruntime.Must(staxv1alpha1.AddToScheme(scheme))
	if cluster.client, err = client.New(cfg, client.Options{Scheme: scheme}); err != nil {
		return err
	}
	// The plugin gets to the API server only the way a user's kubectl does:
	// through a kubeconfig given with --kubeconfig.
	user, err := cluster.env.AddUser(envtest.User{Name: "admin", Groups: []string{"system:masters"}}, nil)
	if err != nil {
		return err
	}
	kubeconfig, err := user.KubeConfig()
	if err != nil {
		return err
	}
	if cluster.dir, err = os.MkdirTemp("", "kubectl-blueprint-test-"); err != nil {
		return err
	}
	cluster.kubeconfig = filepath.Join(cluster.dir, "kubeconfig")
	return os.WriteFile(cluster.kubeconfig, kubeconfig, 0o600)
}

func stopCluster() {
	if cluster.env != nil {
		if err := cluster.env.Stop(); err != nil {
			// The exit code is the tests' already; a leaked control plane
			// must not pass unnoticed.
			fmt.Fprintln(os.Stderr, "stopping envtest:", err)
		}
	}
	if cluster.dir != "" {
		_ = os.RemoveAll(cluster.dir)
	}
}

// newNamespace gives each test its own namespace.
func newNamespace(t *testing.T, c client.Client) string {
	t.Helper()
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{GenerateName: "bp-plugin-"}}
	if err := c.Create(context.Background(), ns); err != nil {
		t.Fatal(err)
	}
	return ns.Name
}

// createReadmeBlueprint creates the README's Blueprint, with one more secret
// that refers to an existing Secret, in namespace ns.
func createReadmeBlueprint(t *testing.T, c client.Client, ns string) *staxv1alpha1.Blueprint {
	t.Helper()
	bp := &staxv1alpha1.Blueprint{}
	if err := yaml.UnmarshalStrict([]byte(readme), bp); err != nil {
		t.Fatal(err)
	}
	bp.Namespace = ns
	bp.Spec.Services[1].Secrets = []staxv1alpha1.ServiceSecret{{Name: "webhook-secret", EnvKey: "WEBHOOK_SECRET", Value: "${secret:stripe/webhook}"}}
	if err := c.Create(context.Background(), bp); err != nil {
		t.Fatal(err)
	}
	return bp
}

func TestRotate(t *testing.T) {
	kubeconfig, c := startCluster(t)
	ns := newNamespace(t, c)
	bp := createReadmeBlueprint(t, c, ns)

	before := time.Now().UTC().Truncate(time.Second)
	code, stdout, stderr := plugin(t, "", "rotate", "payments-dev", "db-password", "db-password", "--kubeconfig", kubeconfig, "-n", ns)
	after := time.Now().UTC()
	if code != 0 {
		t.Fatalf("exit code %d, stderr: %s", code, stderr)
	}
	if err := c.Get(context.Background(), client.ObjectKeyFromObject(bp), bp); err != nil {
		t.Fatal(err)
	}
	if got := bp.Annotations[staxv1alpha1.RotateAnnotation]; got != "db-password" {
		t.Errorf("%s = %q, want db-password", staxv1alpha1.RotateAnnotation, got)
	}
	stamp := bp.Annotations[staxv1alpha1.RotateRequestedAtAnnotation]
	requestedAt, err := time.Parse(time.RFC3339, stamp)
	if err != nil || requestedAt.Before(before) || requestedAt.After(after) || !strings.HasSuffix(stamp, "Z") {
		t.Errorf("%s = %q, want a UTC RFC 3339 time between %s and %s", staxv1alpha1.RotateRequestedAtAnnotation, stamp, before, after)
	}
	if want := "blueprint.stax.dev/payments-dev: rotation of db-password requested at " + stamp + "\n"; stdout != want {
		t.Errorf("stdout %q, want %q", stdout, want)
	}
}

func TestRotateRefusals(t *testing.T) {
	kubeconfig, c := startCluster(t)
	ns := newNamespace(t, c)
	bp := createReadmeBlueprint(t, c, ns)

	tests := map[string]struct {
		args       []string
		wantStderr string
	}{
		"a referenced secret": {
			args: []string{"payments-dev", "webhook-secret"},
			wantStderr: `error: secret "webhook-secret" of blueprint payments-dev is not auto-generated: it refers to ${secret:stripe/webhook}, which changes when that Secret does
the auto-generated secrets of blueprint payments-dev are: db-password
`,
		},
		"an unknown secret, next to a good one": {
			args: []string{"payments-dev", "db-password", "api-key"},
			wantStderr: `error: blueprint payments-dev has no secret "api-key"
the auto-generated secrets of blueprint payments-dev are: db-password
`,
		},
		"an unknown Blueprint": {
			args:       []string{"payments-prod", "db-password"},
			wantStderr: `error: blueprint "payments-prod" not found in namespace "` + ns + `"` + "\n",
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			code, stdout, stderr := plugin(t, "", append([]string{"rotate", "--kubeconfig", kubeconfig, "-n", ns}, tc.args...)...)
			if code != 1 || stdout != "" || stderr != tc.wantStderr {
				t.Errorf("exit code %d, stdout %q, stderr:\n%s\nwant 1, nothing, and:\n%s", code, stdout, stderr, tc.wantStderr)
			}
			if err := c.Get(context.Background(), client.ObjectKeyFromObject(bp), bp); err != nil {
				t.Fatal(err)
			}
			if _, ok := bp.Annotations[staxv1alpha1.RotateAnnotation]; ok {
				t.Errorf("a refused rotation was requested: %v", bp.Annotations)
			}
		})
	}
}

func TestStatus(t *testing.T) {
	kubeconfig, c := startCluster(t)
	ns := newNamespace(t, c)
	bp := createReadmeBlueprint(t, c, ns)
	bp.Spec.Services = append(bp.Spec.Services, staxv1alpha1.BlueprintService{Name: "cache", Image: "redis:7"})
	if err := c.Update(context.Background(), bp); err != nil {
		t.Fatal(err)
	}

	// Before the operator's first status (none runs here): the CRD's
	// default, observedGeneration -1 and no condition (docs/troubleshooting.md,
	// No status at all).
	code, stdout, stderr := plugin(t, "", "status", "payments-dev", "--kubeconfig", kubeconfig, "-n", ns)
	if code != 0 {
		t.Fatalf("before the first status: exit code %d, stderr: %s", code, stderr)
	}
	if want := "Blueprint: " + ns + "/payments-dev\nReady:     Unknown: the operator has not reported on this Blueprint yet\n\n"; !strings.HasPrefix(stdout, want) {
		t.Errorf("before the first status, stdout:\n%s\nwant it to start with:\n%s", stdout, want)
	}

	generated := metav1.NewTime(time.Date(2026, 3, 1, 9, 30, 0, 0, time.UTC))
	bp.Status = staxv1alpha1.BlueprintStatus{
		ObservedGeneration: ptr.To(bp.Generation),
		Conditions: []metav1.Condition{{
			Type: staxv1alpha1.ConditionReady, Status: metav1.ConditionFalse, Reason: "Progressing",
			Message: "1 of 3 services available", LastTransitionTime: metav1.Now(),
		}},
		Services: []staxv1alpha1.ServiceStatus{
			{Name: "db", State: staxv1alpha1.ServiceStateAvailable, DesiredReplicas: ptr.To[int32](1), ReadyReplicas: ptr.To[int32](1)},
			{Name: "api", State: staxv1alpha1.ServiceStateWaitingForDependencies, DesiredReplicas: ptr.To[int32](2), ReadyReplicas: ptr.To[int32](0), WaitingFor: []string{"db"}, URL: "http://api.payments.example.com/"},
			{Name: "cache", State: staxv1alpha1.ServiceStateProgressing, DesiredReplicas: ptr.To[int32](1), ReadyReplicas: ptr.To[int32](0)},
		},
		Secrets: []staxv1alpha1.ManagedSecretStatus{{Name: "db-password", LastRotated: &generated,
			Hook: &staxv1alpha1.RotationHookStatus{State: staxv1alpha1.RotationStateHookRunning, JobName: "payments-dev-db-password-9dbcb143-2"}}},
		PendingRemovals: []staxv1alpha1.PendingRemoval{
			{Name: "old-token", RemovedAt: &generated, PruneAfter: &metav1.Time{Time: generated.Add(168 * time.Hour)}},
		},
		UndeclaredClaims: []string{"payments-dev-cache-data"},
	}
	if err := c.Status().Update(context.Background(), bp); err != nil {
		t.Fatal(err)
	}

	code, stdout, stderr = plugin(t, "", "status", "payments-dev", "--kubeconfig", kubeconfig, "-n", ns)
	if code != 0 {
		t.Fatalf("exit code %d, stderr: %s", code, stderr)
	}
	want := "Blueprint: " + ns + `/payments-dev
Ready:     False (Progressing): 1 of 3 services available

SERVICE   READY   VALUES                                      LAST ROTATION          REASON
db        1/1     db-password                                 2026-03-01T09:30:00Z
api       0/2     db-password,stripe/api-key,stripe/webhook   2026-03-01T09:30:00Z   waiting for: db
cache     0/1     -                                           -                      Progressing

Rotation hooks (latest rotation):
  db-password: HookRunning, Job payments-dev-db-password-9dbcb143-2

Removed from the spec, kept until pruned (kubectl blueprint prune deletes them now):
  old-token: removed 2026-03-01T09:30:00Z, pruned after 2026-03-08T09:30:00Z

Exposed:
  api: http://api.payments.example.com/

Claims no longer declared, kept with their data (kubectl blueprint prune --claims deletes them):
  payments-dev-cache-data
`
	if stdout != want {
		t.Errorf("stdout:\n%s\nwant:\n%s", stdout, want)
	}
}

func TestPrune(t *testing.T) {
	kubeconfig, c := startCluster(t)
	ns := newNamespace(t, c)
	bp := createReadmeBlueprint(t, c, ns)
	// The status the operator would write after db-password was removed
	// from the spec (no operator runs here).
	now := metav1.NewTime(time.Now().UTC().Truncate(time.Second))
	bp.Status = staxv1alpha1.BlueprintStatus{
		ObservedGeneration: ptr.To(bp.Generation),
		PendingRemovals:    []staxv1alpha1.PendingRemoval{{Name: "old-token", RemovedAt: &now, PruneAfter: &metav1.Time{Time: now.Add(time.Hour)}}},
	}
	if err := c.Status().Update(context.Background(), bp); err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name       string
		args       []string
		wantCode   int
		wantValue  string
		wantStdout string
		wantStderr string
	}{
		{
			name: "a declared secret is refused", args: []string{"payments-dev", "db-password"}, wantCode: 1,
			wantStderr: `error: secret "db-password" is still declared by service db of blueprint payments-dev: remove it from the spec first; only values no longer declared can be pruned` + "\n",
		},
		{
			name: "a pending value", args: []string{"payments-dev", "old-token", "old-token"}, wantValue: "old-token",
			wantStdout: "blueprint.stax.dev/payments-dev: prune of old-token requested at ",
		},
		{
			name: "a name not (yet) pending: requested, with a warning", args: []string{"payments-dev", "other"}, wantValue: "other",
			wantStdout: "blueprint.stax.dev/payments-dev: prune of other requested at ",
			wantStderr: "warning: status.pendingRemovals of blueprint payments-dev does not list other (yet); the operator ignores names with no value pending removal\n",
		},
		{
			name: "no names: everything pending", args: []string{"payments-dev"}, wantValue: staxv1alpha1.PruneAllValue,
			wantStdout: "blueprint.stax.dev/payments-dev: prune of every value pending removal requested at ",
		},
		{
			name: "an unknown Blueprint", args: []string{"payments-prod"}, wantCode: 1,
			wantStderr: `error: blueprint "payments-prod" not found in namespace "` + ns + `"` + "\n",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			before := time.Now().UTC().Truncate(time.Second)
			code, stdout, stderr := plugin(t, "", append([]string{"prune", "--kubeconfig", kubeconfig, "-n", ns}, tc.args...)...)
			after := time.Now().UTC()
			if code != tc.wantCode || stderr != tc.wantStderr || !strings.HasPrefix(stdout, tc.wantStdout) || (tc.wantStdout == "") != (stdout == "") {
				t.Fatalf("exit code %d, stdout %q, stderr %q; want %d, %q..., %q", code, stdout, stderr, tc.wantCode, tc.wantStdout, tc.wantStderr)
			}
			got := &staxv1alpha1.Blueprint{}
			if err := c.Get(context.Background(), client.ObjectKeyFromObject(bp), got); err != nil {
				t.Fatal(err)
			}
			if tc.wantCode != 0 {
				return
			}
			if v := got.Annotations[staxv1alpha1.PruneAnnotation]; v != tc.wantValue {
				t.Errorf("%s = %q, want %q", staxv1alpha1.PruneAnnotation, v, tc.wantValue)
			}
			stamp := got.Annotations[staxv1alpha1.PruneRequestedAtAnnotation]
			at, err := time.Parse(time.RFC3339, stamp)
			if err != nil || at.Before(before) || at.After(after) || stdout != tc.wantStdout+stamp+"\n" {
				t.Errorf("%s = %q (stdout %q), want the request time between %s and %s", staxv1alpha1.PruneRequestedAtAnnotation, stamp, stdout, before, after)
			}
		})
	}
	// A refused request sets nothing.
	fresh := createReadmeBlueprintNamed(t, c, ns, "payments-qa")
	if code, _, _ := plugin(t, "", "prune", "--kubeconfig", kubeconfig, "-n", ns, "payments-qa", "db-password"); code != 1 {
		t.Fatalf("exit code %d, want 1", code)
	}
	if err := c.Get(context.Background(), client.ObjectKeyFromObject(fresh), fresh); err != nil {
		t.Fatal(err)
	}
	if _, ok := fresh.Annotations[staxv1alpha1.PruneAnnotation]; ok {
		t.Errorf("a refused prune was requested: %v", fresh.Annotations)
	}
}

func createReadmeBlueprintNamed(t *testing.T, c client.Client, ns, name string) *staxv1alpha1.Blueprint {
	t.Helper()
	bp := &staxv1alpha1.Blueprint{}
	if err := yaml.UnmarshalStrict([]byte(readme), bp); err != nil {
		t.Fatal(err)
	}
	bp.Namespace, bp.Name = ns, name
	if err := c.Create(context.Background(), bp); err != nil {
		t.Fatal(err)
	}
	return bp
}

// TestRotateWait plays the operator: once the plugin's request is on the
// Blueprint, it reports the hooked rotation as the operator would, first a
// queued one's older Job, then the new one, committed or failed.
func TestRotateWait(t *testing.T) {
	kubeconfig, c := startCluster(t)
	for name, tc := range map[string]struct {
		final      staxv1alpha1.RotationState
		wantCode   int
		wantStdout string
		wantStderr string
	}{
		"committed": {final: staxv1alpha1.RotationStateCommitted, wantCode: 0, wantStdout: "blueprint.stax.dev/payments-dev: db-password rotated\n"},
		"failed": {final: staxv1alpha1.RotationStateFailed, wantCode: 1,
			wantStderr: "error: rotation of db-password failed: Job payments-dev-db-password-9dbcb143-2\nrotation of secret db-password failed: the Job failed (Job payments-dev-db-password-9dbcb143-2); consumers keep the value in use\n"},
	} {
		t.Run(name, func(t *testing.T) {
			ns := newNamespace(t, c)
			bp := createReadmeBlueprint(t, c, ns)
			bp.Spec.Services[0].Secrets[0].OnRotate = staxv1alpha1.RotationHook{Image: "postgres:16-alpine", Command: []string{"true"}}
			if err := c.Update(context.Background(), bp); err != nil {
				t.Fatal(err)
			}
			running := &staxv1alpha1.RotationHookStatus{State: staxv1alpha1.RotationStateHookRunning, JobName: "payments-dev-db-password-9dbcb143-1"}
			setHook := func(h *staxv1alpha1.RotationHookStatus, ready metav1.Condition) {
				t.Helper()
				if err := c.Get(context.Background(), client.ObjectKeyFromObject(bp), bp); err != nil {
					t.Error(err)
					return
				}
				bp.Status.Secrets = []staxv1alpha1.ManagedSecretStatus{{Name: "db-password", Hook: h}}
				ready.Type, ready.LastTransitionTime = staxv1alpha1.ConditionReady, metav1.Now()
				bp.Status.Conditions = []metav1.Condition{ready}
				if err := c.Status().Update(context.Background(), bp); err != nil {
					t.Error(err)
				}
			}
			// A hook already runs when the request is made: it is queued.
			setHook(running, metav1.Condition{Status: metav1.ConditionFalse, Reason: "Progressing", Message: "rolling out"})

			done := make(chan struct{})
			go func() {
				defer close(done)
				for {
					current := &staxv1alpha1.Blueprint{}
					if err := c.Get(context.Background(), client.ObjectKeyFromObject(bp), current); err == nil &&
						current.Annotations[staxv1alpha1.RotateAnnotation] == "db-password" {
						break
					}
					time.Sleep(50 * time.Millisecond)
				}
				// The running Job ends: not the requested rotation.
				setHook(&staxv1alpha1.RotationHookStatus{State: staxv1alpha1.RotationStateCommitted, JobName: running.JobName},
					metav1.Condition{Status: metav1.ConditionFalse, Reason: "Progressing", Message: "rolling out"})
				time.Sleep(2 * waitInterval)
				// The queued one runs, then ends.
				next := "payments-dev-db-password-9dbcb143-2"
				setHook(&staxv1alpha1.RotationHookStatus{State: staxv1alpha1.RotationStateHookRunning, JobName: next},
					metav1.Condition{Status: metav1.ConditionFalse, Reason: "Progressing", Message: "rolling out"})
				time.Sleep(2 * waitInterval)
				ready := metav1.Condition{Status: metav1.ConditionTrue, Reason: "Available", Message: "all 2 services are available"}
				if tc.final == staxv1alpha1.RotationStateFailed {
					ready = metav1.Condition{Status: metav1.ConditionFalse, Reason: staxv1alpha1.ReasonRotationFailed,
						Message: "rotation of secret db-password failed: the Job failed (Job " + next + "); consumers keep the value in use"}
				}
				setHook(&staxv1alpha1.RotationHookStatus{State: tc.final, JobName: next}, ready)
			}()
			code, stdout, stderr := plugin(t, "", "rotate", "payments-dev", "db-password", "--wait", "--timeout", "30s", "--kubeconfig", kubeconfig, "-n", ns)
			<-done
			lines := strings.SplitN(stdout, "\n", 2)
			if code != tc.wantCode || len(lines) != 2 || lines[1] != tc.wantStdout || stderr != tc.wantStderr {
				t.Errorf("exit code %d, stdout %q, stderr %q; want %d, the request then %q, and %q", code, stdout, stderr, tc.wantCode, tc.wantStdout, tc.wantStderr)
			}
		})
	}
}

func TestRotateWaitTimeout(t *testing.T) {
	kubeconfig, c := startCluster(t)
	ns := newNamespace(t, c)
	createReadmeBlueprint(t, c, ns)
	code, _, stderr := plugin(t, "", "rotate", "payments-dev", "db-password", "--wait", "--timeout", "2s", "--kubeconfig", kubeconfig, "-n", ns)
	if code != 1 || stderr != "error: timed out after 2s waiting for the rotation of db-password\n" {
		t.Errorf("exit code %d, stderr %q", code, stderr)
	}
}

func TestPruneClaims(t *testing.T) {
	kubeconfig, c := startCluster(t)
	ns := newNamespace(t, c)
	bp := createReadmeBlueprint(t, c, ns)
	bp.Status = staxv1alpha1.BlueprintStatus{ObservedGeneration: ptr.To(bp.Generation), UndeclaredClaims: []string{"payments-dev-db-old"}}
	if err := c.Status().Update(context.Background(), bp); err != nil {
		t.Fatal(err)
	}
	run := func(args ...string) (int, string, string) {
		return plugin(t, "", append([]string{"prune", "--kubeconfig", kubeconfig, "-n", ns, "--claims"}, args...)...)
	}
	code, stdout, stderr := run("payments-dev", "payments-dev-db-data")
	if code != 1 || !strings.Contains(stderr, `claim "payments-dev-db-data" is still declared by volume data of service db`) || stdout != "" {
		t.Fatalf("a declared claim: exit %d, stdout %q, stderr %q", code, stdout, stderr)
	}
	got := &staxv1alpha1.Blueprint{}
	if err := c.Get(context.Background(), client.ObjectKeyFromObject(bp), got); err != nil {
		t.Fatal(err)
	}
	if _, ok := got.Annotations[staxv1alpha1.PruneClaimsAnnotation]; ok {
		t.Fatalf("a refused claim prune was requested: %v", got.Annotations)
	}

	before := time.Now().UTC().Truncate(time.Second)
	code, stdout, stderr = run("payments-dev", "payments-dev-db-old")
	if code != 0 || stderr != "" || !strings.HasPrefix(stdout, "blueprint.stax.dev/payments-dev: deletion of payments-dev-db-old requested at ") {
		t.Fatalf("an undeclared claim: exit %d, stdout %q, stderr %q", code, stdout, stderr)
	}
	if err := c.Get(context.Background(), client.ObjectKeyFromObject(bp), got); err != nil {
		t.Fatal(err)
	}
	if v := got.Annotations[staxv1alpha1.PruneClaimsAnnotation]; v != "payments-dev-db-old" {
		t.Errorf("%s = %q", staxv1alpha1.PruneClaimsAnnotation, v)
	}
	at, err := time.Parse(time.RFC3339, got.Annotations[staxv1alpha1.PruneClaimsRequestedAtAnnotation])
	if err != nil || at.Before(before) {
		t.Errorf("%s = %q, want a time after %s", staxv1alpha1.PruneClaimsRequestedAtAnnotation, got.Annotations[staxv1alpha1.PruneClaimsRequestedAtAnnotation], before)
	}

	code, stdout, stderr = run("payments-dev")
	if code != 0 || stderr != "" || !strings.HasPrefix(stdout, "blueprint.stax.dev/payments-dev: deletion of every claim no longer declared requested at ") {
		t.Fatalf("every claim: exit %d, stdout %q, stderr %q", code, stdout, stderr)
	}
	code, _, stderr = run("payments-dev", "payments-dev-other")
	if code != 0 || !strings.Contains(stderr, "warning: status.undeclaredClaims of blueprint payments-dev does not list payments-dev-other (yet)") {
		t.Errorf("a claim not listed: exit %d, stderr %q", code, stderr)
	}
}
