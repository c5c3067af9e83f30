package examples

import (
	"fmt"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"k8s.io/client-go/tools/leaderelection"
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

// docs/reliability.md bounds a leader takeover with the default flags: the
// lease duration plus two retry periods stretched by client-go's jitter.
func TestLeaderTakeoverBound(t *testing.T) {
	fs := managerFlagSet()
	lease, err := time.ParseDuration(fs.Lookup("leader-election-lease-duration").DefValue)
	if err != nil {
		t.Fatal(err)
	}
	retry, err := time.ParseDuration(fs.Lookup("leader-election-retry-period").DefValue)
	if err != nil {
		t.Fatal(err)
	}
	stretched := time.Duration(float64(retry) * (1 + leaderelection.JitterFactor))
	bound := lease + 2*stretched
	want := fmt.Sprintf("of %s and `--leader-election-retry-period` of %s, at most %s + 2 × %s ≈ %s",
		seconds(lease), seconds(retry), strings.TrimSuffix(seconds(lease), " s"), strings.TrimSuffix(seconds(stretched), " s"), seconds(bound.Round(time.Second)))
	page := strings.Join(strings.Fields(readFile(t, "docs", "reliability.md")), " ")
	if !strings.Contains(page, want) {
		t.Errorf("docs/reliability.md does not say %q", want)
	}
}

// seconds spells d as the page does: "15 s", "4.4 s".
func seconds(d time.Duration) string {
	return strconv.FormatFloat(d.Seconds(), 'f', -1, 64) + " s"
}
