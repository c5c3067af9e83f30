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
package render

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"sort"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	appsv1ac "k8s.io/client-go/applyconfigurations/apps/v1"
	corev1ac "k8s.io/client-go/applyconfigurations/core/v1"
	metav1ac "k8s.io/client-go/applyconfigurations/meta/v1"

	staxv1alpha1 "github.com/stax-dev/blueprint-operator/api/v1alpha1"
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
	// alone or inside a composed string.
	EnvKey string
}

// Service is what one Blueprint service renders to.
type Service struct {
	Name       string
	Deployment *appsv1ac.DeploymentApplyConfiguration
	// Service is nil when the service has no ports.
	Service *corev1ac.ServiceApplyConfiguration
	// Uses lists every value the service consumes, in env order.
	Uses []Usage
}

// Plan is everything a Blueprint renders to.
type Plan struct {
	GeneratedSecretName string
	Managed             []ManagedSecret
	Services            []Service
}

// InvalidReferenceError is a reference the API server's validation could not
// catch (for example one naming a managed secret that no service declares).
type InvalidReferenceError struct {
	Service string
	EnvKey  string
	Text    string
	Reason  string
}

func (e *InvalidReferenceError) Error() string {
	return fmt.Sprintf("service %s, env %s: %s: %q", e.Service, e.EnvKey, e.Reason, e.Text)
}

// ServiceError is a service that cannot be rendered, with every reason.
type ServiceError struct {
	Service string
	Errs    []*InvalidReferenceError
}

func (e *ServiceError) Error() string {
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
	plan := &Plan{GeneratedSecretName: GeneratedSecretName(bp.Name)}
	generated := map[string]bool{}
	for _, svc := range bp.Spec.Services {
		for _, s := range svc.Secrets {
			if s.Value == staxv1alpha1.AutoGenerated {
				generated[s.Name] = true
				m := ManagedSecret{
					Name:     s.Name,
					Charset:  charsetOrDefault(s.Charset),
					Length:   lengthOrDefault(s.Length),
					Rotation: s.Rotation,
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
		svc, err := buildService(bp, &bp.Spec.Services[i], plan.GeneratedSecretName, generated)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		plan.Services = append(plan.Services, *svc)
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
// services it depends on are available.
func (s *Service) SetReplicas(n int32) {
	s.Deployment.Spec.WithReplicas(n)
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
	managed   map[string]bool
	hidden    map[string]*corev1ac.EnvVarApplyConfiguration
	visible   []*corev1ac.EnvVarApplyConfiguration
	uses      []Usage
	errs      []*InvalidReferenceError
}

// resolve maps a parsed reference to the Secret and key it reads.
func (b *envBuilder) resolve(envKey, text string, ref reference.Ref) (reference.Ref, bool, bool) {
	if !ref.Managed() {
		return ref, false, true
	}
	if !b.managed[ref.Key] {
		b.errs = append(b.errs, &InvalidReferenceError{
			Service: b.service, EnvKey: envKey, Text: text,
			Reason: fmt.Sprintf("no secret named %q with value auto-generated is declared in this Blueprint", ref.Key),
		})
		return reference.Ref{}, false, false
	}
	return reference.Ref{SecretName: b.generated, Key: ref.Key}, true, true
}

func secretKeyRef(ref reference.Ref) *corev1ac.EnvVarSourceApplyConfiguration {
	return corev1ac.EnvVarSource().WithSecretKeyRef(
		corev1ac.SecretKeySelector().WithName(ref.SecretName).WithKey(ref.Key))
}

// HiddenVarName names the variable that carries ref into composed strings.
// It is derived from the Secret and key names only, never from a value.
func HiddenVarName(ref reference.Ref) string {
	sum := sha256.Sum256([]byte(ref.SecretName + "/" + ref.Key))
	return hiddenRefPrefix + strings.ToUpper(hex.EncodeToString(sum[:6]))
}

// add renders one visible variable from a Blueprint value.
func (b *envBuilder) add(envKey, raw string) {
	value, err := reference.Parse(raw)
	if err != nil {
		b.errs = append(b.errs, &InvalidReferenceError{Service: b.service, EnvKey: envKey, Text: raw, Reason: err.Error()})
		return
	}
	if single, ok := value.SingleRef(); ok {
		ref, managed, ok := b.resolve(envKey, raw, single)
		if !ok {
			return
		}
		b.uses = append(b.uses, Usage{Ref: ref, Managed: managed, EnvKey: envKey})
		b.visible = append(b.visible, corev1ac.EnvVar().WithName(envKey).WithValueFrom(secretKeyRef(ref)))
		return
	}
	var out strings.Builder
	for _, seg := range value {
		if seg.Ref == nil {
			out.WriteString(strings.ReplaceAll(seg.Literal, "$", "$$"))
			continue
		}
		ref, managed, ok := b.resolve(envKey, raw, *seg.Ref)
		if !ok {
			return
		}
		name := HiddenVarName(ref)
		if _, seen := b.hidden[name]; !seen {
			b.hidden[name] = corev1ac.EnvVar().WithName(name).WithValueFrom(secretKeyRef(ref))
		}
		b.uses = append(b.uses, Usage{Ref: ref, Managed: managed, EnvKey: envKey})
		out.WriteString("$(" + name + ")")
	}
	v := corev1ac.EnvVar().WithName(envKey)
	// The API server stores value: "" as no value (the field is omitempty),
	// so an empty value is rendered as none to match what is applied.
	if out.Len() > 0 {
		v.WithValue(out.String())
	}
	b.visible = append(b.visible, v)
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
				Service: b.service, EnvKey: e.key, Text: e.key,
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

func buildService(bp *staxv1alpha1.Blueprint, svc *staxv1alpha1.BlueprintService, generatedSecret string, managed map[string]bool) (*Service, *ServiceError) {
	b := &envBuilder{
		service:   svc.Name,
		generated: generatedSecret,
		managed:   managed,
		hidden:    map[string]*corev1ac.EnvVarApplyConfiguration{},
	}
	env := b.env(svc)
	for _, s := range svc.Secrets {
		if HasHook(s) && s.Value == staxv1alpha1.AutoGenerated {
			_, errs := hookEnv(svc.Name, generatedSecret, managed, s.Name, &s.OnRotate)
			b.errs = append(b.errs, errs...)
		}
	}
	if len(b.errs) > 0 {
		return nil, &ServiceError{Service: svc.Name, Errs: b.errs}
	}

	labels := Labels(bp.Name, svc.Name)
	container := corev1ac.Container().
		WithName(svc.Name).
		WithImage(svc.Image).
		WithEnv(env...)
	for _, p := range svc.Ports {
		port := corev1ac.ContainerPort().WithContainerPort(p.ContainerPort).WithProtocol(protocolOrDefault(p.Protocol))
		if p.Name != "" {
			port.WithName(p.Name)
		}
		container.WithPorts(port)
	}
	if res := resources(svc.Resources); res != nil {
		container.WithResources(res)
	}

	deployment := appsv1ac.Deployment(svc.Name, bp.Namespace).
		WithLabels(labels).
		WithOwnerReferences(OwnerReference(bp)).
		WithSpec(appsv1ac.DeploymentSpec().
			WithReplicas(replicasOrDefault(svc.Replicas)).
			WithSelector(metav1ac.LabelSelector().WithMatchLabels(Selector(bp.Name, svc.Name))).
			WithTemplate(corev1ac.PodTemplateSpec().
				WithLabels(labels).
				WithSpec(corev1ac.PodSpec().WithContainers(container))))

	out := &Service{Name: svc.Name, Deployment: deployment, Uses: b.uses}
	if len(svc.Ports) > 0 {
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
		out.Service = corev1ac.Service(svc.Name, bp.Namespace).
			WithLabels(labels).
			WithOwnerReferences(OwnerReference(bp)).
			WithSpec(spec)
	}
	return out, nil
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

func replicasOrDefault(r *int32) int32 {
	if r == nil {
		return 1
	}
	return *r
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
