// Package validate checks Blueprint manifests offline against everything that
// would refuse them in a cluster: first admission, i.e. the CRD's structural
// schema, list invariants and CEL rules, evaluated with the API server's own
// libraries on the generated CRD; then what the controller refuses in an
// admitted Blueprint: references it cannot resolve, values under the entropy
// floor and dependency cycles.
package validate

import (
	"bufio"
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"

	"k8s.io/apimachinery/pkg/runtime"
	utiljson "k8s.io/apimachinery/pkg/util/json"
	"k8s.io/apimachinery/pkg/util/validation/field"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/yaml"

	staxv1alpha1 "github.com/stax-dev/blueprint-operator/api/v1alpha1"
	"github.com/stax-dev/blueprint-operator/internal/depgraph"
	"github.com/stax-dev/blueprint-operator/internal/plaintext"
	"github.com/stax-dev/blueprint-operator/internal/render"
	"github.com/stax-dev/blueprint-operator/internal/secretgen"
	"github.com/stax-dev/blueprint-operator/internal/sleep"
	"github.com/stax-dev/blueprint-operator/internal/status"
)

// Problem is one reason a Blueprint would be refused, by the API server or by
// the controller.
type Problem struct {
	// Field is the path of the offending field, as the API server spells it
	// (spec.services[1].env[DATABASE_URL]); empty for a rule on the whole
	// object.
	Field   string
	Message string
}

// Result is the verdict on one Blueprint document.
type Result struct {
	// Document is the 1-based position of the document in its input.
	Document int
	// Name is metadata.name as written, possibly empty.
	Name     string
	Problems []Problem
	// Blueprint is the document as the API server would store it, defaults
	// applied. It is set only when there are no problems.
	Blueprint *staxv1alpha1.Blueprint
}

// Documents validates every Blueprint in a stream of YAML documents. Other
// documents (a ConfigMap next to the Blueprint, say) are skipped. An error
// means the input could not be read as YAML objects; the results gathered up
// to that document are returned with it.
func Documents(ctx context.Context, r io.Reader) ([]Result, error) {
	adm, err := loadAdmission()
	if err != nil {
		return nil, err
	}
	reader := utilyaml.NewYAMLReader(bufio.NewReader(r))
	var results []Result
	for n := 1; ; n++ {
		doc, err := reader.Read()
		if errors.Is(err, io.EOF) {
			return results, nil
		}
		if err != nil {
			return results, fmt.Errorf("document %d: %w", n, err)
		}
		obj, err := decode(doc)
		if err != nil {
			return results, fmt.Errorf("document %d: %w", n, err)
		}
		if !isBlueprint(obj) {
			continue
		}
		results = append(results, blueprint(ctx, adm, obj, n))
	}
}

// decode turns one YAML document into the generic form the API server
// validates. Duplicate keys are refused as kubectl refuses them. An empty
// document (only comments, say) decodes to nil.
func decode(doc []byte) (map[string]any, error) {
	j, err := yaml.YAMLToJSONStrict(doc)
	if err != nil {
		return nil, err
	}
	if bytes.Equal(bytes.TrimSpace(j), []byte("null")) {
		return nil, nil
	}
	var obj map[string]any
	// utiljson keeps integers as int64, which the schema validator and CEL
	// expect; encoding/json would turn them into float64.
	if err := utiljson.Unmarshal(j, &obj); err != nil {
		return nil, fmt.Errorf("not a YAML object: %w", err)
	}
	return obj, nil
}

func isBlueprint(obj map[string]any) bool {
	return obj["apiVersion"] == staxv1alpha1.GroupVersion.String() && obj["kind"] == "Blueprint"
}

func blueprint(ctx context.Context, adm *admission, obj map[string]any, document int) Result {
	res := Result{Document: document}
	if meta, ok := obj["metadata"].(map[string]any); ok {
		res.Name, _ = meta["name"].(string)
	}
	res.Problems = adm.check(ctx, obj)
	// The controller only ever sees admitted Blueprints, so its checks are
	// run on those alone: on a refused one they would mostly restate the
	// refusal in other words.
	if len(res.Problems) > 0 {
		// Where admission's message cannot name the offending value (the
		// CEL cost budget), say it here.
		bp := &staxv1alpha1.Blueprint{}
		if runtime.DefaultUnstructuredConverter.FromUnstructured(obj, bp) == nil {
			res.Problems = append(res.Problems, fromFieldErrors(namedChecks(bp))...)
			// The shipped admission policy refuses literal credentials
			// too: say so alongside.
			for i := range bp.Spec.Services {
				findings := plaintext.Service(&bp.Spec.Services[i], field.NewPath("spec", "services").Index(i))
				res.Problems = append(res.Problems, fromFieldErrors(plaintextErrors(findings))...)
			}
		}
		return res
	}
	bp := &staxv1alpha1.Blueprint{}
	if err := runtime.DefaultUnstructuredConverter.FromUnstructured(obj, bp); err != nil {
		// Admission accepted a document the Go types cannot hold: the CRD
		// and the types have drifted apart.
		res.Problems = fromFieldErrors(field.ErrorList{field.InternalError(nil, fmt.Errorf("does not decode into the Blueprint type: %w", err))})
		return res
	}
	res.Problems = fromFieldErrors(controllerChecks(bp))
	if len(res.Problems) == 0 {
		res.Blueprint = bp
	}
	return res
}

// controllerChecks reports what the controller refuses in an admitted
// Blueprint.
func controllerChecks(bp *staxv1alpha1.Blueprint) field.ErrorList {
	var errs field.ErrorList
	services := field.NewPath("spec", "services")

	// render.Build parses every env value and every secret value with
	// internal/reference and resolves every managed reference, exactly as the
	// controller does: its errors are the syntax errors admission's looser
	// patterns let through and the references to undeclared managed secrets.
	plan, renderErrs := render.Build(bp)
	if plan.TooManySecrets > 0 {
		errs = append(errs, field.Forbidden(services, status.TooManySecretsProblem(plan.TooManySecrets, render.MaxSecretsRead).Message))
	}
	for _, serr := range renderErrs {
		i := slices.IndexFunc(bp.Spec.Services, func(s staxv1alpha1.BlueprintService) bool { return s.Name == serr.Service })
		errs = append(errs, plaintextErrors(serr.Plaintext)...)
		for _, e := range serr.Errs {
			errs = append(errs, field.Invalid(source(services.Index(i), &bp.Spec.Services[i], e), e.Text, e.Reason))
		}
	}

	// Admission states the entropy floors as CEL literals (a CEL rule cannot
	// read a Go constant); secretgen derives them from
	// staxv1alpha1.MinEntropyBits. TestEntropyFloorMatchesCEL keeps the two
	// equal; checking here too names the floor offline.
	for i, svc := range bp.Spec.Services {
		for j, s := range svc.Secrets {
			if s.Value != staxv1alpha1.AutoGenerated || render.TypeOrDefault(s.Type) != staxv1alpha1.SecretTypePassword {
				continue
			}
			path := services.Index(i).Child("secrets").Index(j)
			charset := cmp.Or(string(s.Charset), secretgen.Alphanumeric)
			length := staxv1alpha1.DefaultSecretLength
			if s.Length != nil {
				length = int(*s.Length)
			}
			alphabet, err := secretgen.AlphabetExcluding(charset, s.Exclude)
			if err != nil {
				errs = append(errs, field.Invalid(path.Child("charset"), charset, err.Error()))
				continue
			}
			floor := secretgen.MinLengthOf(len(alphabet))
			switch {
			case len(alphabet) < secretgen.MinAlphabet:
				errs = append(errs, field.Invalid(path.Child("exclude"), s.Exclude,
					fmt.Sprintf("exclude leaves %d characters of charset %s; at least %d must remain", len(alphabet), charset, secretgen.MinAlphabet)))
			case length < floor && s.Exclude != "":
				errs = append(errs, field.Invalid(path.Child("length"), length,
					fmt.Sprintf("is under the %d-bit entropy floor: the minimum length for charset %s less exclude (%d characters) is %d", staxv1alpha1.MinEntropyBits, charset, len(alphabet), floor)))
			case length < floor:
				errs = append(errs, field.Invalid(path.Child("length"), length,
					fmt.Sprintf("is under the %d-bit entropy floor: the minimum length for charset %s is %d", staxv1alpha1.MinEntropyBits, charset, floor)))
			}
		}
	}

	if cycle := depgraph.Cycle(bp.Spec.Services); cycle != nil {
		i := slices.IndexFunc(bp.Spec.Services, func(s staxv1alpha1.BlueprintService) bool { return s.Name == cycle[0] })
		errs = append(errs, field.Invalid(services.Index(i).Child("dependsOn"), field.OmitValueType{},
			"dependsOn forms a cycle: "+depgraph.Format(cycle)))
	}

	// What the controller reports as InvalidSchedule: an unknown time zone,
	// a time range that does not end after it starts.
	if uptime := bp.Spec.Sleep.Uptime; uptime != "" {
		if _, err := sleep.ParseUptime(uptime); err != nil {
			errs = append(errs, field.Invalid(field.NewPath("spec", "sleep", "uptime"), field.OmitValueType{}, err.Error()))
		}
	}
	return errs
}

// plaintextErrors words the plaintext guard's findings, naming the field
// and the rule, never the value.
func plaintextErrors(findings []plaintext.Finding) field.ErrorList {
	var errs field.ErrorList
	for _, f := range findings {
		errs = append(errs, field.Invalid(f.Field, field.OmitValueType{}, plaintext.FieldMessage(f)))
	}
	return errs
}

// source names the field a render error is about: an item of command or
// args, the secret a file comes from, or the source of an env variable.
func source(svcPath *field.Path, svc *staxv1alpha1.BlueprintService, e *render.InvalidReferenceError) *field.Path {
	var list string
	var index int
	if n, _ := fmt.Sscanf(e.Field, "command[%d]", &index); n == 1 {
		list = "command"
	} else if n, _ := fmt.Sscanf(e.Field, "args[%d]", &index); n == 1 {
		list = "args"
	}
	if list != "" {
		return svcPath.Child(list).Index(index)
	}
	if mountPath, ok := strings.CutPrefix(e.Field, "file "); ok {
		for j, s := range svc.Secrets {
			if s.MountPath == mountPath {
				return svcPath.Child("secrets").Index(j)
			}
		}
	}
	return envSource(svcPath, svc, e.EnvKey)
}

// envSource names the field that feeds environment variable envKey of svc:
// an env entry, or the secret with that envKey (as a whole, since either its
// value or its envKey may be what is wrong).
func envSource(svcPath *field.Path, svc *staxv1alpha1.BlueprintService, envKey string) *field.Path {
	if _, ok := svc.Env[envKey]; ok {
		return svcPath.Child("env").Key(envKey)
	}
	for j, s := range svc.Secrets {
		if s.EnvKey == envKey {
			return svcPath.Child("secrets").Index(j)
		}
	}
	return svcPath
}
