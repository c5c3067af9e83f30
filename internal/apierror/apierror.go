// Package apierror turns an error from the Kubernetes API into one that is
// safe to show: the operation, the object's kind and name, the HTTP status
// code and the metav1.StatusReason, never the server's message.
//
// An API server's message about an object can quote it: admission webhooks
// and ValidatingAdmissionPolicies build their messages from the object
// (messageExpression: "'frozen: ' + string(oldObject.data['token'])"), so the
// message about a rejected Secret update can hold a generated value. The
// reconciler wraps every API error in an *Error before it reaches a status
// condition, an event or a log line; Sanitize is the last line of defence
// for errors that reach controller-runtime (which logs them).
//
// It is pure: no client, no clock, no logging.
package apierror

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// Operations, as they read in messages ("updating Secret x: ...").
const (
	OpRead   = "reading"
	OpList   = "listing"
	OpCreate = "creating"
	OpUpdate = "updating"
	OpApply  = "applying"
	OpPatch  = "patching"
	OpDelete = "deleting"
)

// Error is a failed API request about one object, without the server's
// message. It unwraps to the original error, so apierrors.IsConflict and
// friends still work on it; its Error() never includes the original text.
type Error struct {
	// Op is what the operator was doing: one of the Op constants.
	Op string
	// Kind and Name identify the object; Name is empty for a list.
	Kind string
	Name string
	// Code is the HTTP status code of the API server's answer; 0 when there
	// was no answer.
	Code int32
	// Reason is the API server's metav1.StatusReason; empty when there was
	// no answer.
	Reason metav1.StatusReason
	// class says what went wrong when there was no API status.
	class string
	err   error
}

// Wrap returns err as an *Error about the object of kind and name, or nil
// when err is nil. An error that already is an *Error is returned as is.
func Wrap(op, kind, name string, err error) error {
	if err == nil {
		return nil
	}
	var e *Error
	if errors.As(err, &e) {
		return err
	}
	out := &Error{Op: op, Kind: kind, Name: name, err: err}
	var status apierrors.APIStatus
	if errors.As(err, &status) {
		out.Code = status.Status().Code
		out.Reason = status.Status().Reason
		if out.Reason == "" && out.Code != 0 {
			// What client-go makes of a bare status code.
			out.Reason = apierrors.NewGenericServerResponse(int(out.Code), "", schema.GroupResource{}, "", "", 0, false).Status().Reason
		}
	} else {
		out.class = classify(err)
	}
	return out
}

func (e *Error) Error() string {
	object := e.Kind
	if e.Name != "" {
		object += " " + e.Name
	}
	if e.Code == 0 && e.Reason == "" {
		return fmt.Sprintf("%s %s: %s", e.Op, object, e.class)
	}
	reason := string(e.Reason)
	if reason == "" {
		reason = string(metav1.StatusReasonUnknown)
	}
	return fmt.Sprintf("%s %s: the API server answered %d %s%s", e.Op, object, e.Code, reason, hint(e.Reason))
}

// Unwrap returns the original error, for errors.Is and errors.As. Never
// print it.
func (e *Error) Unwrap() error { return e.err }

// hint says what a reason usually means, for the user who reads the
// condition; the server's own words are withheld.
func hint(reason metav1.StatusReason) string {
	const withheld = " (its message is not shown: it can quote the object)"
	switch reason {
	case metav1.StatusReasonInvalid, metav1.StatusReasonForbidden, metav1.StatusReasonUnauthorized, metav1.StatusReasonBadRequest,
		metav1.StatusReasonRequestEntityTooLarge:
		return ": refused by validation, an admission policy or webhook, or authorization" + withheld
	case metav1.StatusReasonConflict:
		return ": the object changed since it was read; retrying"
	case metav1.StatusReasonTooManyRequests, metav1.StatusReasonServerTimeout, metav1.StatusReasonTimeout, metav1.StatusReasonServiceUnavailable:
		return ": the API server is busy; retrying"
	case metav1.StatusReasonNotFound, metav1.StatusReasonAlreadyExists, metav1.StatusReasonGone:
		return ""
	default:
		return withheld
	}
}

// classify names an error that carries no API status (no answer from the
// API server) without repeating its text, which could hold a request body.
func classify(err error) string {
	var netErr net.Error
	switch {
	case errors.Is(err, context.Canceled):
		return "canceled"
	case errors.Is(err, context.DeadlineExceeded):
		return "timed out"
	case errors.As(err, &netErr):
		if netErr.Timeout() {
			return "no answer from the API server (timed out)"
		}
		return "no answer from the API server (connection failed)"
	default:
		return fmt.Sprintf("the request failed (%T)", err)
	}
}

// Message is err's text with every API status message withheld: *Error
// values read as themselves, and an API error that was not wrapped reads as
// its code and reason only. Errors joined with errors.Join are handled one
// by one; any other error reads as err.Error().
func Message(err error) string {
	if err == nil {
		return ""
	}
	if joined, ok := err.(interface{ Unwrap() []error }); ok {
		parts := make([]string, 0, len(joined.Unwrap()))
		for _, inner := range joined.Unwrap() {
			if inner != nil {
				parts = append(parts, Message(inner))
			}
		}
		return strings.Join(parts, "; ")
	}
	// A wrapper's own text may repeat the inner text (fmt.Errorf's %w):
	// only the *Error's text is safe.
	var e *Error
	if errors.As(err, &e) {
		return e.Error()
	}
	var status apierrors.APIStatus
	if errors.As(err, &status) {
		return Wrap("request", "about an object", "", err).Error()
	}
	return err.Error()
}

// sanitized is an error whose text is Message of the error it wraps.
type sanitized struct{ err error }

func (s sanitized) Error() string { return Message(s.err) }
func (s sanitized) Unwrap() error { return s.err }

// Sanitize returns err with Message as its text, for errors handed to code
// that logs them (controller-runtime logs every reconcile error); nil stays
// nil. errors.Is and errors.As still see the original.
func Sanitize(err error) error {
	if err == nil {
		return nil
	}
	return sanitized{err: err}
}

// Exhausted is the error of a read-modify-write loop on kind name that met
// a conflict on every one of its attempts: the reconcile is retried.
func Exhausted(kind, name string, attempts int) error {
	return fmt.Errorf("%s %s changed on every one of %d attempts; retrying", kind, name, attempts)
}

// Encoding is the error of an object the operator rendered but could not
// encode or compare (step: OpRender or OpCompare): a bug, never the API
// server's, and never holding a value (rendered objects hold none).
func Encoding(step, kind, name string, err error) error {
	return fmt.Errorf("%s %s %s: %w", step, kind, name, err)
}

// Steps of Encoding.
const (
	OpRender  = "rendering"
	OpCompare = "comparing"
)
