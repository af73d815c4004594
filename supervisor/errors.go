package supervisor

import (
	"fmt"
	"strconv"

	"github.com/polyboot/polyboot/protocol"
)

// The errors the supervisor returns are plain Go errors: an *Error says what went wrong in the
// supervisor's terms (its Kind), a *HandlerError passes on what the handler or its adapter
// reported. Which Lambda error type each becomes is decided elsewhere, in one place (invoke.Report,
// docs/errors.md).

// Kind says what went wrong with a worker or an invocation.
type Kind int

// The kinds of Error. The zero Kind is none of them.
const (
	// KindExit: the worker process ended (during init, or during the invocation). The message has
	// its exit status or signal and its last log lines.
	KindExit Kind = iota + 1
	// KindTimeout: the invocation's deadline (its context's) passed; the worker's process group
	// was killed, unless the worker had replied and only its response stream was late.
	KindTimeout
	// KindProtocol: the worker broke the channel protocol (docs/protocol.md): a line that is not a
	// reply, a reply for another request, a reply before it read the whole invoke line. The worker
	// was killed.
	KindProtocol
	// KindEvent: the event cannot be passed to the worker (it is not valid JSON); the worker was
	// not involved.
	KindEvent
	// KindStart: the worker cannot be started: the command cannot be run, it speaks another channel
	// protocol version, or the configuration lacks a command or a log sink.
	KindStart
	// KindInitTimeout: the worker did not load the handler within Config.InitTimeout; it was
	// killed.
	KindInitTimeout
	// KindBody: the body stream failed in the bootstrap (its FIFO could not be made or read); the
	// worker is not at fault.
	KindBody
	// KindTooLarge: the collected response is over protocol.MaxResponseSize; Error.Size is its
	// real size. The worker stays.
	KindTooLarge
)

// String returns the kind's name (its constant's, without Kind), for messages and tests.
func (k Kind) String() string {
	switch k {
	case KindExit:
		return "Exit"
	case KindTimeout:
		return "Timeout"
	case KindProtocol:
		return "Protocol"
	case KindEvent:
		return "Event"
	case KindStart:
		return "Start"
	case KindInitTimeout:
		return "InitTimeout"
	case KindBody:
		return "Body"
	case KindTooLarge:
		return "TooLarge"
	}
	return "Kind(" + strconv.Itoa(int(k)) + ")"
}

// Error is a failure of a worker or an invocation that the supervisor found, described by its
// Kind and a message for the function's caller.
type Error struct {
	Kind Kind
	Msg  string
	Size int64 // the response's size in bytes, for KindTooLarge
}

// Error returns the message.
func (e *Error) Error() string { return e.Msg }

// errorf returns an *Error of kind k with a formatted message.
func errorf(k Kind, format string, args ...any) *Error {
	return &Error{Kind: k, Msg: fmt.Sprintf(format, args...)}
}

// tooLargeError is the error of a collected response of size bytes, over protocol.MaxResponseSize.
func tooLargeError(size int64) *Error {
	return &Error{Kind: KindTooLarge, Msg: protocol.ResponseTooLargeMessage(size), Size: size}
}

// HandlerError is an error the handler or its adapter reported: an error reply, an init_error
// line, or an over-long error reply cut short (protocol.TruncatedReply). Report is passed on as the
// adapter sent it, with the supervisor's additions to its message: the log lines the reply asked
// for, and how the worker then ended when it died of a signal.
type HandlerError struct {
	Report *protocol.ErrorReport
}

// Error returns the report's type and message.
func (e *HandlerError) Error() string { return e.Report.Error() }
