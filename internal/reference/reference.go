// Package reference parses the secret references embedded in Blueprint env
// and secret values.
//
// Grammar:
//
//	${secret:NAME/KEY}  key KEY of Secret NAME in the Blueprint's namespace
//	${secret:MANAGED}   the value generated for the managed secret MANAGED
//	$<secret:...>       alternative spelling of both forms
//	$${  $$<            literal "${" and "$<"
//
// Any other "${" or "$<" is a syntax error rather than literal text, so that
// a mistyped reference (or a shell-style ${HOME}) fails loudly instead of
// silently reaching the workload as a literal string. A "$" not followed by
// "{" or "<" is literal. There is deliberately no namespace part: a Blueprint
// must not be able to read Secrets outside its own namespace.
package reference

import (
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"
)

const secretPrefix = "secret:"

// Ref is a single secret reference.
type Ref struct {
	SecretName string // "" for a managed reference
	Key        string // Secret data key, or the managed secret's name
}

// Managed reports whether r refers to a managed secret of the Blueprint
// rather than to an existing Secret.
func (r Ref) Managed() bool { return r.SecretName == "" }

// String returns the canonical spelling of r.
func (r Ref) String() string {
	if r.Managed() {
		return "${" + secretPrefix + r.Key + "}"
	}
	return "${" + secretPrefix + r.SecretName + "/" + r.Key + "}"
}

// Segment is either literal text or a reference.
type Segment struct {
	Literal string // literal text with escapes resolved; meaningful only when Ref is nil
	Ref     *Ref
}

// Value is a parsed value: literal text interleaved with references.
type Value []Segment

// Refs returns the distinct references in v in order of first appearance.
func (v Value) Refs() []Ref {
	var refs []Ref
	seen := map[Ref]bool{}
	for _, s := range v {
		if s.Ref != nil && !seen[*s.Ref] {
			seen[*s.Ref] = true
			refs = append(refs, *s.Ref)
		}
	}
	return refs
}

// SingleRef returns the reference when v consists of exactly one reference
// and nothing else, which lets callers wire it as a secretKeyRef instead of
// materialising the value.
func (v Value) SingleRef() (Ref, bool) {
	if len(v) == 1 && v[0].Ref != nil {
		return *v[0].Ref, true
	}
	return Ref{}, false
}

// HasRefs reports whether v contains at least one reference.
func (v Value) HasRefs() bool {
	for _, s := range v {
		if s.Ref != nil {
			return true
		}
	}
	return false
}

// SyntaxError describes why a value could not be parsed. Values live in the
// Blueprint spec and are not secret, so quoting them is safe.
type SyntaxError struct {
	Offset int    // byte offset of the offending fragment in the input
	Text   string // the offending fragment, truncated to maxErrorText bytes
	Reason string
}

func (e *SyntaxError) Error() string {
	return fmt.Sprintf("at offset %d: %s %q", e.Offset, e.Reason, e.Text)
}

// maxErrorText keeps errors readable in status conditions and events when a
// value is long, e.g. an unterminated reference at the start of a large blob.
const maxErrorText = 64

func syntaxError(s string, offset, end int, reason string) *SyntaxError {
	text := s[offset:end]
	if len(text) > maxErrorText {
		cut := maxErrorText
		for cut > 0 && !utf8.RuneStart(text[cut]) {
			cut--
		}
		text = text[:cut] + "..."
	}
	return &SyntaxError{Offset: offset, Text: text, Reason: reason}
}

// Parse parses s into literal text and references. Adjacent literal text is
// merged into one segment, so an empty s yields an empty Value. Errors are of
// type *SyntaxError.
func Parse(s string) (Value, error) {
	var (
		v   Value
		lit strings.Builder
	)
	for i := 0; i < len(s); {
		if s[i] != '$' {
			lit.WriteByte(s[i])
			i++
			continue
		}
		if i+2 < len(s) && s[i+1] == '$' && isOpen(s[i+2]) {
			lit.WriteByte('$')
			lit.WriteByte(s[i+2])
			i += 3
			continue
		}
		if i+1 < len(s) && isOpen(s[i+1]) {
			ref, end, err := parseRef(s, i)
			if err != nil {
				return nil, err
			}
			if lit.Len() > 0 {
				v = append(v, Segment{Literal: lit.String()})
				lit.Reset()
			}
			v = append(v, Segment{Ref: &ref})
			i = end
			continue
		}
		lit.WriteByte('$')
		i++
	}
	if lit.Len() > 0 {
		v = append(v, Segment{Literal: lit.String()})
	}
	return v, nil
}

func isOpen(c byte) bool { return c == '{' || c == '<' }

// parseRef parses the reference starting with "${" or "$<" at s[start] and
// returns it together with the offset just past its closing delimiter.
func parseRef(s string, start int) (Ref, int, error) {
	closer := byte('}')
	if s[start+1] == '<' {
		closer = '>'
	}
	bodyStart := start + 2
	n := strings.IndexByte(s[bodyStart:], closer)
	if n < 0 {
		return Ref{}, 0, syntaxError(s, start, len(s), "unterminated reference")
	}
	end := bodyStart + n + 1
	fail := func(reason string) (Ref, int, error) {
		return Ref{}, 0, syntaxError(s, start, end, reason)
	}

	body := s[bodyStart : end-1]
	if body == "" {
		return fail("empty reference")
	}
	target, ok := strings.CutPrefix(body, secretPrefix)
	if !ok {
		return fail("unknown reference kind (only secret: is supported; write $" + s[start:start+2] +
			" for a literal " + s[start:start+2] + ")")
	}
	if target == "" {
		return fail("missing Secret name or managed secret name")
	}

	name, key, external := strings.Cut(target, "/")
	if !external {
		if err := validateKey(target); err != nil {
			return fail(fmt.Sprintf("invalid managed secret name %q: %v", target, err))
		}
		return Ref{Key: target}, end, nil
	}
	if strings.Contains(key, "/") {
		return fail("too many '/' (a reference is NAME/KEY; Secrets in other namespaces cannot be referenced)")
	}
	if err := validateSecretName(name); err != nil {
		return fail(fmt.Sprintf("invalid Secret name %q: %v", name, err))
	}
	if err := validateKey(key); err != nil {
		return fail(fmt.Sprintf("invalid key %q: %v", key, err))
	}
	if Reserved(key) {
		return fail(fmt.Sprintf("key %q is reserved: %s, %s and %sNAME are the operator's own keys of a generated Secret (its digest key, its CA's private key, and a value staged while its rotation hook runs) and cannot be referenced",
			key, DigestKey, CAKey, StagedValuePrefix))
	}
	return Ref{SecretName: name, Key: key}, end, nil
}

// The operator's own keys of a generated Secret, as api/v1alpha1 names them
// (DigestKey, CAKeyKey, StagedValuePrefix; this package imports nothing of
// Kubernetes): the HMAC key of the rollout digest, the private key of the
// Blueprint's CA, and a value staged before its onRotate hook has run. None
// is a value a workload may read.
const (
	DigestKey         = ".digest-key"
	CAKey             = ".ca-key"
	StagedValuePrefix = ".staged."
)

// Reserved reports whether key is one of the operator's own keys of a
// generated Secret. A reference to it is refused in any Secret: which
// Secret is a generated one is not known where a reference is parsed (and
// a Blueprint has no business reading another Blueprint's either).
func Reserved(key string) bool {
	return key == DigestKey || key == CAKey || strings.HasPrefix(key, StagedValuePrefix)
}

// Format returns the canonical spelling of v: literal text with "${" and "$<"
// escaped and references in ${secret:...} form, so that Parse(Format(v))
// equals v for any v returned by Parse.
//
// The grammar cannot express literal text ending in "$" directly before a
// reference (the "$" would combine with the reference into an escape). Parse
// never produces such a Value; for a hand-built one the result re-parses
// differently.
func Format(v Value) string {
	var b, lit strings.Builder
	for _, s := range v {
		if s.Ref == nil {
			// Adjacent literals are escaped together, because a "$" ending one
			// and a "{" starting the next form a "${" that needs escaping.
			lit.WriteString(s.Literal)
			continue
		}
		b.WriteString(escaper.Replace(lit.String()))
		lit.Reset()
		b.WriteString(s.Ref.String())
	}
	b.WriteString(escaper.Replace(lit.String()))
	return b.String()
}

var escaper = strings.NewReplacer("${", "$${", "$<", "$$<")

// maxNameLength is the Kubernetes limit for both DNS-1123 subdomains and
// Secret data keys.
const maxNameLength = 253

// validateSecretName checks that name is a DNS-1123 subdomain, as the API
// server requires of Secret names. It mirrors k8s.io/apimachinery's
// IsDNS1123Subdomain so that this package stays free of Kubernetes imports.
func validateSecretName(name string) error {
	if name == "" {
		return errors.New("must not be empty")
	}
	if len(name) > maxNameLength {
		return fmt.Errorf("must be no more than %d characters", maxNameLength)
	}
	for label := range strings.SplitSeq(name, ".") {
		if !isDNSLabel(label) {
			return errors.New("must consist of lowercase alphanumeric characters, '-' or '.', " +
				"and each '.'-separated part must start and end with an alphanumeric character")
		}
	}
	return nil
}

func isDNSLabel(label string) bool {
	if label == "" || label[0] == '-' || label[len(label)-1] == '-' {
		return false
	}
	for i := 0; i < len(label); i++ {
		c := label[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-') {
			return false
		}
	}
	return true
}

// validateKey checks that key is a valid Secret data key. It mirrors
// k8s.io/apimachinery's IsConfigMapKey, including its rejection of a leading
// "..": such a key can never exist in a Secret, and a managed secret so named
// could never be written, so it is better rejected at parse time.
func validateKey(key string) error {
	switch {
	case key == "":
		return errors.New("must not be empty")
	case len(key) > maxNameLength:
		return fmt.Errorf("must be no more than %d characters", maxNameLength)
	case key == "." || key == "..":
		return fmt.Errorf("must not be %q", key)
	case strings.HasPrefix(key, ".."):
		return errors.New("must not start with '..'")
	}
	for i := 0; i < len(key); i++ {
		c := key[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.') {
			return errors.New("must consist of alphanumeric characters, '-', '_' or '.'")
		}
	}
	return nil
}
