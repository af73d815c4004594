package invoke

import (
	"context"
	"errors"
	"time"

	"github.com/polyboot/polyboot/protocol"
)

// Terminator is a Worker that can be asked to end the invocation in progress gracefully;
// *supervisor.Worker implements it. Terminate may be called while Invoke runs.
type Terminator interface {
	// Terminate sends SIGTERM to the worker's process group if an invocation is in progress.
	Terminate()
}

// errShutdown ends an invocation whose grace after SIGTERM has passed.
var errShutdown = errors.New("the runtime is shutting down")

// invocationContext is the context an invocation runs in. It ends at the invocation's deadline
// less Margin, and not when ctx ends: a shutdown (ctx ending on SIGTERM) sends the worker SIGTERM
// and ends the invocation Grace later, so a handler's TERM trap runs and its answer is kept.
func (l *Loop) invocationContext(ctx context.Context, inv *protocol.Invocation) (context.Context, context.CancelFunc) {
	gctx, cancel := context.WithCancelCause(context.WithoutCancel(ctx))
	ictx, dcancel := gctx, context.CancelFunc(func() {})
	if d := inv.Deadline(); !d.IsZero() {
		ictx, dcancel = context.WithDeadline(gctx, d.Add(-l.Margin))
	}
	stop := context.AfterFunc(ctx, func() {
		if t, ok := l.Worker.(Terminator); ok {
			t.Terminate()
		}
		time.AfterFunc(l.Grace, func() { cancel(errShutdown) })
	})
	return ictx, func() {
		stop()
		dcancel()
		cancel(nil)
	}
}

// postContext is the context an invocation's result is posted in: ctx, except that a shutdown
// leaves it until 2×Grace after ctx ended (Grace for the worker, then Grace for the post).
func (l *Loop) postContext(ctx context.Context) (context.Context, context.CancelFunc) {
	pctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	stop := context.AfterFunc(ctx, func() { time.AfterFunc(2*l.Grace, cancel) })
	return pctx, func() {
		stop()
		cancel()
	}
}

// ended is the report of an invocation, told that the runtime was shutting down when it was.
func (l *Loop) ended(ctx context.Context, report *protocol.ErrorReport) *protocol.ErrorReport {
	if ctx.Err() != nil {
		return shutdownReport(report, l.Grace)
	}
	return report
}
