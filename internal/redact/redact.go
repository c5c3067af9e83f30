// Package redact masks secret values in a stream, as `op run` does: what a
// process prints passes through a Writer that replaces each value with
// <redacted:NAME> before it reaches the terminal.
package redact

import (
	"io"
	"sort"
	"strings"
	"sync"
)

// Writer replaces every occurrence of a secret value in what is written to
// it. A value split across two writes is still replaced: a tail that could
// be the start of a value is held back until the next write shows whether it
// is one, or until Flush. Nothing else is held back, so a prompt without a
// newline reaches the terminal at once. It is safe for concurrent use.
type Writer struct {
	mu      sync.Mutex
	out     io.Writer
	secrets []secret // longest first: a value that contains another wins
	held    []byte
}

type secret struct {
	value       []byte
	replacement []byte
}

// MinLength is the shortest value that is masked: masking a value of one to
// three characters would mask every occurrence of those characters in
// ordinary output and hide nothing worth hiding.
const MinLength = 4

// NewWriter returns a Writer to out that replaces each key of values (a
// secret value) with <redacted:NAME>, NAME being its entry. Values shorter
// than MinLength are not masked; Skipped lists them.
func NewWriter(out io.Writer, values map[string]string) *Writer {
	w := &Writer{out: out}
	for value, name := range values {
		if len(value) < MinLength {
			continue
		}
		w.secrets = append(w.secrets, secret{value: []byte(value), replacement: []byte("<redacted:" + name + ">")})
	}
	sort.Slice(w.secrets, func(i, j int) bool {
		if len(w.secrets[i].value) != len(w.secrets[j].value) {
			return len(w.secrets[i].value) > len(w.secrets[j].value)
		}
		return string(w.secrets[i].value) < string(w.secrets[j].value)
	})
	return w
}

// Skipped returns the names of the values too short to mask, sorted.
func Skipped(values map[string]string) []string {
	var names []string
	for value, name := range values {
		if len(value) < MinLength {
			names = append(names, name)
		}
	}
	sort.Strings(names)
	return names
}

// Write masks p and writes what is certain to out. It reports len(p)
// written unless out fails.
func (w *Writer) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.held = append(w.held, p...)
	if err := w.emit(false); err != nil {
		return 0, err
	}
	return len(p), nil
}

// Flush writes what is held back, masked: call it when the stream ends.
func (w *Writer) Flush() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.emit(true)
}

// emit writes the masked prefix of held that no later byte can change; at
// the end of the stream (final), all of it.
func (w *Writer) emit(final bool) error {
	var out []byte
	i := 0
scan:
	for i < len(w.held) {
		rest := w.held[i:]
		if !final {
			// A value, or a longer one that starts like a shorter value
			// does, may still be arriving: wait for more.
			for _, s := range w.secrets {
				if len(rest) < len(s.value) && strings.HasPrefix(string(s.value), string(rest)) {
					break scan
				}
			}
		}
		for _, s := range w.secrets {
			if len(rest) >= len(s.value) && string(rest[:len(s.value)]) == string(s.value) {
				out = append(out, s.replacement...)
				i += len(s.value)
				continue scan
			}
		}
		out = append(out, w.held[i])
		i++
	}
	w.held = append(w.held[:0], w.held[i:]...)
	if len(out) == 0 {
		return nil
	}
	_, err := w.out.Write(out)
	return err
}
