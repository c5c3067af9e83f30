package examples

import (
	"errors"
	"go/ast"
	"path/filepath"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/api/meta"

	staxv1alpha1 "github.com/stax-dev/blueprint-operator/api/v1alpha1"
	"github.com/stax-dev/blueprint-operator/internal/status"
)

// wordingDirs are the pure packages that word what the controller reports:
// status.Problem and status.Event literals live there, never in
// internal/controller (TestControllerHoldsNoWording).
var wordingDirs = []string{filepath.Join("internal", "status"), filepath.Join("internal", "values")}

// isLiteralOf reports whether lit is a composite literal of type name,
// spelled status.Name or, inside the package, Name.
func isLiteralOf(lit *ast.CompositeLit, name string) bool {
	switch typ := lit.Type.(type) {
	case *ast.SelectorExpr:
		return typ.Sel.Name == name
	case *ast.Ident:
		return typ.Name == name
	}
	return false
}

// problemLiteral is one status.Problem composite literal of the wording
// packages: its Reason (the api/v1alpha1 constant's name, "" when it is not
// one), and its Message and Stalling expressions (nil when unset).
type problemLiteral struct {
	reason            string
	message, stalling ast.Expr
}

// wordingFields calls field with the key and value of each field of every
// non-empty literal of type typeName (Problem, Event) in the wording
// packages, and done after each literal.
func wordingFields(t *testing.T, typeName string, field func(key string, value ast.Expr), done func()) {
	t.Helper()
	for _, dir := range wordingDirs {
		for _, f := range parseDir(t, dir) {
			ast.Inspect(f, func(n ast.Node) bool {
				lit, ok := n.(*ast.CompositeLit)
				if !ok || !isLiteralOf(lit, typeName) || len(lit.Elts) == 0 {
					return true
				}
				for _, elt := range lit.Elts {
					if kv, ok := elt.(*ast.KeyValueExpr); ok {
						field(kv.Key.(*ast.Ident).Name, kv.Value)
					}
				}
				done()
				return true
			})
		}
	}
}

// problemLiterals reads every status.Problem literal of the wording
// packages, but the zero Problem{} (no problem).
func problemLiterals(t *testing.T) []problemLiteral {
	t.Helper()
	var out []problemLiteral
	var p problemLiteral
	wordingFields(t, "Problem", func(key string, value ast.Expr) {
		switch key {
		case "Reason":
			if s, ok := value.(*ast.SelectorExpr); ok {
				p.reason = s.Sel.Name
			}
		case "Message":
			p.message = value
		case "Stalling":
			p.stalling = value
		}
	}, func() { out, p = append(out, p), problemLiteral{} })
	return out
}

// The controller words nothing itself: it builds no status.Problem or
// status.Event, and every event it records is one a wording package
// returned (Eventf's note is "%s" of a value that is not literal text).
func TestControllerHoldsNoWording(t *testing.T) {
	eventfs := 0
	for _, f := range parseDir(t, filepath.Join("internal", "controller")) {
		ast.Inspect(f, func(n ast.Node) bool {
			switch n := n.(type) {
			case *ast.CompositeLit:
				if sel, ok := n.Type.(*ast.SelectorExpr); ok && (sel.Sel.Name == "Problem" || sel.Sel.Name == "Event") {
					if x, ok := sel.X.(*ast.Ident); ok && x.Name == "status" && len(n.Elts) > 0 {
						t.Errorf("internal/controller builds a status.%s: word it in internal/status or internal/values", sel.Sel.Name)
					}
				}
			case *ast.CallExpr:
				sel, ok := n.Fun.(*ast.SelectorExpr)
				if ok && sel.Sel.Name == "Errorf" {
					if x, isIdent := sel.X.(*ast.Ident); isIdent && x.Name == "fmt" {
						// An error's text can reach the Ready message
						// (ReconcileError): apierror words it.
						t.Errorf("internal/controller words an error with fmt.Errorf: use internal/apierror")
					}
				}
				if !ok || sel.Sel.Name != "Eventf" {
					return true
				}
				eventfs++
				// Eventf(regarding, related, type, reason, action, "%s", note)
				worded := len(n.Args) == 7
				if worded {
					note, isText := n.Args[5].(*ast.BasicLit)
					_, argIsText := n.Args[6].(*ast.BasicLit)
					worded = isText && note.Value == `"%s"` && !argIsText
					// Nor a type, reason or action of its own.
					for _, a := range n.Args[2:5] {
						if _, isText := a.(*ast.BasicLit); isText {
							worded = false
						}
					}
				}
				if !worded {
					t.Errorf("internal/controller records an event with wording of its own: record what internal/status or internal/values returns")
				}
			}
			return true
		})
	}
	if eventfs != 1 {
		t.Errorf("found %d Eventf calls in internal/controller, want the one that records what the wording packages return", eventfs)
	}
}

// problemStalling returns, per reason constant, whether each status.Problem
// the wording packages build with it stalls (its Stalling field).
func problemStalling(t *testing.T) map[string][]bool {
	t.Helper()
	out := map[string][]bool{}
	for _, p := range problemLiterals(t) {
		stalling := false
		if p.stalling != nil {
			id, ok := p.stalling.(*ast.Ident)
			if !ok || (id.Name != "true" && id.Name != "false") {
				t.Errorf("a status.Problem's Stalling is not a literal; this test cannot read it")
				continue
			}
			stalling = id.Name == "true"
		}
		if p.reason == "" {
			t.Errorf("a status.Problem whose Reason is not a constant of api/v1alpha1")
			continue
		}
		out[p.reason] = append(out[p.reason], stalling)
	}
	return out
}

// conditionOf is the condition besides Ready that status.Apply sets True for
// an observation: "Stalled", "Reconciling" or "".
func conditionOf(obs status.Observation) string {
	st := &staxv1alpha1.BlueprintStatus{}
	status.Apply(st, obs)
	for _, c := range []string{staxv1alpha1.ConditionStalled, staxv1alpha1.ConditionReconciling} {
		if meta.IsStatusConditionTrue(st.Conditions, c) {
			return c
		}
	}
	return ""
}

// The README's reason table and each section of docs/troubleshooting.md say
// whether a reason comes with Stalled=True (a person must act) or
// Reconciling=True (it resolves by itself). What the code does is read from
// the status.Problem literals of the wording packages (internal/status) and
// put through status.Apply.
func TestReasonsStallAsDocumented(t *testing.T) {
	stalling := problemStalling(t)
	want := map[string]string{}
	for _, r := range codeReasons(t) {
		var obs status.Observation
		switch r {
		case staxv1alpha1.ReasonAvailable:
			obs.Services = []status.ServiceObservation{{Name: "db", Desired: 1, Ready: 1, Available: true}}
		case staxv1alpha1.ReasonReconcileError:
			obs.Err = errors.New("reading Secret stripe: connection refused")
		case staxv1alpha1.ReasonSuspended:
			// Not a problem: internal/sleep's message.
			obs.SleepMessage = "suspended by spec; set spec.suspend to false to resume"
		default:
			flags := stalling["Reason"+r]
			if len(flags) == 0 {
				t.Errorf("internal/status builds no status.Problem with reason %s", r)
				continue
			}
			for _, s := range flags[1:] {
				if s != flags[0] {
					t.Errorf("internal/status builds %s both stalling and not: the docs cannot say which", r)
				}
			}
			obs.Problems = []status.Problem{{Reason: r, Message: "m", Stalling: flags[0]}}
		}
		want[r] = conditionOf(obs)
	}
	if want[staxv1alpha1.ReasonConflict] != staxv1alpha1.ConditionStalled || want[staxv1alpha1.ReasonSecretNotFound] != staxv1alpha1.ConditionReconciling {
		t.Fatalf("Conflict gives %q, SecretNotFound %q: the reading of the code is off", want[staxv1alpha1.ReasonConflict], want[staxv1alpha1.ReasonSecretNotFound])
	}

	// docs/troubleshooting.md: "What you see (`Stalled=True`; ...)".
	page := readFile(t, "docs", "troubleshooting.md")
	for r, cond := range want {
		_, section, ok := strings.Cut(page, "\n## "+r+"\n")
		if !ok {
			continue // TestTroubleshootingHasASectionPerReason reports it
		}
		section, _, _ = strings.Cut(section, "\n## ")
		_, seen, _ := strings.Cut(section, "What you see")
		seen, _, _ = strings.Cut(seen, ":")
		checkMarks(t, "docs/troubleshooting.md, section "+r+", What you see", seen, cond)
	}
	// README: the reason table's "means" cell.
	for _, row := range tableRows(t, readFile(t, "README.md"), "| Ready reason | means | what to do |") {
		r := strings.Trim(row[0], "`")
		if cond, ok := want[r]; ok {
			checkMarks(t, "README's reason table, row "+r, row[1], cond)
		}
	}
}

func checkMarks(t *testing.T, where, text, cond string) {
	t.Helper()
	for _, c := range []string{staxv1alpha1.ConditionStalled, staxv1alpha1.ConditionReconciling} {
		says := strings.Contains(text, "`"+c+"=True`")
		if says != (c == cond) {
			if says {
				t.Errorf("%s says %s=True; the code sets %q", where, c, cond)
			} else {
				t.Errorf("%s does not say %s=True, which the code sets", where, c)
			}
		}
	}
}
