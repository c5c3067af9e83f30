package validate

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"

	staxv1alpha1 "github.com/stax-dev/blueprint-operator/api/v1alpha1"
	"github.com/stax-dev/blueprint-operator/internal/secretgen"
)

// readme is the Blueprint of the README, as shipped in config/samples.
var readme = func() string {
	b, err := os.ReadFile(filepath.Join("..", "..", "config", "samples", "stax_v1alpha1_blueprint.yaml"))
	if err != nil {
		panic(err)
	}
	return string(b)
}()

// blueprintWith returns a Blueprint document named name with the given
// services block (indented as under spec).
func blueprintWith(name, services string) string {
	return "apiVersion: stax.dev/v1alpha1\nkind: Blueprint\nmetadata:\n  name: " + name + "\nspec:\n  services:\n" + services
}

func documents(t *testing.T, input string) []Result {
	t.Helper()
	results, err := Documents(context.Background(), strings.NewReader(input))
	if err != nil {
		t.Fatalf("Documents: %v", err)
	}
	return results
}

// The embedded CRD is a copy that `make manifests` refreshes; validating
// against a stale one would pass Blueprints the cluster refuses.
func TestEmbeddedCRDIsCurrent(t *testing.T) {
	generated, err := os.ReadFile(filepath.Join("..", "..", "config", "crd", "bases", "stax.dev_blueprints.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(crdYAML, generated) {
		t.Error("zz_generated.crd.yaml differs from config/crd/bases/stax.dev_blueprints.yaml: run 'make manifests'")
	}
}

func TestReadmeBlueprintPasses(t *testing.T) {
	results := documents(t, readme)
	if len(results) != 1 {
		t.Fatalf("got %d results, want 1", len(results))
	}
	res := results[0]
	if len(res.Problems) != 0 {
		t.Fatalf("problems in the README Blueprint: %+v", res.Problems)
	}
	if res.Name != "payments-dev" || res.Document != 1 {
		t.Errorf("got name %q, document %d", res.Name, res.Document)
	}
	bp := res.Blueprint
	if bp == nil {
		t.Fatal("no Blueprint for a valid document")
	}
	// The CRD's defaults are applied, as the API server applies them.
	db := bp.Spec.Services[0]
	// replicas has no default: left open, the operator leaves them to
	// whoever scales the Deployment.
	if db.Replicas != nil {
		t.Errorf("db replicas = %v, want none (no default)", *db.Replicas)
	}
	if db.Ports[0].Protocol != corev1.ProtocolTCP {
		t.Errorf("db port protocol = %q, want the default TCP", db.Ports[0].Protocol)
	}
	if bp.Spec.DeletionPolicy != staxv1alpha1.DeletionPolicyDelete {
		t.Errorf("deletionPolicy = %q, want the default Delete", bp.Spec.DeletionPolicy)
	}
	if got := bp.Spec.Services[1].Resources.Memory.String(); got != "256Mi" {
		t.Errorf("api memory = %s, want 256Mi", got)
	}
}

func TestProblems(t *testing.T) {
	tests := map[string]struct {
		input       string
		wantField   string
		wantMessage string
		// also are further problems, as "FIELD: message" substrings: the
		// offline restatements that name the offending value.
		also []string
	}{
		"unknown dependsOn": {
			input: blueprintWith("bp", `
    - name: api
      image: api
      dependsOn: [cache]
`),
			wantField:   "spec.services",
			wantMessage: "dependsOn must name services of this Blueprint",
			also:        []string{`spec.services[0].dependsOn[0]: Invalid value: "cache": service api depends on cache, which is not a service of this Blueprint`},
		},
		"probe without a handler": {
			input: blueprintWith("bp", `
    - name: api
      image: api
      probes:
        readiness:
          periodSeconds: 5
`),
			wantField:   "spec.services[0].probes.readiness",
			wantMessage: "a probe needs exactly one handler: one of httpGet, tcpSocket and exec",
		},
		"probe with two handlers": {
			input: blueprintWith("bp", `
    - name: api
      image: api
      probes:
        liveness:
          tcpSocket: {port: 8080}
          exec: {command: ["true"]}
`),
			wantField:   "spec.services[0].probes.liveness",
			wantMessage: "a probe needs exactly one handler",
		},
		"probe port name not among the ports": {
			input: blueprintWith("bp", `
    - name: api
      image: api
      ports:
        - name: http
          containerPort: 8080
      probes:
        startup:
          httpGet: {path: /healthz, port: web}
`),
			wantField:   "spec.services[0].probes.startup",
			wantMessage: "probes.startup: port web is neither a number from 1 to 65535 nor the name of one of the ports of this service",
		},
		"probe port number out of range": {
			input: blueprintWith("bp", `
    - name: api
      image: api
      probes:
        readiness:
          tcpSocket: {port: 0}
`),
			wantField:   "spec.services[0].probes.readiness",
			wantMessage: "probes.readiness: port 0 is neither",
		},
		"liveness successThreshold other than 1": {
			input: blueprintWith("bp", `
    - name: api
      image: api
      probes:
        liveness:
          tcpSocket: {port: 80}
          successThreshold: 2
`),
			wantField:   "spec.services[0].probes.liveness.successThreshold",
			wantMessage: "liveness.successThreshold must be 1",
		},
		"secret with neither envKey nor mountPath": {
			input: blueprintWith("bp", `
    - name: db
      image: postgres
      secrets:
        - name: pw
          value: auto-generated
`),
			wantField:   "spec.services[0].secrets[0]",
			wantMessage: "a secret needs envKey, mountPath or both",
		},
		"two secrets with one mountPath": {
			input: blueprintWith("bp", `
    - name: db
      image: postgres
      secrets:
        - name: a
          mountPath: /run/secrets/pw
          value: auto-generated
        - name: b
          mountPath: /run/secrets/pw
          value: auto-generated
`),
			wantField:   "spec.services[0].secrets",
			wantMessage: "mountPath must be unique among the secrets of a service",
			also:        []string{`spec.services[0].secrets[1].mountPath: Duplicate value: "/run/secrets/pw"`},
		},
		"relative mountPath": {
			input: blueprintWith("bp", `
    - name: db
      image: postgres
      secrets:
        - name: a
          mountPath: run/secrets/pw
          value: auto-generated
`),
			wantField:   "spec.services[0].secrets[0].mountPath",
			wantMessage: "mountPath must be an absolute path: run/secrets/pw",
			also:        []string{`spec.services[0].secrets[0].mountPath: Invalid value: "run/secrets/pw": mountPath must be a path of letters`},
		},
		"mountPath inside another secret's file": {
			input: blueprintWith("bp", `
    - name: db
      image: postgres
      secrets:
        - name: a
          mountPath: /run/secrets/pw
          value: auto-generated
        - name: b
          mountPath: /run/secrets/pw/b
          value: auto-generated
`),
			wantField:   "spec.services[0].secrets",
			wantMessage: "a mountPath lies inside the mountPath of another secret of this service",
			also:        []string{`spec.services[0].secrets[1].mountPath: Invalid value: "/run/secrets/pw/b": lies inside /run/secrets/pw, the mountPath of secret a`},
		},
		"mountPath inside the /tmp volume": {
			input: blueprintWith("bp", `
    - name: db
      image: postgres
      securityContext:
        readOnlyRootFilesystem: true
      secrets:
        - name: a
          mountPath: /tmp/pw
          value: auto-generated
`),
			wantField:   "spec.services[0].secrets",
			wantMessage: "a mountPath lies inside /tmp, which readOnlyRootFilesystem mounts",
			also:        []string{`spec.services[0].secrets[0].mountPath: Invalid value: "/tmp/pw": lies inside /tmp`},
		},
		"runAsUser 0": {
			input: blueprintWith("bp", `
    - name: db
      image: postgres
      securityContext:
        runAsUser: 0
`),
			wantField:   "spec.services[0].securityContext.runAsUser",
			wantMessage: "runAsUser 0 is root, and root is not supported",
		},
		"reference to an undeclared managed secret in args": {
			input: blueprintWith("bp", `
    - name: api
      image: api
      args: ["--password=${secret:db-password}"]
`),
			wantField:   "spec.services[0].args[0]",
			wantMessage: `no secret named "db-password" with value auto-generated is declared`,
		},
		"malformed reference in command": {
			input: blueprintWith("bp", `
    - name: api
      image: api
      command: [server, "${HOME}"]
`),
			wantField:   "spec.services[0].command[1]",
			wantMessage: "malformed secret reference",
		},
		"self dependsOn": {
			input: blueprintWith("bp", `
    - name: api
      image: api
      dependsOn: [api]
`),
			wantField:   "spec.services[0].dependsOn",
			wantMessage: "a service cannot depend on itself",
		},
		"duplicate service names": {
			input: blueprintWith("bp", `
    - name: db
      image: postgres
    - name: db
      image: mysql
`),
			wantField:   "spec.services[1]",
			wantMessage: `Duplicate value: {"name":"db"}`,
		},
		"literal secret value": {
			input: blueprintWith("bp", `
    - name: db
      image: postgres
      secrets:
        - name: pw
          envKey: PW
          value: hunter2hunter2
`),
			wantField:   "spec.services[0].secrets[0].value",
			wantMessage: "literal secret values are not accepted in a Blueprint",
		},
		"hex value under the entropy floor": {
			input: blueprintWith("bp", `
    - name: db
      image: postgres
      secrets:
        - name: pw
          envKey: PW
          value: auto-generated
          charset: hex
          length: 31
`),
			wantField:   "spec.services[0].secrets[0].length",
			wantMessage: "is under the 128-bit entropy floor: the minimum length for charset hex is 32",
		},
		"envKey also a key of env": {
			input: blueprintWith("bp", `
    - name: db
      image: postgres
      env:
        PW: plain
      secrets:
        - name: pw
          envKey: PW
          value: auto-generated
`),
			wantField:   "spec.services[0].secrets",
			wantMessage: "an envKey of secrets is also a key of env",
		},
		"shell-style reference": {
			input: blueprintWith("bp", `
    - name: api
      image: api
      env:
        HOME_DIR: ${HOME}
`),
			wantField:   "spec.services[0].env[HOME_DIR]",
			wantMessage: "malformed secret reference",
		},
		"managed reference to an undeclared secret": {
			input: blueprintWith("bp", `
    - name: api
      image: api
      env:
        URL: postgres://u:${secret:db-password}@db/x
`),
			wantField:   "spec.services[0].env[URL]",
			wantMessage: `Invalid value: "postgres://u:${secret:db-password}@db/x": no secret named "db-password" with value auto-generated is declared in this Blueprint`,
		},
		"managed reference to an undeclared secret in a secret value": {
			input: blueprintWith("bp", `
    - name: api
      image: api
      secrets:
        - name: pw
          envKey: PW
          value: ${secret:db-password}
`),
			wantField:   "spec.services[0].secrets[0]",
			wantMessage: `no secret named "db-password" with value auto-generated is declared`,
		},
		"reference admission's pattern lets through": {
			input: blueprintWith("bp", `
    - name: api
      image: api
      env:
        KEY: ${secret:Stripe/api-key}
`),
			wantField:   "spec.services[0].env[KEY]",
			wantMessage: `invalid Secret name "Stripe"`,
		},
		"env name reserved for the operator": {
			input: blueprintWith("bp", `
    - name: api
      image: api
      env:
        STAX_REF_X: x
`),
			wantField:   "spec.services[0].env[STAX_REF_X]",
			wantMessage: "names starting with STAX_REF_ are reserved",
		},
		"three services in a dependency cycle": {
			input: blueprintWith("bp", `
    - name: a
      image: a
      dependsOn: [b]
    - name: b
      image: b
      dependsOn: [c]
    - name: c
      image: c
      dependsOn: [a]
`),
			wantField:   "spec.services[0].dependsOn",
			wantMessage: "dependsOn forms a cycle: a -> b -> c -> a",
		},
		"uptime in an unknown time zone": {
			input: blueprintWith("bp", `
    - name: api
      image: api
  sleep:
    uptime: Mon-Fri 08:00-20:00 Europe/Atlantis
`),
			wantField:   "spec.sleep.uptime",
			wantMessage: `sleep.uptime "Mon-Fri 08:00-20:00 Europe/Atlantis": unknown time zone "Europe/Atlantis"`,
		},
		"uptime range ending before it starts": {
			input: blueprintWith("bp", `
    - name: api
      image: api
  sleep:
    uptime: Mon-Fri 20:00-08:00 Europe/Berlin
`),
			wantField:   "spec.sleep.uptime",
			wantMessage: "time range 20:00-08:00 does not end after it starts",
		},
		"uptime not in kube-downscaler's format": {
			input: blueprintWith("bp", `
    - name: api
      image: api
  sleep:
    uptime: weekdays 9 to 5
`),
			wantField:   "spec.sleep.uptime",
			wantMessage: "sleep.uptime must be DAY-DAY HH:MM-HH:MM TIMEZONE ranges separated by commas",
		},
		"afterIdle under a minute": {
			input: blueprintWith("bp", `
    - name: api
      image: api
  sleep:
    afterIdle: 30s
`),
			wantField:   "spec.sleep.afterIdle",
			wantMessage: "sleep.afterIdle must be a duration between 1m and 8760h, for example 3h",
		},
		"afterIdle over a year": {
			input: blueprintWith("bp", `
    - name: api
      image: api
  sleep:
    afterIdle: 8761h
`),
			wantField:   "spec.sleep.afterIdle",
			wantMessage: "sleep.afterIdle must be a duration between 1m and 8760h",
		},
		"afterIdle not a duration": {
			input: blueprintWith("bp", `
    - name: api
      image: api
  sleep:
    afterIdle: three hours
`),
			wantField:   "spec.sleep.afterIdle",
			wantMessage: "sleep.afterIdle must be a duration between 1m and 8760h",
		},
		"empty sleep": {
			input: blueprintWith("bp", `
    - name: api
      image: api
  sleep: {}
`),
			wantField:   "spec.sleep",
			wantMessage: "should have at least 1 properties",
		},
		"metadata.name longer than 63": {
			input: blueprintWith(strings.Repeat("n", 64), `
    - name: api
      image: api
`),
			wantField:   "",
			wantMessage: "metadata.name must be at most 63 characters",
		},
		"metadata.name not a DNS subdomain": {
			input: blueprintWith("Payments", `
    - name: api
      image: api
`),
			wantField:   "metadata.name",
			wantMessage: "a lowercase RFC 1123 subdomain",
		},
		"unknown field": {
			input: blueprintWith("bp", `
    - name: api
      image: api
      replica: 2
`),
			wantField:   "spec.services[0].replica",
			wantMessage: "unknown field",
		},
		"number out of range": {
			input: blueprintWith("bp", `
    - name: api
      image: api
      ports:
        - containerPort: 70000
`),
			wantField:   "spec.services[0].ports[0].containerPort",
			wantMessage: "should be less than or equal to 65535",
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			results := documents(t, tc.input)
			if len(results) != 1 {
				t.Fatalf("got %d results, want 1", len(results))
			}
			res := results[0]
			if res.Blueprint != nil {
				t.Error("Blueprint set despite problems")
			}
			if len(res.Problems) != 1+len(tc.also) {
				t.Fatalf("got %d problems, want exactly %d: %+v", len(res.Problems), 1+len(tc.also), res.Problems)
			}
			p := res.Problems[0]
			if p.Field != tc.wantField {
				t.Errorf("field = %q, want %q (message %q)", p.Field, tc.wantField, p.Message)
			}
			if !strings.Contains(p.Message, tc.wantMessage) {
				t.Errorf("message = %q, want it to contain %q", p.Message, tc.wantMessage)
			}
			for i, want := range tc.also {
				got := res.Problems[1+i].Field + ": " + res.Problems[1+i].Message
				if !strings.Contains(got, want) {
					t.Errorf("problem %d = %q, want it to contain %q", 1+i, got, want)
				}
			}
		})
	}
}

// A missing required field stops the API server before the CEL rules, and
// says so; the same object must not get a clean bill from the CEL rules here.
func TestBlockingErrorSkipsCEL(t *testing.T) {
	results := documents(t, blueprintWith("bp", `
    - name: api
      dependsOn: [api]
`))
	got := results[0].Problems
	if len(got) != 2 {
		t.Fatalf("got %+v, want the missing image and the note that CEL rules were not checked", got)
	}
	if got[0].Field != "spec.services[0].image" || !strings.Contains(got[0].Message, "Required value") {
		t.Errorf("first problem = %+v, want spec.services[0].image: Required value", got[0])
	}
	if got[1].Field != "" || !strings.Contains(got[1].Message, "CEL validation rules were not checked") {
		t.Errorf("second problem = %+v, want the note that CEL rules were not checked", got[1])
	}
}

func TestMultipleDocuments(t *testing.T) {
	input := readme + `---
apiVersion: v1
kind: ConfigMap
metadata:
  name: settings
data:
  dependsOn: "[self]"
---
# a comment-only document is skipped but counted, as an editor counts it
---
` + blueprintWith("broken", `
    - name: api
      image: api
      dependsOn: [api]
`)
	results := documents(t, input)
	if len(results) != 2 {
		t.Fatalf("got %d results, want the two Blueprints: %+v", len(results), results)
	}
	if results[0].Name != "payments-dev" || len(results[0].Problems) != 0 || results[0].Document != 1 {
		t.Errorf("first result = %+v, want payments-dev, document 1, no problems", results[0])
	}
	if results[1].Name != "broken" || results[1].Document != 4 {
		t.Errorf("second result = name %q, document %d, want broken, document 4", results[1].Name, results[1].Document)
	}
	if len(results[1].Problems) != 1 || results[1].Problems[0].Field != "spec.services[0].dependsOn" {
		t.Errorf("second result problems = %+v, want the self-dependency", results[1].Problems)
	}
}

func TestUnreadableInput(t *testing.T) {
	for name, input := range map[string]string{
		"not YAML":       readme + "---\nkind: [unclosed\n",
		"duplicate keys": readme + "---\nkind: Blueprint\nkind: Blueprint\n",
		"not an object":  readme + "---\n- a list\n",
	} {
		t.Run(name, func(t *testing.T) {
			results, err := Documents(context.Background(), strings.NewReader(input))
			if err == nil || !strings.HasPrefix(err.Error(), "document 2: ") {
				t.Fatalf("error = %v, want one naming document 2", err)
			}
			if len(results) != 1 || results[0].Name != "payments-dev" {
				t.Errorf("results before the bad document = %+v, want payments-dev", results)
			}
		})
	}
}

// Admission states the entropy floors as CEL constants and refuses unknown
// charsets by enum, so the controller's own floor check only fires when the
// CRD and secretgen drift apart. It is exercised here directly, on
// Blueprints admission would refuse.
func TestControllerEntropyFloor(t *testing.T) {
	secret := func(charset staxv1alpha1.Charset, length int32) *staxv1alpha1.Blueprint {
		return &staxv1alpha1.Blueprint{Spec: staxv1alpha1.BlueprintSpec{Services: []staxv1alpha1.BlueprintService{{
			Name: "db", Image: "postgres",
			Secrets: []staxv1alpha1.ServiceSecret{{Name: "pw", EnvKey: "PW", Value: staxv1alpha1.AutoGenerated, Charset: charset, Length: &length}},
		}}}}
	}
	tests := map[string]struct {
		bp   *staxv1alpha1.Blueprint
		want []string
	}{
		"at the floor": {secret(staxv1alpha1.CharsetSymbols, 20), nil},
		"under the floor": {secret(staxv1alpha1.CharsetHex, 16), []string{
			"spec.services[0].secrets[0].length: Invalid value: 16: is under the 128-bit entropy floor: the minimum length for charset hex is 32",
		}},
		"default charset under the floor": {secret("", 21), []string{
			"spec.services[0].secrets[0].length: Invalid value: 21: is under the 128-bit entropy floor: the minimum length for charset alphanumeric is 22",
		}},
		"unknown charset": {secret("emoji", 64), []string{
			`spec.services[0].secrets[0].charset: Invalid value: "emoji": unknown charset "emoji" (want one of "alphanumeric", "hex", "base64url", "symbols")`,
		}},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			var got []string
			for _, err := range controllerChecks(tc.bp) {
				got = append(got, err.Error())
			}
			if !slices.Equal(got, tc.want) {
				t.Errorf("controllerChecks = %q, want %q", got, tc.want)
			}
		})
	}
}

// The CEL rule on ServiceSecret states the entropy floor as literals, since a
// CEL rule cannot read a Go constant. This runs the CRD's own schema and CEL
// (admission alone, without the controller's checks) at every charset's floor,
// as secretgen derives it from staxv1alpha1.MinEntropyBits, and one under it.
func TestEntropyFloorMatchesCEL(t *testing.T) {
	adm, err := loadAdmission()
	if err != nil {
		t.Fatal(err)
	}
	for _, charset := range []staxv1alpha1.Charset{staxv1alpha1.CharsetAlphanumeric, staxv1alpha1.CharsetHex, staxv1alpha1.CharsetBase64URL, staxv1alpha1.CharsetSymbols} {
		floor, err := secretgen.MinLength(string(charset))
		if err != nil {
			t.Fatal(err)
		}
		for _, length := range []int{floor, floor - 1} {
			obj, err := decode([]byte(blueprintWith("floor", fmt.Sprintf("  - name: db\n    image: postgres\n    secrets:\n    - name: pw\n      envKey: PW\n      value: auto-generated\n      charset: %s\n      length: %d\n", charset, length))))
			if err != nil {
				t.Fatal(err)
			}
			problems := adm.check(context.Background(), obj)
			want := []Problem(nil)
			if length < floor {
				want = []Problem{{Field: "spec.services[0].secrets[0].length", Message: fmt.Sprintf(
					"Invalid value: is under the %d-bit entropy floor: the minimum length for charset %s is %d", staxv1alpha1.MinEntropyBits, charset, floor)}}
			}
			if !slices.Equal(problems, want) {
				t.Errorf("charset %s, length %d (floor %d): admission says %q, want %q", charset, length, floor, problems, want)
			}
		}
	}
}

const excludeFloorMessage = "is under the 128-bit entropy floor for the characters exclude leaves of charset: length x log2(characters left) must be at least 128"

// TestExcludeFloorMatchesCEL: admission's floor with exclude (a CEL list of
// minimum lengths by alphabet size, and the characters of each charset as
// CEL literals) is secretgen's, for every size an exclude can leave of
// symbols (0 to 90 characters) and for each charset, at the floor and one
// under it. (Admission's message is static, the CEL cost budget allows no
// more; the offline validator names the minimum: TestExcludeNamedOffline.)
func TestExcludeFloorMatchesCEL(t *testing.T) {
	adm, err := loadAdmission()
	if err != nil {
		t.Fatal(err)
	}
	check := func(charset staxv1alpha1.Charset, exclude string, length int) []Problem {
		t.Helper()
		yaml := fmt.Sprintf("  - name: db\n    image: postgres\n    secrets:\n    - name: pw\n      envKey: PW\n      value: auto-generated\n      charset: %s\n      length: %d\n      exclude: %q\n", charset, length, exclude)
		obj, err := decode([]byte(blueprintWith("floor", yaml)))
		if err != nil {
			t.Fatal(err)
		}
		return adm.check(context.Background(), obj)
	}
	symbols, _ := secretgen.Alphabet(secretgen.Symbols)
	for left := 0; left <= len(symbols); left++ {
		exclude := symbols[:len(symbols)-left]
		if exclude == "" {
			continue // exclude must not be empty
		}
		if left < secretgen.MinAlphabet {
			want := []Problem{{Field: "spec.services[0].secrets[0].exclude", Message: "Invalid value: exclude must leave at least 2 characters of charset"}}
			if got := check(staxv1alpha1.CharsetSymbols, exclude, 4096); !slices.Equal(got, want) {
				t.Errorf("%d left: admission says %q, want %q", left, got, want)
			}
			continue
		}
		floor := secretgen.MinLengthOf(left)
		for _, length := range []int{floor, floor - 1} {
			var want []Problem
			if length < floor {
				want = []Problem{{Field: "spec.services[0].secrets[0].length", Message: "Invalid value: " + excludeFloorMessage}}
			}
			if got := check(staxv1alpha1.CharsetSymbols, exclude, length); !slices.Equal(got, want) {
				t.Errorf("%d left, length %d: admission says %q, want %q", left, length, got, want)
			}
		}
	}
	// Each charset's characters, as admission spells them.
	for _, charset := range []staxv1alpha1.Charset{staxv1alpha1.CharsetAlphanumeric, staxv1alpha1.CharsetHex, staxv1alpha1.CharsetBase64URL} {
		alphabet, _ := secretgen.Alphabet(string(charset))
		exclude := alphabet[:3]
		left := len(alphabet) - 3
		floor := secretgen.MinLengthOf(left)
		want := []Problem{{Field: "spec.services[0].secrets[0].length", Message: "Invalid value: " + excludeFloorMessage}}
		if got := check(charset, exclude, floor-1); !slices.Equal(got, want) {
			t.Errorf("charset %s less %q: admission says %q, want %q", charset, exclude, got, want)
		}
		if got := check(charset, exclude, floor); len(got) != 0 {
			t.Errorf("charset %s less %q at the floor: admission says %q", charset, exclude, got)
		}
	}
}

// TestExcludeNamedOffline: where admission refuses an exclude, the offline
// validator names how many characters are left and the minimum length.
func TestExcludeNamedOffline(t *testing.T) {
	for yaml, want := range map[string]string{
		"      charset: hex\n      length: 128\n      exclude: \"0123456789abcde\"\n": "spec.services[0].secrets[0].exclude: Invalid value: \"0123456789abcde\": exclude leaves 1 characters of charset hex; at least 2 must remain",
		"      charset: symbols\n      length: 19\n      exclude: \"/@\"\n":           "spec.services[0].secrets[0].length: Invalid value: 19: is under the 128-bit entropy floor: the minimum length for charset symbols less exclude (88 characters) is 20",
	} {
		doc := blueprintWith("floor", "  - name: db\n    image: postgres\n    secrets:\n    - name: pw\n      envKey: PW\n      value: auto-generated\n"+yaml)
		results, err := Documents(context.Background(), strings.NewReader(doc))
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, p := range results[0].Problems {
			got = append(got, p.Field+": "+p.Message)
		}
		if !slices.Contains(got, want) {
			t.Errorf("problems %q, want one %q", got, want)
		}
	}
}

// TestPartNamesReservedForGeneratedValues: an auto-generated secret cannot
// be named like a part (x.pub, x.crt, x.ca); a secret taking its value from
// a reference can, as it is no key of the generated Secret.
func TestPartNamesReservedForGeneratedValues(t *testing.T) {
	for value, refused := range map[string]bool{"auto-generated": true, "${secret:tls/crt}": false} {
		for _, name := range []string{"x.pub", "x.crt", "x.ca"} {
			doc := blueprintWith("parts", fmt.Sprintf("  - name: db\n    image: postgres\n    secrets:\n    - name: %s\n      envKey: X\n      value: %q\n", name, value))
			results, err := Documents(context.Background(), strings.NewReader(doc))
			if err != nil {
				t.Fatal(err)
			}
			got := len(results[0].Problems) > 0
			if got != refused {
				t.Errorf("name %s, value %s: problems %q, want refused %v", name, value, results[0].Problems, refused)
			}
			if refused && (len(results[0].Problems) != 1 || results[0].Problems[0].Field != "spec.services[0].secrets[0].name") {
				t.Errorf("name %s: problems %q, want one on the name", name, results[0].Problems)
			}
		}
	}
}

// kube-downscaler's spellings that admission must let through: day names in
// any case, several ranges, 24:00, a wrapping day range, zones with more
// than one slash, and afterIdle at both of its bounds.
func TestSleepSpellingsPass(t *testing.T) {
	for _, sleep := range []string{
		"uptime: \"mon-fri 08:00-20:00 Europe/Berlin, Sat-Sun 10:00-24:00 UTC\"",
		"uptime: \"Fri-Mon 00:00-06:30 America/Argentina/Buenos_Aires\"",
		"uptime: \"Mon-Sun 09:00-17:00 Etc/GMT+5\"\n    afterIdle: 1m",
		"afterIdle: 8760h",
		"afterIdle: 1h30m",
	} {
		results := documents(t, blueprintWith("bp", "    - name: api\n      image: api\n")+"  sleep:\n    "+sleep+"\n")
		if len(results) != 1 || len(results[0].Problems) != 0 {
			t.Errorf("sleep %s: %+v", sleep, results)
		}
	}
}
