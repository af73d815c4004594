package invoke

import (
	"context"

	"go.uber.org/zap"
)

// warming runs Worker.Start in the background. Its context lives until a start is abandoned, so
// that a warm worker costs no new context per invocation.
type warming struct {
	ctx     context.Context
	cancel  context.CancelFunc
	done    chan error
	running bool // a Start has not been waited for yet
}

// warm makes sure the worker is being made warm while the loop waits for the next invocation: a
// worker replaced after a crash or timeout restarts while the loop already waits on /next, so
// the restart is not added to the invocation that failed (the Runtime API counts it done only
// when the runtime asks for the next one). A start already in progress goes on.
func (l *Loop) warm(ctx context.Context) {
	if (l.starting == nil || !l.starting.running) && l.Worker.Warm() {
		return
	}
	w := l.starting
	if w == nil || w.ctx.Err() != nil {
		sctx, cancel := context.WithCancel(ctx)
		w = &warming{ctx: sctx, cancel: cancel, done: make(chan error, 1)}
		l.starting = w
	}
	if !w.running {
		w.running = true
		go func() { w.done <- l.Worker.Start(w.ctx) }()
	}
}

// awaitWarm waits for the start in progress, if any, and reports true once it ended. A worker
// that could not start is logged and left for Invoke to try again and report. When ictx (the
// invocation's deadline) ends first, the start is abandoned, as Lambda bounds a re-init by the
// function's timeout; awaitWarm reports false when that, or a shutdown, cut it short: the
// invocation timed out.
func (l *Loop) awaitWarm(ctx, ictx context.Context) bool {
	w := l.starting
	if w == nil || !w.running {
		return true
	}
	w.running = false
	var err error
	select {
	case err = <-w.done:
	case <-ictx.Done():
		w.cancel()
		// The worker's methods never run at once: wait for Start to return. A start that ended
		// well (or had nothing to do) leaves the timeout to Invoke.
		if err = <-w.done; err != nil {
			return false
		}
	}
	switch {
	case err != nil && ctx.Err() != nil:
		return false // cut short by the shutdown: no new worker for the grace
	case err != nil:
		l.Log.Warn("worker could not be restarted; the next invocation will try again", zap.Error(err))
	}
	return true
}

// stopWarming abandons a start in progress and waits until it returned.
func (l *Loop) stopWarming() {
	w := l.starting
	if w == nil {
		return
	}
	l.starting = nil
	w.cancel()
	if w.running {
		<-w.done
	}
}
