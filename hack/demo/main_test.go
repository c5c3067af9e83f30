package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"

	staxv1alpha1 "github.com/stax-dev/blueprint-operator/api/v1alpha1"
	"github.com/stax-dev/blueprint-operator/internal/render"
)

// The README: `make demo` prints the generated Secret's key names, never
// values. The demo runs whole, on its own control plane; before it stops,
// the test reads every value of the generated Secret and of the referenced
// Secret stripe from the API server, then searches what the demo printed for
// each, raw, base64 and hex.
func TestDemoPrintsKeyNamesNeverValues(t *testing.T) {
	if os.Getenv("KUBEBUILDER_ASSETS") == "" {
		t.Skip("needs the envtest binaries: KUBEBUILDER_ASSETS=$(hack/envtest-binaries.sh) go test ./hack/demo/")
	}
	t.Setenv("DEMO_KEEP", "")
	// The demo reads config/ relative to the repository root, as make runs it.
	t.Chdir("../..")
	var printed bytes.Buffer
	out = &printed
	values := map[string][]byte{}
	var jobMessage string
	beforeStop = func(ctx context.Context, c client.Client, cfg *rest.Config) error {
		msg, err := keptDemoCompletesJobs(ctx, c, cfg)
		if err != nil {
			return err
		}
		jobMessage = msg
		for _, name := range []string{render.GeneratedSecretName("payments-dev"), "stripe"} {
			s := &corev1.Secret{}
			if err := c.Get(ctx, types.NamespacedName{Namespace: namespace, Name: name}, s); err != nil {
				return err
			}
			for k, v := range s.Data {
				values[name+"/"+k] = v
			}
		}
		return nil
	}
	t.Cleanup(func() { out, beforeStop = os.Stdout, nil })

	if err := run(); err != nil {
		t.Fatalf("the demo failed: %v\n%s", err, printed.String())
	}
	text := printed.String()
	t.Log(text)

	// What it must print: every key of the generated Secret, by name and
	// size; and the secretKeyRefs of the Deployments.
	generated := render.GeneratedSecretName("payments-dev")
	keys := 0
	for name, v := range values {
		secret, key, _ := strings.Cut(name, "/")
		if secret != generated {
			continue
		}
		keys++
		if !strings.Contains(text, "key "+key) {
			t.Errorf("the demo does not print key %s of %s", key, generated)
		}
		if len(v) < 16 {
			t.Errorf("value %s has %d bytes: too short to search for", name, len(v))
		}
	}
	if keys < 2 || len(values) <= keys {
		t.Fatalf("read %d values (%d generated): the demo's Secrets were not seen", len(values), keys)
	}
	if !strings.Contains(text, jobMessage) {
		t.Errorf("the demo does not say %q", jobMessage)
	}
	if !strings.Contains(text, "<- secretKeyRef stripe/api-key") {
		t.Error("the demo does not print the secretKeyRef of STRIPE_KEY")
	}

	// What it must never print: any value.
	for name, v := range values {
		for form, s := range map[string]string{
			"raw":    string(v),
			"base64": base64.StdEncoding.EncodeToString(v),
			"hex":    hex.EncodeToString(v),
		} {
			if strings.Contains(text, s) {
				t.Errorf("the demo printed the value of %s (%s)", name, form)
			}
		}
	}
}

// keptDemoCompletesJobs starts the controllers the kept demo plays, creates a
// Job labelled as a Blueprint's hook Job is, and waits until the player has
// reported it Complete. It returns what the demo says of the Job.
func keptDemoCompletesJobs(ctx context.Context, c client.Client, cfg *rest.Config) (string, error) {
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return "", err
	}
	playCtx, stop := context.WithCancel(ctx)
	defer stop()
	_, jobs, err := playControllers(playCtx, cs)
	if err != nil {
		return "", err
	}
	job := &batchv1.Job{
		ObjectMeta: metav1.ObjectMeta{Name: "demo-hook-1", Namespace: namespace, Labels: map[string]string{staxv1alpha1.LabelBlueprint: "payments-dev"}},
		Spec: batchv1.JobSpec{Template: corev1.PodTemplateSpec{Spec: corev1.PodSpec{
			RestartPolicy: corev1.RestartPolicyNever,
			Containers:    []corev1.Container{{Name: "hook", Image: "postgres:16", Command: []string{"true"}}},
		}}},
	}
	if err := c.Create(ctx, job); err != nil {
		return "", err
	}
	// Complete on the API server, and counted by the player: it counts a
	// Job once the demo has printed its line, which the condition alone does
	// not promise.
	err = wait.PollUntilContextTimeout(ctx, 100*time.Millisecond, 30*time.Second, true, func(ctx context.Context) (bool, error) {
		if err := c.Get(ctx, client.ObjectKeyFromObject(job), job); err != nil {
			return false, err
		}
		for _, cond := range job.Status.Conditions {
			if cond.Type == batchv1.JobComplete && cond.Status == corev1.ConditionTrue {
				return jobs.Completed() >= 1, nil
			}
		}
		return false, nil
	})
	if err != nil {
		return "", fmt.Errorf("the kept demo's Job controller did not complete Job %s: %w", job.Name, err)
	}
	return "Job demo-hook-1 would run the hook; the demo reports it Complete", nil
}
