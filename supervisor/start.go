package supervisor

import (
	"context"
	"fmt"
	"strings"
	"syscall"
	"time"

	"github.com/polyboot/polyboot/protocol"
)

// Warm reports whether the worker process runs (as far as the supervisor knows: one that exited
// a moment ago is found by Start or Invoke), so that Start would have nothing to do.
func (w *Worker) Warm() bool {
	if p := w.proc; p != nil {
		select {
		case <-p.exited:
		default:
			return true
		}
	}
	return false
}

// Start makes sure the worker process runs and has loaded the handler. A handler that cannot be
// loaded gives a *HandlerError (the adapter's init_error line), or an *Error: KindExit when the
// process died first, KindInitTimeout, KindProtocol for a first line that is neither, KindStart
// when it cannot be started or speaks another protocol version. A Start cut short by ctx returns
// ctx's error, wrapped. A process that exited since it was started is replaced.
func (w *Worker) Start(ctx context.Context) error {
	if w.Warm() {
		return nil
	}
	if p := w.proc; p != nil {
		w.replaceDead(ctx, p) // it exited
	}
	if len(w.cfg.Argv) == 0 || w.cfg.Logs == nil {
		return errorf(KindStart, "worker configuration lacks a command or a log sink")
	}
	p, err := startProcess(w.spawner, w.cfg.Argv, w.cfg.Dir, w.cfg.Env, w.cfg.Logs, w.cfg.LogPTY)
	if err != nil {
		return errorf(KindStart, "cannot start %s: %v", strings.Join(w.cfg.Argv, " "), err)
	}
	initTimer := time.NewTimer(w.cfg.InitTimeout)
	defer initTimer.Stop()
	select {
	case l := <-p.lines:
		return w.firstLine(ctx, p, l)
	case <-p.exited:
		// An adapter that reported its init error and then exited has still reported it.
		if r, ok := w.lastLine(p, func(r *protocol.Reply) bool { return r.Type == protocol.ReplyInitError }); ok {
			w.discard(ctx, p)
			return &HandlerError{Report: r.Report()}
		}
		return w.diedDuringInit(ctx, p)
	case <-initTimer.C:
		return w.initTimedOut(ctx, p)
	case <-ctx.Done():
		w.discard(ctx, p)
		return fmt.Errorf("starting worker: %w", ctx.Err())
	}
}

// firstLine takes the worker p's first reply: ready (in the version polyboot speaks) makes it the
// worker's process; anything else is the init error.
func (w *Worker) firstLine(ctx context.Context, p *process, l lineOrErr) error {
	switch {
	case l.ended && w.exitsSoon(p):
		return w.diedDuringInit(ctx, p)
	case l.err != nil:
		w.discard(ctx, p)
		return errorf(KindProtocol, "the worker broke the channel protocol before ready: %v", l.err)
	case l.reply.Type == protocol.ReplyReady && l.reply.SpokenVersion() != protocol.Version:
		w.discard(ctx, p)
		return errorf(KindStart,
			"the worker speaks channel protocol %d; polyboot requires protocol %d (docs/protocol.md): update the adapter or the executable",
			l.reply.SpokenVersion(), protocol.Version)
	case l.reply.Type == protocol.ReplyReady:
		w.proc = p
		return nil
	case l.reply.Type == protocol.ReplyInitError:
		w.discard(ctx, p)
		return &HandlerError{Report: l.reply.Report()}
	default:
		w.discard(ctx, p)
		return errorf(KindProtocol, "worker sent %q before ready", l.reply.Type)
	}
}

// initTimedOut kills a worker that did not load the handler within InitTimeout and reports it.
func (w *Worker) initTimedOut(ctx context.Context, p *process) error {
	p.killGroup(syscall.SIGKILL)
	<-p.exited
	msg := fmt.Sprintf("the worker did not load the handler within %v", w.cfg.InitTimeout)
	if tail := w.tail(ctx, p, 10); len(tail) > 0 {
		msg += "; last log lines:\n" + strings.Join(tail, "\n")
	}
	w.discard(ctx, p)
	return errorf(KindInitTimeout, "%s", msg)
}

// diedDuringInit reports a worker that exited before it was ready. The error is made before the
// process is discarded: discarding closes the log stream the error takes its last lines from.
func (w *Worker) diedDuringInit(ctx context.Context, p *process) error {
	err := w.exitError(ctx, p, "the worker exited during init")
	w.discard(ctx, p)
	return err
}

// exitsSoon reports whether p exits within ReapWait. Ask it only of a worker that ended its channel
// (it is probably dying): it costs ReapWait when the worker lives on.
func (w *Worker) exitsSoon(p *process) bool {
	timer := time.NewTimer(w.cfg.ReapWait)
	defer timer.Stop()
	select {
	case <-p.exited:
		return true
	case <-timer.C:
		return false
	}
}

// lastLine returns the first reply a dead process managed to write that satisfies match, if any.
// It reads the channel to its end, which comes soon after the exit (the process group is killed),
// waiting at most ReapWait.
func (w *Worker) lastLine(p *process, match func(*protocol.Reply) bool) (*protocol.Reply, bool) {
	timer := time.NewTimer(w.cfg.ReapWait)
	defer timer.Stop()
	for {
		select {
		case l := <-p.lines:
			if l.err != nil {
				return nil, false
			}
			if match(l.reply) {
				return l.reply, true
			}
		case <-timer.C:
			return nil, false
		}
	}
}

// replaceDead forgets a process that exited between invocations, so that the next Start starts
// a new one.
func (w *Worker) replaceDead(ctx context.Context, p *process) {
	w.cfg.Warn("the worker exited between invocations; starting a new one", "status", exitDescription(p.state))
	w.discard(ctx, p)
}

// discard forgets a dead or dying process.
func (w *Worker) discard(ctx context.Context, p *process) {
	select {
	case <-p.exited:
	default:
		p.killGroup(syscall.SIGKILL)
		<-p.exited
	}
	w.tail(ctx, p, 0) // log whatever it wrote last
	p.release()
	if w.proc == p {
		w.proc = nil
	}
}

// Terminate sends SIGTERM to the process group of the invocation in progress, if any, so that a
// shutdown gives it a grace (its TERM traps run, its answer may still come) before the invocation's
// context ends and the group is killed. Unlike the other methods, it may be called while Invoke
// runs, from another goroutine.
func (w *Worker) Terminate() {
	if p := w.busy.Load(); p != nil {
		p.killGroup(syscall.SIGTERM)
	}
}

// Close stops the worker: EOF on its channel, SIGTERM to its process group, SIGKILL after
// StopGrace. It returns once the process is gone, with what dead workers left behind.
func (w *Worker) Close() error {
	defer w.spawner.sweepDead() // nothing a worker left behind outlives a shutdown
	p := w.proc
	if p == nil {
		return nil
	}
	p.in.Close()
	p.killGroup(syscall.SIGTERM)
	timer := time.NewTimer(w.cfg.StopGrace)
	defer timer.Stop()
	select {
	case <-p.exited:
	case <-timer.C:
		p.killGroup(syscall.SIGKILL)
		<-p.exited
	}
	w.discard(context.Background(), p)
	return nil
}
