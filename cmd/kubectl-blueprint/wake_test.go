package main

import (
	"context"
	"strings"
	"testing"
	"time"

	"sigs.k8s.io/controller-runtime/pkg/client"

	staxv1alpha1 "github.com/stax-dev/blueprint-operator/api/v1alpha1"
)

func TestWakeAndSleep(t *testing.T) {
	kubeconfig, c := startCluster(t)
	ns := newNamespace(t, c)
	bp := createReadmeBlueprint(t, c, ns)

	read := func() *staxv1alpha1.Blueprint {
		t.Helper()
		got := &staxv1alpha1.Blueprint{}
		if err := c.Get(context.Background(), client.ObjectKeyFromObject(bp), got); err != nil {
			t.Fatal(err)
		}
		return got
	}
	requestedAt := func(stamp string, before, after time.Time) {
		t.Helper()
		at, err := time.Parse(time.RFC3339Nano, stamp)
		if err != nil || at.Before(before) || at.After(after) || !strings.HasSuffix(stamp, "Z") {
			t.Errorf("request time %q, want a UTC RFC 3339 time between %s and %s", stamp, before, after)
		}
	}

	before := time.Now().UTC()
	code, stdout, stderr := plugin(t, "", "wake", "payments-dev", "--for", "8h", "--kubeconfig", kubeconfig, "-n", ns)
	after := time.Now().UTC()
	if code != 0 {
		t.Fatalf("wake: exit code %d, stderr: %s", code, stderr)
	}
	got := read()
	stamp := got.Annotations[staxv1alpha1.WakeRequestedAtAnnotation]
	requestedAt(stamp, before, after)
	if p := got.Annotations[staxv1alpha1.WakeForAnnotation]; p != "8h0m0s" {
		t.Errorf("%s = %q, want 8h0m0s", staxv1alpha1.WakeForAnnotation, p)
	}
	if want := "blueprint.stax.dev/payments-dev: wake for 8h0m0s requested at " + stamp + "\n"; stdout != want {
		t.Errorf("stdout %q, want %q", stdout, want)
	}

	// Asking again is a new request: a new time.
	if code, _, stderr := plugin(t, "", "wake", "payments-dev", "--kubeconfig", kubeconfig, "-n", ns); code != 0 {
		t.Fatalf("wake again: exit code %d, stderr: %s", code, stderr)
	}
	again := read()
	if again.Annotations[staxv1alpha1.WakeRequestedAtAnnotation] == stamp || again.Annotations[staxv1alpha1.WakeForAnnotation] != "1h0m0s" {
		t.Errorf("a second wake without --for: %v", again.Annotations)
	}

	before = time.Now().UTC()
	code, stdout, stderr = plugin(t, "", "sleep", "payments-dev", "--kubeconfig", kubeconfig, "-n", ns)
	after = time.Now().UTC()
	if code != 0 {
		t.Fatalf("sleep: exit code %d, stderr: %s", code, stderr)
	}
	stamp = read().Annotations[staxv1alpha1.SleepRequestedAtAnnotation]
	requestedAt(stamp, before, after)
	if want := "blueprint.stax.dev/payments-dev: sleep requested at " + stamp + "\n"; stdout != want {
		t.Errorf("stdout %q, want %q", stdout, want)
	}

	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"wake", "nope"}, `blueprint "nope" not found in namespace "` + ns + `"`},
		{[]string{"sleep", "nope"}, `blueprint "nope" not found in namespace "` + ns + `"`},
		{[]string{"wake", "payments-dev", "--for", "0s"}, "--for 0s: want a duration between 0s and 8760h"},
		{[]string{"wake", "payments-dev", "--for", "9000h"}, "--for 9000h0m0s: want a duration between 0s and 8760h"},
	} {
		code, _, stderr := plugin(t, "", append(tc.args, "--kubeconfig", kubeconfig, "-n", ns)...)
		if code == 0 || !strings.Contains(stderr, tc.want) {
			t.Errorf("%v: exit code %d, stderr %q; want a failure saying %q", tc.args, code, stderr, tc.want)
		}
	}
}
