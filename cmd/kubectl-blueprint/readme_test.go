package main

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"k8s.io/cli-runtime/pkg/genericiooptions"
)

// TestREADMEShowsTheImportAsItIs: the README's "Leaving .env behind" shows
// the golden Compose project, its .env, and what the import prints for it,
// block by block, each after a marker naming its file under
// testdata/import/readme.
func TestREADMEShowsTheImportAsItIs(t *testing.T) {
	readme, err := os.ReadFile(filepath.Join("..", "..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	blocks := regexp.MustCompile("(?s)<!-- import: ([^ ]+) -->\n```[a-z]*\n(.*?)```\n").FindAllStringSubmatch(string(readme), -1)
	want := map[string]bool{"docker-compose.yml": true, ".env": true, "blueprint.golden.yaml": true, "report.golden.txt": true}
	for _, b := range blocks {
		name, shown := b[1], b[2]
		if !want[name] {
			t.Errorf("README marks a block as %s, which is not a file of the golden project", name)
			continue
		}
		delete(want, name)
		file, err := os.ReadFile(filepath.Join("testdata", "import", "readme", name))
		if err != nil {
			t.Fatal(err)
		}
		if shown != string(file) {
			t.Errorf("README's %s differs from testdata/import/readme/%s:\n%s", name, name, shown)
		}
	}
	for name := range want {
		t.Errorf("README does not show %s", name)
	}
}

// TestREADMEListsEveryCommand: the plugin table of the README has a row for
// each command, and no row for a command that does not exist.
func TestREADMEListsEveryCommand(t *testing.T) {
	readme, err := os.ReadFile(filepath.Join("..", "..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	rows := map[string]bool{}
	for _, m := range regexp.MustCompile("(?m)^\\| `kubectl blueprint ([a-z]+)").FindAllStringSubmatch(string(readme), -1) {
		rows[m[1]] = true
	}
	root := newRootCommand(genericiooptions.NewTestIOStreamsDiscard())
	for _, c := range root.Commands() {
		if c.Hidden || c.Name() == "help" || strings.HasPrefix(c.Name(), "__") {
			continue
		}
		if !rows[c.Name()] {
			t.Errorf("README's plugin table has no row for kubectl blueprint %s", c.Name())
		}
		delete(rows, c.Name())
	}
	for name := range rows {
		t.Errorf("README's plugin table lists kubectl blueprint %s, which is no command", name)
	}
}
