package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	staxv1alpha1 "github.com/stax-dev/blueprint-operator/api/v1alpha1"
	"github.com/stax-dev/blueprint-operator/internal/render"
	"github.com/stax-dev/blueprint-operator/internal/values"
)

// refKey is the key of a referenced Secret that a Blueprint's web service
// consumes.
const refKey = "token"

// bpRef names one Blueprint of the bench: its namespace, its name, and the
// suffix that makes its service names unique in the namespace.
type bpRef struct {
	Namespace, Name, Suffix string
	// RefSecret is the Secret its web service references.
	RefSecret string
}

func (b bpRef) key() types.NamespacedName {
	return types.NamespacedName{Namespace: b.Namespace, Name: b.Name}
}

// web is the Deployment that consumes RefSecret.
func (b bpRef) web() types.NamespacedName {
	return types.NamespacedName{Namespace: b.Namespace, Name: "web-" + b.Suffix}
}

// mainSet lays n Blueprints out over namespaces of perNamespace each; each
// references a Secret of its own.
func mainSet(n, perNamespace int) []bpRef {
	out := make([]bpRef, n)
	for i := range out {
		suffix := fmt.Sprintf("%04d", i)
		out[i] = bpRef{Namespace: fmt.Sprintf("bp-%02d", i/perNamespace), Name: "bp-" + suffix, Suffix: suffix, RefSecret: "bp-" + suffix + "-ref"}
	}
	return out
}

// sharedSet is n Blueprints in one namespace, all referencing one Secret.
func sharedSet(n int) []bpRef {
	out := make([]bpRef, n)
	for i := range out {
		suffix := fmt.Sprintf("s%03d", i)
		out[i] = bpRef{Namespace: "shared", Name: "sh-" + suffix, Suffix: suffix, RefSecret: "shared"}
	}
	return out
}

func namespacesOf(refs []bpRef) []string {
	seen := map[string]bool{}
	var out []string
	for _, r := range refs {
		if !seen[r.Namespace] {
			seen[r.Namespace] = true
			out = append(out, r.Namespace)
		}
	}
	return out
}

// blueprint is a Blueprint of three services without dependsOn, so every
// service starts at once: db with a generated password, api composing it
// into a URL, web consuming a key of a referenced Secret. Each has a port, so
// it renders a Secret, three Deployments and three Services.
func blueprint(r bpRef) *staxv1alpha1.Blueprint {
	db, api, web := "db-"+r.Suffix, "api-"+r.Suffix, "web-"+r.Suffix
	return &staxv1alpha1.Blueprint{
		ObjectMeta: metav1.ObjectMeta{Namespace: r.Namespace, Name: r.Name},
		Spec: staxv1alpha1.BlueprintSpec{
			Description: "bench",
			Services: []staxv1alpha1.BlueprintService{
				{
					Name: db, Image: "postgres:16-alpine",
					Ports:   []staxv1alpha1.ServicePort{{ContainerPort: 5432}},
					Secrets: []staxv1alpha1.ServiceSecret{{Name: "db-password", EnvKey: "POSTGRES_PASSWORD", Value: "auto-generated"}},
				},
				{
					Name: api, Image: "ghcr.io/example/api:1.0.0",
					Ports: []staxv1alpha1.ServicePort{{ContainerPort: 8080}},
					Env: map[string]staxv1alpha1.EnvValue{
						"DATABASE_URL": staxv1alpha1.EnvValue("postgres://postgres:${secret:db-password}@" + db + ":5432/app"),
						"LOG_LEVEL":    "info",
					},
				},
				{
					Name: web, Image: "ghcr.io/example/web:1.0.0",
					Ports: []staxv1alpha1.ServicePort{{ContainerPort: 80}},
					Env: map[string]staxv1alpha1.EnvValue{
						"API_URL": staxv1alpha1.EnvValue("http://" + api + ":8080"),
						"TOKEN":   staxv1alpha1.EnvValue("${secret:" + r.RefSecret + "/" + refKey + "}"),
					},
				},
			},
		},
	}
}

func randomHex(n int) string {
	b := make([]byte, (n+1)/2)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	return hex.EncodeToString(b)[:n]
}

func refSecret(ns, name string) *corev1.Secret {
	return &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Data:       map[string][]byte{refKey: []byte(randomHex(32))},
	}
}

// plainObjects are the objects the operator makes for r, made by hand: the
// generated Secret (same keys, labels and annotations), and the Deployments
// and Services exactly as rendered, in namespace ns.
func plainObjects(r bpRef, ns string) ([]client.Object, error) {
	objs, _, err := renderPlain(r, ns)
	return objs, err
}

// renderPlain returns plainObjects, and the Deployments and Services as the
// manager applies them (apply configurations).
func renderPlain(r bpRef, ns string) ([]client.Object, []runtime.ApplyConfiguration, error) {
	bp := blueprint(r)
	bp.Namespace = ns
	bp.UID = types.UID("00000000-0000-0000-0000-" + fmt.Sprintf("%012x", len(r.Suffix)))
	plan, errs := render.Build(bp)
	if len(errs) > 0 {
		return nil, nil, fmt.Errorf("rendering %s: %w", r.Name, errs[0])
	}
	secret := &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{
			Namespace: ns, Name: plan.GeneratedSecretName,
			Labels: render.GeneratedSecretLabels(bp.Name),
			Annotations: map[string]string{
				staxv1alpha1.GeneratedForAnnotation: bp.Name,
				staxv1alpha1.ValuesAnnotation:       values.EncodeValues(map[string]values.ValueMeta{"db-password": {GeneratedAt: time.Now().UTC()}}),
			},
		},
		Type: corev1.SecretTypeOpaque,
		Data: map[string][]byte{"db-password": []byte(randomHex(32)), staxv1alpha1.DigestKey: []byte(randomHex(64))},
	}
	out := []client.Object{secret}
	var services []client.Object
	var acs, serviceACs []runtime.ApplyConfiguration
	for i := range plan.Services {
		svc := &plan.Services[i]
		svc.SetSecretsDigest(randomHex(64))
		dep := &appsv1.Deployment{}
		if err := convert(svc.Deployment, dep); err != nil {
			return nil, nil, err
		}
		out = append(out, dep)
		acs = append(acs, svc.Deployment)
		if svc.Service != nil {
			s := &corev1.Service{}
			if err := convert(svc.Service, s); err != nil {
				return nil, nil, err
			}
			services = append(services, s)
			serviceACs = append(serviceACs, svc.Service)
		}
	}
	return append(out, services...), append(acs, serviceACs...), nil
}

func convert(from any, to client.Object) error {
	raw, err := json.Marshal(from)
	if err != nil {
		return err
	}
	return json.Unmarshal(raw, to)
}

// parallel runs fn for 0..n-1 on workers goroutines and returns the first
// error.
func parallel(ctx context.Context, n, workers int, fn func(ctx context.Context, i int) error) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var next atomic.Int64
	var once sync.Once
	var firstErr error
	var wg sync.WaitGroup
	for range min(workers, n) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1)) - 1
				if i >= n || ctx.Err() != nil {
					return
				}
				if err := fn(ctx, i); err != nil {
					once.Do(func() { firstErr = err; cancel() })
					return
				}
			}
		}()
	}
	wg.Wait()
	return firstErr
}

func createNamespaces(ctx context.Context, c client.Client, names ...string) error {
	for _, ns := range names {
		err := c.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}})
		if err != nil && !apierrors.IsAlreadyExists(err) {
			return err
		}
	}
	return nil
}
