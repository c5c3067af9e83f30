package apierror

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"strings"
	"testing"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// secretText stands for a value an admission policy quoted in its message.
const secretText = "s3cr3t-V4LUE"

func statusError(code int32, reason metav1.StatusReason) error {
	return &apierrors.StatusError{ErrStatus: metav1.Status{
		Status: metav1.StatusFailure, Code: code, Reason: reason,
		Message: "admission policy 'freeze' denied request: frozen: " + secretText,
		Details: &metav1.StatusDetails{Name: "payments-dev-generated", Kind: "secrets", Causes: []metav1.StatusCause{{Message: secretText}}},
	}}
}

func TestWrap(t *testing.T) {
	timeout := &net.OpError{Op: "dial", Net: "tcp", Err: &timeoutErr{}}
	tests := map[string]struct {
		err        error
		want       string
		wantCode   int32
		wantReason metav1.StatusReason
	}{
		"admission policy denial (422 Invalid)": {
			err:      statusError(422, metav1.StatusReasonInvalid),
			want:     "updating Secret payments-dev-generated: the API server answered 422 Invalid: refused by validation, an admission policy or webhook, or authorization (its message is not shown: it can quote the object)",
			wantCode: 422, wantReason: metav1.StatusReasonInvalid,
		},
		"webhook or RBAC denial (403 Forbidden)": {
			err:      apierrors.NewForbidden(schema.GroupResource{Resource: "secrets"}, "payments-dev-generated", errors.New(secretText)),
			want:     "updating Secret payments-dev-generated: the API server answered 403 Forbidden: refused by validation, an admission policy or webhook, or authorization (its message is not shown: it can quote the object)",
			wantCode: 403, wantReason: metav1.StatusReasonForbidden,
		},
		"conflict": {
			err:      apierrors.NewConflict(schema.GroupResource{Resource: "secrets"}, "payments-dev-generated", errors.New(secretText)),
			want:     "updating Secret payments-dev-generated: the API server answered 409 Conflict: the object changed since it was read; retrying",
			wantCode: 409, wantReason: metav1.StatusReasonConflict,
		},
		"reason missing: derived from the code": {
			err:      &apierrors.StatusError{ErrStatus: metav1.Status{Code: 429, Message: secretText}},
			want:     "updating Secret payments-dev-generated: the API server answered 429 TooManyRequests: the API server is busy; retrying",
			wantCode: 429, wantReason: metav1.StatusReasonTooManyRequests,
		},
		"wrapped by fmt.Errorf": {
			err:      fmt.Errorf("context %s: %w", secretText, statusError(500, metav1.StatusReasonInternalError)),
			want:     "updating Secret payments-dev-generated: the API server answered 500 InternalError (its message is not shown: it can quote the object)",
			wantCode: 500, wantReason: metav1.StatusReasonInternalError,
		},
		"no answer: connection failed": {
			err:  &url.Error{Op: "Put", URL: "https://10.0.0.1/api/v1/namespaces/x/secrets/y?" + secretText, Err: &net.OpError{Op: "dial", Net: "tcp", Err: errors.New("refused")}},
			want: "updating Secret payments-dev-generated: no answer from the API server (connection failed)",
		},
		"no answer: timeout": {
			err:  &url.Error{Op: "Put", URL: "https://x/" + secretText, Err: timeout},
			want: "updating Secret payments-dev-generated: no answer from the API server (timed out)",
		},
		"canceled": {
			err:  fmt.Errorf("%s: %w", secretText, context.Canceled),
			want: "updating Secret payments-dev-generated: canceled",
		},
		"anything else: its type only": {
			err:  errors.New(secretText),
			want: "updating Secret payments-dev-generated: the request failed (*errors.errorString)",
		},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			err := Wrap(OpUpdate, "Secret", "payments-dev-generated", tt.err)
			if got := err.Error(); got != tt.want {
				t.Errorf("Error() =\n %q\nwant\n %q", got, tt.want)
			}
			if strings.Contains(err.Error(), secretText) || strings.Contains(Message(err), secretText) || strings.Contains(Sanitize(err).Error(), secretText) {
				t.Errorf("the server's text leaked: %q", err.Error())
			}
			var e *Error
			if !errors.As(err, &e) || e.Code != tt.wantCode || e.Reason != tt.wantReason {
				t.Errorf("got %+v, want code %d reason %q", e, tt.wantCode, tt.wantReason)
			}
			// Callers still classify the original.
			if !errors.Is(err, tt.err) {
				t.Error("errors.Is lost the original error")
			}
			if apierrors.IsConflict(tt.err) != apierrors.IsConflict(err) || apierrors.IsInvalid(tt.err) != apierrors.IsInvalid(err) {
				t.Error("apierrors classification changed by wrapping")
			}
		})
	}
	if Wrap(OpRead, "Secret", "x", nil) != nil {
		t.Error("Wrap(nil) != nil")
	}
	inner := Wrap(OpRead, "Secret", "x", statusError(404, metav1.StatusReasonNotFound))
	if got := Wrap(OpUpdate, "Deployment", "y", inner); got.Error() != inner.Error() {
		t.Errorf("an *Error is wrapped again: %q", got.Error())
	}
}

type timeoutErr struct{}

func (timeoutErr) Error() string   { return "i/o timeout " + secretText }
func (timeoutErr) Timeout() bool   { return true }
func (timeoutErr) Temporary() bool { return true }

// TestMessage: whatever reaches status or a log, joined or wrapped, carries
// no server message.
func TestMessage(t *testing.T) {
	wrapped := Wrap(OpApply, "Deployment", "api", statusError(422, metav1.StatusReasonInvalid))
	tests := map[string]struct {
		err  error
		want string
	}{
		"nil":            {err: nil, want: ""},
		"plain error":    {err: errors.New("dependsOn forms a cycle"), want: "dependsOn forms a cycle"},
		"wrapped *Error": {err: fmt.Errorf("phase: %w", wrapped), want: wrapped.Error()},
		"unwrapped API error": {
			err:  statusError(403, metav1.StatusReasonForbidden),
			want: "request about an object: the API server answered 403 Forbidden: refused by validation, an admission policy or webhook, or authorization (its message is not shown: it can quote the object)",
		},
		"joined": {
			err:  errors.Join(wrapped, statusError(409, metav1.StatusReasonConflict)),
			want: wrapped.Error() + "; request about an object: the API server answered 409 Conflict: the object changed since it was read; retrying",
		},
		"sanitized joined": {
			err:  Sanitize(errors.Join(wrapped, nil)),
			want: wrapped.Error(),
		},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			if got := Message(tt.err); got != tt.want {
				t.Errorf("Message =\n %q\nwant\n %q", got, tt.want)
			}
			if tt.err != nil && Sanitize(tt.err).Error() != tt.want {
				t.Errorf("Sanitize().Error() = %q", Sanitize(tt.err).Error())
			}
		})
	}
	if Sanitize(nil) != nil {
		t.Error("Sanitize(nil) != nil")
	}
}

func TestExhaustedAndEncoding(t *testing.T) {
	if got, want := Exhausted("Secret", "payments-dev-generated", 5).Error(), "Secret payments-dev-generated changed on every one of 5 attempts; retrying"; got != want {
		t.Errorf("Exhausted = %q, want %q", got, want)
	}
	inner := errors.New("json: unsupported value")
	err := Encoding(OpRender, "Deployment", "api", inner)
	if got, want := err.Error(), "rendering Deployment api: json: unsupported value"; got != want {
		t.Errorf("Encoding = %q, want %q", got, want)
	}
	if !errors.Is(err, inner) {
		t.Error("Encoding does not unwrap to its cause")
	}
	if got := Message(Exhausted("PersistentVolumeClaim", "shop-db-data", 5)); got != "PersistentVolumeClaim shop-db-data changed on every one of 5 attempts; retrying" {
		t.Errorf("Message = %q: status shows what Exhausted says", got)
	}
}
