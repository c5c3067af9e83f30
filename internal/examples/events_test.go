package examples

import (
	"go/ast"
	"strconv"
	"strings"
	"testing"
)

// eventLiteral is one status.Event composite literal of the wording
// packages: its type (Normal, Warning), its reason (a literal, or an
// api/v1alpha1 Reason constant without its prefix; "" when it is neither,
// which is the Ready reason), and its Note expression.
type eventLiteral struct {
	typ, reason string
	note        ast.Expr
}

// eventLiterals reads every status.Event literal of the wording packages,
// but the zero Event{} (no event).
func eventLiterals(t *testing.T) []eventLiteral {
	t.Helper()
	var out []eventLiteral
	var e eventLiteral
	wordingFields(t, "Event", func(key string, value ast.Expr) {
		switch key {
		case "Type":
			if s, ok := value.(*ast.SelectorExpr); ok {
				e.typ = strings.TrimPrefix(s.Sel.Name, "EventType")
			}
		case "Reason":
			switch r := value.(type) {
			case *ast.BasicLit:
				e.reason, _ = strconv.Unquote(r.Value)
			case *ast.SelectorExpr:
				if id, ok := r.X.(*ast.Ident); ok && id.Name == "staxv1alpha1" {
					// A reason constant, e.g. ReasonRotationFailed.
					e.reason = strings.TrimPrefix(r.Sel.Name, "Reason")
				}
			default:
				t.Errorf("a status.Event whose reason this test cannot read: %T", r)
			}
		case "Note":
			e.note = value
		}
	}, func() { out, e = append(out, e), eventLiteral{} })
	return out
}

// The table "Events the operator records" of docs/troubleshooting.md has a
// row, with the right type, for every event the wording packages word for
// the controller to record (a status.Event with a literal reason), and no
// row for an event they do not. The Ready-reason Warning (its reason is the
// Ready reason) is the table's last row.
func TestTroubleshootingListsEveryEvent(t *testing.T) {
	type event struct{ typ, reason string }
	recorded := map[event]bool{}
	readyWarnings := 0
	for _, e := range eventLiterals(t) {
		if e.reason == "" {
			if e.typ != "Warning" {
				t.Errorf("the Ready-reason event is a %s event, not a Warning", e.typ)
			}
			readyWarnings++ // status.ReadyEvent
			continue
		}
		recorded[event{e.typ, e.reason}] = true
	}
	if len(recorded) < 10 || readyWarnings != 1 {
		t.Fatalf("read %d events and %d Ready-reason warnings from %v: has the code's shape changed?", len(recorded), readyWarnings, wordingDirs)
	}

	page := readFile(t, "docs", "troubleshooting.md")
	_, section, ok := strings.Cut(page, "\n## Events the operator records\n")
	if !ok {
		t.Fatal(`docs/troubleshooting.md has no "## Events the operator records"`)
	}
	listed := map[event]bool{}
	readyRow := false
	for _, row := range tableRows(t, section, "| type | reason | example |") {
		if row[1] == "the Ready reason" {
			readyRow = row[0] == "Warning"
			continue
		}
		listed[event{row[0], strings.Trim(row[1], "`")}] = true
	}
	for e := range recorded {
		if !listed[e] {
			t.Errorf("the operator records a %s event %s, which docs/troubleshooting.md's event table does not list", e.typ, e.reason)
		}
	}
	for e := range listed {
		if !recorded[e] {
			t.Errorf("docs/troubleshooting.md lists a %s event %s, which the operator does not record", e.typ, e.reason)
		}
	}
	if !readyRow {
		t.Error("docs/troubleshooting.md's event table has no Warning row for the Ready reason")
	}
}
