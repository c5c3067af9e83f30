package main

import (
	"bytes"
	"fmt"

	"github.com/spf13/cobra"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	corev1ac "k8s.io/client-go/applyconfigurations/core/v1"
	"sigs.k8s.io/yaml"

	staxv1alpha1 "github.com/stax-dev/blueprint-operator/api/v1alpha1"
	"github.com/stax-dev/blueprint-operator/internal/render"
)

func newRenderCommand(flags *genericclioptions.ConfigFlags, streams genericiooptions.IOStreams) *cobra.Command {
	var planName string
	cmd := &cobra.Command{
		Use:   "render FILE|-",
		Short: "Print the objects the operator would create for a Blueprint, offline",
		Long: `Print, as multi-document YAML, the objects the operator creates for each
Blueprint in FILE (or standard input for -): the generated Secret, then a
Deployment per service and a Service per service with ports, a
PersistentVolumeClaim per pvc volume, and an Ingress (or, with
spec.routing.gateway, an HTTPRoute) per exposed service.

--plan NAME renders with the plan NAME of spec.plans applied, whatever
spec.plan selects: its replicas and resources replace the services' own.
Without it, spec.plan applies, as in the cluster.

The Secret lists the keys of the auto-generated values with empty values (for
a keypair NAME and NAME.pub, for a tls certificate NAME, NAME.crt, NAME.ca and
the CA's .ca-key and .ca-crt): the
values themselves are generated once inside the cluster and never leave it,
so this command cannot and does not print them. Secret values reach the
containers through the secretKeyRefs shown in the Deployments.

Nothing is sent to a cluster. The namespace is the Blueprint's own, else the
one given with -n, else "default". The Blueprint is validated first, as by
"kubectl blueprint validate", and nothing is printed if it has problems.
Owner references carry an empty uid: the Blueprint's uid exists only once it
is created. The pod templates lack the stax.dev/secrets-digest annotation,
which the operator derives from the values in the cluster.`,
		Example: `  kubectl blueprint render blueprint.yaml -n payments
  kubectl blueprint render examples/postgres-api.yaml --plan prod`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			file := args[0]
			results, err := readBlueprints(cmd.Context(), file, streams.In)
			if err != nil {
				return fmt.Errorf("%s: %w", displayName(file), err)
			}
			if printProblems(streams.Out, file, results) > 0 {
				return errReported
			}
			if len(results) == 0 {
				return fmt.Errorf("no %s Blueprint found in %s", staxv1alpha1.GroupVersion, displayName(file))
			}
			// Everything is rendered before anything is printed, so that an
			// error never leaves half a stream of manifests behind.
			var out bytes.Buffer
			for _, res := range results {
				bp := res.Blueprint
				ns, err := namespaceFor(bp, *flags.Namespace)
				if err != nil {
					return fmt.Errorf("%s: blueprint/%s: %w", displayName(file), bp.Name, err)
				}
				bp.Namespace = ns
				if planName != "" {
					if _, ok := bp.Spec.Plans[planName]; !ok {
						return fmt.Errorf("%s: blueprint/%s has no plan %q in spec.plans", displayName(file), bp.Name, planName)
					}
					bp = render.WithPlan(bp, planName)
				}
				if err := writeObjects(&out, renderObjects(bp)); err != nil {
					return err
				}
			}
			_, err = streams.Out.Write(out.Bytes())
			return err
		},
	}
	cmd.Flags().StringVar(&planName, "plan", "", "render with this plan of spec.plans applied instead of the one spec.plan selects")
	return cmd
}

// namespaceFor resolves a Blueprint's namespace as kubectl apply does: the
// document's own, which -n may repeat but not contradict.
func namespaceFor(bp *staxv1alpha1.Blueprint, flag string) (string, error) {
	switch {
	case bp.Namespace != "" && flag != "" && bp.Namespace != flag:
		return "", fmt.Errorf("the namespace of the document (%s) does not match -n %s", bp.Namespace, flag)
	case bp.Namespace != "":
		return bp.Namespace, nil
	case flag != "":
		return flag, nil
	}
	return "default", nil
}

// renderObjects returns the objects the operator creates for bp, which must be
// valid: render.Build then renders every service.
func renderObjects(bp *staxv1alpha1.Blueprint) []any {
	plan, _ := render.Build(bp)
	var objs []any
	// The generated Secret always exists: besides the generated values it
	// holds the key of the rollout digest. Its values are made in-cluster.
	data := map[string][]byte{staxv1alpha1.DigestKey: {}}
	for _, m := range plan.Managed {
		data[m.Name] = []byte{}
		// A keypair's and a certificate's other parts, and the CA they
		// are signed by.
		for _, part := range render.Parts(m.Type) {
			data[m.Name+part] = []byte{}
		}
		if m.Type == staxv1alpha1.SecretTypeTLS {
			data[staxv1alpha1.CAKeyKey] = []byte{}
			data[staxv1alpha1.CACertKey] = []byte{}
		}
	}
	secret := corev1ac.Secret(plan.GeneratedSecretName, bp.Namespace).
		WithLabels(render.GeneratedSecretLabels(bp.Name)).
		WithAnnotations(map[string]string{staxv1alpha1.GeneratedForAnnotation: bp.Name}).
		WithType(corev1.SecretTypeOpaque).
		WithData(data)
	if bp.Spec.DeletionPolicy != staxv1alpha1.DeletionPolicyRetain {
		secret.WithOwnerReferences(render.OwnerReference(bp))
	}
	objs = append(objs, secret)
	for _, svc := range plan.Services {
		for _, c := range svc.Claims {
			pvc := render.NewClaim(c, bp)
			claim := corev1ac.PersistentVolumeClaim(pvc.Name, pvc.Namespace).
				WithLabels(pvc.Labels).
				WithAnnotations(pvc.Annotations).
				WithSpec(corev1ac.PersistentVolumeClaimSpec().
					WithAccessModes(pvc.Spec.AccessModes...).
					WithResources(corev1ac.VolumeResourceRequirements().WithRequests(pvc.Spec.Resources.Requests)))
			if pvc.Spec.StorageClassName != nil {
				claim.Spec.WithStorageClassName(*pvc.Spec.StorageClassName)
			}
			if bp.Spec.DeletionPolicy != staxv1alpha1.DeletionPolicyRetain {
				claim.WithOwnerReferences(render.OwnerReference(bp))
			}
			objs = append(objs, claim)
		}
		objs = append(objs, svc.Deployment)
		if svc.Service != nil {
			objs = append(objs, svc.Service)
		}
		if svc.Route != nil {
			if svc.Route.Ingress != nil {
				objs = append(objs, svc.Route.Ingress)
			} else {
				objs = append(objs, svc.Route.HTTPRoute.Object)
			}
		}
	}
	return objs
}

func writeObjects(out *bytes.Buffer, objs []any) error {
	for _, obj := range objs {
		doc, err := yaml.Marshal(obj)
		if err != nil {
			return err
		}
		if out.Len() > 0 {
			out.WriteString("---\n")
		}
		out.Write(doc)
	}
	return nil
}
