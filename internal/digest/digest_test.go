package digest

import (
	"strings"
	"testing"

	"github.com/stax-dev/blueprint-operator/internal/reference"
)

var (
	pw     = reference.Ref{SecretName: "bp-generated", Key: "db-password"}
	stripe = reference.Ref{SecretName: "stripe", Key: "api-key"}
	other  = reference.Ref{SecretName: "stripe", Key: "unrelated"}
)

func lookupIn(values map[reference.Ref]string) Lookup {
	return func(r reference.Ref) ([]byte, bool) {
		v, ok := values[r]
		return []byte(v), ok
	}
}

func TestCompute(t *testing.T) {
	key := []byte("k1")
	base := map[reference.Ref]string{pw: "s3cret", stripe: "sk_live", other: "x"}
	baseDigest := Compute(key, []reference.Ref{pw, stripe}, lookupIn(base))
	if len(baseDigest) != 64 {
		t.Fatalf("digest %q is not hex SHA-256", baseDigest)
	}

	cases := map[string]struct {
		key    []byte
		refs   []reference.Ref
		values map[reference.Ref]string
		same   bool
	}{
		"order and repetition do not matter": {key: key, refs: []reference.Ref{stripe, pw, stripe}, values: base, same: true},
		"an unconsumed key changes":          {key: key, refs: []reference.Ref{pw, stripe}, values: map[reference.Ref]string{pw: "s3cret", stripe: "sk_live", other: "y"}, same: true},
		"a consumed value changes":           {key: key, refs: []reference.Ref{pw, stripe}, values: map[reference.Ref]string{pw: "s3cret2", stripe: "sk_live"}},
		"another consumed value changes":     {key: key, refs: []reference.Ref{pw, stripe}, values: map[reference.Ref]string{pw: "s3cret", stripe: "sk_test"}},
		"another HMAC key":                   {key: []byte("k2"), refs: []reference.Ref{pw, stripe}, values: base},
		"one reference fewer":                {key: key, refs: []reference.Ref{pw}, values: base},
		"value bytes moved between fields": {key: key, refs: []reference.Ref{pw, stripe},
			values: map[reference.Ref]string{pw: "s3cretsk", stripe: "_live"}},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			got := Compute(tc.key, tc.refs, lookupIn(tc.values))
			if (got == baseDigest) != tc.same {
				t.Fatalf("digest equal to base = %v, want %v", got == baseDigest, tc.same)
			}
		})
	}
}

func TestComputeEmptyAndMissing(t *testing.T) {
	if got := Compute([]byte("k"), nil, lookupIn(nil)); got != "" {
		t.Fatalf("no refs: got %q, want empty", got)
	}
	if got := Compute([]byte("k"), []reference.Ref{pw}, lookupIn(nil)); got != "" {
		t.Fatalf("missing value: got %q, want empty", got)
	}
}

func TestComputeHidesValue(t *testing.T) {
	got := Compute([]byte("key"), []reference.Ref{pw}, lookupIn(map[reference.Ref]string{pw: "abcdef"}))
	if strings.Contains(got, "abcdef") || strings.Contains(got, "616263646566") {
		t.Fatalf("digest %q contains the value", got)
	}
}
