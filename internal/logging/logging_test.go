package logging

import (
	"testing"

	"github.com/go-logr/logr"
	"github.com/go-logr/logr/funcr"
)

func TestCapped(t *testing.T) {
	var lines []string
	base := funcr.New(func(prefix, args string) { lines = append(lines, args) }, funcr.Options{Verbosity: 100})
	capped := Capped(base).WithName("child").WithValues("k", "v")

	cases := map[string]struct {
		level   int
		enabled bool
	}{
		"info":                    {level: 0, enabled: true},
		"debug":                   {level: 1, enabled: true},
		"at the cap":              {level: MaxVerbosity, enabled: true},
		"client-go request lines": {level: 6, enabled: false},
		"client-go body dumps":    {level: 8, enabled: false},
		"everything":              {level: 10, enabled: false},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			lines = nil
			if got := capped.V(tc.level).Enabled(); got != tc.enabled {
				t.Fatalf("V(%d).Enabled() = %v, want %v", tc.level, got, tc.enabled)
			}
			capped.V(tc.level).Info("body", "data", "s3cret")
			if logged := len(lines) == 1; logged != tc.enabled {
				t.Fatalf("V(%d) logged %d lines, want logged=%v", tc.level, len(lines), tc.enabled)
			}
		})
	}
}

func TestCappedDiscard(t *testing.T) {
	if l := Capped(logr.Discard()); l.V(0).Enabled() {
		t.Fatal("a discarding logger must stay discarding")
	}
}
