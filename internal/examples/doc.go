// Package examples holds the tests that keep what users read true to the
// code: every Blueprint in examples/ and config/samples/ passes the checks the
// API server and the operator apply, docs/troubleshooting.md has a section
// for every condition reason and quotes messages as the code writes them, and
// docs/api.md documents every type, constant, field, validation and CEL rule
// of the API as the CRD has them.
//
// It has no code of its own; the tests read the files from the repository.
package examples
