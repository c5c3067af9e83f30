package examples

import (
	"go/ast"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// The table "Events the operator records" of docs/troubleshooting.md has a
// row, with the right type, for every event the controller records
// (Recorder.Eventf with a literal reason), and no row for an event it does
// not record. The Ready-reason Warning (its reason is the Ready reason) is
// the table's last row.
func TestTroubleshootingListsEveryEvent(t *testing.T) {
	type event struct{ typ, reason string }
	recorded := map[event]bool{}
	readyWarnings := 0
	for _, f := range parseDir(t, filepath.Join("internal", "controller")) {
		ast.Inspect(f, func(n ast.Node) bool {
			call, ok := n.(*ast.CallExpr)
			if !ok {
				return true
			}
			sel, ok := call.Fun.(*ast.SelectorExpr)
			if !ok || sel.Sel.Name != "Eventf" || len(call.Args) < 6 {
				return true
			}
			typ := ""
			if s, ok := call.Args[2].(*ast.SelectorExpr); ok {
				typ = strings.TrimPrefix(s.Sel.Name, "EventType")
			}
			switch r := call.Args[3].(type) {
			case *ast.BasicLit:
				reason, _ := strconv.Unquote(r.Value)
				recorded[event{typ, reason}] = true
			case *ast.SelectorExpr:
				if id, ok := r.X.(*ast.Ident); ok && id.Name == "staxv1alpha1" {
					// A reason constant, e.g. ReasonRotationFailed.
					recorded[event{typ, strings.TrimPrefix(r.Sel.Name, "Reason")}] = true
				} else {
					readyWarnings++ // newReady.Reason
				}
			default:
				t.Errorf("an Eventf whose reason this test cannot read: %T", r)
			}
			return true
		})
	}
	if len(recorded) < 10 || readyWarnings != 1 {
		t.Fatalf("read %d events and %d Ready-reason warnings from internal/controller: has the code's shape changed?", len(recorded), readyWarnings)
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
			t.Errorf("the controller records a %s event %s, which docs/troubleshooting.md's event table does not list", e.typ, e.reason)
		}
	}
	for e := range listed {
		if !recorded[e] {
			t.Errorf("docs/troubleshooting.md lists a %s event %s, which the controller does not record", e.typ, e.reason)
		}
	}
	if !readyRow {
		t.Error("docs/troubleshooting.md's event table has no Warning row for the Ready reason")
	}
}
