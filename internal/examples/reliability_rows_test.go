package examples

import (
	"io/fs"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// testSources returns the text of every _test.go file of the repository.
func testSources(t *testing.T) string {
	t.Helper()
	var b strings.Builder
	err := filepath.WalkDir(repo, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (d.Name() == ".git" || d.Name() == "bin") {
			return filepath.SkipDir
		}
		if strings.HasSuffix(path, "_test.go") {
			rel, _ := filepath.Rel(repo, path)
			b.WriteString(readFile(t, rel))
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return b.String()
}

var (
	testFunc   = regexp.MustCompile("`((?:Test|Fuzz|expect)[A-Za-z0-9_]+)`")
	specName   = regexp.MustCompile(`"([^"]{12,})"`)
	rowOfTable = regexp.MustCompile(`^\| .* \| .* \|$`)
)

// docs/reliability.md names, for each guarantee, the tests that prove it:
// Go test functions (`TestSync`), helpers of the suites (`expectNoValueLeaked`)
// and Ginkgo specs or table rows by their text ("Removed values", "removed
// value is kept ...", where ... elides a part). Each must exist, so a
// renamed or deleted test fails here until the page is updated.
func TestReliabilityNamesExistingTests(t *testing.T) {
	sources := testSources(t)
	page := readFile(t, "docs", "reliability.md")
	rows, funcs, specs := 0, 0, 0
	for line := range strings.Lines(page) {
		line = strings.TrimRight(line, "\n")
		if !rowOfTable.MatchString(line) || strings.HasPrefix(line, "| guarantee |") || strings.HasPrefix(line, "|---") {
			continue
		}
		c := cells(line)
		if len(c) != 2 {
			t.Errorf("docs/reliability.md: a row with %d cells: %s", len(c), line)
			continue
		}
		rows++
		if strings.TrimSpace(c[1]) == "" {
			t.Errorf("docs/reliability.md: no test proves %q", c[0])
		}
		for _, m := range testFunc.FindAllStringSubmatch(c[1], -1) {
			funcs++
			if !regexp.MustCompile(`func (\([^)]*\) )?` + m[1] + `\(`).MatchString(sources) {
				t.Errorf("docs/reliability.md names %s, which no _test.go file declares", m[1])
			}
		}
		for _, m := range specName.FindAllStringSubmatchIndex(c[1], -1) {
			name := c[1][m[2]:m[3]]
			if strings.HasSuffix(c[1][:m[0]], "README ") {
				continue // a section of the README, not a spec
			}
			specs++
			// "..." elides part of the name: the rest must be one string,
			// in order.
			var parts []string
			for _, p := range strings.Split(name, "...") {
				if p = strings.TrimSpace(p); p != "" {
					parts = append(parts, regexp.QuoteMeta(p))
				}
			}
			pattern := `"` + strings.Join(parts, `[^"\n]*`)
			if !strings.HasSuffix(name, "...") {
				pattern += `"`
			}
			if !regexp.MustCompile(pattern).MatchString(sources) {
				t.Errorf("docs/reliability.md names the spec or table row %q, which no _test.go file holds", name)
			}
		}
	}
	if rows < 25 || funcs < 20 || specs < 10 {
		t.Errorf("read %d rows naming %d test functions and %d specs: has the page changed shape?", rows, funcs, specs)
	}
}
