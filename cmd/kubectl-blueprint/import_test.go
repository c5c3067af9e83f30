package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	staxv1alpha1 "github.com/stax-dev/blueprint-operator/api/v1alpha1"
	"github.com/stax-dev/blueprint-operator/internal/render"
)

var updateGolden = flag.Bool("update", false, "rewrite the import golden files from what the import prints")

// importCases are the golden Compose projects, of increasing size, each with
// the credentials of its env files and secrets that must not be printed.
var importCases = map[string][]string{
	"readme":  {"correct-horse-battery", "sk_test_51HqLyjWDarjtT1zdp7dcXYZabc123"},
	"secrets": {"Xq9-vT2#mL7!pR4z", "f3a9c1e7b2d84c6a9e0f5b1d7c3a8e2f", "ghp_4yHGk2Zq8Wm3Xn7Pb5Rt1Lc9Vd6Js0Fa2Ek8"},
	"webapp":  {"r00t-Pa55word-2024", "redis-pass-8f2k", "django-insecure-9x!k2@m#p$v7q&w3e^r8t*y"},
}

func TestImportGolden(t *testing.T) {
	variants := map[string][]string{"": nil, "keep-values": {"--keep-values"}}
	for name, credentials := range importCases {
		for variant, flags := range variants {
			if variant != "" && name != "readme" {
				continue
			}
			goldenImport(t, name, variant, flags, credentials)
		}
	}
}

func goldenImport(t *testing.T, name, variant string, flags, credentials []string) {
	suffix := ".golden"
	if variant != "" {
		suffix = "." + variant + ".golden"
	}
	t.Run(name+suffix, func(t *testing.T) {
		dir := filepath.Join("testdata", "import", name)
		code, stdout, stderr := plugin(t, "", append([]string{"import", "-f", filepath.Join(dir, "docker-compose.yml"), "--dry-run"}, flags...)...)
		if code != 0 {
			t.Fatalf("exit code %d, stderr:\n%s", code, stderr)
		}
		for _, c := range credentials {
			if strings.Contains(stdout+stderr, c) {
				t.Errorf("a credential of the env files was printed")
			}
		}
		golden(t, filepath.Join(dir, "blueprint"+suffix+".yaml"), stdout)
		golden(t, filepath.Join(dir, "report"+suffix+".txt"), stderr)

		// What it prints passes validate, as a user would run it.
		if code, out, errOut := plugin(t, stdout, "validate", "-"); code != 0 {
			t.Errorf("validate: exit %d\n%s%s", code, out, errOut)
		}
	})
}

func golden(t *testing.T, path, got string) {
	t.Helper()
	if *updateGolden {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -run TestImportGolden -update to write it)", err)
	}
	if got != string(want) {
		t.Errorf("%s differs (go test -run TestImportGolden -update rewrites it):\ngot:\n%s\nwant:\n%s", path, got, want)
	}
}

func TestImportRefusals(t *testing.T) {
	dir := t.TempDir()
	var tooMany strings.Builder
	tooMany.WriteString("services:\n")
	for i := range 33 {
		fmt.Fprintf(&tooMany, "  svc%d:\n    image: example/app:1\n", i)
	}
	writeFiles(t, dir, map[string]string{
		"toomany/docker-compose.yml": tooMany.String(),
		"interp/docker-compose.yml":  "services:\n  api:\n    image: x\n    environment:\n      DATABASE_URL: \"postgres://app:s3cr3t-${@db/app\"\n",
		"broken/docker-compose.yml":  "services:\n  api:\n    image: x\n   ports: [80]\n",
		"build/docker-compose.yml":   "services:\n  api:\n    build: .\n  db:\n    image: postgres:16\n",
	})
	tests := map[string]struct {
		args []string
		want string
	}{
		"a file that does not parse": {
			[]string{"-f", filepath.Join(dir, "broken", "docker-compose.yml")},
			filepath.Join(dir, "broken", "docker-compose.yml") + ": yaml: while parsing a block mapping at line 1, column 3: line 3, column 4: did not find expected key",
		},
		"build without image": {
			[]string{"-f", filepath.Join(dir, "build", "docker-compose.yml")},
			"error: service api: has build and no image: a cluster runs images from a registry; build and push it, and set image\n",
		},
		"an interpolation it cannot read, without quoting the value": {
			[]string{"-f", filepath.Join(dir, "interp", "docker-compose.yml")},
			"error: " + filepath.Join(dir, "interp", "docker-compose.yml") + ": invalid interpolation format for services.api.environment.DATABASE_URL\n",
		},
		"a Blueprint that does not validate": {
			[]string{"-f", filepath.Join(dir, "toomany", "docker-compose.yml")},
			"error: the Blueprint the import made does not validate, nothing was created: blueprint/toomany: spec.services: Too many: 33: must have at most 32 items",
		},
		"a missing --env-file": {
			[]string{"-f", filepath.Join("testdata", "import", "readme", "docker-compose.yml"), "--env-file", filepath.Join(dir, "nope.env")},
			"error: --env-file " + filepath.Join(dir, "nope.env") + " does not exist\n",
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			code, stdout, stderr := plugin(t, "", append([]string{"import", "--dry-run"}, tc.args...)...)
			if code != 1 || stdout != "" || !strings.Contains(stderr, tc.want) || strings.Count(stderr, "\n") != 1 {
				t.Errorf("exit %d, stdout %q, stderr %q: want 1, nothing, and one line with %q", code, stdout, stderr, tc.want)
			}
		})
	}
}

// TestImportApplyRun imports the README's project into a namespace, applies
// the printed Blueprint as is, and, playing the operator's generation,
// checks what each container gets as kubelet would compose it: the API's
// DATABASE_URL carries the password the database gets.
func TestImportApplyRun(t *testing.T) {
	kubeconfig, c := startCluster(t)
	ns := newNamespace(t, c)
	ctx := context.Background()
	compose := filepath.Join("testdata", "import", "readme", "docker-compose.yml")

	code, stdout, stderr := plugin(t, "", "import", "-f", compose, "--kubeconfig", kubeconfig, "-n", ns)
	if code != 0 {
		t.Fatalf("exit code %d, stderr:\n%s", code, stderr)
	}
	if !strings.Contains(stderr, "secret/shop-imported applied in namespace "+ns+" with keys STRIPE_API_KEY\n") {
		t.Errorf("stderr does not say the Secret was applied:\n%s", stderr)
	}
	imported := &corev1.Secret{}
	if err := c.Get(ctx, client.ObjectKey{Namespace: ns, Name: "shop-imported"}, imported); err != nil {
		t.Fatal(err)
	}
	if imported.Labels[staxv1alpha1.LabelBlueprint] != "shop" || imported.Type != corev1.SecretTypeOpaque || len(imported.Data) != 1 {
		t.Errorf("imported Secret: labels %v, type %s, %d keys; want stax.dev/blueprint=shop, Opaque, 1 key", imported.Labels, imported.Type, len(imported.Data))
	}

	bp := &staxv1alpha1.Blueprint{}
	if err := yaml.UnmarshalStrict([]byte(stdout), bp); err != nil {
		t.Fatal(err)
	}
	if err := c.Create(ctx, bp); err != nil {
		t.Fatalf("the printed Blueprint was refused: %v", err)
	}
	const generated = "generated-by-the-operator-7Kq2"
	if err := c.Create(ctx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: render.GeneratedSecretName("shop"), Namespace: ns},
		Data: map[string][]byte{"postgres-password": []byte(generated)}}); err != nil {
		t.Fatal(err)
	}
	envOf := func(service string) map[string]string {
		env, err := resolveServiceEnv(ctx, c, ns, "shop", service, false)
		if err != nil {
			t.Fatal(err)
		}
		m := map[string]string{}
		for _, v := range env.vars {
			m[v.Name] = v.Value
		}
		return m
	}
	db, api := envOf("db"), envOf("api")
	if db["POSTGRES_PASSWORD"] != generated {
		t.Errorf("db's POSTGRES_PASSWORD is not the generated value")
	}
	if want := "postgres://postgres:" + generated + "@db:5432/shop"; api["DATABASE_URL"] != want {
		t.Errorf("api's DATABASE_URL = %q, want %q: the password the database gets", api["DATABASE_URL"], want)
	}
	if api["STRIPE_API_KEY"] != importCases["readme"][1] || api["LOG_LEVEL"] != "info" {
		t.Errorf("api's STRIPE_API_KEY is not the .env's value, or LOG_LEVEL is %q", api["LOG_LEVEL"])
	}

	// Importing again updates the Secret in place; a Secret of the name
	// that is not this Blueprint's is never changed.
	if code, _, stderr := plugin(t, "", "import", "-f", compose, "--kubeconfig", kubeconfig, "-n", ns); code != 0 {
		t.Fatalf("a second import: exit %d, %s", code, stderr)
	}
	foreign := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "other-imported", Namespace: ns}, Data: map[string][]byte{"k": []byte("v")}}
	if err := c.Create(ctx, foreign); err != nil {
		t.Fatal(err)
	}
	code, stdout, stderr = plugin(t, "", "import", "-f", compose, "--name", "other", "--kubeconfig", kubeconfig, "-n", ns)
	if code != 1 || stdout != "" || !strings.Contains(stderr, "secret other-imported exists in namespace "+ns+" and is not the imported Secret of blueprint other") {
		t.Errorf("over a foreign Secret: exit %d, stdout %q, stderr %s", code, stdout, stderr)
	}
	if err := c.Get(ctx, client.ObjectKeyFromObject(foreign), foreign); err != nil {
		t.Fatal(err)
	}
	if len(foreign.Data) != 1 || string(foreign.Data["k"]) != "v" || len(foreign.Labels) != 0 {
		t.Errorf("the foreign Secret was changed: %v", foreign.Labels)
	}
}

// TestImportToFile: -o writes the Blueprint to a file, prints nothing on
// stdout, and says where it went.
func TestImportToFile(t *testing.T) {
	out := filepath.Join(t.TempDir(), "blueprint.yaml")
	dir := filepath.Join("testdata", "import", "readme")
	code, stdout, stderr := plugin(t, "", "import", "-f", filepath.Join(dir, "docker-compose.yml"), "--dry-run", "-o", out)
	if code != 0 || stdout != "" || !strings.HasSuffix(stderr, "blueprint shop written to "+out+"\n") {
		t.Fatalf("exit %d, stdout %q, stderr:\n%s", code, stdout, stderr)
	}
	written, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	want, err := os.ReadFile(filepath.Join(dir, "blueprint.golden.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if string(written) != string(want) {
		t.Errorf("-o wrote:\n%s\nwant the golden Blueprint:\n%s", written, want)
	}
}
