package redact

import (
	"bytes"
	"math/rand/v2"
	"strings"
	"testing"
)

func TestWriterMasksWholeStream(t *testing.T) {
	values := map[string]string{
		"hunter2-long-pass": "db-password",
		"hunter2":           "short-prefix",
		"tok_abcdef":        "stripe/api-key",
		"abc":               "too-short",
	}
	input := "connect hunter2-long-pass ok\nthen hunter2 and tok_abcdef, tok_abc, abc\nhunter2-long-pas"
	want := "connect <redacted:db-password> ok\nthen <redacted:short-prefix> and <redacted:stripe/api-key>, tok_abc, abc\n<redacted:short-prefix>-long-pas"

	// However the stream is cut into writes, the result is the same.
	rng := rand.New(rand.NewPCG(1, 2))
	for trial := 0; trial < 200; trial++ {
		var out bytes.Buffer
		w := NewWriter(&out, values)
		rest := input
		for len(rest) > 0 {
			n := 1 + rng.IntN(len(rest))
			if _, err := w.Write([]byte(rest[:n])); err != nil {
				t.Fatal(err)
			}
			rest = rest[n:]
		}
		if err := w.Flush(); err != nil {
			t.Fatal(err)
		}
		if out.String() != want {
			t.Fatalf("trial %d: got\n%q\nwant\n%q", trial, out.String(), want)
		}
	}
	if got := Skipped(values); len(got) != 1 || got[0] != "too-short" {
		t.Errorf("Skipped = %v, want [too-short]", got)
	}
}

func TestWriterHoldsOnlyPossibleStarts(t *testing.T) {
	var out bytes.Buffer
	w := NewWriter(&out, map[string]string{"s3cret-value": "x"})
	if _, err := w.Write([]byte("Password: ")); err != nil {
		t.Fatal(err)
	}
	if out.String() != "Password: " {
		t.Errorf("a prompt that cannot start a value was held back: wrote %q", out.String())
	}
	if _, err := w.Write([]byte("s3cr")); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(out.String(), "s3cr") {
		t.Errorf("the start of a value was written before the rest arrived: %q", out.String())
	}
	if _, err := w.Write([]byte("et-value\n")); err != nil {
		t.Fatal(err)
	}
	if out.String() != "Password: <redacted:x>\n" {
		t.Errorf("got %q", out.String())
	}
}
