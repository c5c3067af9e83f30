package controller

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	auditv1 "k8s.io/apiserver/pkg/apis/audit/v1"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
	"sigs.k8s.io/yaml"
)

// The manager runs as a user of its own, bound to the ClusterRole of
// config/rbac/role.yaml, so RBAC is enforced on every request it sends and
// the API server's audit log tells its requests apart. After the suite,
// expectRBACMatchesAudit holds the role to the verbs the audit log saw.

const (
	managerUser = "blueprint-operator-manager"
	roleFile    = "../../config/rbac/role.yaml"
)

var auditLogPath string

// configureAudit makes the API server write an audit event for every request
// of the manager's user, and enables the OwnerReferencesPermissionEnforcement
// admission plugin a real cluster may run (OpenShift does), so the role is
// held to it too. Call it before testEnv.Start.
func configureAudit(env *envtest.Environment) {
	dir, err := os.MkdirTemp("", "audit-")
	Expect(err).NotTo(HaveOccurred())
	DeferCleanup(os.RemoveAll, dir)
	policy := filepath.Join(dir, "policy.yaml")
	Expect(os.WriteFile(policy, []byte(`apiVersion: audit.k8s.io/v1
kind: Policy
omitStages: ["RequestReceived"]
rules:
- level: Metadata
  users: ["`+managerUser+`"]
- level: None
`), 0o600)).To(Succeed())
	auditLogPath = filepath.Join(dir, "audit.log")
	args := env.ControlPlane.GetAPIServer().Configure()
	args.Set("audit-policy-file", policy)
	args.Set("audit-log-path", auditLogPath)
	args.Set("audit-log-mode", "blocking")
	// envtest's default, spelt out: under any other mode the manager's user
	// would prove nothing.
	args.Set("authorization-mode", "RBAC")
	args.Append("enable-admission-plugins", "OwnerReferencesPermissionEnforcement")
}

// managerRole is config/rbac/role.yaml.
func managerRole() *rbacv1.ClusterRole {
	raw, err := os.ReadFile(roleFile)
	Expect(err).NotTo(HaveOccurred())
	role := &rbacv1.ClusterRole{}
	Expect(yaml.UnmarshalStrict(raw, role)).To(Succeed())
	return role
}

// managerConfig is a client config of the manager's own user, bound to the
// ClusterRole of config/rbac/role.yaml and nothing else. Its transport
// records every Secret read (secretReads).
func managerConfig(env *envtest.Environment) *rest.Config {
	ctx := context.Background()
	user, err := env.AddUser(envtest.User{Name: managerUser}, nil)
	Expect(err).NotTo(HaveOccurred())
	role := managerRole()
	Expect(k8sClient.Create(ctx, role)).To(Succeed())
	Expect(k8sClient.Create(ctx, &rbacv1.ClusterRoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: role.Name},
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: role.Name},
		Subjects:   []rbacv1.Subject{{APIGroup: rbacv1.GroupName, Kind: rbacv1.UserKind, Name: managerUser}},
	})).To(Succeed())
	c := rest.CopyConfig(user.Config())
	// As cmd/main.go runs by default (--kube-api-qps=-1): no client-side
	// rate limit.
	c.QPS = -1
	c.Wrap(func(rt http.RoundTripper) http.RoundTripper { return secretReadRecorder{rt} })
	return c
}

// secretReads lists every GET of a single Secret the manager sent, as
// "namespace/name full" or "namespace/name metadata" (a PartialObjectMetadata
// read, which carries no data).
var secretReads = struct {
	sync.Mutex
	reads []string
}{}

type secretReadRecorder struct{ next http.RoundTripper }

// secretCollections counts the manager's lists and watches of Secrets
// (GETs of a collection), by whether they asked for metadata only. The
// README: Secrets are never cached, only watched as metadata; a full Secret
// informer would hold every Secret of the cluster in memory.
var secretCollections = struct {
	sync.Mutex
	metadata, full []string
}{}

func (s secretReadRecorder) RoundTrip(req *http.Request) (*http.Response, error) {
	// /api/v1/secrets or /api/v1/namespaces/NS/secrets
	path := strings.Trim(req.URL.Path, "/")
	if req.Method == http.MethodGet && (path == "api/v1/secrets" || (strings.HasPrefix(path, "api/v1/namespaces/") && strings.HasSuffix(path, "/secrets") && strings.Count(path, "/") == 4)) {
		secretCollections.Lock()
		if strings.Contains(req.Header.Get("Accept"), "as=PartialObjectMetadata") {
			secretCollections.metadata = append(secretCollections.metadata, req.URL.RequestURI())
		} else {
			secretCollections.full = append(secretCollections.full, req.URL.RequestURI())
		}
		secretCollections.Unlock()
	}
	// /api/v1/namespaces/NS/secrets/NAME
	parts := strings.Split(strings.Trim(req.URL.Path, "/"), "/")
	// /api/v1/namespaces/NS/services/NAME, /apis/apps/v1/namespaces/NS/deployments/NAME
	if req.Method == http.MethodGet {
		var ns, kind, name string
		switch {
		case len(parts) == 6 && parts[0] == "api" && parts[2] == "namespaces" && parts[4] == "services":
			ns, kind, name = parts[3], "Service", parts[5]
		case len(parts) == 7 && parts[0] == "apis" && parts[1] == "apps" && parts[3] == "namespaces" && parts[5] == "deployments":
			ns, kind, name = parts[4], "Deployment", parts[6]
		}
		if kind != "" {
			workloadGets.Lock()
			workloadGets.gets = append(workloadGets.gets, ns+"/"+kind+"/"+name)
			workloadGets.Unlock()
		}
	}
	if req.Method == http.MethodGet && len(parts) == 6 && parts[0] == "api" && parts[2] == "namespaces" && parts[4] == "secrets" {
		kind := "full"
		if strings.Contains(req.Header.Get("Accept"), "as=PartialObjectMetadata") {
			kind = "metadata"
		}
		secretReads.Lock()
		secretReads.reads = append(secretReads.reads, parts[3]+"/"+parts[5]+" "+kind)
		secretReads.Unlock()
	}
	return s.next.RoundTrip(req)
}

// workloadGets lists every GET of a single Deployment or Service the manager
// sent, as "namespace/Kind/name". The README: get only for an object the
// caches have not seen yet.
var workloadGets = struct {
	sync.Mutex
	gets []string
}{}

func workloadGetsIn(ns string) []string {
	workloadGets.Lock()
	defer workloadGets.Unlock()
	var out []string
	for _, g := range workloadGets.gets {
		if strings.HasPrefix(g, ns+"/") {
			out = append(out, g)
		}
	}
	return out
}

func secretReadsOf(ns, name string) []string {
	secretReads.Lock()
	defer secretReads.Unlock()
	var out []string
	for _, r := range secretReads.reads {
		if strings.HasPrefix(r, ns+"/"+name+" ") {
			out = append(out, r)
		}
	}
	return out
}

// permission is one verb on one resource ("resource" or
// "resource/subresource") of an API group.
type permission struct{ group, resource, verb string }

func (p permission) String() string {
	return fmt.Sprintf("%s on %s.%s", p.verb, p.resource, p.group)
}

// rbacExceptions are grants the suite cannot show in its audit log but a
// real cluster needs, with the reason. They are neither required to be used
// nor reported as unused.
var rbacExceptions = map[permission]string{
	// Setting blockOwnerDeletion on an ownerReference needs update on the
	// owner's finalizers under the OwnerReferencesPermissionEnforcement
	// admission plugin (on by default on OpenShift). Admission checks it
	// with an authorizer call, which is not an audited request; the suite
	// enables the plugin, so without this grant every rendered object would
	// be refused and the suite would fail.
	{"stax.dev", "blueprints/finalizers", "update"}: "authorized by OwnerReferencesPermissionEnforcement admission, not an audited request",
	// The same plugin lets only a user who may delete an object change its
	// ownerReferences: the reconciler adds one to the generated Secret under
	// deletionPolicy Delete (an Update, audited as such), and admission
	// checks delete with an authorizer call. The operator never deletes a
	// Secret (neverUsed fails the suite if it sends one); the suite enables
	// the plugin, so without this grant the deletionPolicy specs fail.
	{"", "secrets", "delete"}: "authorized by OwnerReferencesPermissionEnforcement admission for ownerReference changes, not an audited request",
	// Informers start with a list. client-go streams it over a watch
	// (sendInitialEvents) where the API server supports it, as the suite's
	// does, so the audit log shows watch; against an API server without
	// streaming lists, or when the stream fails, the reflector falls back to
	// a LIST, and without list the cache never syncs.
	{"stax.dev", "blueprints", "list"}:         "informer's fallback LIST; the suite's API server streams lists over watch",
	{"apps", "deployments", "list"}:            "informer's fallback LIST; the suite's API server streams lists over watch",
	{"", "services", "list"}:                   "informer's fallback LIST; the suite's API server streams lists over watch",
	{"", "secrets", "list"}:                    "metadata informer's fallback LIST; the suite's API server streams lists over watch",
	{"", "persistentvolumeclaims", "list"}:     "informer's fallback LIST; the suite's API server streams lists over watch",
	{"networking.k8s.io", "ingresses", "list"}: "informer's fallback LIST; the suite's API server streams lists over watch",
	{"batch", "jobs", "list"}:                  "informer's fallback LIST (hook Jobs); the suite's API server streams lists over watch",
	// The events recorder patches an event when it repeats (the series of an
	// isomorphic event); whether a spec repeats one within the recorder's
	// series window depends on timing.
	{"events.k8s.io", "events", "patch"}: "series updates of repeated events; timing-dependent in a test",
}

// neverUsed are grants the manager holds but must never send: a request
// with one of them in the audit log fails the suite, whatever part of it ran.
var neverUsed = map[permission]string{
	// The README: the operator itself never deletes a Secret (a generated
	// value would be lost). The grant serves only admission's check above.
	{"", "secrets", "delete"}: "the operator never deletes a Secret",
}

// usedPermissions reads the audit log: every verb the manager's user sent,
// per resource. A server-side apply that created its object (HTTP 201) was
// authorized as create too.
func usedPermissions() map[permission]int {
	used := map[permission]int{}
	for _, ev := range managerAuditEvents() {
		resource := ev.ObjectRef.Resource
		if ev.ObjectRef.Subresource != "" {
			resource += "/" + ev.ObjectRef.Subresource
		}
		p := permission{group: ev.ObjectRef.APIGroup, resource: resource, verb: ev.Verb}
		used[p]++
		if ev.Verb == "patch" && ev.ResponseStatus != nil && ev.ResponseStatus.Code == http.StatusCreated {
			used[permission{p.group, p.resource, "create"}]++
		}
	}
	return used
}

// managerAuditEvents reads the audit log: every request the manager's user
// sent about an object, once each (the log has a line per stage).
func managerAuditEvents() []auditv1.Event {
	f, err := os.Open(auditLogPath)
	Expect(err).NotTo(HaveOccurred())
	defer func() { _ = f.Close() }()
	var events []auditv1.Event
	seen := map[string]bool{}
	scanner := bufio.NewScanner(f)
	scanner.Buffer(make([]byte, 1<<20), 1<<24)
	for scanner.Scan() {
		var ev auditv1.Event
		Expect(json.Unmarshal(scanner.Bytes(), &ev)).To(Succeed())
		if ev.User.Username != managerUser || ev.ObjectRef == nil || seen[string(ev.AuditID)] {
			continue
		}
		seen[string(ev.AuditID)] = true
		events = append(events, ev)
	}
	Expect(scanner.Err()).NotTo(HaveOccurred())
	return events
}

func grantedPermissions(role *rbacv1.ClusterRole) map[permission]bool {
	out := map[permission]bool{}
	for _, r := range role.Rules {
		Expect(r.NonResourceURLs).To(BeEmpty(), "the manager's role grants non-resource URLs")
		Expect(r.ResourceNames).To(BeEmpty(), "resourceNames narrow a rule the audit check cannot judge")
		for _, g := range r.APIGroups {
			for _, res := range r.Resources {
				for _, v := range r.Verbs {
					Expect(g + res + v).NotTo(ContainSubstring("*"))
					out[permission{g, res, v}] = true
				}
			}
		}
	}
	return out
}

// fullSuiteRan reports whether every spec of the suite was selected: only
// then is what the audit log lacks a grant nothing uses.
func fullSuiteRan() bool {
	sc, _ := GinkgoConfiguration()
	return len(sc.FocusStrings) == 0 && len(sc.SkipStrings) == 0 && len(sc.FocusFiles) == 0 && len(sc.SkipFiles) == 0 && sc.LabelFilter == ""
}

// expectNoFullSecretInformer fails if the manager ever listed or watched
// Secrets with their data. After the full suite it also requires that the
// manager did watch them as metadata (so the transport saw its informers'
// requests); a short focused run may end before the watch starts.
func expectNoFullSecretInformer() {
	secretCollections.Lock()
	defer secretCollections.Unlock()
	Expect(secretCollections.full).To(BeEmpty(), "the manager listed or watched Secrets with their data: a full Secret informer")
	if fullSuiteRan() {
		Expect(secretCollections.metadata).NotTo(BeEmpty(), "the manager never listed or watched Secrets as metadata: is its transport recording?")
	} else {
		GinkgoWriter.Printf("part of the suite ran: %d metadata lists and watches of Secrets seen\n", len(secretCollections.metadata))
	}
}

// expectRBACMatchesAudit fails if config/rbac/role.yaml grants anything the
// manager never used across the suite, or lacks anything it used.
func expectRBACMatchesAudit() {
	used := usedPermissions()
	granted := grantedPermissions(managerRole())
	Expect(used).NotTo(BeEmpty(), "the audit log holds no request of %s: is the manager running as its own user?", managerUser)
	var missing, unused []string
	for p, n := range used {
		if !granted[p] {
			missing = append(missing, fmt.Sprintf("%s (%d requests)", p, n))
		}
	}
	for p := range granted {
		if used[p] == 0 && rbacExceptions[p] == "" {
			unused = append(unused, p.String())
		}
	}
	for p := range rbacExceptions {
		Expect(granted).To(HaveKey(p), "rbacExceptions names %s, which role.yaml does not grant: drop it", p)
	}
	slices.Sort(missing)
	slices.Sort(unused)
	seen := make([]string, 0, len(used))
	for p, n := range used {
		seen = append(seen, fmt.Sprintf("%s: %d", p, n))
	}
	slices.Sort(seen)
	GinkgoWriter.Printf("the manager's requests in the audit log, per permission:\n  %s\n", strings.Join(seen, "\n  "))
	Expect(missing).To(BeEmpty(), "the manager used permissions role.yaml does not grant")
	for p, why := range neverUsed {
		Expect(used[p]).To(BeZero(), "the manager sent %s, which it must never do: %s", p, why)
	}
	if fullSuiteRan() {
		// The Secret requests the manager did send are in the log, so the
		// absence of a delete above says something.
		Expect(used[permission{"", "secrets", "create"}]).To(BeNumerically(">", 0), "no Secret create of the manager in the audit log")
		Expect(used[permission{"", "secrets", "update"}]).To(BeNumerically(">", 0), "no Secret update of the manager in the audit log")
		Expect(unused).To(BeEmpty(), "role.yaml grants permissions the manager never used; drop them from the +kubebuilder:rbac markers and run make manifests, or name them in rbacExceptions with the reason a real cluster needs them")
	} else {
		GinkgoWriter.Printf("part of the suite ran: not judging unused grants %v\n", unused)
	}
}

// expectEveryWriteNamesItsFieldManager fails if the manager sent a write of
// the objects it manages (create, update, patch: the generated Secret,
// Deployments, Services, claims, routes, hook Jobs, status) without naming
// its field manager (client.WithFieldOwner in Setup), or naming another
// than FieldOwner or ResumeFieldOwner. Events and leases are the
// libraries' own.
func expectEveryWriteNamesItsFieldManager() {
	checked := 0
	var unnamed []string
	for _, ev := range managerAuditEvents() {
		switch {
		case ev.Verb != "create" && ev.Verb != "update" && ev.Verb != "patch":
			continue
		case ev.ObjectRef.APIGroup == "events.k8s.io" || ev.ObjectRef.APIGroup == "coordination.k8s.io" || ev.ObjectRef.Resource == "events":
			continue
		}
		checked++
		u, err := url.Parse(ev.RequestURI)
		Expect(err).NotTo(HaveOccurred())
		if m := u.Query().Get("fieldManager"); m != FieldOwner && m != ResumeFieldOwner {
			unnamed = append(unnamed, fmt.Sprintf("%s %s/%s %q", ev.Verb, ev.ObjectRef.Resource, ev.ObjectRef.Subresource, m))
		}
	}
	if checked == 0 && !fullSuiteRan() {
		return // a focused run whose specs wrote nothing through the manager
	}
	Expect(checked).To(BeNumerically(">", 0), "the audit log holds no write of the manager: the check saw nothing")
	Expect(unnamed).To(BeEmpty(), "writes without the operator's field manager")
}
