package gitops

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/yaml"
)

const (
	scriptFile = "blueprint-health.lua"
	patchFile  = "argocd-cm-patch.yaml"
	healthKey  = "resource.customizations.health.stax.dev_Blueprint"
	waiting    = "Waiting for the operator to observe the latest spec"
)

func readConfig(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", "config", "argocd", name))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// The .lua file is what is reviewed and tested; the ConfigMap patch is what
// users install. They must not drift apart.
func TestArgoCDPatchHoldsTheScript(t *testing.T) {
	var cm corev1.ConfigMap
	if err := yaml.UnmarshalStrict([]byte(readConfig(t, patchFile)), &cm); err != nil {
		t.Fatal(err)
	}
	if cm.Kind != "ConfigMap" || cm.Name != "argocd-cm" {
		t.Errorf("patch targets %s %s, want ConfigMap argocd-cm", cm.Kind, cm.Name)
	}
	if len(cm.Data) != 1 {
		t.Errorf("patch sets %d keys, want only %s", len(cm.Data), healthKey)
	}
	if got, want := cm.Data[healthKey], readConfig(t, scriptFile); got != want {
		t.Errorf("%s of %s differs from %s; re-indent the script into the patch", healthKey, patchFile, scriptFile)
	}
}

func TestBlueprintHealthScript(t *testing.T) {
	script := readConfig(t, scriptFile)
	for _, tc := range []struct {
		name        string
		obj         string
		status, msg string
	}{
		{
			name:   "not yet seen by the operator",
			obj:    `{metadata: {generation: 1}}`,
			status: ArgoProgressing, msg: waiting,
		},
		{
			name:   "status of an older generation, even if it was Ready",
			obj:    `{metadata: {generation: 3}, status: {observedGeneration: 2, conditions: [{type: Ready, status: "True", observedGeneration: 2, message: all 1 services are available}]}}`,
			status: ArgoProgressing, msg: waiting,
		},
		{
			name:   "observed but without conditions",
			obj:    `{metadata: {generation: 1}, status: {observedGeneration: 1}}`,
			status: ArgoProgressing, msg: waiting,
		},
		{
			name:   "conditions without Ready",
			obj:    `{metadata: {generation: 1}, status: {observedGeneration: 1, conditions: [{type: Reconciling, status: "True", observedGeneration: 1, message: working}]}}`,
			status: ArgoProgressing, msg: waiting,
		},
		{
			name:   "Ready of an older generation",
			obj:    `{metadata: {generation: 2}, status: {observedGeneration: 2, conditions: [{type: Ready, status: "True", observedGeneration: 1, message: all 1 services are available}]}}`,
			status: ArgoProgressing, msg: waiting,
		},
		{
			name:   "Ready",
			obj:    `{metadata: {generation: 2}, status: {observedGeneration: 2, conditions: [{type: Ready, status: "True", observedGeneration: 2, message: all 2 services are available}]}}`,
			status: ArgoHealthy, msg: "all 2 services are available",
		},
		{
			name: "rolling out",
			obj: `{metadata: {generation: 1}, status: {observedGeneration: 1, conditions: [
				{type: Ready, status: "False", observedGeneration: 1, reason: Progressing, message: "waiting for Deployments to be available: api (0/2 ready)"},
				{type: Reconciling, status: "True", observedGeneration: 1, reason: Progressing, message: "waiting for Deployments to be available: api (0/2 ready)"}]}}`,
			status: ArgoProgressing, msg: "waiting for Deployments to be available: api (0/2 ready)",
		},
		{
			name: "waiting for a Secret",
			obj: `{metadata: {generation: 1}, status: {observedGeneration: 1, conditions: [
				{type: Ready, status: "False", observedGeneration: 1, reason: SecretNotFound, message: "service api, env STRIPE_KEY: Secret stripe not found"}]}}`,
			status: ArgoProgressing, msg: "service api, env STRIPE_KEY: Secret stripe not found",
		},
		{
			name: "stalled",
			obj: `{metadata: {generation: 4}, status: {observedGeneration: 4, conditions: [
				{type: Stalled, status: "True", observedGeneration: 4, reason: Conflict, message: Deployment db exists and is not controlled by this Blueprint},
				{type: Ready, status: "False", observedGeneration: 4, reason: Conflict, message: Deployment db exists and is not controlled by this Blueprint}]}}`,
			status: ArgoDegraded, msg: "Deployment db exists and is not controlled by this Blueprint",
		},
		{
			name: "suspended or asleep",
			obj: `{metadata: {generation: 2}, status: {observedGeneration: 2, conditions: [
				{type: Ready, status: "False", observedGeneration: 2, reason: Suspended, message: "asleep since 2026-12-07T11:00:00Z: idle for 3h; kubectl blueprint wake payments-dev"}]}}`,
			status: ArgoSuspended, msg: "asleep since 2026-12-07T11:00:00Z: idle for 3h; kubectl blueprint wake payments-dev",
		},
		{
			name:   "Stalled present but False does not degrade",
			obj:    `{metadata: {generation: 1}, status: {observedGeneration: 1, conditions: [{type: Stalled, status: "False", observedGeneration: 1}, {type: Ready, status: "True", observedGeneration: 1, message: ok}]}}`,
			status: ArgoHealthy, msg: "ok",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var obj map[string]any
			if err := yaml.Unmarshal([]byte(tc.obj), &obj); err != nil {
				t.Fatal(err)
			}
			status, msg, err := ArgoHealth(script, obj)
			if err != nil {
				t.Fatal(err)
			}
			if status != tc.status || msg != tc.msg {
				t.Errorf("got %s %q, want %s %q", status, msg, tc.status, tc.msg)
			}
		})
	}
}

func TestArgoHealthRunsScriptsAsArgoCD(t *testing.T) {
	obj := map[string]any{
		"metadata": map[string]any{"generation": int64(7)},
		"spec":     map[string]any{"ratio": 0.5, "on": true, "names": []any{"a", "b"}},
	}
	for _, tc := range []struct {
		name, script string
		status, msg  string
		errContains  string
	}{
		{
			name:   "obj holds the object's values",
			script: `return {status = "Healthy", message = obj.metadata.generation .. " " .. obj.spec.ratio .. " " .. tostring(obj.spec.on) .. " " .. obj.spec.names[2] .. " " .. #obj.spec.names}`,
			status: ArgoHealthy, msg: "7 0.5 true b 2",
		},
		{
			name:   "an unknown status is Unknown",
			script: `return {status = "Fine"}`,
			status: ArgoUnknown, msg: argoInvalidStatus,
		},
		{name: "the string library is not open", script: `return {status = string.upper("healthy")}`, errContains: "non-table object(nil) with key 'upper'"},
		{name: "a script must return a table", script: `return "Healthy"`, errContains: "expect table"},
		{name: "message must be a string", script: `return {status = "Healthy", message = {}}`, errContains: "hs.message"},
		{name: "runs end after a deadline", script: `while true do end`, errContains: "context deadline exceeded"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			status, msg, err := ArgoHealth(tc.script, obj)
			if tc.errContains != "" {
				if err == nil || !strings.Contains(err.Error(), tc.errContains) {
					t.Fatalf("got %s %q, error %v; want an error containing %q", status, msg, err, tc.errContains)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if status != tc.status || msg != tc.msg {
				t.Errorf("got %s %q, want %s %q", status, msg, tc.status, tc.msg)
			}
		})
	}
}
