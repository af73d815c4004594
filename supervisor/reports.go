package supervisor

import (
	"context"
	"fmt"
	"strings"
	"syscall"
	"time"

	"github.com/polyboot/polyboot/protocol"
)

// The errors the supervisor composes (errors.go): an *Error of the Kind that went wrong, or a
// *HandlerError with the report of an error reply.

// fail kills a worker that broke the protocol and reports why (KindProtocol).
func (w *Worker) fail(ctx context.Context, p *process, msg string) *Error {
	p.killGroup(syscall.SIGKILL)
	<-p.exited
	w.discard(ctx, p)
	return errorf(KindProtocol, "%s", msg)
}

// died reports a worker that exited during an invocation.
func (w *Worker) died(ctx context.Context, p *process, started time.Time) *Error {
	err := w.exitError(ctx, p, fmt.Sprintf("the worker exited after %s", time.Since(started).Round(time.Millisecond)))
	w.discard(ctx, p)
	return err
}

// timedOut reports an invocation that overran its deadline; the worker is already dead.
func (w *Worker) timedOut(ctx context.Context, p *process, started time.Time) *Error {
	tail := w.tail(ctx, p, 10)
	w.discard(ctx, p)
	return timeoutError(started, tail)
}

// timeoutError is the error of an invocation that started at started and ran out of time.
func timeoutError(started time.Time, tail []string) *Error {
	msg := fmt.Sprintf("Task timed out after %.2f seconds", time.Since(started).Seconds())
	if len(tail) > 0 {
		msg += "; last log lines:\n" + strings.Join(tail, "\n")
	}
	return errorf(KindTimeout, "%s", msg)
}

// exitError describes a dead worker with its exit status and the tail of its log output.
func (w *Worker) exitError(ctx context.Context, p *process, what string) *Error {
	status := exitDescription(p.state)
	msg := fmt.Sprintf("%s: %s", what, status)
	if code := p.state.ExitCode(); code == 126 {
		msg += " (a command was found but is not executable)"
	} else if code == 127 {
		msg += " (command not found)"
	}
	if tail := w.tail(ctx, p, 10); len(tail) > 0 {
		msg += "; last log lines:\n" + strings.Join(tail, "\n")
	}
	return errorf(KindExit, "%s", msg)
}

// errorReplyError is the error an error reply carries, with how the worker ended (when it said
// the reply was final and died by a signal) and the log lines it asked for.
func errorReplyError(r *protocol.Reply, ending string, tail []string) *HandlerError {
	report := r.Report()
	if ending != "" {
		report.Message += " (the worker then ended: " + ending + ")"
	}
	if len(tail) > 0 {
		report.Message += "\n" + strings.Join(tail, "\n")
	}
	return &HandlerError{Report: report}
}

// tail flushes a worker's log stream and returns its last n lines.
func (w *Worker) tail(ctx context.Context, p *process, n int) []string {
	var lines []string
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), w.cfg.ReapWait)
	defer cancel()
	_ = p.logs.Sync(sctx, func() {
		p.split.flush()
		lines = p.split.lastLines(n)
	})
	return lines
}
