package protocol

import (
	"fmt"
	"regexp"
	"time"
)

// Invocation is one event delivered by GET /runtime/invocation/next.
type Invocation struct {
	RequestID       string // Lambda-Runtime-Aws-Request-Id
	DeadlineMs      int64  // Lambda-Runtime-Deadline-Ms, Unix milliseconds
	FunctionARN     string // Lambda-Runtime-Invoked-Function-Arn
	TraceID         string // Lambda-Runtime-Trace-Id
	ClientContext   string // Lambda-Runtime-Client-Context, JSON text or ""
	CognitoIdentity string // Lambda-Runtime-Cognito-Identity, JSON text or ""
	TenantID        string // Lambda-Runtime-Aws-Tenant-Id
	Payload         []byte // the event, as the Runtime API delivered it
}

// Deadline returns the invocation's deadline as a time, or the zero time when none was given.
func (inv *Invocation) Deadline() time.Time {
	if inv.DeadlineMs <= 0 {
		return time.Time{}
	}
	return time.UnixMilli(inv.DeadlineMs)
}

// ErrTypeResponseSizeTooLarge is the error of a response over MaxResponseSize.
const ErrTypeResponseSizeTooLarge = "Function.ResponseSizeTooLarge"

// ResponseTooLarge is the error of a response of size bytes, over MaxResponseSize, in the words of
// Lambda's own runtimes.
func ResponseTooLarge(size int64) *ErrorReport {
	return Errorf(ErrTypeResponseSizeTooLarge, "%s", ResponseTooLargeMessage(size))
}

// ResponseTooLargeMessage is the message of ResponseTooLarge(size).
func ResponseTooLargeMessage(size int64) string {
	return fmt.Sprintf("Response payload size (%d bytes) exceeded maximum allowed payload size (%d bytes).",
		size, MaxResponseSize)
}

// ErrorReport is Lambda's error body: {"errorMessage","errorType","stackTrace"}, with
// "requestId" between the last two when an adapter gives one (awslambdaric's body; "" at init).
type ErrorReport struct {
	Message    string   `json:"errorMessage"`
	Type       string   `json:"errorType"`
	RequestID  *string  `json:"requestId,omitempty"`
	StackTrace []string `json:"stackTrace"`
}

// Error implements error, so that an ErrorReport can travel as one.
func (e *ErrorReport) Error() string { return e.Type + ": " + e.Message }

// Errorf builds an ErrorReport of the given type with a formatted message.
func Errorf(errorType, format string, args ...any) *ErrorReport {
	return &ErrorReport{Type: errorType, Message: fmt.Sprintf(format, args...), StackTrace: []string{}}
}

// headerErrorTypePattern is what the Runtime API keeps of Lambda-Runtime-Function-Error-Type.
var headerErrorTypePattern = regexp.MustCompile(`^(Runtime|Function)\.[A-Z][a-zA-Z]+$`)

// ErrorTypeHeader returns the value for the Lambda-Runtime-Function-Error-Type header: the error's
// own type when it has the form the Runtime API accepts (Runtime.X, Function.X), else "Unhandled".
// The body always carries the full type.
func ErrorTypeHeader(errorType string) string {
	if headerErrorTypePattern.MatchString(errorType) {
		return errorType
	}
	return "Unhandled"
}
