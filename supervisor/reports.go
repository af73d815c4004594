package supervisor

import (
	"context"
	"fmt"
	"strings"
	"syscall"
	"time"

	"github.com/polyboot/polyboot/protocol"
)

// The errors the supervisor composes. Each is a *protocol.ErrorReport with its Lambda error type.
// (Mapping the types in one place on the invoke side, the supervisor returning plain Go errors, is
// left for after the invoke-api branch lands: issue #11, "Structure".)

// fail kills a worker that broke the protocol and reports why.
func (w *Worker) fail(ctx context.Context, p *process, errorType, msg string) *protocol.ErrorReport {
	p.killGroup(syscall.SIGKILL)
	<-p.exited
	w.discard(ctx, p)
	return protocol.Errorf(errorType, "%s", msg)
}

// died reports a worker that exited during an invocation.
func (w *Worker) died(ctx context.Context, p *process, started time.Time) *protocol.ErrorReport {
	report := w.exitReport(ctx, p, fmt.Sprintf("the worker exited after %s", time.Since(started).Round(time.Millisecond)))
	w.discard(ctx, p)
	return report
}

// timedOut reports an invocation that overran its deadline; the worker is already dead.
func (w *Worker) timedOut(ctx context.Context, p *process, started time.Time) *protocol.ErrorReport {
	tail := w.tail(ctx, p, 10)
	w.discard(ctx, p)
	return timeoutReport(started, tail)
}

// timeoutReport is the error of an invocation that started at started and ran out of time.
func timeoutReport(started time.Time, tail []string) *protocol.ErrorReport {
	msg := fmt.Sprintf("Task timed out after %.2f seconds", time.Since(started).Seconds())
	if len(tail) > 0 {
		msg += "; last log lines:\n" + strings.Join(tail, "\n")
	}
	return protocol.Errorf(ErrTypeTimeout, "%s", msg)
}

// exitReport describes a dead worker with its exit status and the tail of its log output.
func (w *Worker) exitReport(ctx context.Context, p *process, what string) *protocol.ErrorReport {
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
	return protocol.Errorf(ErrTypeExit, "%s", msg)
}

// errorReplyReport is the error an error reply carries, with how the worker ended (when it said
// the reply was final and died by a signal) and the log lines it asked for.
func errorReplyReport(r *protocol.Reply, ending string, tail []string) *protocol.ErrorReport {
	report := r.Report()
	if ending != "" {
		report.Message += " (the worker then ended: " + ending + ")"
	}
	if len(tail) > 0 {
		report.Message += "\n" + strings.Join(tail, "\n")
	}
	return report
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
