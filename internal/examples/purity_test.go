package examples

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// goFiles parses every Go file of the repository (imports and, with full,
// bodies), keyed by its slash path from the root.
func goFiles(t *testing.T, full bool) map[string]*ast.File {
	t.Helper()
	mode := parser.ImportsOnly
	if full {
		mode = parser.SkipObjectResolution
	}
	out := map[string]*ast.File{}
	fset := token.NewFileSet()
	err := filepath.WalkDir(repo, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			switch d.Name() {
			case ".git", "bin", "vendor", "node_modules":
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(path, ".go") {
			return nil
		}
		f, err := parser.ParseFile(fset, path, nil, mode)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(repo, path)
		out[filepath.ToSlash(rel)] = f
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func imports(f *ast.File) []string {
	var out []string
	for _, imp := range f.Imports {
		p, _ := strconv.Unquote(imp.Path.Value)
		out = append(out, p)
	}
	return out
}

var mathRand = []string{"math/rand", "math/rand/v2"}

// docs/reliability.md: values come from crypto/rand through an io.Reader, and
// no code but tests imports math/rand.
func TestNoMathRandOutsideTests(t *testing.T) {
	files := goFiles(t, false)
	var inTests int
	for path, f := range files {
		for _, imp := range imports(f) {
			if !slices.Contains(mathRand, imp) {
				continue
			}
			if strings.HasSuffix(path, "_test.go") {
				inTests++
				continue
			}
			t.Errorf("%s imports %s: values must come from crypto/rand, and no code but tests may use math/rand", path, imp)
		}
	}
	// The walk must see the whole repository: the tests that do use
	// math/rand (property tests, fault injection) are found.
	if len(files) < 100 || inTests == 0 {
		t.Errorf("walked %d Go files and found math/rand in %d tests: the walk missed the repository", len(files), inTests)
	}
}

// pureRow is a row of docs/architecture.md's package table whose last cell
// says the package is pure.
var pureRow = regexp.MustCompile("^\\| `([a-z0-9/]+)` \\|.*\\| yes \\|$")

// clockCalls read or wait on the clock; a pure package has time passed in.
var clockCalls = []string{"Now", "Since", "Until", "Sleep", "After", "AfterFunc", "Tick", "NewTimer", "NewTicker"}

// docs/architecture.md: pure packages have no client, no clock, no
// randomness except an io.Reader passed in, and never import
// internal/controller, controller-runtime's client, or math/rand. Which
// packages are pure is read from the page's table.
func TestPurePackagesArePure(t *testing.T) {
	var pure []string
	for line := range strings.Lines(readFile(t, "docs", "architecture.md")) {
		if m := pureRow.FindStringSubmatch(strings.TrimSpace(line)); m != nil {
			pure = append(pure, m[1])
		}
	}
	if len(pure) < 10 || !slices.Contains(pure, "internal/values") || slices.Contains(pure, "internal/controller") {
		t.Fatalf("pure packages read from docs/architecture.md: %v", pure)
	}
	forbidden := append([]string{
		"github.com/stax-dev/blueprint-operator/internal/controller",
		"sigs.k8s.io/controller-runtime/pkg/client",
		"k8s.io/client-go/kubernetes",
		"k8s.io/client-go/rest",
		// No logging (internal/logging wraps a logr sink it is handed).
		"log", "log/slog", "k8s.io/klog/v2", "sigs.k8s.io/controller-runtime/pkg/log",
	}, mathRand...)

	files := goFiles(t, true)
	checked := 0
	for path, f := range files {
		dir := filepath.ToSlash(filepath.Dir(path))
		if !slices.Contains(pure, dir) || strings.HasSuffix(path, "_test.go") {
			continue
		}
		checked++
		for _, imp := range imports(f) {
			if slices.Contains(forbidden, imp) {
				t.Errorf("%s (a pure package, says docs/architecture.md) imports %s", path, imp)
			}
		}
		timeName := ""
		for _, imp := range f.Imports {
			if p, _ := strconv.Unquote(imp.Path.Value); p == "time" {
				timeName = "time"
				if imp.Name != nil {
					timeName = imp.Name.Name
				}
			}
		}
		if timeName == "" {
			continue
		}
		ast.Inspect(f, func(n ast.Node) bool {
			sel, ok := n.(*ast.SelectorExpr)
			if !ok {
				return true
			}
			if x, ok := sel.X.(*ast.Ident); ok && x.Name == timeName && slices.Contains(clockCalls, sel.Sel.Name) {
				t.Errorf("%s (a pure package) uses time.%s: time must be passed in", path, sel.Sel.Name)
			}
			return true
		})
	}
	if checked < len(pure) {
		t.Errorf("checked %d files of %d pure packages", checked, len(pure))
	}
	// Nor print: fmt.Print* writes to stdout, a log by another name.
	for path, f := range files {
		dir := filepath.ToSlash(filepath.Dir(path))
		if !slices.Contains(pure, dir) || strings.HasSuffix(path, "_test.go") {
			continue
		}
		ast.Inspect(f, func(n ast.Node) bool {
			sel, ok := n.(*ast.SelectorExpr)
			if !ok {
				return true
			}
			if x, ok := sel.X.(*ast.Ident); ok && x.Name == "fmt" && strings.HasPrefix(sel.Sel.Name, "Print") {
				t.Errorf("%s (a pure package) calls fmt.%s", path, sel.Sel.Name)
			}
			return true
		})
	}
}
