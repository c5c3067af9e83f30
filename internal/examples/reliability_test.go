package examples

import (
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// docs/reliability.md says how many invalid Blueprints the hostile corpus
// holds; the number is the count of test/hostile/cases/*.yaml.
func TestReliabilityCountsTheHostileCorpus(t *testing.T) {
	m := regexp.MustCompile("`test/hostile/cases/` holds (\\d+) invalid Blueprints").FindStringSubmatch(strings.Join(strings.Fields(readFile(t, "docs", "reliability.md")), " "))
	if m == nil {
		t.Fatal("docs/reliability.md no longer says how many cases test/hostile/cases/ holds; update this test")
	}
	cases, err := filepath.Glob(filepath.Join(repo, "test", "hostile", "cases", "*.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if len(cases) == 0 {
		t.Fatal("no case in test/hostile/cases/")
	}
	if m[1] != strconv.Itoa(len(cases)) {
		t.Errorf("docs/reliability.md says the hostile corpus holds %s invalid Blueprints; test/hostile/cases/ has %d", m[1], len(cases))
	}
}
