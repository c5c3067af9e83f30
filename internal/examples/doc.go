// Package examples holds the tests that keep what users read true to the
// code: every Blueprint in examples/ and config/samples/ passes the checks the
// API server and the operator apply, and docs/troubleshooting.md has a section
// for every condition reason and quotes messages as the code writes them.
//
// It has no code of its own; the tests read the files from the repository.
package examples
