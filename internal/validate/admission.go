package validate

import (
	"context"
	_ "embed"
	"fmt"
	"sync"

	apiextensionsinternal "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	structuralschema "k8s.io/apiextensions-apiserver/pkg/apiserver/schema"
	"k8s.io/apiextensions-apiserver/pkg/apiserver/schema/cel"
	structuraldefaulting "k8s.io/apiextensions-apiserver/pkg/apiserver/schema/defaulting"
	structurallisttype "k8s.io/apiextensions-apiserver/pkg/apiserver/schema/listtype"
	schemaobjectmeta "k8s.io/apiextensions-apiserver/pkg/apiserver/schema/objectmeta"
	structuralpruning "k8s.io/apiextensions-apiserver/pkg/apiserver/schema/pruning"
	apiservervalidation "k8s.io/apiextensions-apiserver/pkg/apiserver/validation"
	apimachineryvalidation "k8s.io/apimachinery/pkg/api/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
	celconfig "k8s.io/apiserver/pkg/apis/cel"
	"sigs.k8s.io/yaml"

	staxv1alpha1 "github.com/stax-dev/blueprint-operator/api/v1alpha1"
)

// crdYAML is config/crd/bases/stax.dev_blueprints.yaml, copied here by `make
// manifests` because go:embed cannot reach outside this directory.
//
//go:embed zz_generated.crd.yaml
var crdYAML []byte

// admission is what the API server builds from the CRD to admit a Blueprint.
type admission struct {
	structural *structuralschema.Structural
	schema     apiservervalidation.SchemaValidator
	cel        *cel.Validator
}

// loadAdmission compiles the embedded CRD once: compiling its CEL rules is
// the expensive part, and the result is the same for every document.
var loadAdmission = sync.OnceValues(func() (*admission, error) {
	crd := &apiextensionsv1.CustomResourceDefinition{}
	if err := yaml.UnmarshalStrict(crdYAML, crd); err != nil {
		return nil, fmt.Errorf("embedded CRD: %w", err)
	}
	var versioned *apiextensionsv1.CustomResourceValidation
	for _, v := range crd.Spec.Versions {
		if v.Name == staxv1alpha1.GroupVersion.Version {
			versioned = v.Schema
		}
	}
	if versioned == nil {
		return nil, fmt.Errorf("embedded CRD has no schema for version %s", staxv1alpha1.GroupVersion.Version)
	}
	// The same steps as the API server's CRD handler
	// (k8s.io/apiextensions-apiserver/pkg/apiserver/customresource_handler.go).
	internal := &apiextensionsinternal.CustomResourceValidation{}
	if err := apiextensionsv1.Convert_v1_CustomResourceValidation_To_apiextensions_CustomResourceValidation(versioned, internal, nil); err != nil {
		return nil, fmt.Errorf("embedded CRD: %w", err)
	}
	structural, err := structuralschema.NewStructural(internal.OpenAPIV3Schema)
	if err != nil {
		return nil, fmt.Errorf("embedded CRD schema is not structural: %w", err)
	}
	// NewStructural shares defaults with its input; PruneDefaults rewrites
	// them, so it works on a copy, as the API server's does.
	structural = structural.DeepCopy()
	if err := structuraldefaulting.PruneDefaults(structural); err != nil {
		return nil, fmt.Errorf("embedded CRD defaults: %w", err)
	}
	schema, _, err := apiservervalidation.NewSchemaValidator(internal.OpenAPIV3Schema)
	if err != nil {
		return nil, fmt.Errorf("embedded CRD schema: %w", err)
	}
	return &admission{
		structural: structural,
		schema:     schema,
		cel:        cel.NewValidator(structural, true, celconfig.PerCallLimit),
	}, nil
})

// check admits obj as the API server admits a create with kubectl's default
// strict field validation: decoding (unknown fields are errors; pruning and
// defaulting change obj in place), then metadata, schema, list invariants and
// CEL rules.
func (a *admission) check(ctx context.Context, obj map[string]any) []Problem {
	meta, _, unknown, err := schemaobjectmeta.GetObjectMetaWithOptions(obj, schemaobjectmeta.ObjectMetaOptions{ReturnUnknownFieldPaths: true})
	if err != nil {
		return []Problem{{Field: "metadata", Message: err.Error()}}
	}
	unknown = append(unknown, structuralpruning.PruneWithOptions(obj, a.structural, true,
		structuralschema.UnknownFieldPathOptions{TrackUnknownFieldPaths: true})...)
	structuraldefaulting.PruneNonNullableNullsWithoutDefaults(obj, a.structural)
	structuraldefaulting.Default(obj, a.structural)

	var problems []Problem
	for _, path := range unknown {
		problems = append(problems, Problem{Field: path, Message: "unknown field"})
	}
	// Offline there may be no namespace yet (kubectl fills it in from the
	// context); one that is written down must be valid.
	errs := apimachineryvalidation.ValidateObjectMeta(meta, meta.Namespace != "", apimachineryvalidation.NameIsDNSSubdomain, field.NewPath("metadata"))
	errs = append(errs, apiservervalidation.ValidateCustomResource(nil, obj, a.schema)...)
	errs = append(errs, structurallisttype.ValidateListSetsAndMaps(nil, a.structural, obj)...)
	if blocking(errs) {
		// The API server does not run CEL rules on such an object either:
		// they could fail on missing or mistyped fields in confusing ways.
		problems = append(problems, fromFieldErrors(errs)...)
		return append(problems, Problem{Message: "CEL validation rules were not checked because of the errors above; fix them and validate again"})
	}
	celErrs, _ := a.cel.Validate(ctx, nil, a.structural, obj, nil, celconfig.RuntimeCELCostBudget)
	return append(problems, fromFieldErrors(append(errs, celErrs...))...)
}

// blocking mirrors hasBlockingErr in
// k8s.io/apiextensions-apiserver/pkg/registry/customresource/strategy.go.
func blocking(errs field.ErrorList) bool {
	for _, err := range errs {
		switch err.Type {
		case field.ErrorTypeNotSupported, field.ErrorTypeRequired, field.ErrorTypeTooLong, field.ErrorTypeTooMany, field.ErrorTypeTypeInvalid:
			return true
		}
	}
	return false
}

func fromFieldErrors(errs field.ErrorList) []Problem {
	problems := make([]Problem, 0, len(errs))
	for _, err := range errs {
		path := err.Field
		// field.Path spells the root "<nil>": rules on the whole object.
		if path == "<nil>" {
			path = ""
		}
		problems = append(problems, Problem{Field: path, Message: err.ErrorBody()})
	}
	return problems
}
