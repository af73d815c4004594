package invoke

import (
	"fmt"
	"time"

	"github.com/polyboot/polyboot/protocol"
)

// invalidDeadlineReport is the error of an invocation handed out with a deadline that is not a
// number.
func invalidDeadlineReport(bad *protocol.InvalidDeadlineError) *protocol.ErrorReport {
	return protocol.Errorf(ErrTypeInvalidDeadline,
		"The Runtime API sent %s: %q, not a number of milliseconds; the handler was not called.",
		protocol.HeaderDeadlineMs, bad.Value)
}

// restartTimeoutReport is the timeout of an invocation received at received whose deadline came
// while its worker was still being restarted.
func restartTimeoutReport(received time.Time) *protocol.ErrorReport {
	return protocol.Errorf(ErrTypeTimeout,
		"Task timed out after %.2f seconds (the worker was being restarted after the previous invocation failed, and was not ready in time)",
		time.Since(received).Seconds())
}

// shutdownReport adds to an invocation's error that the runtime was shutting down meanwhile.
func shutdownReport(report *protocol.ErrorReport, grace time.Duration) *protocol.ErrorReport {
	cp := *report
	cp.Message = fmt.Sprintf("The runtime was shut down (SIGTERM) during the invocation (its worker got SIGTERM, and %v to finish before SIGKILL): %s",
		grace, report.Message)
	return &cp
}
