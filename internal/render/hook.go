package render

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strings"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	corev1ac "k8s.io/client-go/applyconfigurations/core/v1"
	"k8s.io/utils/ptr"

	staxv1alpha1 "github.com/stax-dev/blueprint-operator/api/v1alpha1"
)

// Defaults of an onRotate hook, as the CRD's defaults state them.
const (
	DefaultHookTimeoutSeconds = 300
	DefaultHookBackoffLimit   = 2
)

// Environment variables through which a hook receives both values, always as
// secretKeyRefs.
const (
	HookEnvCurrentValue = "CURRENT_VALUE"
	HookEnvNewValue     = "NEW_VALUE"
)

// HookUserID is the user and group a hook's pod runs as, whatever user its
// image names: nobody, so that images built to run as root (postgres, mysql,
// redis clients) still pass the restricted profile's runAsNonRoot.
const HookUserID = 65534

// HasHook reports whether s declares an onRotate hook: admission requires
// its image and command, so a zero hook is none.
func HasHook(s staxv1alpha1.ServiceSecret) bool {
	return s.OnRotate.Image != "" || len(s.OnRotate.Command) > 0
}

// StagedKey is the key of the generated Secret that holds managed secret
// name's staged value while its hook runs.
func StagedKey(name string) string {
	return staxv1alpha1.StagedValuePrefix + name
}

// HookLabelValue identifies a managed secret in a label value: secret names
// may hold characters or edges a label value refuses, so it is a digest of
// the Blueprint and secret names.
func HookLabelValue(blueprintName, secretName string) string {
	sum := sha256.Sum256([]byte(blueprintName + "/" + secretName))
	return hex.EncodeToString(sum[:6])
}

// HookJobName is the name of the Job that runs attempt (counted from 1 per
// secret, on the generated Secret) of secretName's onRotate hook. It is
// deterministic, so a reconcile that crashed after creating the Job finds it
// under the same name instead of creating a second one, and at most 63
// characters, like the job-name label the Job controller sets. The
// generated Secret records it when the rotation is staged
// (values.HookState.Job), so a later change of this rule never renames the
// Job of a rotation in flight.
//
// It is a DNS label whatever the Blueprint's name: the name (itself a DNS
// subdomain) is cut to 16 characters, and a cut that ends on a '-' or a
// '.' is trimmed back to a letter or digit. Its 64-bit digest of the
// Blueprint's and the secret's names keeps another Blueprint of the
// namespace from choosing names that take this one's Job name (32 bits,
// as NarrowHookJobName has, can be searched for).
func HookJobName(blueprintName, secretName string, attempt int64) string {
	// 16 + 1 + 8 + 1 + 16 + 1 + at most 19 digits: at most 62.
	prefix := strings.TrimRight(truncateName(blueprintName, 16), "-.")
	secret := strings.Trim(truncateName(dnsLabelChars(secretName), 8), "-")
	if secret == "" {
		secret = "secret"
	}
	sum := sha256.Sum256([]byte(blueprintName + "/" + secretName))
	return fmt.Sprintf("%s-%s-%s-%d", prefix, secret, hex.EncodeToString(sum[:8]), attempt)
}

// NarrowHookJobName is the name HookJobName gave before it recorded names
// and widened its digest: the Job of a rotation staged then, whose state
// records no name, is still found under it.
func NarrowHookJobName(blueprintName, secretName string, attempt int64) string {
	// 20 + 1 + 12 + 1 + 8 + 1 + at most 19 digits: at most 62.
	prefix := strings.TrimRight(truncateName(blueprintName, 20), "-.")
	secret := strings.Trim(truncateName(dnsLabelChars(secretName), 12), "-")
	if secret == "" {
		secret = "secret"
	}
	return fmt.Sprintf("%s-%s-%s-%d", prefix, secret, HookLabelValue(blueprintName, secretName)[:8], attempt)
}

func truncateName(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}

// dnsLabelChars lowercases s and replaces what a DNS label refuses by '-'.
func dnsLabelChars(s string) string {
	var b strings.Builder
	for _, c := range strings.ToLower(s) {
		if (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') {
			b.WriteRune(c)
		} else {
			b.WriteByte('-')
		}
	}
	return b.String()
}

// HookLabels are the labels of a hook's Job and pod.
func HookLabels(blueprintName, secretName string) map[string]string {
	return map[string]string{
		staxv1alpha1.LabelBlueprint:    blueprintName,
		staxv1alpha1.LabelManagedBy:    staxv1alpha1.ManagedByValue,
		staxv1alpha1.LabelInstance:     blueprintName,
		staxv1alpha1.LabelRotationHook: HookLabelValue(blueprintName, secretName),
	}
}

// HookJob renders the Job named name (HookJobName, as the rotation
// recorded it) of m's onRotate hook: owned by bp,
// CURRENT_VALUE and NEW_VALUE as secretKeyRefs to the value in use and the
// staged value, the hook's env rendered as a service's (references become
// secretKeyRefs), its pod under the Pod Security restricted profile, its
// run bounded by activeDeadline seconds (values.HookJobDeadline: what is
// left of timeoutSeconds since the staging) and backoffLimit, marked with
// token (digest.HookToken), by which the operator knows it. It returns nil
// when m has no hook. Like everything render makes, it holds no value.
func HookJob(bp *staxv1alpha1.Blueprint, plan *Plan, m ManagedSecret, name string, activeDeadline int64, token string) (*batchv1.Job, error) {
	if m.Hook == nil {
		return nil, nil
	}
	managed := ManagedTypes(plan.Managed)
	extra, _, errs := hookEnv(m.Service, plan.GeneratedSecretName, managed, m.Name, m.Hook)
	if len(errs) > 0 {
		return nil, &ServiceError{Service: m.Service, Errs: errs}
	}
	env := []corev1.EnvVar{
		{Name: HookEnvCurrentValue, ValueFrom: &corev1.EnvVarSource{SecretKeyRef: &corev1.SecretKeySelector{
			LocalObjectReference: corev1.LocalObjectReference{Name: plan.GeneratedSecretName}, Key: m.Name,
		}}},
		{Name: HookEnvNewValue, ValueFrom: &corev1.EnvVarSource{SecretKeyRef: &corev1.SecretKeySelector{
			LocalObjectReference: corev1.LocalObjectReference{Name: plan.GeneratedSecretName}, Key: StagedKey(m.Name),
		}}},
	}
	env = append(env, extra...)
	labels := HookLabels(bp.Name, m.Name)
	backoff := int32(DefaultHookBackoffLimit)
	if m.Hook.BackoffLimit != nil {
		backoff = *m.Hook.BackoffLimit
	}
	return &batchv1.Job{
		ObjectMeta: metav1.ObjectMeta{
			Name:      name,
			Namespace: bp.Namespace,
			Labels:    labels,
			Annotations: map[string]string{
				staxv1alpha1.RotationSecretAnnotation: m.Name,
				staxv1alpha1.HookTokenAnnotation:      token,
			},
			OwnerReferences: []metav1.OwnerReference{{
				APIVersion: staxv1alpha1.GroupVersion.String(), Kind: "Blueprint", Name: bp.Name, UID: bp.UID,
				Controller: ptr.To(true), BlockOwnerDeletion: ptr.To(true),
			}},
		},
		Spec: batchv1.JobSpec{
			BackoffLimit:          ptr.To(backoff),
			ActiveDeadlineSeconds: ptr.To(activeDeadline),
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec: corev1.PodSpec{
					RestartPolicy: corev1.RestartPolicyNever,
					// A hook talks to the system it rotates, never to the
					// Kubernetes API.
					AutomountServiceAccountToken: ptr.To(false),
					SecurityContext:              HookPodSecurityContext(),
					Containers: []corev1.Container{{
						Name:  "hook",
						Image: m.Hook.Image,
						// As written: kubelet would otherwise expand
						// $(NEW_VALUE) into the argv, which every process
						// of the node can read; a shell reads $NEW_VALUE
						// from the environment instead.
						Command:         asWritten(m.Hook.Command),
						Args:            asWritten(m.Hook.Args),
						Env:             env,
						SecurityContext: HookContainerSecurityContext(),
					}},
				},
			},
		},
	}, nil
}

// HookPodSecurityContext is the pod security context of a hook: what the
// Pod Security restricted profile requires of a pod.
func HookPodSecurityContext() *corev1.PodSecurityContext {
	return &corev1.PodSecurityContext{
		RunAsNonRoot:   ptr.To(true),
		RunAsUser:      ptr.To[int64](HookUserID),
		RunAsGroup:     ptr.To[int64](HookUserID),
		SeccompProfile: &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault},
	}
}

// HookContainerSecurityContext is the container security context of a
// hook: what the Pod Security restricted profile requires of a container.
func HookContainerSecurityContext() *corev1.SecurityContext {
	return &corev1.SecurityContext{
		AllowPrivilegeEscalation: ptr.To(false),
		RunAsNonRoot:             ptr.To(true),
		Capabilities:             &corev1.Capabilities{Drop: []corev1.Capability{"ALL"}},
		SeccompProfile:           &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault},
	}
}

// hookEnv renders a hook's env like a service's: references become
// secretKeyRefs (hidden variables first for composed strings), literal text
// reaches the container as written. It also returns what the env reads,
// each Usage naming the hook in EnvKey and Field as its errors do.
func hookEnv(service, generated string, managed map[string]staxv1alpha1.SecretType, secretName string, hook *staxv1alpha1.RotationHook) ([]corev1.EnvVar, []Usage, []*InvalidReferenceError) {
	b := &envBuilder{
		service:   service,
		generated: generated,
		managed:   managed,
		hidden:    map[string]*corev1ac.EnvVarApplyConfiguration{},
	}
	env := make(map[string]staxv1alpha1.EnvValue, len(hook.Env))
	for k, v := range hook.Env {
		env[k] = staxv1alpha1.EnvValue(v)
	}
	rendered := b.env(&staxv1alpha1.BlueprintService{Env: env})
	for _, e := range b.errs {
		e.EnvKey = fmt.Sprintf("%s (onRotate of secret %s)", e.EnvKey, secretName)
		e.Field = fmt.Sprintf("%s (onRotate of secret %s)", e.Field, secretName)
	}
	if len(b.errs) > 0 {
		return nil, nil, b.errs
	}
	for i := range b.uses {
		b.uses[i].EnvKey = fmt.Sprintf("%s (onRotate of secret %s)", b.uses[i].EnvKey, secretName)
		b.uses[i].Field = fmt.Sprintf("%s (onRotate of secret %s)", b.uses[i].Field, secretName)
	}
	out := make([]corev1.EnvVar, 0, len(rendered))
	for _, e := range rendered {
		v := corev1.EnvVar{Name: ptr.Deref(e.Name, "")}
		v.Value = ptr.Deref(e.Value, "")
		if e.ValueFrom != nil && e.ValueFrom.SecretKeyRef != nil {
			v.ValueFrom = &corev1.EnvVarSource{SecretKeyRef: &corev1.SecretKeySelector{
				LocalObjectReference: corev1.LocalObjectReference{Name: ptr.Deref(e.ValueFrom.SecretKeyRef.Name, "")},
				Key:                  ptr.Deref(e.ValueFrom.SecretKeyRef.Key, ""),
			}}
		}
		out = append(out, v)
	}
	return out, b.uses, nil
}
