package render_test

import (
	"reflect"
	"regexp"
	"testing"

	"k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/util/intstr"
	corev1ac "k8s.io/client-go/applyconfigurations/core/v1"
	"k8s.io/utils/ptr"

	staxv1alpha1 "github.com/stax-dev/blueprint-operator/api/v1alpha1"
	"github.com/stax-dev/blueprint-operator/internal/reference"
	"github.com/stax-dev/blueprint-operator/internal/render"
)

func podSpec(t *testing.T, svc *render.Service) *corev1ac.PodSpecApplyConfiguration {
	t.Helper()
	if svc.Deployment.Spec == nil || svc.Deployment.Spec.Template == nil || svc.Deployment.Spec.Template.Spec == nil {
		t.Fatalf("Deployment %s has no pod spec", svc.Name)
	}
	return svc.Deployment.Spec.Template.Spec
}

func secretFileVolume(mountPath, secret, key string, mode int32) corev1ac.VolumeApplyConfiguration {
	return *corev1ac.Volume().WithName(render.FileVolumeName(mountPath)).WithSecret(corev1ac.SecretVolumeSource().
		WithSecretName(secret).
		WithItems(corev1ac.KeyToPath().WithKey(key).WithPath("value").WithMode(mode)).
		WithDefaultMode(mode))
}

func secretFileMount(mountPath string) corev1ac.VolumeMountApplyConfiguration {
	return *corev1ac.VolumeMount().WithName(render.FileVolumeName(mountPath)).WithMountPath(mountPath).WithSubPath("value").WithReadOnly(true)
}

func TestBuildPodSecurity(t *testing.T) {
	tests := map[string]struct {
		sc            *staxv1alpha1.ServiceSecurityContext
		sa            string
		wantPod       *corev1ac.PodSecurityContextApplyConfiguration
		wantContainer *corev1ac.SecurityContextApplyConfiguration
		wantAutomount *bool
		wantVolumes   []corev1ac.VolumeApplyConfiguration
		wantMounts    []corev1ac.VolumeMountApplyConfiguration
	}{
		"no securityContext: restricted, no token": {
			wantPod:       restrictedPod(),
			wantContainer: restrictedContainer(),
			wantAutomount: ptr.To(false),
		},
		"user, group and fsGroup": {
			sc:            &staxv1alpha1.ServiceSecurityContext{RunAsUser: ptr.To[int64](999), RunAsGroup: ptr.To[int64](999), FSGroup: ptr.To[int64](999)},
			wantPod:       restrictedPod().WithRunAsUser(999).WithRunAsGroup(999).WithFSGroup(999),
			wantContainer: restrictedContainer(),
			wantAutomount: ptr.To(false),
		},
		"readOnlyRootFilesystem: writable /tmp": {
			sc:            &staxv1alpha1.ServiceSecurityContext{ReadOnlyRootFilesystem: ptr.To(true)},
			wantPod:       restrictedPod(),
			wantContainer: restrictedContainer().WithReadOnlyRootFilesystem(true),
			wantAutomount: ptr.To(false),
			wantVolumes:   []corev1ac.VolumeApplyConfiguration{*corev1ac.Volume().WithName("tmp").WithEmptyDir(corev1ac.EmptyDirVolumeSource())},
			wantMounts:    []corev1ac.VolumeMountApplyConfiguration{*corev1ac.VolumeMount().WithName("tmp").WithMountPath("/tmp")},
		},
		"readOnlyRootFilesystem false: no volume": {
			sc:            &staxv1alpha1.ServiceSecurityContext{ReadOnlyRootFilesystem: ptr.To(false)},
			wantPod:       restrictedPod(),
			wantContainer: restrictedContainer(),
			wantAutomount: ptr.To(false),
		},
		"serviceAccountName: token left to the ServiceAccount": {
			sa:            "api-reader",
			wantPod:       restrictedPod(),
			wantContainer: restrictedContainer(),
			wantAutomount: nil,
		},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			svc := staxv1alpha1.BlueprintService{Name: "app", Image: "app", SecurityContext: tt.sc, ServiceAccountName: tt.sa}
			rendered := findService(build(t, blueprint("bp", svc)), "app")
			pod := podSpec(t, rendered)
			if !equality.Semantic.DeepEqual(pod.SecurityContext, tt.wantPod) {
				t.Errorf("pod securityContext:\n got %s\nwant %s", toJSON(pod.SecurityContext), toJSON(tt.wantPod))
			}
			c := container(t, rendered)
			if !equality.Semantic.DeepEqual(c.SecurityContext, tt.wantContainer) {
				t.Errorf("container securityContext:\n got %s\nwant %s", toJSON(c.SecurityContext), toJSON(tt.wantContainer))
			}
			if !reflect.DeepEqual(pod.AutomountServiceAccountToken, tt.wantAutomount) {
				t.Errorf("automountServiceAccountToken = %s, want %s", toJSON(pod.AutomountServiceAccountToken), toJSON(tt.wantAutomount))
			}
			if got := ptr.Deref(pod.ServiceAccountName, ""); got != tt.sa {
				t.Errorf("serviceAccountName = %q, want %q", got, tt.sa)
			}
			if !reflect.DeepEqual(pod.Volumes, tt.wantVolumes) {
				t.Errorf("volumes:\n got %s\nwant %s", toJSON(pod.Volumes), toJSON(tt.wantVolumes))
			}
			if !reflect.DeepEqual(c.VolumeMounts, tt.wantMounts) {
				t.Errorf("volumeMounts:\n got %s\nwant %s", toJSON(c.VolumeMounts), toJSON(tt.wantMounts))
			}
		})
	}
}

func TestBuildImagePullSecrets(t *testing.T) {
	svc := staxv1alpha1.BlueprintService{Name: "app", Image: "registry.example/app",
		ImagePullSecrets: []staxv1alpha1.ImagePullSecret{{Name: "regcred"}, {Name: "mirror"}}}
	pod := podSpec(t, findService(build(t, blueprint("bp", svc)), "app"))
	want := []corev1ac.LocalObjectReferenceApplyConfiguration{
		*corev1ac.LocalObjectReference().WithName("regcred"),
		*corev1ac.LocalObjectReference().WithName("mirror"),
	}
	if !reflect.DeepEqual(pod.ImagePullSecrets, want) {
		t.Errorf("imagePullSecrets:\n got %s\nwant %s", toJSON(pod.ImagePullSecrets), toJSON(want))
	}
}

func TestBuildProbes(t *testing.T) {
	tests := map[string]struct {
		probe *staxv1alpha1.ServiceProbe
		want  *corev1ac.ProbeApplyConfiguration
	}{
		"httpGet with a named port and a path": {
			probe: &staxv1alpha1.ServiceProbe{HTTPGet: staxv1alpha1.HTTPGetProbe{Path: "/healthz", Port: ptr.To(intstr.FromString("http"))}},
			want:  corev1ac.Probe().WithHTTPGet(corev1ac.HTTPGetAction().WithPath("/healthz").WithPort(intstr.FromString("http"))),
		},
		"httpGet without a path": {
			probe: &staxv1alpha1.ServiceProbe{HTTPGet: staxv1alpha1.HTTPGetProbe{Port: ptr.To(intstr.FromInt32(8080))}},
			want:  corev1ac.Probe().WithHTTPGet(corev1ac.HTTPGetAction().WithPort(intstr.FromInt32(8080))),
		},
		"tcpSocket with a number": {
			probe: &staxv1alpha1.ServiceProbe{TCPSocket: staxv1alpha1.TCPSocketProbe{Port: ptr.To(intstr.FromInt32(5432))}},
			want:  corev1ac.Probe().WithTCPSocket(corev1ac.TCPSocketAction().WithPort(intstr.FromInt32(5432))),
		},
		"exec: $ escaped, since kubelet expands $(VAR) in probe commands": {
			probe: &staxv1alpha1.ServiceProbe{Exec: staxv1alpha1.ExecProbe{Command: []string{"pg_isready", "-U", "$USER", "$(HOST)"}}},
			want:  corev1ac.Probe().WithExec(corev1ac.ExecAction().WithCommand("pg_isready", "-U", "$$USER", "$$(HOST)")),
		},
		"every timing": {
			probe: &staxv1alpha1.ServiceProbe{
				TCPSocket:           staxv1alpha1.TCPSocketProbe{Port: ptr.To(intstr.FromInt32(80))},
				InitialDelaySeconds: ptr.To[int32](5), PeriodSeconds: 7, TimeoutSeconds: 2,
				FailureThreshold: 4, SuccessThreshold: 2,
			},
			want: corev1ac.Probe().WithTCPSocket(corev1ac.TCPSocketAction().WithPort(intstr.FromInt32(80))).
				WithInitialDelaySeconds(5).WithPeriodSeconds(7).WithTimeoutSeconds(2).WithFailureThreshold(4).WithSuccessThreshold(2),
		},
	}
	for name, tt := range tests {
		for _, kind := range []string{"readiness", "liveness", "startup"} {
			t.Run(name+"/"+kind, func(t *testing.T) {
				probes := &staxv1alpha1.ServiceProbes{}
				switch kind {
				case "readiness":
					probes.Readiness = tt.probe
				case "liveness":
					probes.Liveness = tt.probe
				case "startup":
					probes.Startup = tt.probe
				}
				svc := staxv1alpha1.BlueprintService{Name: "app", Image: "app", Probes: probes,
					Ports: []staxv1alpha1.ServicePort{{Name: "http", ContainerPort: 8080}}}
				c := container(t, findService(build(t, blueprint("bp", svc)), "app"))
				got := map[string]*corev1ac.ProbeApplyConfiguration{"readiness": c.ReadinessProbe, "liveness": c.LivenessProbe, "startup": c.StartupProbe}
				for k, p := range got {
					want := tt.want
					if k != kind {
						want = nil
					}
					if !equality.Semantic.DeepEqual(p, want) {
						t.Errorf("%s probe:\n got %s\nwant %s", k, toJSON(p), toJSON(want))
					}
				}
			})
		}
	}
}

func TestBuildCommandArgs(t *testing.T) {
	const generated = "bp-generated"
	pw := hiddenName(generated, "db-password")
	tok := hiddenName("api", "token")
	tests := map[string]struct {
		command, args []staxv1alpha1.EnvValue
		wantCommand   []string
		wantArgs      []string
		wantEnv       []corev1ac.EnvVarApplyConfiguration
		wantUses      []render.Usage
	}{
		"literal text, $ escaped for kubelet": {
			command:     []staxv1alpha1.EnvValue{"/bin/sh", "-c"},
			args:        []staxv1alpha1.EnvValue{"echo $HOME costs $$5 $(NOT_A_VAR)"},
			wantCommand: []string{"/bin/sh", "-c"},
			wantArgs:    []string{"echo $$HOME costs $$$$5 $$(NOT_A_VAR)"},
		},
		"a reference inside an argument": {
			args:     []staxv1alpha1.EnvValue{"--password=${secret:db-password}", "--verbose"},
			wantArgs: []string{"--password=$(" + pw + ")", "--verbose"},
			wantEnv:  hiddenVars(generated + "/db-password"),
			wantUses: []render.Usage{{Ref: reference.Ref{SecretName: generated, Key: "db-password"}, Managed: true, Field: "args[0]"}},
		},
		"an argument that is exactly one reference still uses a hidden variable": {
			command:     []staxv1alpha1.EnvValue{"server", "$<secret:api/token>"},
			wantCommand: []string{"server", "$(" + tok + ")"},
			wantEnv:     hiddenVars("api/token"),
			wantUses:    []render.Usage{{Ref: reference.Ref{SecretName: "api", Key: "token"}, Field: "command[1]"}},
		},
		"escaped reference syntax stays literal": {
			args:     []staxv1alpha1.EnvValue{"$${secret:x}"},
			wantArgs: []string{"$${secret:x}"},
		},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			svc := staxv1alpha1.BlueprintService{Name: "app", Image: "app", Command: tt.command, Args: tt.args,
				Secrets: []staxv1alpha1.ServiceSecret{{Name: "db-password", MountPath: "/run/secrets/unused", Value: staxv1alpha1.AutoGenerated}}}
			rendered := findService(build(t, blueprint("bp", svc)), "app")
			c := container(t, rendered)
			if !reflect.DeepEqual(c.Command, tt.wantCommand) {
				t.Errorf("command = %q, want %q", c.Command, tt.wantCommand)
			}
			if !reflect.DeepEqual(c.Args, tt.wantArgs) {
				t.Errorf("args = %q, want %q", c.Args, tt.wantArgs)
			}
			if !reflect.DeepEqual(c.Env, tt.wantEnv) {
				t.Errorf("env:\n got %s\nwant %s", toJSON(c.Env), toJSON(tt.wantEnv))
			}
			// The file of db-password is a use too; command and args come first.
			fileUse := render.Usage{Ref: reference.Ref{SecretName: generated, Key: "db-password"}, Managed: true, Field: "file /run/secrets/unused"}
			want := append(append([]render.Usage{}, tt.wantUses...), fileUse)
			if !reflect.DeepEqual(rendered.Uses, want) {
				t.Errorf("Uses = %+v, want %+v", rendered.Uses, want)
			}
		})
	}
}

func TestBuildCommandArgsInvalid(t *testing.T) {
	svc := staxv1alpha1.BlueprintService{Name: "app", Image: "app",
		Args: []staxv1alpha1.EnvValue{"ok", "--key=${secret:undeclared}"}}
	_, errs := render.Build(blueprint("bp", svc))
	if len(errs) != 1 || len(errs[0].Errs) != 1 {
		t.Fatalf("errors = %v, want one for args[1]", errs)
	}
	e := errs[0].Errs[0]
	if e.Field != "args[1]" || e.EnvKey != "" {
		t.Errorf("error field = %q, envKey = %q, want args[1] and none", e.Field, e.EnvKey)
	}
	if got, want := e.Error(), `service app, args[1]: no secret named "undeclared" with value auto-generated is declared in this Blueprint: "--key=${secret:undeclared}"`; got != want {
		t.Errorf("error = %s\nwant %s", got, want)
	}
}

func TestBuildSecretFiles(t *testing.T) {
	const generated = "bp-generated"
	tests := map[string]struct {
		secrets     []staxv1alpha1.ServiceSecret
		sc          *staxv1alpha1.ServiceSecurityContext
		wantEnv     []corev1ac.EnvVarApplyConfiguration
		wantVolumes []corev1ac.VolumeApplyConfiguration
		wantMounts  []corev1ac.VolumeMountApplyConfiguration
		wantUses    []render.Usage
	}{
		"generated value as a file only: in no env var, mode 0400": {
			secrets:     []staxv1alpha1.ServiceSecret{{Name: "db-password", MountPath: "/run/secrets/db-password", Value: staxv1alpha1.AutoGenerated}},
			wantVolumes: []corev1ac.VolumeApplyConfiguration{secretFileVolume("/run/secrets/db-password", generated, "db-password", 0o400)},
			wantMounts:  []corev1ac.VolumeMountApplyConfiguration{secretFileMount("/run/secrets/db-password")},
			wantUses:    []render.Usage{{Ref: reference.Ref{SecretName: generated, Key: "db-password"}, Managed: true, Field: "file /run/secrets/db-password"}},
		},
		"with fsGroup: mode 0440": {
			secrets:     []staxv1alpha1.ServiceSecret{{Name: "db-password", MountPath: "/run/secrets/db-password", Value: staxv1alpha1.AutoGenerated}},
			sc:          &staxv1alpha1.ServiceSecurityContext{FSGroup: ptr.To[int64](999)},
			wantVolumes: []corev1ac.VolumeApplyConfiguration{secretFileVolume("/run/secrets/db-password", generated, "db-password", 0o440)},
			wantMounts:  []corev1ac.VolumeMountApplyConfiguration{secretFileMount("/run/secrets/db-password")},
			wantUses:    []render.Usage{{Ref: reference.Ref{SecretName: generated, Key: "db-password"}, Managed: true, Field: "file /run/secrets/db-password"}},
		},
		"referenced value as a file and an env var": {
			secrets:     []staxv1alpha1.ServiceSecret{{Name: "stripe", EnvKey: "STRIPE_KEY", MountPath: "/etc/stripe/key", Value: "${secret:stripe/api-key}"}},
			wantEnv:     list(envFromSecret("STRIPE_KEY", "stripe", "api-key")),
			wantVolumes: []corev1ac.VolumeApplyConfiguration{secretFileVolume("/etc/stripe/key", "stripe", "api-key", 0o400)},
			wantMounts:  []corev1ac.VolumeMountApplyConfiguration{secretFileMount("/etc/stripe/key")},
			wantUses: []render.Usage{
				{Ref: reference.Ref{SecretName: "stripe", Key: "api-key"}, Field: "file /etc/stripe/key"},
				{Ref: reference.Ref{SecretName: "stripe", Key: "api-key"}, EnvKey: "STRIPE_KEY", Field: "env STRIPE_KEY"},
			},
		},
		"readOnlyRootFilesystem: /tmp first, then the files": {
			secrets: []staxv1alpha1.ServiceSecret{{Name: "db-password", MountPath: "/run/secrets/db-password", Value: staxv1alpha1.AutoGenerated}},
			sc:      &staxv1alpha1.ServiceSecurityContext{ReadOnlyRootFilesystem: ptr.To(true)},
			wantVolumes: []corev1ac.VolumeApplyConfiguration{
				secretFileVolume("/run/secrets/db-password", generated, "db-password", 0o400),
				*corev1ac.Volume().WithName("tmp").WithEmptyDir(corev1ac.EmptyDirVolumeSource()),
			},
			wantMounts: []corev1ac.VolumeMountApplyConfiguration{
				*corev1ac.VolumeMount().WithName("tmp").WithMountPath("/tmp"),
				secretFileMount("/run/secrets/db-password"),
			},
			wantUses: []render.Usage{{Ref: reference.Ref{SecretName: generated, Key: "db-password"}, Managed: true, Field: "file /run/secrets/db-password"}},
		},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			svc := staxv1alpha1.BlueprintService{Name: "app", Image: "app", Secrets: tt.secrets, SecurityContext: tt.sc}
			rendered := findService(build(t, blueprint("bp", svc)), "app")
			c := container(t, rendered)
			if !reflect.DeepEqual(c.Env, tt.wantEnv) {
				t.Errorf("env:\n got %s\nwant %s", toJSON(c.Env), toJSON(tt.wantEnv))
			}
			if got := podSpec(t, rendered).Volumes; !reflect.DeepEqual(got, tt.wantVolumes) {
				t.Errorf("volumes:\n got %s\nwant %s", toJSON(got), toJSON(tt.wantVolumes))
			}
			if !reflect.DeepEqual(c.VolumeMounts, tt.wantMounts) {
				t.Errorf("volumeMounts:\n got %s\nwant %s", toJSON(c.VolumeMounts), toJSON(tt.wantMounts))
			}
			if !reflect.DeepEqual(rendered.Uses, tt.wantUses) {
				t.Errorf("Uses = %+v, want %+v", rendered.Uses, tt.wantUses)
			}
		})
	}
}

func TestFileVolumeNamesAreValidAndDistinct(t *testing.T) {
	a, b := render.FileVolumeName("/run/secrets/a"), render.FileVolumeName("/run/secrets/b")
	if a == b {
		t.Errorf("two paths share volume name %s", a)
	}
	for _, n := range []string{a, b} {
		if len(n) > 63 || !dnsLabel.MatchString(n) {
			t.Errorf("volume name %q is not a DNS-1123 label", n)
		}
	}
}

var dnsLabel = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`)
