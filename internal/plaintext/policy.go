package plaintext

import (
	"fmt"
	"strings"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	staxv1alpha1 "github.com/stax-dev/blueprint-operator/api/v1alpha1"
)

// PolicyName names the shipped ValidatingAdmissionPolicy and its binding
// (before an install path's prefix).
const PolicyName = "plaintext-guard"

// AdmissionPolicy is the guard as a ValidatingAdmissionPolicy and its
// binding, which config/default and the Helm chart install: it refuses a
// Blueprint whose literal texts match password-in-url, credential-name or a
// token format of AdmissionRuleIDs, naming the service, the field and the
// rule, never the value.
//
// Its failure policy is Ignore: a Blueprint so large that the checks exceed
// the API server's CEL cost budget is admitted, and the operator, which runs
// the same checks and gitleaks' whole rule set, refuses to render it
// (reason PlaintextSecret).
func AdmissionPolicy() (*admissionregistrationv1.ValidatingAdmissionPolicy, *admissionregistrationv1.ValidatingAdmissionPolicyBinding) {
	policy := &admissionregistrationv1.ValidatingAdmissionPolicy{
		TypeMeta:   metav1.TypeMeta{APIVersion: admissionregistrationv1.SchemeGroupVersion.String(), Kind: "ValidatingAdmissionPolicy"},
		ObjectMeta: metav1.ObjectMeta{Name: PolicyName},
		Spec: admissionregistrationv1.ValidatingAdmissionPolicySpec{
			FailurePolicy: ptr.To(admissionregistrationv1.Ignore),
			MatchConstraints: &admissionregistrationv1.MatchResources{
				ResourceRules: []admissionregistrationv1.NamedRuleWithOperations{{RuleWithOperations: admissionregistrationv1.RuleWithOperations{
					Operations: []admissionregistrationv1.OperationType{admissionregistrationv1.Create, admissionregistrationv1.Update},
					Rule: admissionregistrationv1.Rule{
						APIGroups:   []string{staxv1alpha1.GroupVersion.Group},
						APIVersions: []string{staxv1alpha1.GroupVersion.Version},
						Resources:   []string{"blueprints"},
					},
				}}},
			},
		},
	}
	vars, checks := validations()
	policy.Spec.Variables = append(patterns(), vars...)
	policy.Spec.Validations = checks
	// An update that leaves the spec as it is (an annotation such as
	// kubectl blueprint rotate sets, a label, a finalizer) is not checked: a
	// Blueprint stored before the policy can still be annotated, labelled
	// and deleted; any edit of its spec must fix it.
	policy.Spec.MatchConditions = []admissionregistrationv1.MatchCondition{{
		Name:       "spec-written",
		Expression: "request.operation == 'CREATE' || object.spec != oldObject.spec",
	}}
	binding := &admissionregistrationv1.ValidatingAdmissionPolicyBinding{
		TypeMeta:   metav1.TypeMeta{APIVersion: admissionregistrationv1.SchemeGroupVersion.String(), Kind: "ValidatingAdmissionPolicyBinding"},
		ObjectMeta: metav1.ObjectMeta{Name: PolicyName},
		Spec: admissionregistrationv1.ValidatingAdmissionPolicyBindingSpec{
			PolicyName:        PolicyName,
			ValidationActions: []admissionregistrationv1.ValidationAction{admissionregistrationv1.Deny},
		},
	}
	return policy, binding
}

// celString quotes a regular expression as a CEL raw string.
func celString(re string) string {
	if strings.Contains(re, "'''") {
		panic(fmt.Sprintf("expression %q cannot be quoted as a CEL raw string", re))
	}
	return "r'''" + re + "'''"
}

// patterns are the policy's first variables: the shared expressions, and
// the rules a message names, in match's order.
func patterns() []admissionregistrationv1.Variable {
	rules := admissionRules()
	alts := make([]string, len(rules))
	named := []string{"['" + RulePasswordInURL + "', " + celString(passwordInURL) + "]"}
	for i, r := range rules {
		alts[i] = "(?:" + r.Regex.String() + ")"
		named = append(named, "['"+r.RuleID+"', "+celString(r.Regex.String())+"]")
	}
	return []admissionregistrationv1.Variable{
		{Name: "passwordInURL", Expression: celString(passwordInURL)},
		{Name: "tokens", Expression: celString(strings.Join(alts, "|"))},
		{Name: "credentialName", Expression: celString(credentialName)},
		{Name: "aboutACredential", Expression: celString(aboutACredential)},
		{Name: "notACredential", Expression: celString(notACredential)},
		{Name: "rules", Expression: "[" + strings.Join(named, ", ") + "]"},
	}
}

// flagged is the CEL form of match without gitleaks' whole set: text is the
// literal, name the variable it is the value of ("" for none).
func flagged(text, name string) string {
	expr := text + ".matches(variables.passwordInURL) || " + text + ".matches(variables.tokens)"
	if name != "" {
		expr += " || (" + name + ".matches(variables.credentialName) && !" + name + ".matches(variables.aboutACredential) && !" +
			text + ".matches(variables.notACredential))"
	}
	return "(" + expr + ")"
}

// rule names the first rule text matches, in match's order.
func rule(text string) string {
	return "(variables.rules.filter(r, " + text + ".matches(r[1])).map(r, r[0]) + ['" + RuleCredentialName + "'])[0]"
}

// check is one kind of field that reaches a container.
type check struct {
	name string
	// what names the fields, for the message used should the
	// messageExpression fail.
	what string
	// some is true when service s has a finding there; first names it.
	some, first func(s string) string
}

func allowed(s, entry string) string {
	return "(has(" + s + ".allowPlaintext) && (" + entry + ") in " + s + ".allowPlaintext)"
}

// serviceChecks: env, with allowPlaintext by variable name; command and
// args, with allowPlaintext by command[N] and args[N].
func serviceChecks() []check {
	envFlag := func(s, k string) string { return "!" + allowed(s, k) + " && " + flagged(s+".env["+k+"]", k) }
	checks := []check{{
		name: "env", what: "an env value",
		some: func(s string) string { return "has(" + s + ".env) && " + s + ".env.exists(k, " + envFlag(s, "k") + ")" },
		first: func(s string) string {
			k := s + ".env.filter(k, " + envFlag(s, "k") + ")[0]"
			return "'env ' + " + k + " + ' (rule ' + " + rule(s+".env["+k+"]") + " + ')'"
		},
	}}
	for _, list := range []string{"command", "args"} {
		itemFlag := func(s, a string) string {
			entry := "'" + list + "[' + string(" + s + "." + list + ".indexOf(" + a + ")) + ']'"
			return "!" + allowed(s, entry) + " && " + flagged(a, "")
		}
		checks = append(checks, check{
			name: list, what: "an item of " + list,
			some: func(s string) string {
				return "has(" + s + "." + list + ") && " + s + "." + list + ".exists(a, " + itemFlag(s, "a") + ")"
			},
			first: func(s string) string {
				a := s + "." + list + ".filter(a, " + itemFlag(s, "a") + ")[0]"
				return "'" + list + "[' + string(" + s + "." + list + ".indexOf(" + a + ")) + '] (rule ' + " + rule(a) + " + ')'"
			},
		})
	}
	return checks
}

// hookChecks: onRotate hooks' env, command and args, with no opt-out.
func hookChecks() []check {
	hookEnv := func(x string) string {
		return "has(" + x + ".onRotate) && has(" + x + ".onRotate.env) && " + x + ".onRotate.env.exists(k, " + flagged(x+".onRotate.env[k]", "k") + ")"
	}
	checks := []check{{
		name: "hookEnv", what: "an onRotate env value",
		some: func(s string) string {
			return "has(" + s + ".secrets) && " + s + ".secrets.exists(x, " + hookEnv("x") + ")"
		},
		first: func(s string) string {
			x := s + ".secrets.filter(x, " + hookEnv("x") + ")[0]"
			k := x + ".onRotate.env.filter(k, " + flagged(x+".onRotate.env[k]", "k") + ")[0]"
			return "'secret ' + " + x + ".name + ', onRotate.env ' + " + k + " + ' (rule ' + " + rule(x+".onRotate.env["+k+"]") + " + ')'"
		},
	}}
	for _, list := range []string{"command", "args"} {
		hookList := func(x string) string {
			return "has(" + x + ".onRotate) && has(" + x + ".onRotate." + list + ") && " + x + ".onRotate." + list + ".exists(a, " + flagged("a", "") + ")"
		}
		checks = append(checks, check{
			name: "hook" + strings.ToUpper(list[:1]) + list[1:], what: "an item of onRotate." + list,
			some: func(s string) string {
				return "has(" + s + ".secrets) && " + s + ".secrets.exists(x, " + hookList("x") + ")"
			},
			first: func(s string) string {
				x := s + ".secrets.filter(x, " + hookList("x") + ")[0]"
				a := x + ".onRotate." + list + ".filter(a, " + flagged("a", "") + ")[0]"
				return "'secret ' + " + x + ".name + ', onRotate." + list + "[' + string(" + x + ".onRotate." + list + ".indexOf(" + a + ")) + '] (rule ' + " + rule(a) + " + ')'"
			},
		})
	}
	return checks
}

// probeChecks: probes' exec commands, with no opt-out.
func probeChecks() []check {
	var checks []check
	for _, probe := range []string{"readiness", "liveness", "startup"} {
		cmd := func(s string) string { return s + ".probes." + probe + ".exec.command" }
		has := func(s string) string {
			return "has(" + s + ".probes) && has(" + s + ".probes." + probe + ") && has(" + s + ".probes." + probe + ".exec) && has(" + cmd(s) + ")"
		}
		checks = append(checks, check{
			name: probe + "Probe", what: "an item of probes." + probe + ".exec.command",
			some: func(s string) string { return has(s) + " && " + cmd(s) + ".exists(a, " + flagged("a", "") + ")" },
			first: func(s string) string {
				a := cmd(s) + ".filter(a, " + flagged("a", "") + ")[0]"
				return "'probes." + probe + ".exec.command[' + string(" + cmd(s) + ".indexOf(" + a + ")) + '] (rule ' + " + rule(a) + " + ')'"
			},
		})
	}
	return checks
}

// validations check, in turn, each kind of field that reaches a container.
// For each, a variable lists the services with a finding there; the
// expression is true when it is empty, and the message names the first
// service, its field and the rule.
func validations() ([]admissionregistrationv1.Variable, []admissionregistrationv1.Validation) {
	checks := append(append(serviceChecks(), hookChecks()...), probeChecks()...)
	vars := make([]admissionregistrationv1.Variable, 0, len(checks))
	vs := make([]admissionregistrationv1.Validation, 0, len(checks))
	for _, c := range checks {
		findings := c.name + "Findings"
		vars = append(vars, admissionregistrationv1.Variable{Name: findings, Expression: "object.spec.services.filter(s, " + c.some("s") + ")"})
		s := "variables." + findings + "[0]"
		vs = append(vs, admissionregistrationv1.Validation{
			Expression:        "size(variables." + findings + ") == 0",
			Message:           c.what + " holds a literal credential: " + Fix,
			MessageExpression: "'service ' + " + s + ".name + ': ' + " + c.first(s) + " + ' holds a literal credential: " + strings.ReplaceAll(Fix, "'", `\'`) + "'",
			Reason:            ptr.To(metav1.StatusReasonInvalid),
		})
	}
	return vars, vs
}
