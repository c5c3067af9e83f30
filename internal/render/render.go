// Package render turns a Blueprint into the objects that run it: one
// Deployment per service and a ClusterIP Service per service with ports. It is
// pure: it reads only the Blueprint, never a secret value, so what it renders
// can be shown to anyone (the kubectl plugin prints it for review).
//
// # How secret values reach containers
//
// A value that is exactly one reference becomes valueFrom.secretKeyRef.
// A value with references inside text (postgres://u:${secret:pw}@db/x) uses
// kubelet's dependent environment variable expansion: every reference becomes
// a hidden variable STAX_REF_<digest> with a secretKeyRef, declared before any
// visible variable, and the visible value is written as
// postgres://u:$(STAX_REF_<digest>)@db/x. Kubelet composes the string when it
// starts the container.
//
// We chose expansion over writing the composed string into an owned Secret
// because it keeps exactly one copy of every value: the Secret it came from.
// Nothing has to be re-copied when a referenced value changes, no second
// Secret can drift from the first, and the operator never has to read a
// referenced value just to render a Deployment.
//
// Expansion has one consequence for literal text: kubelet turns $$ into $ and
// $(NAME) into NAME's value. So every literal $ is written as $$, which kubelet
// turns back into $. A Blueprint's literal text therefore reaches the
// container exactly as written, whether or not the value has references.
//
// Kubelet expands command and args with the same rules, so references in
// them work the same way: every reference becomes a hidden variable, and the
// item is written with $(STAX_REF_<digest>) and every literal $ as $$. (An
// item that is exactly one reference still needs the hidden variable:
// command and args have no valueFrom.)
//
// # Secrets as files
//
// A secret with mountPath is served from the Secret that holds it through a
// Secret volume of one item, mounted with subPath at exactly mountPath (so
// nothing else of the image's directory is hidden), read-only, mode 0400, or
// 0440 when the pod has an fsGroup. Its Usage makes it part of the digest, so
// a changed value rolls the pods out as it does for env (subPath mounts are
// never refreshed in place).
//
// # Restricted by default
//
// Every pod passes the Pod Security "restricted" profile: runAsNonRoot and
// the RuntimeDefault seccomp profile on the pod; no privilege escalation and
// every capability dropped on the container; no service account token unless
// the service names a ServiceAccount. The Blueprint's securityContext adds
// the user, group and fsGroup and a read-only root filesystem (with an
// emptyDir at /tmp).
package render

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/validation/field"
	appsv1ac "k8s.io/client-go/applyconfigurations/apps/v1"
	corev1ac "k8s.io/client-go/applyconfigurations/core/v1"
	metav1ac "k8s.io/client-go/applyconfigurations/meta/v1"
	"k8s.io/utils/ptr"

	staxv1alpha1 "github.com/stax-dev/blueprint-operator/api/v1alpha1"
	"github.com/stax-dev/blueprint-operator/internal/plaintext"
	"github.com/stax-dev/blueprint-operator/internal/reference"
)

// hiddenRefPrefix starts the names of the variables that carry referenced
// values into composed strings.
const hiddenRefPrefix = "STAX_REF_"

// GeneratedSecretName is the name of the Secret holding a Blueprint's
// generated values: one key per managed secret name.
func GeneratedSecretName(blueprintName string) string {
	return blueprintName + "-generated"
}

// ManagedSecret is a value the operator generates and keeps.
type ManagedSecret struct {
	Name    string
	Charset staxv1alpha1.Charset
	Length  int
	// Rotation is the spec's rotation token: a change regenerates the value.
	Rotation string
	// RotateEvery regenerates the value when it is this old; 0 never does.
	RotateEvery time.Duration
	// Hook is the secret's onRotate hook; nil when it has none.
	Hook *staxv1alpha1.RotationHook
	// Service is the service that declares the secret, for messages about
	// its hook; set only with Hook.
	Service string
	// Type is what the value is: password (the default, also when empty),
	// a keypair (rsa, ecdsa, ed25519) or a tls certificate.
	Type staxv1alpha1.SecretType
	// Exclude lists characters a password never contains.
	Exclude string
	// DNSNames of a tls certificate: the spec's, or the declaring service's
	// names (DefaultDNSNames).
	DNSNames []string
	// ValidFor is the validity of a tls certificate; 0 for other types.
	ValidFor time.Duration
}

// Parts returns the suffixes of the keys a value of type t holds besides
// NAME: .pub for a keypair, .crt and .ca for tls, none for a password.
func Parts(t staxv1alpha1.SecretType) []string {
	switch t {
	case staxv1alpha1.SecretTypeRSA, staxv1alpha1.SecretTypeECDSA, staxv1alpha1.SecretTypeEd25519:
		return []string{staxv1alpha1.PartPublic}
	case staxv1alpha1.SecretTypeTLS:
		return []string{staxv1alpha1.PartCert, staxv1alpha1.PartCA}
	}
	return nil
}

// allParts are the suffixes any type's parts may have.
var allParts = []string{staxv1alpha1.PartPublic, staxv1alpha1.PartCert, staxv1alpha1.PartCA}

// SplitPart splits key into a managed secret's name and a part suffix
// (.pub, .crt or .ca); ok is false when key has no such suffix.
func SplitPart(key string) (name, part string, ok bool) {
	for _, p := range allParts {
		if n, found := strings.CutSuffix(key, p); found && n != "" {
			return n, p, true
		}
	}
	return key, "", false
}

// TypeOrDefault is t, or password when t is empty.
func TypeOrDefault(t staxv1alpha1.SecretType) staxv1alpha1.SecretType {
	if t == "" {
		return staxv1alpha1.SecretTypePassword
	}
	return t
}

// Identity says what a value was made as, beyond its name: changing it
// makes a new value, as a rotation. Empty for a password (its length,
// charset and exclude apply to values generated from then on); the type
// for a keypair; the type, validity and DNS names for tls.
func (m ManagedSecret) Identity() string {
	switch t := TypeOrDefault(m.Type); t {
	case staxv1alpha1.SecretTypePassword:
		return ""
	case staxv1alpha1.SecretTypeTLS:
		return fmt.Sprintf("%s validFor=%s dnsNames=%s", t, m.ValidFor, strings.Join(m.DNSNames, ","))
	default:
		return string(t)
	}
}

// DefaultDNSNames are the names a tls certificate of service svc in
// namespace ns is issued for when its spec names none: SVC, SVC.NS,
// SVC.NS.svc and SVC.NS.svc.cluster.local (SVC alone without a
// namespace, as offline).
func DefaultDNSNames(svc, ns string) []string {
	if ns == "" {
		return []string{svc}
	}
	return []string{svc, svc + "." + ns, svc + "." + ns + ".svc", svc + "." + ns + ".svc.cluster.local"}
}

// HookTimeout is how long a rotation's hook may take from staging: the
// hook's timeoutSeconds; 0 without a hook.
func (m ManagedSecret) HookTimeout() time.Duration {
	if m.Hook == nil {
		return 0
	}
	if m.Hook.TimeoutSeconds == 0 {
		return DefaultHookTimeoutSeconds * time.Second
	}
	return time.Duration(m.Hook.TimeoutSeconds) * time.Second
}

// Usage says where a service consumes a value, for messages and digests.
type Usage struct {
	// Ref is the resolved reference: for a managed value, SecretName is the
	// generated Secret and Key the managed secret's name.
	Ref reference.Ref
	// Managed is true when the value is one this Blueprint generates.
	Managed bool
	// EnvKey is the visible environment variable that receives the value,
	// alone or inside a composed string; empty when the value reaches the
	// container otherwise (Field says how).
	EnvKey string
	// Field says where the service consumes the value, for messages:
	// "env NAME", "command[0]", "args[1]" or "file /run/secrets/x".
	Field string
}

// Service is what one Blueprint service renders to.
type Service struct {
	Name       string
	Deployment *appsv1ac.DeploymentApplyConfiguration
	// Service is nil when the service has no ports.
	Service *corev1ac.ServiceApplyConfiguration
	// Uses lists every value the service's pods consume, in env order: what
	// their digest covers.
	Uses []Usage
	// Reads lists every object the service's rendered objects name (its
	// pods, its hooks' Jobs, its route): Uses, the values its hooks read,
	// its image pull Secrets, its ServiceAccount and its route's TLS
	// Secret. See Plan.Reads.
	Reads []Read
	// Claims are the PersistentVolumeClaims of its pvc volumes.
	Claims []Claim
	// Route is set when the service is exposed.
	Route *Route
}

// Plan is everything a Blueprint renders to.
type Plan struct {
	GeneratedSecretName string
	Managed             []ManagedSecret
	Services            []Service
	// Unrendered names the services Build left out (it returned their
	// ServiceError, or the plan reads too many Secrets): what runs of them
	// is left as it runs.
	Unrendered []string
	// TooManySecrets is, when the services would read more than
	// MaxSecretsRead distinct Secrets, how many: then no service is
	// rendered and nothing is read.
	TooManySecrets int
}

// MaxSecretsRead bounds the distinct Secrets (besides its generated one) a
// Blueprint's objects may name. Each costs the operator a read, a memo
// entry and a Secret index entry; a Blueprint within the API server's size
// limit could otherwise name tens of thousands. Real environments name a
// handful.
const MaxSecretsRead = 64

// InvalidReferenceError is a reference the API server's validation could not
// catch (for example one naming a managed secret that no service declares).
type InvalidReferenceError struct {
	Service string
	// EnvKey is the environment variable of the value, if it is one.
	EnvKey string
	// Field is where the value is: "env NAME", "command[0]", "args[1]" or
	// "file /path".
	Field  string
	Text   string
	Reason string
}

func (e *InvalidReferenceError) Error() string {
	return fmt.Sprintf("service %s, %s: %s: %q", e.Service, e.Field, e.Reason, e.Text)
}

// ServiceError is a service that cannot be rendered, with every reason:
// literal credentials the plaintext guard found, or else references that
// cannot be resolved as written.
type ServiceError struct {
	Service string
	// Plaintext are the service's literals that look like credentials. A
	// service with any is not rendered, and its references are not
	// reported: an invalid reference's error quotes its text, which here
	// holds the credential.
	Plaintext []plaintext.Finding
	Errs      []*InvalidReferenceError
}

func (e *ServiceError) Error() string {
	if len(e.Plaintext) > 0 {
		return plaintext.Message(e.Service, e.Plaintext)
	}
	msgs := make([]string, len(e.Errs))
	for i, err := range e.Errs {
		msgs[i] = err.Error()
	}
	return strings.Join(msgs, "; ")
}

// Build renders every service of bp. Services that cannot be rendered are left
// out of the plan and reported in the returned errors, one per service, so
// that the others can still be applied.
func Build(bp *staxv1alpha1.Blueprint) (*Plan, []*ServiceError) {
	bp = Effective(bp)
	plan := &Plan{GeneratedSecretName: GeneratedSecretName(bp.Name)}
	generated := map[string]staxv1alpha1.SecretType{}
	for _, svc := range bp.Spec.Services {
		for _, s := range svc.Secrets {
			if s.Value == staxv1alpha1.AutoGenerated {
				generated[s.Name] = TypeOrDefault(s.Type)
				m := ManagedSecret{
					Name:     s.Name,
					Charset:  charsetOrDefault(s.Charset),
					Length:   lengthOrDefault(s.Length),
					Rotation: s.Rotation,
					Type:     TypeOrDefault(s.Type),
					Exclude:  s.Exclude,
				}
				if m.Type == staxv1alpha1.SecretTypeTLS {
					m.DNSNames = s.DNSNames
					if len(m.DNSNames) == 0 {
						m.DNSNames = DefaultDNSNames(svc.Name, bp.Namespace)
					}
					m.ValidFor = staxv1alpha1.DefaultValidFor
					if s.ValidFor != nil {
						m.ValidFor = s.ValidFor.Duration
					}
				}
				if HasHook(s) {
					m.Hook, m.Service = &s.OnRotate, svc.Name
				}
				if s.RotateEvery != nil {
					m.RotateEvery = s.RotateEvery.Duration
				}
				plan.Managed = append(plan.Managed, m)
			}
		}
	}
	sort.Slice(plan.Managed, func(i, j int) bool { return plan.Managed[i].Name < plan.Managed[j].Name })

	var errs []*ServiceError
	for i := range bp.Spec.Services {
		// No object is rendered with a literal credential: the service is
		// left as it runs until the value is moved into a Secret.
		if findings := plaintext.Service(&bp.Spec.Services[i], field.NewPath("spec", "services").Index(i)); len(findings) > 0 {
			errs = append(errs, &ServiceError{Service: bp.Spec.Services[i].Name, Plaintext: findings})
			plan.Unrendered = append(plan.Unrendered, bp.Spec.Services[i].Name)
			continue
		}
		svc, err := buildService(bp, &bp.Spec.Services[i], plan.GeneratedSecretName, generated)
		if err != nil {
			errs = append(errs, err)
			plan.Unrendered = append(plan.Unrendered, err.Service)
			continue
		}
		plan.Services = append(plan.Services, *svc)
	}
	if n := len(plan.SecretNames()); n > MaxSecretsRead {
		plan.TooManySecrets = n
		for _, svc := range plan.Services {
			plan.Unrendered = append(plan.Unrendered, svc.Name)
		}
		plan.Services = nil
	}
	return plan, errs
}

// SetSecretsDigest marks the pod template with the digest of the values the
// service consumes, so the Deployment rolls out exactly when one changes.
func (s *Service) SetSecretsDigest(digest string) {
	if digest == "" {
		return
	}
	s.Deployment.Spec.Template.WithAnnotations(map[string]string{staxv1alpha1.SecretsDigestAnnotation: digest})
}

// SetReplicas overrides the replica count, to hold a service back until the
// services it depends on are available. A service whose Blueprint leaves
// replicas open renders no replicas otherwise, so the field goes back to
// whoever scales the Deployment once the hold ends.
func (s *Service) SetReplicas(n int32) {
	s.Deployment.Spec.WithReplicas(n)
}

// Suspend scales the service to 0 replicas while its Blueprint is suspended
// or asleep, and records on the Deployment (SuspendedReplicasAnnotation)
// the count it returns to when the Blueprint resumes.
func (s *Service) Suspend(resumeTo int32) {
	s.Deployment.Spec.WithReplicas(0)
	s.Deployment.WithAnnotations(map[string]string{staxv1alpha1.SuspendedReplicasAnnotation: strconv.Itoa(int(resumeTo))})
}

// Selector returns the labels that select one service's pods.
func Selector(blueprintName, serviceName string) map[string]string {
	return map[string]string{staxv1alpha1.LabelBlueprint: blueprintName, staxv1alpha1.LabelService: serviceName}
}

// GeneratedSecretLabels returns the labels of a Blueprint's generated Secret.
func GeneratedSecretLabels(blueprintName string) map[string]string {
	return map[string]string{staxv1alpha1.LabelBlueprint: blueprintName, staxv1alpha1.LabelManagedBy: staxv1alpha1.ManagedByValue}
}

// Labels returns the labels of every object rendered for one service.
func Labels(blueprintName, serviceName string) map[string]string {
	return map[string]string{
		staxv1alpha1.LabelBlueprint: blueprintName,
		staxv1alpha1.LabelService:   serviceName,
		staxv1alpha1.LabelManagedBy: staxv1alpha1.ManagedByValue,
		staxv1alpha1.LabelName:      serviceName,
		staxv1alpha1.LabelInstance:  blueprintName,
	}
}

// OwnerReference makes bp the controller of a rendered object, so the object
// goes with the Blueprint and no other controller adopts it.
func OwnerReference(bp *staxv1alpha1.Blueprint) *metav1ac.OwnerReferenceApplyConfiguration {
	return metav1ac.OwnerReference().
		WithAPIVersion(staxv1alpha1.GroupVersion.String()).
		WithKind("Blueprint").
		WithName(bp.Name).
		WithUID(bp.UID).
		WithController(true).
		WithBlockOwnerDeletion(true)
}

type envBuilder struct {
	service   string
	generated string
	managed   map[string]staxv1alpha1.SecretType
	hidden    map[string]*corev1ac.EnvVarApplyConfiguration
	visible   []*corev1ac.EnvVarApplyConfiguration
	uses      []Usage
	errs      []*InvalidReferenceError
}

// resolve maps a parsed reference to the Secret and key it reads.
func (b *envBuilder) resolve(envKey, where, text string, ref reference.Ref) (reference.Ref, bool, bool) {
	if !ref.Managed() {
		return ref, false, true
	}
	if reason := ManagedKeyProblem(b.managed, ref.Key); reason != "" {
		b.errs = append(b.errs, &InvalidReferenceError{
			Service: b.service, EnvKey: envKey, Field: where, Text: text, Reason: reason,
		})
		return reference.Ref{}, false, false
	}
	return reference.Ref{SecretName: b.generated, Key: ref.Key}, true, true
}

// ManagedKeyProblem says why ${secret:KEY} cannot be read, given the
// Blueprint's managed secrets and their types; "" when it can: KEY is a
// managed secret's name (its value, or private key), or NAME.pub, NAME.crt
// or NAME.ca of a managed secret whose type has that part.
func ManagedKeyProblem(managed map[string]staxv1alpha1.SecretType, key string) string {
	if _, ok := managed[key]; ok {
		return ""
	}
	if name, part, ok := SplitPart(key); ok {
		if t, declared := managed[name]; declared {
			if slices.Contains(Parts(t), part) {
				return ""
			}
			return fmt.Sprintf("secret %q of type %s has no part %s", name, t, part)
		}
	}
	return fmt.Sprintf("no secret named %q with value auto-generated is declared in this Blueprint", key)
}

// ManagedTypes maps each managed secret's name to its type.
func ManagedTypes(managed []ManagedSecret) map[string]staxv1alpha1.SecretType {
	out := make(map[string]staxv1alpha1.SecretType, len(managed))
	for _, m := range managed {
		out[m.Name] = TypeOrDefault(m.Type)
	}
	return out
}

func secretKeyRef(ref reference.Ref) *corev1ac.EnvVarSourceApplyConfiguration {
	return corev1ac.EnvVarSource().WithSecretKeyRef(
		corev1ac.SecretKeySelector().WithName(ref.SecretName).WithKey(ref.Key))
}

// asWritten escapes every $ of items as $$, so that kubelet, which expands
// $(VAR) in a container's command, args and exec probes, passes them on
// exactly as written.
func asWritten(items []string) []string {
	if items == nil {
		return nil
	}
	out := make([]string, len(items))
	for i, item := range items {
		out[i] = strings.ReplaceAll(item, "$", "$$")
	}
	return out
}

// HiddenVarName names the variable that carries ref into composed strings.
// It is derived from the Secret and key names only, never from a value.
func HiddenVarName(ref reference.Ref) string {
	sum := sha256.Sum256([]byte(ref.SecretName + "/" + ref.Key))
	return hiddenRefPrefix + strings.ToUpper(hex.EncodeToString(sum[:6]))
}

// add renders one visible variable from a Blueprint value.
func (b *envBuilder) add(envKey, raw string) {
	where := "env " + envKey
	value, err := reference.Parse(raw)
	if err != nil {
		b.errs = append(b.errs, &InvalidReferenceError{Service: b.service, EnvKey: envKey, Field: where, Text: raw, Reason: err.Error()})
		return
	}
	if single, ok := value.SingleRef(); ok {
		ref, managed, ok := b.resolve(envKey, where, raw, single)
		if !ok {
			return
		}
		b.uses = append(b.uses, Usage{Ref: ref, Managed: managed, EnvKey: envKey, Field: where})
		b.visible = append(b.visible, corev1ac.EnvVar().WithName(envKey).WithValueFrom(secretKeyRef(ref)))
		return
	}
	out, ok := b.expand(envKey, where, raw, value)
	if !ok {
		return
	}
	v := corev1ac.EnvVar().WithName(envKey)
	// The API server stores value: "" as no value (the field is omitempty),
	// so an empty value is rendered as none to match what is applied.
	if out != "" {
		v.WithValue(out)
	}
	b.visible = append(b.visible, v)
}

// expand writes a parsed value in kubelet's expansion syntax: literal $ as
// $$, every reference as $(HIDDEN) with HIDDEN declared as a hidden
// variable. It reports false when a reference cannot be resolved.
func (b *envBuilder) expand(envKey, where, raw string, value reference.Value) (string, bool) {
	var out strings.Builder
	for _, seg := range value {
		if seg.Ref == nil {
			out.WriteString(strings.ReplaceAll(seg.Literal, "$", "$$"))
			continue
		}
		ref, managed, ok := b.resolve(envKey, where, raw, *seg.Ref)
		if !ok {
			return "", false
		}
		name := HiddenVarName(ref)
		if _, seen := b.hidden[name]; !seen {
			b.hidden[name] = corev1ac.EnvVar().WithName(name).WithValueFrom(secretKeyRef(ref))
		}
		b.uses = append(b.uses, Usage{Ref: ref, Managed: managed, EnvKey: envKey, Field: where})
		out.WriteString("$(" + name + ")")
	}
	return out.String(), true
}

// argv renders command or args: each item through kubelet expansion, so
// references become hidden variables and literal text arrives as written.
func (b *envBuilder) argv(field string, items []staxv1alpha1.EnvValue) []string {
	out := make([]string, 0, len(items))
	for i, item := range items {
		where := fmt.Sprintf("%s[%d]", field, i)
		raw := string(item)
		value, err := reference.Parse(raw)
		if err != nil {
			b.errs = append(b.errs, &InvalidReferenceError{Service: b.service, Field: where, Text: raw, Reason: err.Error()})
			continue
		}
		if s, ok := b.expand("", where, raw, value); ok {
			out = append(out, s)
		}
	}
	return out
}

// file resolves the value of a secret consumed as a file.
func (b *envBuilder) file(s *staxv1alpha1.ServiceSecret) (reference.Ref, bool) {
	where := "file " + s.MountPath
	raw := s.Value
	if raw == staxv1alpha1.AutoGenerated {
		raw = reference.Ref{Key: s.Name}.String()
	}
	value, err := reference.Parse(raw)
	if err != nil {
		b.errs = append(b.errs, &InvalidReferenceError{Service: b.service, Field: where, Text: raw, Reason: err.Error()})
		return reference.Ref{}, false
	}
	single, ok := value.SingleRef()
	if !ok {
		b.errs = append(b.errs, &InvalidReferenceError{Service: b.service, Field: where, Text: raw,
			Reason: "the value of a secret must be auto-generated or exactly one reference"})
		return reference.Ref{}, false
	}
	ref, managed, ok := b.resolve("", where, raw, single)
	if !ok {
		return reference.Ref{}, false
	}
	b.uses = append(b.uses, Usage{Ref: ref, Managed: managed, Field: where})
	return ref, true
}

// env renders a service's environment: hidden reference variables first
// (kubelet only expands variables declared earlier), then the service's
// secrets and env merged and sorted by name, so the order never depends on
// map iteration or list order and a reconcile never reorders it.
func (b *envBuilder) env(svc *staxv1alpha1.BlueprintService) []*corev1ac.EnvVarApplyConfiguration {
	type entry struct{ key, raw string }
	entries := make([]entry, 0, len(svc.Env)+len(svc.Secrets))
	for k, v := range svc.Env {
		entries = append(entries, entry{k, string(v)})
	}
	for _, s := range svc.Secrets {
		if s.EnvKey == "" {
			continue
		}
		raw := s.Value
		if raw == staxv1alpha1.AutoGenerated {
			raw = reference.Ref{Key: s.Name}.String()
		}
		entries = append(entries, entry{s.EnvKey, raw})
	}
	sort.Slice(entries, func(i, j int) bool { return entries[i].key < entries[j].key })
	for _, e := range entries {
		if strings.HasPrefix(e.key, hiddenRefPrefix) {
			b.errs = append(b.errs, &InvalidReferenceError{
				Service: b.service, EnvKey: e.key, Field: "env " + e.key, Text: e.key,
				Reason: "names starting with " + hiddenRefPrefix + " are reserved for the operator",
			})
			continue
		}
		b.add(e.key, e.raw)
	}
	hiddenNames := make([]string, 0, len(b.hidden))
	for name := range b.hidden {
		hiddenNames = append(hiddenNames, name)
	}
	sort.Strings(hiddenNames)
	out := make([]*corev1ac.EnvVarApplyConfiguration, 0, len(hiddenNames)+len(b.visible))
	for _, name := range hiddenNames {
		out = append(out, b.hidden[name])
	}
	return append(out, b.visible...)
}

// serviceValues is what a service's values render to: the container's
// command, args and env, and the Secret files mounted into it.
type serviceValues struct {
	command, args []string
	env           []*corev1ac.EnvVarApplyConfiguration
	files         []*corev1ac.VolumeApplyConfiguration
	fileMounts    []*corev1ac.VolumeMountApplyConfiguration
}

// values renders a service's command, args, files and env, recording what
// each reads in b.uses and what cannot be resolved in b.errs.
func (b *envBuilder) values(svc *staxv1alpha1.BlueprintService) serviceValues {
	// command, args and files first: they add hidden variables and uses,
	// which env then declares and lists.
	v := serviceValues{command: b.argv("command", svc.Command), args: b.argv("args", svc.Args)}
	for i := range svc.Secrets {
		s := &svc.Secrets[i]
		if s.MountPath == "" {
			continue
		}
		ref, ok := b.file(s)
		if !ok {
			continue
		}
		vol, mount := secretFile(ref, s.MountPath, fileMode(svc.SecurityContext))
		v.files = append(v.files, vol)
		v.fileMounts = append(v.fileMounts, mount)
	}
	v.env = b.env(svc)
	return v
}

// hookReads renders the env of each onRotate hook of svc, as its Job will,
// and returns what the hooks read; unresolvable references go to b.errs.
func (b *envBuilder) hookReads(svc *staxv1alpha1.BlueprintService) []Read {
	var reads []Read
	for _, s := range svc.Secrets {
		if !HasHook(s) || s.Value != staxv1alpha1.AutoGenerated {
			continue
		}
		_, uses, errs := hookEnv(svc.Name, b.generated, b.managed, s.Name, &s.OnRotate)
		b.errs = append(b.errs, errs...)
		for _, u := range uses {
			reads = append(reads, Read{Kind: ReadValue, Name: u.Ref.SecretName, Field: u.Field, Use: u, Hook: s.Name})
		}
	}
	return reads
}

func buildService(bp *staxv1alpha1.Blueprint, svc *staxv1alpha1.BlueprintService, generatedSecret string, managed map[string]staxv1alpha1.SecretType) (*Service, *ServiceError) {
	b := &envBuilder{
		service:   svc.Name,
		generated: generatedSecret,
		managed:   managed,
		hidden:    map[string]*corev1ac.EnvVarApplyConfiguration{},
	}
	values := b.values(svc)
	hooks := b.hookReads(svc)
	if len(b.errs) > 0 {
		return nil, &ServiceError{Service: svc.Name, Errs: b.errs}
	}
	vols, volumeMounts, claims := volumes(bp, svc)
	// Secret files first, then the service's volumes; /tmp leads the
	// mounts. The order is part of what every written Deployment holds.
	podVolumes := append(values.files, vols...)
	mounts := append(values.fileMounts, volumeMounts...)
	if readOnlyRoot(svc.SecurityContext) {
		podVolumes = append(podVolumes, corev1ac.Volume().WithName(TmpVolumeName).WithEmptyDir(corev1ac.EmptyDirVolumeSource()))
		mounts = append([]*corev1ac.VolumeMountApplyConfiguration{
			corev1ac.VolumeMount().WithName(TmpVolumeName).WithMountPath("/tmp"),
		}, mounts...)
	}
	pod := podSpec(svc, container(svc, values, mounts), podVolumes)
	out := &Service{
		Name:       svc.Name,
		Deployment: deployment(bp, svc, pod),
		Service:    service(bp, svc),
		Uses:       b.uses,
		Claims:     claims,
		Route:      route(bp, svc),
	}
	out.Reads = serviceReads(bp, svc, b.uses, hooks, out.Route)
	return out, nil
}

// container renders a service's one container.
func container(svc *staxv1alpha1.BlueprintService, values serviceValues, mounts []*corev1ac.VolumeMountApplyConfiguration) *corev1ac.ContainerApplyConfiguration {
	c := corev1ac.Container().
		WithName(svc.Name).
		WithImage(svc.Image).
		WithSecurityContext(containerSecurityContext(svc.SecurityContext))
	if len(values.env) > 0 {
		c.WithEnv(values.env...)
	}
	if len(values.command) > 0 {
		c.WithCommand(values.command...)
	}
	if len(values.args) > 0 {
		c.WithArgs(values.args...)
	}
	if len(mounts) > 0 {
		c.WithVolumeMounts(mounts...)
	}
	if svc.Probes != nil {
		if p := probe(svc.Probes.Readiness); p != nil {
			c.WithReadinessProbe(p)
		}
		if p := probe(svc.Probes.Liveness); p != nil {
			c.WithLivenessProbe(p)
		}
		if p := probe(svc.Probes.Startup); p != nil {
			c.WithStartupProbe(p)
		}
	}
	for _, p := range svc.Ports {
		port := corev1ac.ContainerPort().WithContainerPort(p.ContainerPort).WithProtocol(protocolOrDefault(p.Protocol))
		if p.Name != "" {
			port.WithName(p.Name)
		}
		c.WithPorts(port)
	}
	if res := resources(svc.Resources); res != nil {
		c.WithResources(res)
	}
	return c
}

// podSpec renders a service's pod: its container and volumes, the
// restricted security context, its ServiceAccount (or no token) and pull
// Secrets.
func podSpec(svc *staxv1alpha1.BlueprintService, c *corev1ac.ContainerApplyConfiguration, volumes []*corev1ac.VolumeApplyConfiguration) *corev1ac.PodSpecApplyConfiguration {
	pod := corev1ac.PodSpec()
	if len(volumes) > 0 {
		pod.WithVolumes(volumes...)
	}
	pod.WithContainers(c).WithSecurityContext(podSecurityContext(svc.SecurityContext))
	if svc.ServiceAccountName != "" {
		pod.WithServiceAccountName(svc.ServiceAccountName)
	} else {
		pod.WithAutomountServiceAccountToken(false)
	}
	for _, s := range svc.ImagePullSecrets {
		pod.WithImagePullSecrets(corev1ac.LocalObjectReference().WithName(s.Name))
	}
	return pod
}

// deployment renders a service's Deployment around its pod.
func deployment(bp *staxv1alpha1.Blueprint, svc *staxv1alpha1.BlueprintService, pod *corev1ac.PodSpecApplyConfiguration) *appsv1ac.DeploymentApplyConfiguration {
	labels := Labels(bp.Name, svc.Name)
	spec := appsv1ac.DeploymentSpec().
		WithSelector(metav1ac.LabelSelector().WithMatchLabels(Selector(bp.Name, svc.Name))).
		WithTemplate(corev1ac.PodTemplateSpec().
			WithLabels(labels).
			WithSpec(pod))
	// Without replicas in the Blueprint, spec.replicas is left to whoever
	// scales the Deployment: leaving it out of the apply means this field
	// manager does not own it.
	if svc.Replicas != nil {
		spec.WithReplicas(*svc.Replicas)
	}
	// The strategy is always rendered, so this field manager owns
	// rollingUpdate and a switch to Recreate removes it (the API server
	// refuses Recreate with rollingUpdate, and an apply cannot remove what
	// defaulting set and nobody owns). RollingUpdate carries Kubernetes'
	// defaults.
	if NeedsRecreate(svc) {
		spec.WithStrategy(appsv1ac.DeploymentStrategy().WithType(appsv1.RecreateDeploymentStrategyType))
	} else {
		spec.WithStrategy(appsv1ac.DeploymentStrategy().WithType(appsv1.RollingUpdateDeploymentStrategyType).
			WithRollingUpdate(appsv1ac.RollingUpdateDeployment().
				WithMaxSurge(intstr.FromString("25%")).
				WithMaxUnavailable(intstr.FromString("25%"))))
	}
	return appsv1ac.Deployment(svc.Name, bp.Namespace).
		WithLabels(labels).
		WithOwnerReferences(OwnerReference(bp)).
		WithSpec(spec)
}

// service renders the ClusterIP Service of a service with ports; nil
// without.
func service(bp *staxv1alpha1.Blueprint, svc *staxv1alpha1.BlueprintService) *corev1ac.ServiceApplyConfiguration {
	if len(svc.Ports) == 0 {
		return nil
	}
	spec := corev1ac.ServiceSpec().
		WithType(corev1.ServiceTypeClusterIP).
		WithSelector(Selector(bp.Name, svc.Name))
	for _, p := range svc.Ports {
		protocol := protocolOrDefault(p.Protocol)
		spec.WithPorts(corev1ac.ServicePort().
			WithName(servicePortName(p.Name, protocol, p.ContainerPort)).
			WithPort(p.ContainerPort).
			WithTargetPort(intstr.FromInt32(p.ContainerPort)).
			WithProtocol(protocol))
	}
	return corev1ac.Service(svc.Name, bp.Namespace).
		WithLabels(Labels(bp.Name, svc.Name)).
		WithOwnerReferences(OwnerReference(bp)).
		WithSpec(spec)
}

// servicePortName names a Service port. The API server requires names once a
// Service has more than one port, so unnamed container ports get one derived
// from protocol and number.
func servicePortName(name string, protocol corev1.Protocol, port int32) string {
	if name != "" {
		return name
	}
	return fmt.Sprintf("%s-%d", strings.ToLower(string(protocol)), port)
}

func resources(r *staxv1alpha1.ServiceResources) *corev1ac.ResourceRequirementsApplyConfiguration {
	if r == nil || (r.CPU == nil && r.Memory == nil) {
		return nil
	}
	requests := corev1.ResourceList{}
	limits := corev1.ResourceList{}
	if r.CPU != nil {
		requests[corev1.ResourceCPU] = *r.CPU
	}
	if r.Memory != nil {
		requests[corev1.ResourceMemory] = *r.Memory
		limits[corev1.ResourceMemory] = *r.Memory
	}
	out := corev1ac.ResourceRequirements().WithRequests(requests)
	if len(limits) > 0 {
		out.WithLimits(limits)
	}
	return out
}

func protocolOrDefault(p corev1.Protocol) corev1.Protocol {
	if p == "" {
		return corev1.ProtocolTCP
	}
	return p
}

// TmpVolumeName names the emptyDir volume mounted at /tmp when the root
// filesystem is read-only.
const TmpVolumeName = "tmp"

// File modes of secrets[].mountPath: owner read only, or owner and group
// read when the pod has an fsGroup (which then owns the file).
const (
	FileModeOwner      int32 = 0o400
	FileModeOwnerGroup int32 = 0o440
)

// fileKey is the one item of a secret file's volume; subPath selects it.
const fileKey = "value"

func fileMode(sc *staxv1alpha1.ServiceSecurityContext) int32 {
	if sc != nil && sc.FSGroup != nil {
		return FileModeOwnerGroup
	}
	return FileModeOwner
}

// FileVolumeName names the volume that serves the file at mountPath. It is
// derived from the path only, never from a value: paths are unique within a
// service, and so are the names.
func FileVolumeName(mountPath string) string {
	sum := sha256.Sum256([]byte(mountPath))
	return "secret-file-" + hex.EncodeToString(sum[:6])
}

// secretFile renders the volume and the mount of one secret file: a Secret
// volume projecting the one key, mounted read-only with subPath at exactly
// mountPath.
func secretFile(ref reference.Ref, mountPath string, mode int32) (*corev1ac.VolumeApplyConfiguration, *corev1ac.VolumeMountApplyConfiguration) {
	name := FileVolumeName(mountPath)
	vol := corev1ac.Volume().WithName(name).WithSecret(corev1ac.SecretVolumeSource().
		WithSecretName(ref.SecretName).
		WithItems(corev1ac.KeyToPath().WithKey(ref.Key).WithPath(fileKey).WithMode(mode)).
		WithDefaultMode(mode))
	mount := corev1ac.VolumeMount().WithName(name).WithMountPath(mountPath).WithSubPath(fileKey).WithReadOnly(true)
	return vol, mount
}

func readOnlyRoot(sc *staxv1alpha1.ServiceSecurityContext) bool {
	return sc != nil && sc.ReadOnlyRootFilesystem != nil && *sc.ReadOnlyRootFilesystem
}

// podSecurityContext is the restricted pod security context, with the
// Blueprint's user, group and fsGroup.
func podSecurityContext(sc *staxv1alpha1.ServiceSecurityContext) *corev1ac.PodSecurityContextApplyConfiguration {
	out := corev1ac.PodSecurityContext().
		WithRunAsNonRoot(true).
		WithSeccompProfile(corev1ac.SeccompProfile().WithType(corev1.SeccompProfileTypeRuntimeDefault))
	if sc == nil {
		return out
	}
	if sc.RunAsUser != nil {
		out.WithRunAsUser(*sc.RunAsUser)
	}
	if sc.RunAsGroup != nil {
		out.WithRunAsGroup(*sc.RunAsGroup)
	}
	if sc.FSGroup != nil {
		out.WithFSGroup(*sc.FSGroup)
	}
	return out
}

// containerSecurityContext is the restricted container security context:
// no privilege escalation, every capability dropped.
func containerSecurityContext(sc *staxv1alpha1.ServiceSecurityContext) *corev1ac.SecurityContextApplyConfiguration {
	out := corev1ac.SecurityContext().
		WithAllowPrivilegeEscalation(false).
		WithCapabilities(corev1ac.Capabilities().WithDrop(corev1.Capability("ALL")))
	if readOnlyRoot(sc) {
		out.WithReadOnlyRootFilesystem(true)
	}
	return out
}

// probe renders one probe; nil when the Blueprint has none.
func probe(p *staxv1alpha1.ServiceProbe) *corev1ac.ProbeApplyConfiguration {
	if p == nil {
		return nil
	}
	out := corev1ac.Probe()
	switch {
	case p.HTTPGet.Port != nil:
		h := corev1ac.HTTPGetAction().WithPort(ptr.Deref(p.HTTPGet.Port, intstr.IntOrString{}))
		if p.HTTPGet.Path != "" {
			h.WithPath(p.HTTPGet.Path)
		}
		out.WithHTTPGet(h)
	case p.TCPSocket.Port != nil:
		out.WithTCPSocket(corev1ac.TCPSocketAction().WithPort(ptr.Deref(p.TCPSocket.Port, intstr.IntOrString{})))
	case len(p.Exec.Command) > 0:
		// kubelet expands $(VAR) of the container's literal env in exec
		// probe commands too: escape $ so the command runs as written.
		out.WithExec(corev1ac.ExecAction().WithCommand(asWritten(p.Exec.Command)...))
	}
	if p.InitialDelaySeconds != nil {
		out.WithInitialDelaySeconds(*p.InitialDelaySeconds)
	}
	if p.PeriodSeconds != 0 {
		out.WithPeriodSeconds(p.PeriodSeconds)
	}
	if p.TimeoutSeconds != 0 {
		out.WithTimeoutSeconds(p.TimeoutSeconds)
	}
	if p.FailureThreshold != 0 {
		out.WithFailureThreshold(p.FailureThreshold)
	}
	if p.SuccessThreshold != 0 {
		out.WithSuccessThreshold(p.SuccessThreshold)
	}
	return out
}

func lengthOrDefault(l *int32) int {
	if l == nil {
		return staxv1alpha1.DefaultSecretLength
	}
	return int(*l)
}

func charsetOrDefault(c staxv1alpha1.Charset) staxv1alpha1.Charset {
	if c == "" {
		return staxv1alpha1.CharsetAlphanumeric
	}
	return c
}
