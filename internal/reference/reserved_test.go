package reference

import (
	"testing"

	staxv1alpha1 "github.com/stax-dev/blueprint-operator/api/v1alpha1"
)

func TestReservedKeysAreTheAPIs(t *testing.T) {
	if DigestKey != staxv1alpha1.DigestKey || StagedValuePrefix != staxv1alpha1.StagedValuePrefix || CAKey != staxv1alpha1.CAKeyKey {
		t.Fatalf("reserved keys %q, %q, %q; the API's are %q, %q, %q", DigestKey, StagedValuePrefix, CAKey, staxv1alpha1.DigestKey, staxv1alpha1.StagedValuePrefix, staxv1alpha1.CAKeyKey)
	}
}

// TestReservedKeysOnly: only the operator's own keys are refused; a previous
// value, and keys that merely look alike, are referenced as before.
func TestReservedKeysOnly(t *testing.T) {
	for key, reserved := range map[string]bool{
		".digest-key": true, ".staged.db-password": true, ".staged.": true, ".ca-key": true,
		".ca-crt": false, "auth-tls.ca": false, "auth-tls.crt": false, "jwt.pub": false, ".ca-key2": false,
		"db-password.previous": false, ".digest-key2": false, ".stagedx": false, "staged.x": false, "x.digest-key": false, ".previous": false,
	} {
		if Reserved(key) != reserved {
			t.Errorf("Reserved(%q) = %v, want %v", key, !reserved, reserved)
		}
		_, err := Parse("${secret:web-generated/" + key + "}")
		if (err != nil) != reserved {
			t.Errorf("Parse of a reference to key %q: %v", key, err)
		}
	}
}
