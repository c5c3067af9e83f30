// Package logging keeps secret values out of logs at every verbosity.
//
// client-go logs whole request and response bodies at V(8) and above through
// the logger it finds in the request's context. For a Secret that body is its
// data, so a reconciler whose logger is turned up to debug everything would
// write every value it reads or writes. Capping the verbosity of the logger
// that reaches client-go closes that path, whatever flags the manager runs
// with.
package logging

import "github.com/go-logr/logr"

// MaxVerbosity is the most verbose level the operator's reconciles log at:
// below client-go's body dumps (V(8)) and its request lines (V(6)), which can
// carry a Secret's name with a value in a patch.
const MaxVerbosity = 5

// Capped returns logger with every level above MaxVerbosity disabled.
func Capped(logger logr.Logger) logr.Logger {
	sink := logger.GetSink()
	if sink == nil {
		return logger
	}
	return logger.WithSink(cappedSink{LogSink: sink, max: MaxVerbosity})
}

type cappedSink struct {
	logr.LogSink
	max int
}

func (s cappedSink) Enabled(level int) bool {
	return level <= s.max && s.LogSink.Enabled(level)
}

func (s cappedSink) Info(level int, msg string, keysAndValues ...any) {
	if level <= s.max {
		s.LogSink.Info(level, msg, keysAndValues...)
	}
}

func (s cappedSink) WithValues(keysAndValues ...any) logr.LogSink {
	return cappedSink{LogSink: s.LogSink.WithValues(keysAndValues...), max: s.max}
}

func (s cappedSink) WithName(name string) logr.LogSink {
	return cappedSink{LogSink: s.LogSink.WithName(name), max: s.max}
}

// WithCallDepth keeps caller information pointing at the caller, not here.
func (s cappedSink) WithCallDepth(depth int) logr.LogSink {
	if d, ok := s.LogSink.(logr.CallDepthLogSink); ok {
		return cappedSink{LogSink: d.WithCallDepth(depth + 1), max: s.max}
	}
	return s
}
