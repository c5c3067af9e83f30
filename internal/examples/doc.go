// Package examples holds the tests that keep what users read true to the
// code: every Blueprint in examples/ and config/samples/ passes the checks the
// API server and the operator apply, docs/troubleshooting.md has a section
// for every condition reason and quotes messages as the code writes them,
// docs/api.md documents every type, constant, field, validation and CEL rule
// of the API as the CRD has them, the hand-written pages name only fields
// the CRD has and deny none it has, and the README's tables of fields,
// flags and their defaults, Ready reasons (and whether each stalls), RBAC
// grants, metrics and Helm values match the CRD, the manager's FlagSet,
// api/v1alpha1, the problems internal/status words, config/rbac/role.yaml,
// the metrics registry and the chart's values; internal/controller holds no
// wording of its own (internal/status and internal/values word problems and
// events). It also holds the rotation-hook
// recipes to the validator and renderer, docs/reliability.md's figures and
// test names to the repository, and the code to the rules docs state about
// it (no math/rand outside tests, pure packages stay pure).
//
// It has no code of its own; the tests read the files from the repository.
package examples
