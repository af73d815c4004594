package invoke

import (
	"context"
	"time"

	"github.com/polyboot/polyboot/protocol"
)

// Terminator is a Worker that can be asked to end the invocation in progress gracefully;
// *supervisor.Worker implements it. Terminate may be called while Invoke runs.
type Terminator interface {
	// Terminate sends SIGTERM to the worker's process group if an invocation is in progress.
	Terminate()
}

// contexts returns the context an invocation runs in (ictx) and the one its result is posted in
// (pctx). Neither ends when ctx ends: ictx ends at the invocation's deadline less Margin, and a
// shutdown (ctx ending on SIGTERM) sends the worker SIGTERM and ends ictx Grace later, so that a
// handler's TERM trap runs and its answer is kept; pctx ends Grace after that, for the post.
func (l *Loop) contexts(ctx context.Context, inv *protocol.Invocation) (ictx, pctx context.Context, cancel func()) {
	base := context.WithoutCancel(ctx)
	pctx, pcancel := context.WithCancel(base)
	var icancel context.CancelFunc
	if d := inv.Deadline(); d.IsZero() {
		ictx, icancel = context.WithCancel(base)
	} else {
		ictx, icancel = context.WithDeadline(base, d.Add(-l.Margin))
	}
	stop := context.AfterFunc(ctx, func() {
		if t, ok := l.Worker.(Terminator); ok {
			t.Terminate()
		}
		time.AfterFunc(l.Grace, icancel)
		time.AfterFunc(2*l.Grace, pcancel)
	})
	return ictx, pctx, func() {
		stop()
		icancel()
		pcancel()
	}
}

// ended is the report of an invocation, told that the runtime was shutting down when it was.
func (l *Loop) ended(ctx context.Context, report *protocol.ErrorReport) *protocol.ErrorReport {
	if ctx.Err() != nil {
		return shutdownReport(report, l.Grace)
	}
	return report
}
