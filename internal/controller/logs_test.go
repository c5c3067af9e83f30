package controller

import (
	"regexp"
	"strings"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
)

// blueprintLogLine is a line logged during a reconcile (controller-runtime
// gives each a reconcileID) or one of the reconciler's own lines.
var blueprintLogLine = regexp.MustCompile(`"reconcileID": |\tstatus updated\t|\tthe cache did not show`)

// expectBlueprintLogLinesNameIt checks the README's promise that every log
// line about a Blueprint carries its namespace and name, over everything the
// suite's managers logged, after checking that the reconciler's own
// "status updated" line was among it.
func expectBlueprintLogLinesNameIt() {
	about, statusLines := 0, 0
	for line := range strings.Lines(logs.String()) {
		if !blueprintLogLine.MatchString(line) {
			continue
		}
		about++
		if strings.Contains(line, "\tstatus updated\t") {
			statusLines++
		}
		Expect(line).To(And(MatchRegexp(`"namespace": "[^"]+"`), MatchRegexp(`"name": "[^"]+"`)),
			"a log line about a Blueprint without its namespace and name")
	}
	Expect(statusLines).To(BeNumerically(">", 0), "no \"status updated\" line logged: is the log captured at V(1)?")
	GinkgoWriter.Printf("%d log lines about a Blueprint, each with its namespace and name\n", about)
}
