package invoke

import (
	"errors"

	"github.com/polyboot/polyboot/protocol"
	"github.com/polyboot/polyboot/supervisor"
)

// Lambda error types the bootstrap reports (docs/errors.md). Report chooses them for a worker's
// errors; the loop reports ErrTypeInvalidDeadline, and ErrTypeTimeout for a restart that was not
// ready in time, itself.
const (
	// ErrTypeExit is reported for a worker process that ended during init or an invocation.
	ErrTypeExit = "Runtime.ExitError"
	// ErrTypeTimeout is Lambda's type for an invocation that ran out of time.
	ErrTypeTimeout = "Sandbox.Timedout"
	// ErrTypeInvalidReply is reported for a worker that broke the channel protocol.
	ErrTypeInvalidReply = "Runtime.InvalidReply"
	// ErrTypeUnmarshal is reported for an event that is not valid JSON.
	ErrTypeUnmarshal = "Runtime.UnmarshalError"
	// ErrTypeInvalidEntrypoint is reported for a worker that cannot be started, or that speaks
	// another channel protocol version.
	ErrTypeInvalidEntrypoint = "Runtime.InvalidEntrypoint"
	// ErrTypeInitTimeout is reported for a worker that did not load the handler in time.
	ErrTypeInitTimeout = "Runtime.InitTimeout"
	// ErrTypeBodyStream is reported when the bootstrap could not make or read an invocation's body
	// stream.
	ErrTypeBodyStream = "Runtime.BodyStreamError"
	// ErrTypeResponseTooLarge is reported for a response over the Runtime API's 6 MB limit.
	ErrTypeResponseTooLarge = protocol.ErrTypeResponseSizeTooLarge
	// ErrTypeInvalidDeadline is reported for an invocation whose Lambda-Runtime-Deadline-Ms header
	// is not a number.
	ErrTypeInvalidDeadline = "Runtime.InvalidDeadline"
	// ErrTypeUnknown is reported for an error of no known kind: Lambda's own type for an error it
	// cannot classify.
	ErrTypeUnknown = "Runtime.Unknown"
)

// Report returns the report to post for err, an error of a Worker's Invoke, InvokeStream or Start
// (nil for nil). It is the one place where the Lambda error types of those errors are chosen
// (docs/errors.md):
//   - a *supervisor.HandlerError is reported as the handler's adapter sent it;
//   - a *supervisor.Error gets the type of its Kind (KindTooLarge: protocol.ResponseTooLarge);
//   - an error that already is a *protocol.ErrorReport (the registry's) is reported as it is;
//   - any other error is Runtime.Unknown with the error's message, as Lambda itself types an
//     error it cannot classify (aws-lambda-go's Go type names would tell the caller nothing).
//
// The first three are found through wrapping (errors.As), and their report has their own message,
// without what wraps them.
func Report(err error) *protocol.ErrorReport {
	var handler *supervisor.HandlerError
	var se *supervisor.Error
	var report *protocol.ErrorReport
	switch {
	case err == nil:
		return nil
	case errors.As(err, &handler):
		return handler.Report
	case errors.As(err, &se):
		return errorReport(se)
	case errors.As(err, &report):
		return report
	}
	return protocol.Errorf(ErrTypeUnknown, "%v", err)
}

// errorReport is the report of a supervisor's error.
func errorReport(e *supervisor.Error) *protocol.ErrorReport {
	if e.Kind == supervisor.KindTooLarge {
		return protocol.ResponseTooLarge(e.Size)
	}
	return protocol.Errorf(kindType(e.Kind), "%s", e.Msg)
}

// kindType returns the Lambda error type of a supervisor's error of kind k (KindTooLarge has a
// report of its own: errorReport).
func kindType(k supervisor.Kind) string {
	switch k {
	case supervisor.KindExit:
		return ErrTypeExit
	case supervisor.KindTimeout:
		return ErrTypeTimeout
	case supervisor.KindProtocol:
		return ErrTypeInvalidReply
	case supervisor.KindEvent:
		return ErrTypeUnmarshal
	case supervisor.KindStart:
		return ErrTypeInvalidEntrypoint
	case supervisor.KindInitTimeout:
		return ErrTypeInitTimeout
	case supervisor.KindBody:
		return ErrTypeBodyStream
	}
	return ErrTypeUnknown
}
