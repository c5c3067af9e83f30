package main

import (
	"context"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
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
		{[]string{"wake", "payments-dev", "--for", "0s"}, "--for 0s: want a duration over 0s and at most 8760h"},
		{[]string{"wake", "payments-dev", "--for", "9000h"}, "--for 9000h0m0s: want a duration over 0s and at most 8760h"},
	} {
		code, _, stderr := plugin(t, "", append(tc.args, "--kubeconfig", kubeconfig, "-n", ns)...)
		if code == 0 || !strings.Contains(stderr, tc.want) {
			t.Errorf("%v: exit code %d, stderr %q; want a failure saying %q", tc.args, code, stderr, tc.want)
		}
	}
}

func TestStatusSaysHowItSleeps(t *testing.T) {
	at := func(s string) *metav1.Time {
		tm, err := time.Parse(time.RFC3339, s)
		if err != nil {
			t.Fatal(err)
		}
		return &metav1.Time{Time: tm}
	}
	for name, tc := range map[string]struct {
		sleep staxv1alpha1.SleepStatus
		want  string
	}{
		"suspended": {staxv1alpha1.SleepStatus{State: staxv1alpha1.SleepStateSuspended}, "\nSleep: Suspended by spec.suspend\n"},
		"asleep until uptime": {
			staxv1alpha1.SleepStatus{State: staxv1alpha1.SleepStateAsleep, AsleepSince: at("2026-12-04T19:00:00Z"), NextWakeTime: at("2026-12-07T07:00:00Z")},
			"\nSleep: Asleep since 2026-12-04T19:00:00Z; wakes at 2026-12-07T07:00:00Z, or when woken: kubectl blueprint wake shop\n",
		},
		"asleep when idle": {
			staxv1alpha1.SleepStatus{State: staxv1alpha1.SleepStateAsleep, AsleepSince: at("2026-12-04T19:00:00Z")},
			"\nSleep: Asleep since 2026-12-04T19:00:00Z; wakes when woken: kubectl blueprint wake shop\n",
		},
		"awake": {
			staxv1alpha1.SleepStatus{State: staxv1alpha1.SleepStateAwake, NextSleepTime: at("2026-12-07T19:00:00Z")},
			"\nSleep: Awake; sleeps at 2026-12-07T19:00:00Z unless there is activity first\n",
		},
		"not configured": {staxv1alpha1.SleepStatus{}, ""},
	} {
		bp := &staxv1alpha1.Blueprint{ObjectMeta: metav1.ObjectMeta{Name: "shop", Namespace: "dev"}}
		bp.Spec.Services = []staxv1alpha1.BlueprintService{{Name: "api", Image: "api"}}
		bp.Status.Sleep = tc.sleep
		var out strings.Builder
		if err := printStatus(&out, bp); err != nil {
			t.Fatal(err)
		}
		if tc.want == "" {
			if strings.Contains(out.String(), "Sleep:") {
				t.Errorf("%s: %q says something of sleep", name, out.String())
			}
			continue
		}
		if !strings.Contains(out.String(), tc.want) {
			t.Errorf("%s: %q, want it to contain %q", name, out.String(), tc.want)
		}
	}
}
