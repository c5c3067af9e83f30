package install

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
)

const (
	chartDir     = "../../dist/chart"
	kustomizeDir = "../../config/default"
	// The kustomize install's namespace; the chart is rendered into it too.
	namespace = "blueprint-operator-system"
	// A release not named like the chart, so every chart name carries a
	// prefix of its own that the comparison must strip.
	release         = "stax"
	chartPrefix     = "stax-blueprint-operator-"
	kustomizePrefix = "blueprint-operator-"
)

type key struct{ kind, namespace, name string }

func (k key) String() string { return fmt.Sprintf("%s %s/%s", k.kind, k.namespace, k.name) }

// byKey indexes objects by kind, namespace and name with prefix stripped.
func byKey(t *testing.T, objects []*unstructured.Unstructured, prefix string) map[key]*unstructured.Unstructured {
	t.Helper()
	out := map[key]*unstructured.Unstructured{}
	for _, obj := range objects {
		k := key{obj.GetKind(), obj.GetNamespace(), strings.TrimPrefix(obj.GetName(), prefix)}
		if _, dup := out[k]; dup {
			t.Fatalf("%s rendered twice", k)
		}
		out[k] = obj
	}
	return out
}

func renderChart(t *testing.T, values map[string]any) map[key]*unstructured.Unstructured {
	t.Helper()
	objects, err := HelmChart(chartDir, release, namespace, values)
	if err != nil {
		t.Fatal(err)
	}
	expectTyped(t, objects)
	return byKey(t, objects, chartPrefix)
}

func renderKustomize(t *testing.T) map[key]*unstructured.Unstructured {
	t.Helper()
	objects, err := Kustomize(kustomizeDir)
	if err != nil {
		t.Fatal(err)
	}
	return byKey(t, objects, kustomizePrefix)
}

// expectTyped decodes every object strictly into its Go type, so a misspelt
// field fails here rather than being dropped or rejected by the API server.
func expectTyped(t *testing.T, objects []*unstructured.Unstructured) {
	t.Helper()
	scheme := runtime.NewScheme()
	if err := clientgoscheme.AddToScheme(scheme); err != nil {
		t.Fatal(err)
	}
	if err := apiextensionsv1.AddToScheme(scheme); err != nil {
		t.Fatal(err)
	}
	for _, obj := range objects {
		typed, err := scheme.New(obj.GroupVersionKind())
		if err != nil {
			t.Errorf("%s %s: %v", obj.GetKind(), obj.GetName(), err)
			continue
		}
		if err := runtime.DefaultUnstructuredConverter.FromUnstructuredWithValidation(obj.Object, typed, true); err != nil {
			t.Errorf("%s %s: %v", obj.GetKind(), obj.GetName(), err)
		}
	}
}

// normalised strips from obj what legitimately differs between the two
// installs: the name prefix wherever a name is given or referred to, the
// image (set per build), the labels (Helm's own; checked separately) and the
// CRD's keep annotation (checked separately).
func normalised(t *testing.T, obj *unstructured.Unstructured, prefix string) map[string]any {
	t.Helper()
	o := obj.DeepCopy()
	o.SetName(strings.TrimPrefix(o.GetName(), prefix))
	o.SetLabels(nil)
	if annotations := o.GetAnnotations(); annotations != nil {
		delete(annotations, "helm.sh/resource-policy")
		o.SetAnnotations(annotations)
	}
	strip := func(s any) any { return strings.TrimPrefix(s.(string), prefix) }
	if ref, ok := o.Object["roleRef"].(map[string]any); ok {
		ref["name"] = strip(ref["name"])
	}
	if subjects, ok := o.Object["subjects"].([]any); ok {
		for _, s := range subjects {
			s.(map[string]any)["name"] = strip(s.(map[string]any)["name"])
		}
	}
	if o.GetKind() == "ValidatingAdmissionPolicyBinding" {
		if err := unstructured.SetNestedField(o.Object, strip(o.Object["spec"].(map[string]any)["policyName"]), "spec", "policyName"); err != nil {
			t.Fatal(err)
		}
	}
	if o.GetKind() == "Deployment" {
		pod, _, err := unstructured.NestedMap(o.Object, "spec", "template", "spec")
		if err != nil {
			t.Fatal(err)
		}
		pod["serviceAccountName"] = strip(pod["serviceAccountName"])
		for _, c := range pod["containers"].([]any) {
			delete(c.(map[string]any), "image")
			delete(c.(map[string]any), "imagePullPolicy")
		}
		if err := unstructured.SetNestedMap(o.Object, pod, "spec", "template", "spec"); err != nil {
			t.Fatal(err)
		}
	}
	return o.Object
}

// TestChartMatchesKustomize holds the chart with its default values to the
// kustomize install: the same objects, and each the same but for names,
// image and Helm's labels.
func TestChartMatchesKustomize(t *testing.T) {
	kustomized := renderKustomize(t)
	charted := renderChart(t, nil)

	// Helm installs into a namespace that exists (or that
	// `helm install --create-namespace` makes): the chart has no Namespace.
	var namespaces []string
	for k, obj := range kustomized {
		if k.kind == "Namespace" {
			namespaces = append(namespaces, obj.GetName())
			delete(kustomized, k)
		}
	}
	if diff := cmp.Diff([]string{namespace}, namespaces); diff != "" {
		t.Errorf("the kustomize install's Namespaces (-want +got):\n%s", diff)
	}

	for _, k := range []key{
		{"CustomResourceDefinition", "", "blueprints.stax.dev"},
		{"ClusterRole", "", "manager-role"},
		{"ClusterRoleBinding", "", "manager-rolebinding"},
		{"Deployment", namespace, "controller-manager"},
	} {
		if _, ok := kustomized[k]; !ok {
			t.Errorf("the kustomize install has no %s: nothing to compare the chart's with", k)
		}
	}
	for k := range kustomized {
		if _, ok := charted[k]; !ok {
			t.Errorf("the chart does not render %s", k)
		}
	}
	for k := range charted {
		if _, ok := kustomized[k]; !ok {
			t.Errorf("the chart renders %s, which the kustomize install does not have", k)
		}
	}

	for k, want := range kustomized {
		got, ok := charted[k]
		if !ok {
			continue
		}
		for label, value := range want.GetLabels() {
			if label == "app.kubernetes.io/managed-by" {
				continue
			}
			if got.GetLabels()[label] != value {
				t.Errorf("%s: label %s is %q in the chart, %q in the kustomize install", k, label, got.GetLabels()[label], value)
			}
		}
		if diff := cmp.Diff(normalised(t, want, kustomizePrefix), normalised(t, got, chartPrefix)); diff != "" {
			t.Errorf("%s differs (-kustomize +chart):\n%s", k, diff)
		}
	}

	// normalised leaves the image out, for the chart's overrides; by
	// default both install the same one.
	dk := key{"Deployment", namespace, "controller-manager"}
	if kustomized[dk] != nil && charted[dk] != nil {
		if want, got := managerContainer(t, kustomized[dk])["image"], managerContainer(t, charted[dk])["image"]; want != got {
			t.Errorf("the chart's default image is %v; the kustomize install's %v", got, want)
		}
	}

	crd := charted[key{"CustomResourceDefinition", "", "blueprints.stax.dev"}]
	if crd != nil && crd.GetAnnotations()["helm.sh/resource-policy"] != "keep" {
		t.Errorf("the chart's CRD is not kept on uninstall: deleting it would delete every Blueprint")
	}
}

// TestChartWatchNamespaces renders the chart for two namespaces: the
// manager's rules move from the ClusterRole into a Role in each, the manager
// is told to watch just those, and nothing else changes.
func TestChartWatchNamespaces(t *testing.T) {
	clusterWide := renderChart(t, nil)
	// Listed twice, a namespace still gets one Role and appears once in the
	// flag.
	namespaced := renderChart(t, map[string]any{"watchNamespaces": []any{"team-a", "team-b", "team-a"}})
	kustomizeRules := renderKustomize(t)[key{"ClusterRole", "", "manager-role"}].Object["rules"]

	for _, k := range []key{{"ClusterRole", "", "manager-role"}, {"ClusterRoleBinding", "", "manager-rolebinding"}} {
		if _, ok := namespaced[k]; ok {
			t.Errorf("%s rendered with watchNamespaces: the manager must not hold its rules cluster-wide", k)
		}
	}
	for _, ns := range []string{"team-a", "team-b"} {
		role := namespaced[key{"Role", ns, "manager-role"}]
		if role == nil {
			t.Errorf("no manager Role in %s", ns)
		} else if diff := cmp.Diff(kustomizeRules, role.Object["rules"]); diff != "" {
			t.Errorf("the manager Role in %s differs from the generated ClusterRole (-ClusterRole +Role):\n%s", ns, diff)
		}
		binding := namespaced[key{"RoleBinding", ns, "manager-rolebinding"}]
		if binding == nil {
			t.Errorf("no manager RoleBinding in %s", ns)
			continue
		}
		wantRef := map[string]any{"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": chartPrefix + "manager-role"}
		wantSubjects := []any{map[string]any{"kind": "ServiceAccount", "name": chartPrefix + "controller-manager", "namespace": namespace}}
		if diff := cmp.Diff(wantRef, binding.Object["roleRef"]); diff != "" {
			t.Errorf("the RoleBinding in %s binds another role (-want +got):\n%s", ns, diff)
		}
		if diff := cmp.Diff(wantSubjects, binding.Object["subjects"]); diff != "" {
			t.Errorf("the RoleBinding in %s binds another subject (-want +got):\n%s", ns, diff)
		}
	}

	deployment := key{"Deployment", namespace, "controller-manager"}
	wantArgs := append(managerArgs(t, clusterWide[deployment]), "--watch-namespaces=team-a,team-b")
	if diff := cmp.Diff(wantArgs, managerArgs(t, namespaced[deployment])); diff != "" {
		t.Errorf("manager args (-want +got):\n%s", diff)
	}

	// Everything else, leader election in the release namespace included, is
	// as in the cluster-wide install.
	for k, want := range clusterWide {
		if k.name == "manager-role" || k.name == "manager-rolebinding" || k == deployment {
			continue
		}
		if diff := cmp.Diff(want.Object, namespaced[k].Object); diff != "" {
			t.Errorf("%s changes with watchNamespaces (-cluster-wide +namespaced):\n%s", k, diff)
		}
	}
	for k := range namespaced {
		if _, ok := clusterWide[k]; !ok && !(k.kind == "Role" || k.kind == "RoleBinding") {
			t.Errorf("%s appears only with watchNamespaces", k)
		}
	}
}

// TestChartValues checks the other values do what values.yaml says.
func TestChartValues(t *testing.T) {
	deployment := key{"Deployment", namespace, "controller-manager"}
	kinds := func(objects map[key]*unstructured.Unstructured) []string {
		var out []string
		for k := range objects {
			out = append(out, k.kind+" "+k.name)
		}
		slices.Sort(out)
		return out
	}

	t.Run("manager", func(t *testing.T) {
		objects := renderChart(t, map[string]any{"manager": map[string]any{
			"replicas": 2,
			"image":    map[string]any{"repository": "registry.example/bp", "tag": "v1.2.3", "pullPolicy": "Always"},
			"logLevel": "debug",
			"args":     []any{"--enable-http2"},
			"resources": map[string]any{
				"requests": map[string]any{"cpu": "50m", "memory": "128Mi"},
				"limits":   map[string]any{"cpu": "1", "memory": "128Mi"},
			},
		}})
		d := objects[deployment]
		if replicas, _, _ := unstructured.NestedInt64(d.Object, "spec", "replicas"); replicas != 2 {
			t.Errorf("replicas = %d, want 2", replicas)
		}
		c := managerContainer(t, d)
		if c["image"] != "registry.example/bp:v1.2.3" || c["imagePullPolicy"] != "Always" {
			t.Errorf("image %v, pull policy %v", c["image"], c["imagePullPolicy"])
		}
		wantArgs := []any{"--leader-elect", "--health-probe-bind-address=:8081", "--metrics-bind-address=:8443", "--zap-log-level=debug", "--enable-http2"}
		if diff := cmp.Diff(wantArgs, c["args"]); diff != "" {
			t.Errorf("args (-want +got):\n%s", diff)
		}
		wantResources := map[string]any{
			"requests": map[string]any{"cpu": "50m", "memory": "128Mi"},
			"limits":   map[string]any{"cpu": "1", "memory": "128Mi"},
		}
		if diff := cmp.Diff(wantResources, c["resources"]); diff != "" {
			t.Errorf("resources (-want +got):\n%s", diff)
		}
	})

	t.Run("logLevel empty leaves the manager's default", func(t *testing.T) {
		args := managerArgs(t, renderChart(t, map[string]any{"manager": map[string]any{"logLevel": ""}})[deployment])
		for _, a := range args {
			if strings.HasPrefix(a, "--zap-log-level") {
				t.Errorf("args carry %s", a)
			}
		}
	})

	t.Run("metrics disabled", func(t *testing.T) {
		objects := renderChart(t, map[string]any{"metrics": map[string]any{"enable": false}})
		for _, name := range []string{"controller-manager-metrics-service", "metrics-auth-role", "metrics-auth-rolebinding", "metrics-reader"} {
			for k := range objects {
				if k.name == name {
					t.Errorf("%s rendered with metrics disabled", k)
				}
			}
		}
		if !slices.Contains(managerArgs(t, objects[deployment]), "--metrics-bind-address=0") {
			t.Errorf("the metrics server is not disabled: %v", managerArgs(t, objects[deployment]))
		}
	})

	t.Run("rbac disabled", func(t *testing.T) {
		objects := renderChart(t, map[string]any{"rbac": map[string]any{"enable": false}})
		want := []string{
			"CustomResourceDefinition blueprints.stax.dev",
			"Deployment controller-manager",
			"Service controller-manager-metrics-service",
			"ServiceAccount controller-manager",
			"ValidatingAdmissionPolicy plaintext-guard",
			"ValidatingAdmissionPolicyBinding plaintext-guard",
		}
		if diff := cmp.Diff(want, kinds(objects)); diff != "" {
			t.Errorf("objects (-want +got):\n%s", diff)
		}
	})

	t.Run("plaintext guard disabled", func(t *testing.T) {
		objects := renderChart(t, nil)
		if _, ok := objects[key{"ValidatingAdmissionPolicy", "", "plaintext-guard"}]; !ok {
			t.Fatalf("the chart's defaults render no plaintext guard policy: nothing to disable")
		}
		for k := range renderChart(t, map[string]any{"plaintextGuard": map[string]any{"enable": false}}) {
			if strings.HasPrefix(k.kind, "ValidatingAdmissionPolicy") {
				t.Errorf("%s rendered with plaintextGuard.enable false", k)
			}
		}
	})

	t.Run("crd disabled", func(t *testing.T) {
		for k := range renderChart(t, map[string]any{"crd": map[string]any{"enable": false}}) {
			if k.kind == "CustomResourceDefinition" {
				t.Errorf("%s rendered with crd.enable false", k)
			}
		}
	})

	t.Run("crd not kept", func(t *testing.T) {
		crd := renderChart(t, map[string]any{"crd": map[string]any{"keep": false}})[key{"CustomResourceDefinition", "", "blueprints.stax.dev"}]
		if _, ok := crd.GetAnnotations()["helm.sh/resource-policy"]; ok {
			t.Errorf("CRD annotations %v with crd.keep false", crd.GetAnnotations())
		}
	})
}

func managerContainer(t *testing.T, deployment *unstructured.Unstructured) map[string]any {
	t.Helper()
	containers, _, err := unstructured.NestedSlice(deployment.Object, "spec", "template", "spec", "containers")
	if err != nil || len(containers) != 1 {
		t.Fatalf("containers %v: %v", containers, err)
	}
	return containers[0].(map[string]any)
}

func managerArgs(t *testing.T, deployment *unstructured.Unstructured) []string {
	t.Helper()
	args, _, err := unstructured.NestedStringSlice(managerContainer(t, deployment), "args")
	if err != nil {
		t.Fatal(err)
	}
	return args
}
