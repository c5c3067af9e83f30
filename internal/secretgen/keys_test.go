package secretgen

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/pem"
	"math"
	mathrand "math/rand/v2"
	"slices"
	"strings"
	"testing"
	"testing/iotest"
	"time"

	staxv1alpha1 "github.com/stax-dev/blueprint-operator/api/v1alpha1"
)

// seeded is a deterministic reader for tests.
func seeded(seed uint64) *mathrand.ChaCha8 {
	var s [32]byte
	s[0] = byte(seed)
	return mathrand.NewChaCha8(s)
}

func decodePEM(t *testing.T, what, wantType string, b []byte) []byte {
	t.Helper()
	block, rest := pem.Decode(b)
	if block == nil {
		t.Fatalf("%s is not PEM", what)
	}
	if block.Type != wantType {
		t.Fatalf("%s is a PEM %q block, want %q", what, block.Type, wantType)
	}
	if len(bytes.TrimSpace(rest)) != 0 {
		t.Fatalf("%s has trailing data after its PEM block", what)
	}
	return block.Bytes
}

// TestKeypair: each keypair type's private key parses with the standard
// library as PKCS#8, its public key as PKIX, the key is of the type and
// size asked for, the public half is the private key's, and a signature
// made with the private key verifies with the public one.
func TestKeypair(t *testing.T) {
	tests := []struct {
		typ   staxv1alpha1.SecretType
		check func(t *testing.T, priv crypto.PrivateKey)
	}{
		{staxv1alpha1.SecretTypeRSA, func(t *testing.T, priv crypto.PrivateKey) {
			k, ok := priv.(*rsa.PrivateKey)
			if !ok {
				t.Fatalf("private key is %T, want *rsa.PrivateKey", priv)
			}
			if k.N.BitLen() != 3072 {
				t.Errorf("RSA modulus has %d bits, want 3072", k.N.BitLen())
			}
		}},
		{staxv1alpha1.SecretTypeECDSA, func(t *testing.T, priv crypto.PrivateKey) {
			k, ok := priv.(*ecdsa.PrivateKey)
			if !ok {
				t.Fatalf("private key is %T, want *ecdsa.PrivateKey", priv)
			}
			if k.Curve != elliptic.P256() {
				t.Errorf("curve %s, want P-256", k.Curve.Params().Name)
			}
		}},
		{staxv1alpha1.SecretTypeEd25519, func(t *testing.T, priv crypto.PrivateKey) {
			if _, ok := priv.(ed25519.PrivateKey); !ok {
				t.Fatalf("private key is %T, want ed25519.PrivateKey", priv)
			}
		}},
	}
	for _, tc := range tests {
		t.Run(string(tc.typ), func(t *testing.T) {
			privPEM, pubPEM, err := Keypair(rand.Reader, tc.typ)
			if err != nil {
				t.Fatal(err)
			}
			priv, err := x509.ParsePKCS8PrivateKey(decodePEM(t, "private key", "PRIVATE KEY", privPEM))
			if err != nil {
				t.Fatalf("private key is not PKCS#8: %v", err)
			}
			tc.check(t, priv)
			pub, err := x509.ParsePKIXPublicKey(decodePEM(t, "public key", "PUBLIC KEY", pubPEM))
			if err != nil {
				t.Fatalf("public key is not PKIX: %v", err)
			}
			signer := priv.(crypto.Signer)
			if !signer.Public().(interface{ Equal(crypto.PublicKey) bool }).Equal(pub) {
				t.Fatal("the public key is not the private key's public half")
			}
			msg := []byte("a token to sign")
			digest := sha256.Sum256(msg)
			switch k := pub.(type) {
			case *rsa.PublicKey:
				sig, err := signer.Sign(rand.Reader, digest[:], crypto.SHA256)
				if err != nil {
					t.Fatal(err)
				}
				if err := rsa.VerifyPKCS1v15(k, crypto.SHA256, digest[:], sig); err != nil {
					t.Errorf("signature does not verify: %v", err)
				}
			case *ecdsa.PublicKey:
				sig, err := signer.Sign(rand.Reader, digest[:], crypto.SHA256)
				if err != nil {
					t.Fatal(err)
				}
				if !ecdsa.VerifyASN1(k, digest[:], sig) {
					t.Error("signature does not verify")
				}
			case ed25519.PublicKey:
				sig, err := signer.Sign(nil, msg, crypto.Hash(0))
				if err != nil {
					t.Fatal(err)
				}
				if !ed25519.Verify(k, msg, sig) {
					t.Error("signature does not verify")
				}
			}
			// Two draws differ.
			privPEM2, _, err := Keypair(rand.Reader, tc.typ)
			if err != nil {
				t.Fatal(err)
			}
			if bytes.Equal(privPEM, privPEM2) {
				t.Error("two keys drawn in a row are equal")
			}
		})
	}
}

// TestKeypairFromReader: ecdsa and ed25519 keys come from the passed-in
// reader: the same seed gives the same key, another seed another key, and
// a failing reader fails the generation. (rsa is not covered: Go 1.26's
// crypto/rsa ignores the reader; see Keypair.)
func TestKeypairFromReader(t *testing.T) {
	for _, typ := range []staxv1alpha1.SecretType{staxv1alpha1.SecretTypeECDSA, staxv1alpha1.SecretTypeEd25519} {
		t.Run(string(typ), func(t *testing.T) {
			a, _, err := Keypair(seeded(1), typ)
			if err != nil {
				t.Fatal(err)
			}
			b, _, err := Keypair(seeded(1), typ)
			if err != nil {
				t.Fatal(err)
			}
			c, _, err := Keypair(seeded(2), typ)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(a, b) {
				t.Error("the same seed gave different keys")
			}
			if bytes.Equal(a, c) {
				t.Error("different seeds gave the same key")
			}
			if _, _, err := Keypair(iotest.ErrReader(errBoomReader), typ); err == nil {
				t.Error("a failing reader did not fail the generation")
			}
		})
	}
}

var errBoomReader = &readerError{}

type readerError struct{}

func (*readerError) Error() string { return "entropy source exhausted" }

func TestKeypairUnknownType(t *testing.T) {
	for _, typ := range []staxv1alpha1.SecretType{"", staxv1alpha1.SecretTypePassword, staxv1alpha1.SecretTypeTLS, "dsa"} {
		if _, _, err := Keypair(rand.Reader, typ); err == nil {
			t.Errorf("Keypair(%q) did not fail", typ)
		}
	}
}

// TestECDSAKeyRejectsOutOfRangeScalars: a scalar not below the curve's order
// is drawn again rather than reduced (which would bias the key).
func TestECDSAKeyRejectsOutOfRangeScalars(t *testing.T) {
	// 32 bytes of 0xff (above the order), then 32 bytes of 0x01.
	r := bytes.NewReader(append(bytes.Repeat([]byte{0xff}, 32), bytes.Repeat([]byte{0x01}, 32)...))
	k, err := ecdsaKey(r)
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := k.Bytes()
	if !bytes.Equal(raw, bytes.Repeat([]byte{0x01}, 32)) {
		t.Error("the out-of-range scalar was not skipped")
	}
	if _, err := ecdsaKey(constReader(0xff)); err == nil {
		t.Error("a source stuck out of range did not fail")
	}
}

func parseCert(t *testing.T, what string, b []byte) *x509.Certificate {
	t.Helper()
	c, err := x509.ParseCertificate(decodePEM(t, what, "CERTIFICATE", b))
	if err != nil {
		t.Fatalf("%s does not parse: %v", what, err)
	}
	return c
}

// TestCAAndLeaf: the CA is an ECDSA P-256 CA valid 10 years; the leaf's key
// parses as PKCS#8 and is the certificate's; the leaf verifies against the
// CA, for server and for client authentication, for every default DNS name
// of a service, and not for another name or after notAfter.
func TestCAAndLeaf(t *testing.T) {
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	caKey, caCert, err := NewCA(rand.Reader, "stax.dev Blueprint shop/web", now)
	if err != nil {
		t.Fatal(err)
	}
	ca := parseCert(t, "CA certificate", caCert)
	if !ca.IsCA || !ca.BasicConstraintsValid {
		t.Error("the CA certificate is not a CA's")
	}
	if got := ca.NotAfter.Sub(ca.NotBefore); got != 10*365*24*time.Hour {
		t.Errorf("CA valid for %s, want 10 years (87600h)", got)
	}
	if k, ok := ca.PublicKey.(*ecdsa.PublicKey); !ok || k.Curve != elliptic.P256() {
		t.Errorf("CA key is %T, want ECDSA P-256", ca.PublicKey)
	}
	caPriv, err := x509.ParsePKCS8PrivateKey(decodePEM(t, "CA key", "PRIVATE KEY", caKey))
	if err != nil {
		t.Fatal(err)
	}
	if !caPriv.(*ecdsa.PrivateKey).PublicKey.Equal(ca.PublicKey) {
		t.Error("the CA key is not the CA certificate's")
	}

	names := []string{"db", "db.shop", "db.shop.svc", "db.shop.svc.cluster.local"}
	notAfter := now.Add(staxv1alpha1.DefaultValidFor)
	leafKey, leafCert, err := Leaf(rand.Reader, caKey, caCert, names, now, notAfter)
	if err != nil {
		t.Fatal(err)
	}
	leaf := parseCert(t, "leaf certificate", leafCert)
	priv, err := x509.ParsePKCS8PrivateKey(decodePEM(t, "leaf key", "PRIVATE KEY", leafKey))
	if err != nil {
		t.Fatal(err)
	}
	if !priv.(*ecdsa.PrivateKey).PublicKey.Equal(leaf.PublicKey) {
		t.Error("the leaf key is not the leaf certificate's")
	}
	if !leaf.NotBefore.Equal(now) || !leaf.NotAfter.Equal(notAfter) {
		t.Errorf("leaf valid %s to %s, want %s to %s", leaf.NotBefore, leaf.NotAfter, now, notAfter)
	}
	if leaf.IsCA {
		t.Error("the leaf is a CA")
	}
	roots := x509.NewCertPool()
	roots.AddCert(ca)
	at := now.Add(time.Hour)
	for _, name := range names {
		for _, usage := range []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth} {
			if _, err := leaf.Verify(x509.VerifyOptions{DNSName: name, Roots: roots, CurrentTime: at, KeyUsages: []x509.ExtKeyUsage{usage}}); err != nil {
				t.Errorf("leaf does not verify for %s (usage %v): %v", name, usage, err)
			}
		}
	}
	if _, err := leaf.Verify(x509.VerifyOptions{DNSName: "other.shop", Roots: roots, CurrentTime: at}); err == nil {
		t.Error("leaf verifies for a name it was not issued for")
	}
	if _, err := leaf.Verify(x509.VerifyOptions{DNSName: "db", Roots: roots, CurrentTime: notAfter.Add(time.Second)}); err == nil {
		t.Error("leaf verifies after notAfter")
	}

	// Another CA does not verify it.
	_, otherCert, err := NewCA(rand.Reader, "other", now)
	if err != nil {
		t.Fatal(err)
	}
	otherRoots := x509.NewCertPool()
	otherRoots.AddCert(parseCert(t, "other CA", otherCert))
	if _, err := leaf.Verify(x509.VerifyOptions{DNSName: "db", Roots: otherRoots, CurrentTime: at}); err == nil {
		t.Error("leaf verifies against another CA")
	}
}

// TestLeafFromReader: the leaf's key comes from the passed-in reader.
func TestLeafFromReader(t *testing.T) {
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	caKey, caCert, err := NewCA(seeded(7), "ca", now)
	if err != nil {
		t.Fatal(err)
	}
	caKey2, _, err := NewCA(seeded(7), "ca", now)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(caKey, caKey2) {
		t.Error("the same seed gave different CA keys")
	}
	k1, _, err := Leaf(seeded(3), caKey, caCert, []string{"a"}, now, now.Add(24*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	k2, _, err := Leaf(seeded(3), caKey, caCert, []string{"a"}, now, now.Add(24*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(k1, k2) {
		t.Error("the same seed gave different leaf keys")
	}
	if _, _, err := Leaf(iotest.ErrReader(errBoomReader), caKey, caCert, []string{"a"}, now, now.Add(24*time.Hour)); err == nil {
		t.Error("a failing reader did not fail the leaf")
	}
}

func TestLeafRefusesBadInput(t *testing.T) {
	now := time.Now()
	caKey, caCert, err := NewCA(rand.Reader, "ca", now)
	if err != nil {
		t.Fatal(err)
	}
	leafKey, leafCert, err := Leaf(rand.Reader, caKey, caCert, []string{"a"}, now, now.Add(24*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	tests := map[string]struct {
		key, cert []byte
		names     []string
	}{
		"no DNS name":            {caKey, caCert, nil},
		"CA key not PEM":         {[]byte("not pem"), caCert, []string{"a"}},
		"CA certificate not PEM": {caKey, []byte("not pem"), []string{"a"}},
		"certificate not a CA's": {leafKey, leafCert, []string{"a"}},
		"key and cert swapped":   {caCert, caKey, []string{"a"}},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			_, _, err := Leaf(rand.Reader, tc.key, tc.cert, tc.names, now, now.Add(24*time.Hour))
			if err == nil {
				t.Fatal("no error")
			}
			// Errors never quote key material.
			if strings.Contains(err.Error(), "BEGIN") || strings.Contains(err.Error(), string(tc.key)) {
				t.Errorf("error quotes its input: %v", err)
			}
		})
	}
}

// TestGenerateExcluding: no excluded character ever appears, the entropy
// floor is that of what is left, and too small a rest is refused.
func TestGenerateExcluding(t *testing.T) {
	tests := []struct {
		charset, exclude string
		length           int
		left             int
		wantErr          string
	}{
		{Symbols, `/@" `, 32, 88, ""},
		{Alphanumeric, "0O1lI", 32, 57, ""},
		{Hex, "abcdef", 39, 10, ""},
		{Hex, "0123456789abcde", 128, 1, "exclude leaves 1 characters of charset hex; at least 2 must remain"},
		{Hex, "0123456789abcdef", 128, 0, "exclude leaves 0 characters"},
		{Hex, "abcdef", 32, 10, "the minimum length for charset hex less exclude (10 characters) is 39"},
		{Hex, "zz", 32, 16, ""}, // characters outside the charset change nothing
	}
	for _, tc := range tests {
		t.Run(tc.charset+"-"+tc.exclude, func(t *testing.T) {
			a, err := AlphabetExcluding(tc.charset, tc.exclude)
			if err != nil {
				t.Fatal(err)
			}
			if len(a) != tc.left {
				t.Errorf("%d characters left, want %d", len(a), tc.left)
			}
			out, err := GenerateExcluding(rand.Reader, tc.charset, tc.length, tc.exclude)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("error %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(out) != tc.length {
				t.Errorf("length %d, want %d", len(out), tc.length)
			}
			if strings.ContainsAny(string(out), tc.exclude) {
				t.Errorf("value contains an excluded character")
			}
			for _, c := range out {
				if strings.IndexByte(a, c) < 0 {
					t.Errorf("value contains %q, outside what exclude leaves of the charset", c)
				}
			}
		})
	}
}

// TestMinLengthOf: the floor for each alphabet size matches the charsets'.
func TestMinLengthOf(t *testing.T) {
	for _, cs := range allCharsets {
		a, _ := Alphabet(cs)
		want, _ := MinLength(cs)
		if got := MinLengthOf(len(a)); got != want {
			t.Errorf("MinLengthOf(%d) = %d, want %d", len(a), got, want)
		}
	}
	for n := 2; n <= 90; n++ {
		l := MinLengthOf(n)
		if float64(l)*math.Log2(float64(n)) < staxv1alpha1.MinEntropyBits || float64(l-1)*math.Log2(float64(n)) >= staxv1alpha1.MinEntropyBits {
			t.Errorf("MinLengthOf(%d) = %d is not the shortest length with %d bits", n, l, staxv1alpha1.MinEntropyBits)
		}
	}
	if MinLengthOf(1) != 0 || MinLengthOf(0) != 0 {
		t.Error("an alphabet of fewer than 2 symbols has a floor")
	}
}

// TestGenerateExcludingUniformity: the chi-squared check of
// TestGenerateUniformity over what exclude leaves. Each critical value is
// the Wilson-Hilferty approximation of the upper 1e-7 quantile, rounded up;
// at these degrees of freedom it lies above the exact quantile (63.54
// against 62.33 at df 15), so a spurious failure stays below 1e-7 per case.
func TestGenerateExcludingUniformity(t *testing.T) {
	const samples = 200_000
	tests := []struct {
		charset, exclude string
		critical         float64
	}{
		{Hex, "abc", 57.83},             // 13 left, df 12
		{Alphanumeric, "0O1lI", 129.85}, // 57 left, df 56
		{Symbols, `/@:`, 172.74},        // 87 left, df 86
	}
	for _, tc := range tests {
		t.Run(tc.charset, func(t *testing.T) {
			alphabet, err := AlphabetExcluding(tc.charset, tc.exclude)
			if err != nil {
				t.Fatal(err)
			}
			counts := map[byte]int{}
			for drawn := 0; drawn < samples; {
				out, err := GenerateExcluding(rand.Reader, tc.charset, min(MaxLength, samples-drawn), tc.exclude)
				if err != nil {
					t.Fatal(err)
				}
				for _, b := range out {
					if strings.IndexByte(tc.exclude, b) >= 0 {
						t.Fatalf("excluded character %q drawn", b)
					}
					counts[b]++
				}
				drawn += len(out)
			}
			expected := float64(samples) / float64(len(alphabet))
			var chi2 float64
			for i := range len(alphabet) {
				d := float64(counts[alphabet[i]]) - expected
				chi2 += d * d / expected
			}
			if chi2 > tc.critical {
				t.Errorf("chi-squared = %.2f exceeds %.2f (df %d)", chi2, tc.critical, len(alphabet)-1)
			}
		})
	}
}

// TestGenerateExcludingFromReader: the value comes from the passed-in
// reader (the same seed gives the same value).
func TestGenerateExcludingFromReader(t *testing.T) {
	a, err := GenerateExcluding(seeded(5), Symbols, 32, "/@")
	if err != nil {
		t.Fatal(err)
	}
	b, err := GenerateExcluding(seeded(5), Symbols, 32, "/@")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(a, b) {
		t.Error("the same seed gave different values")
	}
	if _, err := GenerateExcluding(iotest.ErrReader(errBoomReader), Symbols, 32, "/@"); err == nil {
		t.Error("a failing reader did not fail")
	}
}

// TestValue: each type's value comes in the keys a generated Secret holds.
func TestValue(t *testing.T) {
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	ca, err := Value(rand.Reader, Spec{CA: true, CAName: "ca", NotBefore: now})
	if err != nil {
		t.Fatal(err)
	}
	tests := map[staxv1alpha1.SecretType][]string{
		"":                              {""},
		staxv1alpha1.SecretTypePassword: {""},
		staxv1alpha1.SecretTypeRSA:      {"", ".pub"},
		staxv1alpha1.SecretTypeECDSA:    {"", ".pub"},
		staxv1alpha1.SecretTypeEd25519:  {"", ".pub"},
		staxv1alpha1.SecretTypeTLS:      {"", ".ca", ".crt"},
	}
	for typ, want := range tests {
		v, err := Value(rand.Reader, Spec{Type: typ, Charset: Symbols, Length: 24, Exclude: "/", DNSNames: []string{"a"},
			NotBefore: now, NotAfter: now.Add(24 * time.Hour), CAKey: ca[""], CACert: ca[".crt"]})
		if err != nil {
			t.Fatalf("%q: %v", typ, err)
		}
		var got []string
		for k := range v {
			got = append(got, k)
		}
		slices.Sort(got)
		if !slices.Equal(got, want) {
			t.Errorf("%q: keys %q, want %q", typ, got, want)
		}
		if typ == staxv1alpha1.SecretTypeTLS && !bytes.Equal(v[".ca"], ca[".crt"]) {
			t.Error("NAME.ca is not the CA's certificate")
		}
	}
	if _, err := Value(rand.Reader, Spec{Type: "dsa"}); err == nil {
		t.Error("an unknown type did not fail")
	}
}

// FuzzGenerateExcluding: whatever the reader, charset, length and exclude,
// a value has the asked length and no excluded character, and a refusal
// returns nothing.
func FuzzGenerateExcluding(f *testing.F) {
	f.Add([]byte{1, 2, 3, 4, 5, 6, 7, 8}, uint8(3), 20, "/@")
	f.Add(bytes.Repeat([]byte{0xff}, 300), uint8(1), 40, "abcdef")
	f.Add([]byte{0}, uint8(1), 128, "0123456789abcde")
	f.Fuzz(func(t *testing.T, data []byte, idx uint8, length int, exclude string) {
		charset := allCharsets[int(idx)%len(allCharsets)]
		got, err := GenerateExcluding(bytes.NewReader(data), charset, length, exclude)
		if err != nil {
			if got != nil {
				t.Fatalf("returned %q alongside error %v", got, err)
			}
			return
		}
		if len(got) != length {
			t.Fatalf("len = %d, want %d", len(got), length)
		}
		for _, c := range got {
			if strings.ContainsRune(exclude, rune(c)) {
				t.Fatalf("excluded character %q drawn", c)
			}
		}
		assertInAlphabet(t, charset, got)
	})
}
