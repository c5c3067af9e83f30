package main

import (
	"os/exec"
	"strings"
)

// benchOutputs are the tracked files the bench itself writes: changed,
// they say nothing about the code measured (a `make bench-10k` after an
// uncommitted `make bench` finds them changed).
var benchOutputs = map[string]bool{
	"README.md": true, "bench/results.json": true, "bench/results.svg": true, "dist/chart/values.yaml": true,
}

// gitCommit is the commit the working tree is at, with "-dirty" when a
// tracked file other than the bench's outputs has changed; "" outside git.
// The manager is built from the working tree, so this is the code measured.
func gitCommit() string {
	head, err := exec.Command("git", "rev-parse", "HEAD").Output()
	if err != nil {
		return ""
	}
	status, err := exec.Command("git", "status", "--porcelain", "--untracked-files=no").Output()
	if err != nil {
		return ""
	}
	return commitLabel(string(head), string(status))
}

// commitLabel is head, trimmed, with "-dirty" when status (git status
// --porcelain) lists a file other than the bench's outputs.
func commitLabel(head, status string) string {
	label := strings.TrimSpace(head)
	for _, line := range strings.Split(status, "\n") {
		if len(line) < 4 {
			continue
		}
		// "XY path", or "XY old -> new" for a rename.
		path := line[3:]
		if _, to, ok := strings.Cut(path, " -> "); ok {
			path = to
		}
		if !benchOutputs[strings.Trim(path, `"`)] {
			return label + "-dirty"
		}
	}
	return label
}
