package render

import (
	"fmt"
	"slices"

	staxv1alpha1 "github.com/stax-dev/blueprint-operator/api/v1alpha1"
	"github.com/stax-dev/blueprint-operator/internal/reference"
)

// ReadKind says how a rendered object names another object.
type ReadKind string

const (
	// ReadValue is a key of a Secret that a container receives: an env
	// variable's secretKeyRef, or a file (the service's pods, or a hook's
	// Job).
	ReadValue ReadKind = "Value"
	// ReadImagePullSecret is a Secret kubelet pulls the service's image
	// with.
	ReadImagePullSecret ReadKind = "ImagePullSecret"
	// ReadServiceAccount is the ServiceAccount the service's pods run as.
	ReadServiceAccount ReadKind = "ServiceAccount"
	// ReadTLSSecret is the Secret an exposed service's Ingress serves TLS
	// with (spec.routing.tls.secretName).
	ReadTLSSecret ReadKind = "TLSSecret"
)

// Read is one object a rendered object names, and where.
type Read struct {
	Kind ReadKind
	// Name is the Secret's, or for ReadServiceAccount the
	// ServiceAccount's, name.
	Name string
	// Field says where the Blueprint names it, for messages: "env NAME",
	// "args[1]", "file /path", "env NAME (onRotate of secret S)",
	// "imagePullSecrets[0]", "serviceAccountName",
	// "routing.tls.secretName".
	Field string
	// Use is the value read, for ReadValue.
	Use Usage
	// Hook names the managed secret whose onRotate Job reads the value;
	// empty when the service's pods do.
	Hook string
}

// Secret reports whether the read names a Secret the Blueprint does not
// generate: what the lockdown, the existence checks and the Secret index
// are about.
func (r Read) Secret() bool {
	switch r.Kind {
	case ReadValue:
		return !r.Use.Managed
	case ReadImagePullSecret, ReadTLSSecret:
		return true
	}
	return false
}

// serviceReads lists, in a stable order, everything the objects rendered
// for svc name: its pods' values (uses), its hooks' values, its
// ServiceAccount, its pull Secrets, its route's TLS Secret.
func serviceReads(bp *staxv1alpha1.Blueprint, svc *staxv1alpha1.BlueprintService, uses []Usage, hooks []Read, r *Route) []Read {
	reads := make([]Read, 0, len(uses)+len(hooks)+len(svc.ImagePullSecrets)+2)
	for _, u := range uses {
		reads = append(reads, Read{Kind: ReadValue, Name: u.Ref.SecretName, Field: u.Field, Use: u})
	}
	reads = append(reads, hooks...)
	if svc.ServiceAccountName != "" {
		reads = append(reads, Read{Kind: ReadServiceAccount, Name: svc.ServiceAccountName, Field: "serviceAccountName"})
	}
	for i, s := range svc.ImagePullSecrets {
		reads = append(reads, Read{Kind: ReadImagePullSecret, Name: s.Name, Field: fmt.Sprintf("imagePullSecrets[%d]", i)})
	}
	if r != nil && r.Ingress != nil && bp.Spec.Routing != nil && bp.Spec.Routing.TLS.SecretName != "" {
		reads = append(reads, Read{Kind: ReadTLSSecret, Name: bp.Spec.Routing.TLS.SecretName, Field: "routing.tls.secretName"})
	}
	return reads
}

// Reads is every object the plan's rendered objects name, service by
// service: the one answer to "what does this Blueprint read". The Secret
// index, the lockdown, the existence checks and the digest (Service.Uses)
// all come from it.
func (p *Plan) Reads() []Read {
	var out []Read
	for i := range p.Services {
		out = append(out, p.Services[i].Reads...)
	}
	return out
}

// SecretNames lists, sorted and once each, the Secrets the plan reads
// that the Blueprint does not generate.
func (p *Plan) SecretNames() []string {
	// A set, not a search of the list: a Blueprint within the API server's
	// size limit can name tens of thousands (MaxSecretsRead is checked on
	// this count).
	seen := map[string]bool{}
	var names []string
	for _, r := range p.Reads() {
		if r.Secret() && !seen[r.Name] {
			seen[r.Name] = true
			names = append(names, r.Name)
		}
	}
	slices.Sort(names)
	return names
}

// WatchedSecretNames is every Secret name whose change concerns bp: its
// generated Secret and every Secret its plan reads. The manager's Secret
// index maps a Secret event to the Blueprints through it.
func WatchedSecretNames(bp *staxv1alpha1.Blueprint) []string {
	plan, _ := Build(bp)
	return append([]string{plan.GeneratedSecretName}, plan.SecretNames()...)
}

// Keeps reports whether the plan keeps an object of kind (Deployment or
// Service) named name, which the Blueprint controls: what it renders, and
// everything of a service it left out, until that service renders again or
// leaves the spec. What it does not keep is stale.
func (p *Plan) Keeps(kind, name string) bool {
	if slices.Contains(p.Unrendered, name) {
		return true
	}
	for i := range p.Services {
		svc := &p.Services[i]
		if svc.Name != name {
			continue
		}
		switch kind {
		case "Deployment":
			return true
		case "Service":
			return svc.Service != nil
		}
	}
	return false
}

// Refs lists the Secret keys a service's pods read: what its digest covers.
func (s *Service) Refs() []reference.Ref {
	refs := make([]reference.Ref, 0, len(s.Uses))
	for _, u := range s.Uses {
		refs = append(refs, u.Ref)
	}
	return refs
}
