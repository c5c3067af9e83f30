package testutil

import (
	"context"
	"sync"
	"testing"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"
)

// TestJobPlayerCountsAfterTheCallback: a Job is counted only once the
// completed callback has returned, so a caller waiting for the count sees
// what the callback did. The demo's test waits so for the line the demo
// prints of a hook Job; counting first let it read the output before the
// line was there.
func TestJobPlayerCountsAfterTheCallback(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	const label = "stax.dev/blueprint"
	cs := fake.NewClientset(&batchv1.Job{ObjectMeta: metav1.ObjectMeta{
		Name: "hook-1", Namespace: "demo", Labels: map[string]string{label: "payments-dev"},
	}})
	called, release := make(chan struct{}), make(chan struct{})
	var releaseOnce sync.Once
	// A failed check must not leave the informer's goroutine blocked.
	defer releaseOnce.Do(func() { close(release) })
	p, err := PlayJobs(ctx, cs, label, func(job *batchv1.Job) {
		close(called)
		<-release
	})
	if err != nil {
		t.Fatal(err)
	}
	select {
	case <-called:
	case <-time.After(30 * time.Second):
		t.Fatal("the player never reported the Job Complete")
	}
	job, err := cs.BatchV1().Jobs("demo").Get(ctx, "hook-1", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	complete := false
	for _, c := range job.Status.Conditions {
		complete = complete || (c.Type == batchv1.JobComplete && c.Status == corev1.ConditionTrue)
	}
	if !complete {
		t.Fatalf("the callback ran before the Job was Complete: %+v", job.Status)
	}
	if n := p.Completed(); n != 0 {
		t.Errorf("counted %d Job(s) while the callback was still running", n)
	}
	releaseOnce.Do(func() { close(release) })
	deadline := time.Now().Add(30 * time.Second)
	for p.Completed() != 1 {
		if time.Now().After(deadline) {
			t.Fatalf("counted %d Job(s) after the callback returned, want 1", p.Completed())
		}
		time.Sleep(10 * time.Millisecond)
	}
}
