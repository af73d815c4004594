package supervisor

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/polyboot/polyboot/protocol"
)

// Error types the supervisor reports (docs/errors.md).
const (
	ErrTypeExit         = "Runtime.ExitError"
	ErrTypeTimeout      = "Sandbox.Timedout"
	ErrTypeInvalidReply = "Runtime.InvalidReply"
	ErrTypeUnmarshal    = "Runtime.UnmarshalError"
	ErrTypeStart        = "Runtime.InvalidEntrypoint"
	ErrTypeInitTimeout  = "Runtime.InitTimeout"
)

// Config describes the worker process to run.
type Config struct {
	Argv []string                    // interpreter, its arguments, adapter script, handler file, function, module
	Dir  string                      // working directory (LAMBDA_TASK_ROOT)
	Env  []string                    // complete environment
	Logs LogSink                     // receives the worker's log lines
	Warn func(msg string, kv ...any) // bootstrap-level warnings; may be nil

	// StopGrace is how long Close waits after SIGTERM before SIGKILL. Zero means 300 ms.
	StopGrace time.Duration
	// ReapWait bounds how long the supervisor waits for a dead worker's last reply and log bytes.
	// Zero means 500 ms.
	ReapWait time.Duration
	// LogPTY makes the worker's log stream (fd 2) a pseudo-terminal instead of a pipe.
	LogPTY bool
	// InitTimeout bounds how long a worker may take to load the handler and say it is ready, as
	// Lambda bounds its init phase. Zero means 10 s.
	InitTimeout time.Duration
}

// Worker is one warm interpreter process, restarted when it dies. A Worker serves one invocation
// at a time; run several Workers for concurrency. Its methods must not be called concurrently.
type Worker struct {
	cfg     Config
	spawner *Spawner
	proc    *process
	line    []byte                  // reused invoke line buffer
	stream  io.Writer               // the body's destination during InvokeStream
	busy    atomic.Pointer[process] // the process running an invocation, for Terminate
}

// NewWorker returns a worker that is not yet running; Start or Invoke starts it.
func NewWorker(sp *Spawner, cfg Config) *Worker {
	if cfg.StopGrace == 0 {
		cfg.StopGrace = 300 * time.Millisecond
	}
	if cfg.ReapWait == 0 {
		cfg.ReapWait = 500 * time.Millisecond
	}
	if cfg.InitTimeout == 0 {
		cfg.InitTimeout = 10 * time.Second
	}
	if cfg.Warn == nil {
		cfg.Warn = func(string, ...any) {}
	}
	return &Worker{cfg: cfg, spawner: sp}
}

// Start makes sure the worker process runs and has loaded the handler. A handler that cannot be
// loaded gives a *protocol.ErrorReport (from the adapter's init_error line, or Runtime.ExitError
// when the process died first). A process that exited since it was started is replaced.
func (w *Worker) Start(ctx context.Context) error {
	if p := w.proc; p != nil {
		select {
		case <-p.exited:
			w.replaceDead(ctx, p)
		default:
			return nil
		}
	}
	if len(w.cfg.Argv) == 0 || w.cfg.Logs == nil {
		return protocol.Errorf(ErrTypeStart, "worker configuration lacks a command or a log sink")
	}
	p, err := startProcess(w.spawner, w.cfg.Argv, w.cfg.Dir, w.cfg.Env, w.cfg.Logs, w.cfg.LogPTY)
	if err != nil {
		return protocol.Errorf(ErrTypeStart, "cannot start %s: %v", strings.Join(w.cfg.Argv, " "), err)
	}
	initTimer := time.NewTimer(w.cfg.InitTimeout)
	defer initTimer.Stop()
	select {
	case l := <-p.lines:
		switch {
		case l.ended && w.exitsSoon(p):
			return w.diedDuringInit(ctx, p)
		case l.err != nil:
			w.discard(ctx, p)
			return protocol.Errorf(ErrTypeInvalidReply, "the worker broke the channel protocol before ready: %v", l.err)
		case l.reply.Type == protocol.ReplyReady:
			w.proc = p
			return nil
		case l.reply.Type == protocol.ReplyInitError:
			w.discard(ctx, p)
			return l.reply.Report()
		default:
			w.discard(ctx, p)
			return protocol.Errorf(ErrTypeInvalidReply, "worker sent %q before ready", l.reply.Type)
		}
	case <-p.exited:
		// An adapter that reported its init error and then exited has still reported it.
		if r, ok := w.lastLine(p, func(r *protocol.Reply) bool { return r.Type == protocol.ReplyInitError }); ok {
			w.discard(ctx, p)
			return r.Report()
		}
		return w.diedDuringInit(ctx, p)
	case <-initTimer.C:
		p.killGroup(syscall.SIGKILL)
		<-p.exited
		msg := fmt.Sprintf("the worker did not load the handler within %v", w.cfg.InitTimeout)
		if tail := w.tail(ctx, p, 10); len(tail) > 0 {
			msg += "; last log lines:\n" + strings.Join(tail, "\n")
		}
		w.discard(ctx, p)
		return protocol.Errorf(ErrTypeInitTimeout, "%s", msg)
	case <-ctx.Done():
		w.discard(ctx, p)
		return fmt.Errorf("starting worker: %w", ctx.Err())
	}
}

// diedDuringInit reports a worker that exited before it was ready. The report is made before the
// process is discarded: discarding closes the log stream the report takes its last lines from.
func (w *Worker) diedDuringInit(ctx context.Context, p *process) error {
	report := w.exitReport(ctx, p, "the worker exited during init")
	w.discard(ctx, p)
	return report
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

// Invoke runs one invocation and returns the response body, or the error to report. ctx carries
// the time the invocation may take: when it expires, the worker's process group is killed and a
// timeout error is returned. The worker is restarted on the next Start or Invoke after it died.
// The body is valid until the worker's next Invoke returns (its buffer is then reused).
func (w *Worker) Invoke(ctx context.Context, inv *protocol.Invocation) ([]byte, *protocol.ErrorReport) {
	event, err := protocol.PrepareEvent(inv.Payload)
	if err != nil {
		return nil, protocol.Errorf(ErrTypeUnmarshal, "Unable to unmarshal input: %v", err)
	}
	invoked := time.Now()
	if ctx.Err() != nil {
		// Out of time before it began: fail it without touching a healthy worker.
		return nil, timeoutReport(invoked, nil)
	}
	p, report := w.prepare(ctx, inv.RequestID, invoked)
	if report != nil {
		return nil, report
	}
	w.busy.Store(p)
	defer w.busy.Store(nil)
	started := time.Now()
	w.line = protocol.AppendInvokeLine(w.line[:0], inv, event)
	written := make(chan error, 1)
	go func(line []byte) {
		_, err := p.in.Write(line)
		written <- err
	}(w.line)

	// A reply may only come once the whole line was read; the line's write ends first.
	var reply lineOrErr
	for got := false; !got; {
		select {
		case l := <-p.lines:
			if l.ended && w.exitsSoon(p) {
				// The channel closed because the worker is dying: report the death.
				p.in.Close()
				if written != nil {
					<-written
				}
				return nil, w.died(ctx, p, started)
			}
			reply, got = l, true
		case err := <-written:
			written = nil
			if err != nil {
				p.killGroup(syscall.SIGKILL)
			}
		case <-p.exited:
			p.in.Close() // unblocks a write still in progress
			if written != nil {
				<-written
			}
			// An adapter that answered and then exited has still answered.
			if r, ok := w.lastLine(p, func(r *protocol.Reply) bool { return r.ID == inv.RequestID }); ok {
				return w.finish(ctx, p, inv.RequestID, lineOrErr{reply: r})
			}
			return nil, w.died(ctx, p, started)
		case <-ctx.Done():
			p.killGroup(syscall.SIGKILL)
			<-p.exited
			p.in.Close()
			if written != nil {
				<-written
			}
			return nil, w.timedOut(ctx, p, invoked)
		}
	}
	if written != nil {
		if report := w.awaitWrite(p, written, &reply); report != nil {
			return nil, report
		}
	}
	return w.finish(ctx, p, inv.RequestID, reply)
}

// awaitWrite waits for the invoke line's write to end after the reply came. The write ends soon
// unless the worker replied without reading the whole line: such a worker is out of step with the
// channel and is killed (after ReapWait). A worker that exited after its reply has its reply kept.
// The write never outlives the invocation: the next one reuses the line's buffer.
func (w *Worker) awaitWrite(p *process, written <-chan error, reply *lineOrErr) *protocol.ErrorReport {
	timer := time.NewTimer(w.cfg.ReapWait)
	defer timer.Stop()
	select {
	case err := <-written:
		if err != nil && reply.err == nil {
			reply.err = fmt.Errorf("writing invoke line: %w", err)
		}
		return nil
	case <-p.exited:
		p.in.Close() // ends the write; Close waits for it
		<-written
		return nil
	case <-timer.C:
		p.killGroup(syscall.SIGKILL)
		<-p.exited
		p.in.Close()
		<-written
		return w.fail(context.Background(), p, ErrTypeInvalidReply, "the worker replied before reading the whole invoke line")
	}
}

// errWorkerGone is begin's error for a worker process that ended since the last invocation.
var errWorkerGone = errors.New("the worker exited between invocations")

// prepare makes sure a worker process runs and readies it for the invocation requestID. A process
// found to have exited since the last invocation is replaced, once: its death is no fault of the
// invocation about to run. A deadline that passes while a worker starts is the timeout of the
// invocation, which was invoked at invoked.
func (w *Worker) prepare(ctx context.Context, requestID string, invoked time.Time) (*process, *protocol.ErrorReport) {
	for retried := false; ; retried = true {
		if err := w.Start(ctx); err != nil {
			var report *protocol.ErrorReport
			switch {
			case errors.As(err, &report):
				return nil, report
			case ctx.Err() != nil:
				return nil, timeoutReport(invoked, nil)
			}
			return nil, protocol.Errorf(ErrTypeStart, "%v", err)
		}
		p := w.proc
		err := w.begin(ctx, p, requestID)
		switch {
		case err == nil:
			return p, nil
		case errors.Is(err, errWorkerGone) && !retried:
			w.replaceDead(ctx, p)
		case errors.Is(err, errWorkerGone):
			report := w.exitReport(ctx, p, "the worker exited before the invocation")
			w.discard(ctx, p)
			return nil, report
		default:
			return nil, w.fail(ctx, p, ErrTypeInvalidReply, err.Error())
		}
	}
}

// replaceDead forgets a process that exited between invocations, so that the next Start starts
// a new one.
func (w *Worker) replaceDead(ctx context.Context, p *process) {
	w.cfg.Warn("the worker exited between invocations; starting a new one", "status", exitDescription(p.state))
	w.discard(ctx, p)
}

// InvokeStream runs one invocation like Invoke, but the response body goes to out as the handler
// writes it (from the body pump's goroutine; a slow out slows the handler down). out gets no
// write after InvokeStream returns. The error, if any, is returned as Invoke's.
func (w *Worker) InvokeStream(ctx context.Context, inv *protocol.Invocation, out io.Writer) *protocol.ErrorReport {
	w.stream = out
	defer func() { w.stream = nil }()
	body, report := w.Invoke(ctx, inv)
	if report == nil && len(body) > 0 {
		if _, err := out.Write(body); err != nil {
			return protocol.Errorf(ErrTypeInvalidReply, "streaming the response: %v", err)
		}
	}
	return report
}

// begin retags the log stream and discards stray body bytes before an invocation starts. Its
// drains are short and bounded by ReapWait, not by the invocation's deadline: a deadline that
// passes meanwhile is the invocation's timeout, which Invoke reports, not a broken worker.
func (w *Worker) begin(ctx context.Context, p *process, requestID string) error {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), w.cfg.ReapWait)
	defer cancel()
	select {
	case l := <-p.lines:
		if l.ended && w.exitsSoon(p) {
			return errWorkerGone
		}
		if l.err != nil {
			return fmt.Errorf("channel broke between invocations: %w", l.err)
		}
		return fmt.Errorf("worker sent an unexpected %q line between invocations", l.reply.Type)
	default:
	}
	if err := p.logs.Sync(ctx, func() { p.split.retag(requestID) }); err != nil {
		return err
	}
	var stray int
	out := w.stream
	if err := p.body.Sync(ctx, func() { stray = len(p.buf); p.buf = p.buf[:0]; p.stream = out }); err != nil {
		return err
	}
	if stray > 0 {
		w.cfg.Warn("dropped response bytes written outside an invocation", "bytes", stray)
	}
	return nil
}

// finish turns a reply into the invocation's result.
func (w *Worker) finish(ctx context.Context, p *process, requestID string, l lineOrErr) ([]byte, *protocol.ErrorReport) {
	if l.err != nil {
		return nil, w.fail(ctx, p, ErrTypeInvalidReply, "the worker broke the channel protocol: "+l.err.Error())
	}
	r := l.reply
	if r.Type != protocol.ReplyResponse && r.Type != protocol.ReplyError {
		return nil, w.fail(ctx, p, ErrTypeInvalidReply, fmt.Sprintf("the worker sent %q instead of a reply", r.Type))
	}
	if r.ID != requestID {
		return nil, w.fail(ctx, p, ErrTypeInvalidReply,
			fmt.Sprintf("the worker replied for request %q during request %q", r.ID, requestID))
	}
	// The deadline may pass while the result is collected; the drains are short and bounded.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), w.cfg.ReapWait)
	defer cancel()
	var tail []string
	if err := p.logs.Sync(ctx, func() {
		p.split.flush()
		if r.Type == protocol.ReplyError && r.LogTail > 0 {
			tail = p.split.lastLines(r.LogTail)
		}
	}); err != nil {
		return nil, w.fail(ctx, p, ErrTypeInvalidReply, err.Error())
	}
	var body []byte
	var streamErr error
	if err := p.body.Sync(ctx, func() {
		p.stream = nil // the invocation's stream, if any, has had every byte
		streamErr, p.streamErr = p.streamErr, nil
		if r.Type == protocol.ReplyResponse {
			// Two buffers take turns: the one returned is not written again until the next
			// invocation has ended, by when its caller has posted it.
			body = p.buf
			p.buf, p.spare = p.spare[:0], p.buf
		} else {
			p.buf = p.buf[:0]
		}
	}); err != nil {
		return nil, w.fail(ctx, p, ErrTypeInvalidReply, err.Error())
	}
	if streamErr != nil {
		// The Runtime API stopped taking the stream (it reports why to the invoke loop); the rest
		// of the body was not sent.
		w.cfg.Warn("the response stream failed; the rest of the body was dropped", "error", streamErr.Error())
	}
	var ending string // how a worker that said its reply was final ended, when by a signal
	if r.Final {
		if !w.exitsSoon(p) {
			w.cfg.Warn("worker said its reply was final but did not exit; killing it")
		} else if ws, ok := p.state.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			ending = exitDescription(p.state)
		}
		w.discard(ctx, p)
	}
	if r.Type == protocol.ReplyError {
		report := r.Report()
		if ending != "" {
			report.Message += " (the worker then ended: " + ending + ")"
		}
		if len(tail) > 0 {
			report.Message += "\n" + strings.Join(tail, "\n")
		}
		return nil, report
	}
	if body == nil {
		body = []byte{}
	}
	return body, nil
}

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

// tail flushes a dead worker's log stream and returns its last n lines.
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
