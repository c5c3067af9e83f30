package validate

import (
	"fmt"
	"strings"

	"k8s.io/apimachinery/pkg/util/validation/field"

	staxv1alpha1 "github.com/stax-dev/blueprint-operator/api/v1alpha1"
)

// namedChecks restates, naming the offending value, the admission rules whose
// message cannot name it: a messageExpression that did would exceed the API
// server's CEL cost budget for the CRD. They run only on Blueprints admission
// refuses, next to admission's own messages.
func namedChecks(bp *staxv1alpha1.Blueprint) field.ErrorList {
	var errs field.ErrorList
	services := field.NewPath("spec", "services")
	known := map[string]bool{}
	for _, svc := range bp.Spec.Services {
		known[svc.Name] = true
	}
	for i, svc := range bp.Spec.Services {
		path := services.Index(i)
		for j, d := range svc.DependsOn {
			if !known[d] {
				errs = append(errs, field.Invalid(path.Child("dependsOn").Index(j), d,
					fmt.Sprintf("service %s depends on %s, which is not a service of this Blueprint", svc.Name, d)))
			}
		}
		readOnlyRoot := svc.SecurityContext != nil && svc.SecurityContext.ReadOnlyRootFilesystem != nil && *svc.SecurityContext.ReadOnlyRootFilesystem
		seen := map[string]bool{}
		for j, s := range svc.Secrets {
			if s.MountPath == "" {
				continue
			}
			mp := path.Child("secrets").Index(j).Child("mountPath")
			if seen[s.MountPath] {
				errs = append(errs, field.Duplicate(mp, s.MountPath))
				continue
			}
			seen[s.MountPath] = true
			for _, o := range svc.Secrets {
				if o.MountPath != "" && strings.HasPrefix(s.MountPath, o.MountPath+"/") {
					errs = append(errs, field.Invalid(mp, s.MountPath,
						fmt.Sprintf("lies inside %s, the mountPath of secret %s of this service", o.MountPath, o.Name)))
				}
			}
			if readOnlyRoot && (s.MountPath == "/tmp" || strings.HasPrefix(s.MountPath, "/tmp/")) {
				errs = append(errs, field.Invalid(mp, s.MountPath,
					"lies inside /tmp, which readOnlyRootFilesystem mounts as a writable emptyDir volume"))
			}
		}
	}
	return errs
}
