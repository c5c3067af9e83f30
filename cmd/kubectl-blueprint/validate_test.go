package main

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/stax-dev/blueprint-operator/internal/plaintext"
)

// pastedStripeKey is a fake key in Stripe's format, assembled so that this
// file holds no token a repository scanner would flag.
var pastedStripeKey = "sk_live_" + "4eC39HqLyjWDarjtT1zdp7dcAbCdEfGh"

const configMap = `apiVersion: v1
kind: ConfigMap
metadata:
  name: settings
data:
  LOG_LEVEL: debug
`

func TestValidate(t *testing.T) {
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{
		"good.yaml": readme,
		"bad/bp.yml": strings.NewReplacer(
			"LOG_LEVEL: info", "LOG_LEVEL: ${HOME}",
			"length: 32", "length: 8",
		).Replace(readme) + "---\n" + configMap,
		"bad/cycle.yaml": `apiVersion: stax.dev/v1alpha1
kind: Blueprint
metadata:
  name: loop
spec:
  services:
    - {name: a, image: a, dependsOn: [b]}
    - {name: b, image: b, dependsOn: [a]}
`,
		"broken.yaml":      readme + "---\nkind: [unclosed\n",
		"only-config.yaml": configMap,
		"notes.txt":        "not: [yaml",
	})
	path := func(name string) string { return filepath.Join(dir, name) }

	tests := map[string]struct {
		stdin      string
		args       []string
		wantCode   int
		wantStdout []string
		wantStderr string
	}{
		"a valid file": {
			args:       []string{path("good.yaml")},
			wantCode:   0,
			wantStderr: "OK: 1 Blueprint(s) from 1 file(s), no problems\n",
		},
		"a valid Blueprint on stdin": {
			stdin:      configMap + "---\n" + readme,
			args:       []string{"-"},
			wantCode:   0,
			wantStderr: "OK: 1 Blueprint(s) from 1 file(s), no problems\n",
		},
		"problems on stdin": {
			stdin:    strings.Replace(readme, "value: auto-generated", "value: hunter2hunter2", 1),
			args:     []string{"-"},
			wantCode: 1,
			wantStdout: []string{
				"<stdin>: blueprint/payments-dev: spec.services[0].secrets[0].value: Invalid value: value must be 'auto-generated' or one reference such as ${secret:NAME/KEY}; literal secret values are not accepted in a Blueprint: store the value in a Secret and reference it",
				"<stdin>: blueprint/payments-dev: spec.services[0].secrets[0]: Forbidden: length, charset, rotation and rotateEvery apply only to value: auto-generated",
			},
			wantStderr: "2 problem(s) in 1 Blueprint(s) from 1 file(s)\n",
		},
		"pasted credentials, named by field and rule, never printed": {
			stdin: strings.NewReplacer(
				"${secret:stripe/api-key}", pastedStripeKey,
				"postgres://postgres:${secret:db-password}@db", "postgres://postgres:hunter2hunter2@db",
			).Replace(readme),
			args:     []string{"-"},
			wantCode: 1,
			wantStdout: []string{
				"<stdin>: blueprint/payments-dev: spec.services[1].env[DATABASE_URL]: Invalid value: holds a literal credential (rule password-in-url): " + plaintext.Fix,
				"<stdin>: blueprint/payments-dev: spec.services[1].env[STRIPE_KEY]: Invalid value: holds a literal credential (rule stripe-access-token): " + plaintext.Fix,
			},
			wantStderr: "2 problem(s) in 1 Blueprint(s) from 1 file(s)\n",
		},
		"a directory": {
			args:     []string{path("bad")},
			wantCode: 1,
			wantStdout: []string{
				path("bad/bp.yml") + ": blueprint/payments-dev: spec.services[0].secrets[0].length: Invalid value: is under the 128-bit entropy floor: the minimum length for charset alphanumeric is 22",
				path("bad/bp.yml") + `: blueprint/payments-dev: spec.services[1].env[LOG_LEVEL]: Invalid value: "${HOME}": malformed secret reference: use ${secret:NAME/KEY}, $<secret:NAME/KEY> or ${secret:MANAGED}, and write $${ or $$< for a literal ${ or $<`,
				path("bad/cycle.yaml") + ": blueprint/loop: spec.services[0].dependsOn: Invalid value: dependsOn forms a cycle: a -> b -> a",
			},
			wantStderr: "3 problem(s) in 2 Blueprint(s) from 2 file(s)\n",
		},
		"unreadable YAML after a valid Blueprint": {
			args:     []string{path("good.yaml"), path("broken.yaml")},
			wantCode: 1,
			wantStdout: []string{
				path("broken.yaml") + ": document 2: yaml: line 1: did not find expected ',' or ']'",
			},
			wantStderr: "1 problem(s) in 2 Blueprint(s) from 2 file(s)\n",
		},
		"no Blueprint at all": {
			args:       []string{path("only-config.yaml")},
			wantCode:   1,
			wantStderr: "error: no stax.dev/v1alpha1 Blueprint found in " + path("only-config.yaml") + "\n",
		},
		"a missing file": {
			args:       []string{path("missing.yaml")},
			wantCode:   1,
			wantStderr: "error: stat " + path("missing.yaml") + ": no such file or directory\n",
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			code, stdout, stderr := plugin(t, tc.stdin, append([]string{"validate"}, tc.args...)...)
			if code != tc.wantCode {
				t.Errorf("exit code = %d, want %d", code, tc.wantCode)
			}
			wantStdout := ""
			if len(tc.wantStdout) > 0 {
				wantStdout = strings.Join(tc.wantStdout, "\n") + "\n"
			}
			if stdout != wantStdout {
				t.Errorf("stdout:\n%s\nwant:\n%s", stdout, wantStdout)
			}
			if stderr != tc.wantStderr {
				t.Errorf("stderr:\n%s\nwant:\n%s", stderr, tc.wantStderr)
			}
			for _, value := range []string{pastedStripeKey, "hunter2hunter2"} {
				if strings.Contains(stdout+stderr, value) {
					t.Errorf("the output holds a pasted value")
				}
			}
		})
	}
}
