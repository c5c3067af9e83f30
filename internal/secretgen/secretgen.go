// Package secretgen generates random secret values from a fixed set of named
// character sets.
//
// The random source is a parameter rather than a package-level dependency so
// that tests can inject deterministic or failing readers; production callers
// pass crypto/rand.Reader.
package secretgen

import (
	"errors"
	"fmt"
	"io"
	"math"
	"math/bits"
	"strings"

	staxv1alpha1 "github.com/stax-dev/blueprint-operator/api/v1alpha1"
)

// Charset names, as the API spells them (api/v1alpha1 defines them once).
const (
	Alphanumeric = string(staxv1alpha1.CharsetAlphanumeric) // [A-Za-z0-9], 62 symbols
	Hex          = string(staxv1alpha1.CharsetHex)          // [0-9a-f], 16 symbols
	Base64URL    = string(staxv1alpha1.CharsetBase64URL)    // [A-Za-z0-9-_], 64 symbols
	Symbols      = string(staxv1alpha1.CharsetSymbols)      // printable ASCII without " ' ` \, 90 symbols
)

// MaxLength bounds Generate so that a typo in a manifest cannot make the
// operator allocate or store an absurdly large Secret.
const MaxLength = 4096

const (
	lower  = "abcdefghijklmnopqrstuvwxyz"
	upper  = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
	digits = "0123456789"
)

var alphabets = map[string]string{
	Alphanumeric: upper + lower + digits,
	Hex:          digits + "abcdef",
	Base64URL:    upper + lower + digits + "-_",
	Symbols:      symbolsAlphabet(),
}

// symbolsAlphabet excludes the quote characters and the backslash because
// they are the characters most likely to be mangled when a secret is pasted
// into a shell, a YAML/JSON document or a connection string.
func symbolsAlphabet() string {
	b := make([]byte, 0, 90)
	for c := byte(0x21); c <= 0x7e; c++ {
		switch c {
		case '"', '\'', '`', '\\':
			continue
		}
		b = append(b, c)
	}
	return string(b)
}

// Alphabet returns the symbols of the named charset.
func Alphabet(charset string) (string, error) {
	a, ok := alphabets[charset]
	if !ok {
		return "", fmt.Errorf("unknown charset %q (want one of %q, %q, %q, %q)",
			charset, Alphanumeric, Hex, Base64URL, Symbols)
	}
	return a, nil
}

// EntropyBits returns the entropy of a uniformly generated value of the given
// length drawn from the named charset.
func EntropyBits(charset string, length int) (float64, error) {
	a, err := Alphabet(charset)
	if err != nil {
		return 0, err
	}
	return float64(length) * math.Log2(float64(len(a))), nil
}

// MinLength returns the shortest length for which a value drawn from the
// named charset carries at least staxv1alpha1.MinEntropyBits of entropy.
func MinLength(charset string) (int, error) {
	a, err := Alphabet(charset)
	if err != nil {
		return 0, err
	}
	return MinLengthOf(len(a)), nil
}

// AlphabetExcluding returns the symbols of the named charset less every
// character of exclude, in the charset's order.
func AlphabetExcluding(charset, exclude string) (string, error) {
	a, err := Alphabet(charset)
	if err != nil {
		return "", err
	}
	if exclude == "" {
		return a, nil
	}
	b := make([]byte, 0, len(a))
	for i := 0; i < len(a); i++ {
		if !strings.ContainsRune(exclude, rune(a[i])) {
			b = append(b, a[i])
		}
	}
	return string(b), nil
}

// MinLengthOf returns the shortest length for which a value drawn from an
// alphabet of n symbols carries at least staxv1alpha1.MinEntropyBits of
// entropy; 0 when n < 2 (no length is enough).
func MinLengthOf(n int) int {
	if n < 2 {
		return 0
	}
	return int(math.Ceil(staxv1alpha1.MinEntropyBits / math.Log2(float64(n))))
}

// MinAlphabet is the fewest symbols exclude may leave of a charset.
const MinAlphabet = 2

// GenerateExcluding is Generate over what exclude leaves of the named
// charset: no character of exclude ever appears, and every remaining
// symbol is equally likely (the same rejection sampling as Generate, over
// the smaller alphabet). It refuses an exclude that leaves fewer than
// MinAlphabet symbols, or a length under the entropy floor of what is
// left.
func GenerateExcluding(rand io.Reader, charset string, length int, exclude string) ([]byte, error) {
	alphabet, err := AlphabetExcluding(charset, exclude)
	if err != nil {
		return nil, err
	}
	if len(alphabet) < MinAlphabet {
		return nil, fmt.Errorf("exclude leaves %d characters of charset %s; at least %d must remain", len(alphabet), charset, MinAlphabet)
	}
	if exclude != "" {
		if floor := MinLengthOf(len(alphabet)); length < floor {
			return nil, fmt.Errorf("length %d is under the %d-bit entropy floor: the minimum length for charset %s less exclude (%d characters) is %d",
				length, staxv1alpha1.MinEntropyBits, charset, len(alphabet), floor)
		}
	}
	return generateFrom(rand, alphabet, length)
}

// Generate returns length symbols drawn uniformly from the named charset,
// using rand as the source of randomness.
//
// Uniformity comes from rejection sampling: each random byte is masked down to
// the smallest power of two covering the alphabet and discarded if it is still
// out of range. Reducing modulo the alphabet size instead would favour the
// first 256 mod n symbols.
//
// Errors never include generated or random bytes, so they are safe to log.
func Generate(rand io.Reader, charset string, length int) ([]byte, error) {
	alphabet, err := Alphabet(charset)
	if err != nil {
		return nil, err
	}
	return generateFrom(rand, alphabet, length)
}

// generateFrom draws length symbols of alphabet (at least 2 of them)
// uniformly from rand.
func generateFrom(rand io.Reader, alphabet string, length int) ([]byte, error) {
	if length < 1 || length > MaxLength {
		return nil, fmt.Errorf("length %d out of range [1, %d]", length, MaxLength)
	}

	n := len(alphabet)
	span := 1 << bits.Len(uint(n-1)) // smallest power of two >= n
	mask := byte(span - 1)

	// A correct random source practically never exhausts this budget: even
	// at the worst acceptance rate (symbols, 90/128) the probability of
	// getting fewer than length symbols out of 16 times the expected number
	// of bytes plus 64 is below 2^-128. It exists so that a broken source,
	// e.g. one stuck on a constant out-of-range byte, fails instead of
	// spinning forever.
	budget := 16*length*span/n + 64

	out := make([]byte, 0, length)
	buf := make([]byte, batchSize(length, n, span))
	for len(out) < length {
		batch := buf[:min(batchSize(length-len(out), n, span), budget)]
		if len(batch) == 0 {
			return nil, errors.New("random source produced too many out-of-range values")
		}
		budget -= len(batch)
		if _, err := io.ReadFull(rand, batch); err != nil {
			return nil, fmt.Errorf("reading random source: %w", err)
		}
		for _, b := range batch {
			if v := int(b & mask); v < n {
				out = append(out, alphabet[v])
				if len(out) == length {
					break
				}
			}
		}
	}
	return out, nil
}

// batchSize returns how many random bytes to read to obtain need accepted
// symbols in one read most of the time: the expected number plus 1/8 slack,
// so that a second read is the exception rather than a coin flip.
func batchSize(need, n, span int) int {
	expected := (need*span + n - 1) / n
	return expected + expected/8 + 1
}
