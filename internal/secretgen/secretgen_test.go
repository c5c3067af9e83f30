package secretgen

import (
	"bytes"
	"crypto/rand"
	"errors"
	"io"
	"math"
	"strings"
	"testing"
	"testing/iotest"

	staxv1alpha1 "github.com/stax-dev/blueprint-operator/api/v1alpha1"
)

var allCharsets = []string{Alphanumeric, Hex, Base64URL, Symbols}

// constReader yields the same byte forever, standing in for a broken RNG or
// padding after crafted input.
type constReader byte

func (c constReader) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = byte(c)
	}
	return len(p), nil
}

func TestAlphabet(t *testing.T) {
	tests := map[string]struct {
		charset string
		want    string
	}{
		"alphanumeric": {Alphanumeric, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"},
		"hex":          {Hex, "0123456789abcdef"},
		"base64url":    {Base64URL, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"},
		"symbols": {Symbols, "!#$%&()*+,-./0123456789:;<=>?@" +
			"ABCDEFGHIJKLMNOPQRSTUVWXYZ[]^_abcdefghijklmnopqrstuvwxyz{|}~"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			got, err := Alphabet(tc.charset)
			if err != nil {
				t.Fatalf("Alphabet(%q): %v", tc.charset, err)
			}
			if got != tc.want {
				t.Errorf("Alphabet(%q) = %q, want %q", tc.charset, got, tc.want)
			}
		})
	}
}

func TestAlphabetSizes(t *testing.T) {
	want := map[string]int{Alphanumeric: 62, Hex: 16, Base64URL: 64, Symbols: 90}
	for charset, size := range want {
		t.Run(charset, func(t *testing.T) {
			a, err := Alphabet(charset)
			if err != nil {
				t.Fatal(err)
			}
			if len(a) != size {
				t.Errorf("len = %d, want %d", len(a), size)
			}
			seen := map[rune]bool{}
			for _, r := range a {
				if seen[r] {
					t.Errorf("duplicate symbol %q", r)
				}
				seen[r] = true
			}
		})
	}
}

func TestUnknownCharset(t *testing.T) {
	for name, charset := range map[string]string{
		"empty":         "",
		"wrong case":    "Hex",
		"unsupported":   "base32",
		"leading space": " hex",
	} {
		t.Run(name, func(t *testing.T) {
			if _, err := Alphabet(charset); err == nil {
				t.Error("Alphabet: want error")
			}
			if _, err := EntropyBits(charset, 32); err == nil {
				t.Error("EntropyBits: want error")
			}
			if _, err := MinLength(charset); err == nil {
				t.Error("MinLength: want error")
			}
			if _, err := Generate(rand.Reader, charset, 32); err == nil {
				t.Error("Generate: want error")
			}
		})
	}
}

func TestEntropyBits(t *testing.T) {
	tests := map[string]struct {
		charset string
		length  int
		want    float64
	}{
		"hex 32":       {Hex, 32, 128},
		"base64url 22": {Base64URL, 22, 132},
		"hex 0":        {Hex, 0, 0},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			got, err := EntropyBits(tc.charset, tc.length)
			if err != nil {
				t.Fatal(err)
			}
			if got != tc.want {
				t.Errorf("EntropyBits(%q, %d) = %v, want %v", tc.charset, tc.length, got, tc.want)
			}
		})
	}
}

func TestMinLength(t *testing.T) {
	want := map[string]int{Alphanumeric: 22, Hex: 32, Base64URL: 22, Symbols: 20}
	for charset, wantLen := range want {
		t.Run(charset, func(t *testing.T) {
			got, err := MinLength(charset)
			if err != nil {
				t.Fatal(err)
			}
			if got != wantLen {
				t.Errorf("MinLength(%q) = %d, want %d", charset, got, wantLen)
			}
			// Cross-check the definition rather than trusting the table alone.
			if bits, _ := EntropyBits(charset, got); bits < staxv1alpha1.MinEntropyBits {
				t.Errorf("EntropyBits(%q, %d) = %v, below %d", charset, got, bits, staxv1alpha1.MinEntropyBits)
			}
			if bits, _ := EntropyBits(charset, got-1); bits >= staxv1alpha1.MinEntropyBits {
				t.Errorf("EntropyBits(%q, %d) = %v, so %d is not minimal", charset, got-1, bits, got)
			}
		})
	}
}

func TestGenerate(t *testing.T) {
	for _, charset := range allCharsets {
		minLen, err := MinLength(charset)
		if err != nil {
			t.Fatal(err)
		}
		for name, length := range map[string]int{"one": 1, "min": minLen, "max": MaxLength} {
			t.Run(charset+"/"+name, func(t *testing.T) {
				got, err := Generate(rand.Reader, charset, length)
				if err != nil {
					t.Fatalf("Generate: %v", err)
				}
				if len(got) != length {
					t.Fatalf("len = %d, want %d", len(got), length)
				}
				assertInAlphabet(t, charset, got)
			})
		}
	}
}

func TestGenerateInvalidLength(t *testing.T) {
	for name, length := range map[string]int{
		"zero":      0,
		"negative":  -1,
		"above max": MaxLength + 1,
		"max int":   math.MaxInt,
	} {
		t.Run(name, func(t *testing.T) {
			got, err := Generate(rand.Reader, Hex, length)
			if err == nil {
				t.Fatalf("Generate(length=%d) = %q, want error", length, got)
			}
		})
	}
}

// TestGenerateRejectionSampling feeds crafted bytes followed by endless
// padding. Every expected output is reachable only if the out-of-range bytes
// are skipped (not reduced) and high bits are masked off; the padding symbol
// differs from the expected ones so that over-consumption would also show.
func TestGenerateRejectionSampling(t *testing.T) {
	tests := map[string]struct {
		charset string
		length  int
		crafted []byte
		pad     byte
		want    string
	}{
		"alphanumeric skips 62 and 63": {
			charset: Alphanumeric, length: 2,
			// 62, 63, 0xfe&63=62 and 0xff&63=63 are rejected; 0x45&63=5 is F.
			crafted: []byte{62, 63, 0xfe, 0xff, 0x45, 0},
			pad:     25, // Z
			want:    "FA",
		},
		"symbols skips 90 to 127": {
			charset: Symbols, length: 2,
			// 0x80&127=0 is the first symbol and 0xd9&127=89 the last.
			crafted: []byte{90, 127, 0xff, 0x80, 100, 0xd9},
			pad:     1, // #
			want:    "!~",
		},
		"hex masks high bits and never rejects": {
			charset: Hex, length: 3,
			crafted: []byte{0xf3, 0x0a, 0xff},
			pad:     0,
			want:    "3af",
		},
		"base64url never rejects": {
			charset: Base64URL, length: 3,
			crafted: []byte{63, 0xff, 62},
			pad:     0,
			want:    "__-",
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			r := io.MultiReader(bytes.NewReader(tc.crafted), constReader(tc.pad))
			got, err := Generate(r, tc.charset, tc.length)
			if err != nil {
				t.Fatalf("Generate: %v", err)
			}
			if string(got) != tc.want {
				t.Errorf("Generate = %q, want %q", got, tc.want)
			}
		})
	}
}

func TestGenerateStuckSource(t *testing.T) {
	// 0xff masks to 63, outside the 62-symbol alphabet, so no symbol is ever
	// accepted; Generate must give up rather than loop forever.
	if got, err := Generate(constReader(0xff), Alphanumeric, 32); err == nil {
		t.Fatalf("Generate = %q, want error", got)
	}
}

func TestGenerateReaderErrors(t *testing.T) {
	errBoom := errors.New("boom")
	tests := map[string]struct {
		r       io.Reader
		wantErr error
	}{
		"error on first read": {iotest.ErrReader(errBoom), errBoom},
		"error after some bytes": {
			io.MultiReader(bytes.NewReader([]byte{1, 2}), iotest.ErrReader(errBoom)), errBoom,
		},
		"empty source":                    {bytes.NewReader(nil), io.EOF},
		"short read":                      {bytes.NewReader([]byte{1, 2, 3}), io.ErrUnexpectedEOF},
		"one byte at a time is not short": {iotest.OneByteReader(constReader(7)), nil},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			got, err := Generate(tc.r, Alphanumeric, 32)
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("Generate error = %v, want %v", err, tc.wantErr)
			}
			if err != nil && got != nil {
				t.Errorf("Generate returned %q alongside an error", got)
			}
		})
	}
}

// TestGenerateUniformity runs a chi-squared goodness-of-fit test per charset
// on output from crypto/rand. Each critical value is the upper 1e-7 quantile
// of the chi-squared distribution with len(alphabet)-1 degrees of freedom
// (computed numerically from the regularized upper incomplete gamma function,
// Q(df/2, x/2) = 1e-7, and rounded up). By the union bound the whole test
// fails spuriously with probability below 4e-7.
//
// With 200k samples the smallest expected bin count is over 2000, far above
// the ~5 the chi-squared approximation needs. For comparison, reducing bytes
// modulo 62 (favouring 8 symbols at 5/256 against 4/256) would push the
// alphanumeric statistic above 1000.
func TestGenerateUniformity(t *testing.T) {
	const samples = 200_000
	critical := map[string]float64{
		Hex:          62.33,  // df 15
		Alphanumeric: 136.67, // df 61
		Base64URL:    139.59, // df 63
		Symbols:      176.48, // df 89
	}
	for charset, crit := range critical {
		t.Run(charset, func(t *testing.T) {
			alphabet, err := Alphabet(charset)
			if err != nil {
				t.Fatal(err)
			}
			counts := map[byte]int{}
			for drawn := 0; drawn < samples; {
				out, err := Generate(rand.Reader, charset, min(MaxLength, samples-drawn))
				if err != nil {
					t.Fatal(err)
				}
				for _, b := range out {
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
			if chi2 > crit {
				t.Errorf("chi-squared = %.2f exceeds %.2f (df %d); counts: %v", chi2, crit, len(alphabet)-1, counts)
			}
		})
	}
}

func BenchmarkGenerate(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Generate(rand.Reader, Alphanumeric, 32); err != nil {
			b.Fatal(err)
		}
	}
}

func FuzzGenerate(f *testing.F) {
	charsets := append(allCharsets[:len(allCharsets):len(allCharsets)], "", "unknown")
	f.Add([]byte{}, uint8(0), 1)
	f.Add([]byte{62, 63, 0xfe, 0xff, 0x45, 0, 1, 2, 3, 4, 5, 6}, uint8(0), 2)
	f.Add(bytes.Repeat([]byte{0xff}, 200), uint8(3), 20)
	f.Add(bytes.Repeat([]byte{0x5a}, 64), uint8(1), 32)
	f.Add([]byte{1, 2, 3}, uint8(4), 3)
	f.Add([]byte{1, 2, 3}, uint8(2), 0)
	f.Add([]byte{1, 2, 3}, uint8(2), -1)
	f.Add([]byte{1, 2, 3}, uint8(2), MaxLength+1)
	f.Fuzz(func(t *testing.T, data []byte, idx uint8, length int) {
		charset := charsets[int(idx)%len(charsets)]
		got, err := Generate(bytes.NewReader(data), charset, length)
		if err != nil {
			if got != nil {
				t.Fatalf("Generate returned %q alongside error %v", got, err)
			}
			return
		}
		if length < 1 || length > MaxLength {
			t.Fatalf("Generate accepted length %d", length)
		}
		if len(got) != length {
			t.Fatalf("len = %d, want %d", len(got), length)
		}
		assertInAlphabet(t, charset, got)
	})
}

func assertInAlphabet(t *testing.T, charset string, got []byte) {
	t.Helper()
	alphabet, err := Alphabet(charset)
	if err != nil {
		t.Fatalf("Generate succeeded for unknown charset %q", charset)
	}
	for i, b := range got {
		if !strings.ContainsRune(alphabet, rune(b)) {
			t.Fatalf("byte %d (%q) not in %s alphabet", i, b, charset)
		}
	}
}
