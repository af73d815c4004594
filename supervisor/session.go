package supervisor

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/polyboot/polyboot/protocol"
)

// Invoke runs one invocation and returns the response body, or its error: a *HandlerError when
// the handler failed, an *Error (errors.go) when the supervisor found the invocation or the worker
// at fault. ctx carries the time the invocation may take: when it expires, the worker's process
// group is killed and a KindTimeout error is returned. The worker is restarted on the next Start
// or Invoke after it died. The body is valid until the worker's next Invoke returns (its buffer is
// then reused). A body over protocol.MaxResponseSize is a KindTooLarge error, with its real size;
// only its first MaxResponseSize+1 bytes are ever kept.
func (w *Worker) Invoke(ctx context.Context, inv *protocol.Invocation) ([]byte, error) {
	return w.invoke(ctx, inv, nil)
}

// invoke runs one invocation whose body is collected, or streamed to out when out is not nil.
func (w *Worker) invoke(ctx context.Context, inv *protocol.Invocation, out io.Writer) ([]byte, error) {
	event, err := protocol.PrepareEvent(inv.Payload)
	if err != nil {
		return nil, errorf(KindEvent, "Unable to unmarshal input: %v", err)
	}
	invoked := time.Now()
	if ctx.Err() != nil {
		// Out of time before it began: fail it without touching a healthy worker.
		return nil, timeoutError(invoked, nil)
	}
	p, err := w.prepare(ctx, inv.RequestID, invoked)
	if err != nil {
		return nil, err
	}
	b, err := p.openBody(out, w.cfg.TrimTrailingNewlines)
	if err != nil {
		return nil, errorf(KindBody, "%v", err)
	}
	defer func() {
		b.close() // if end did not: its reader and stream queue stop before Invoke returns
		if w.proc == p {
			p.retired = b
			p.prepareAhead() // unlinks it and makes the next FIFO while the result is posted
		} else {
			b.retire() // the process is gone, and with it the FIFO's folder, usually
		}
	}()
	w.busy.Store(p)
	defer w.busy.Store(nil)
	w.line = protocol.AppendInvokeLine(w.line[:0], enforced(ctx, inv), b.path, event)
	// The worker answers with the id as the invoke line carried it (bytes that are not UTF-8 as
	// U+FFFD); the result is still the invocation's, posted to its own id.
	id := protocol.LineString(inv.RequestID)
	reply, err := w.exchange(ctx, p, b, id, invoked)
	if err != nil {
		return nil, err
	}
	return w.finish(ctx, p, b, id, reply, invoked)
}

// enforced returns inv with the deadline the invocation is held to (ctx's, when it is earlier than
// the Runtime API's), as docs/protocol.md promises the worker. inv itself is not changed.
func enforced(ctx context.Context, inv *protocol.Invocation) *protocol.Invocation {
	d, ok := ctx.Deadline()
	if !ok || (inv.DeadlineMs > 0 && d.UnixMilli() >= inv.DeadlineMs) {
		return inv
	}
	cp := *inv
	cp.DeadlineMs = d.UnixMilli()
	return &cp
}

// exchange writes the invoke line in w.line and waits for the reply, or for the worker's death or
// the deadline, which it reports; it starts the body's reader if the invocation runs long enough
// to need one. requestID is in its invoke line form (protocol.LineString).
func (w *Worker) exchange(ctx context.Context, p *process, b *bodyFifo, requestID string, invoked time.Time) (lineOrErr, error) {
	started := time.Now()
	written := writeLine(p.in, w.line)
	// endWrite makes sure the write has ended: the next invocation reuses the line's buffer.
	endWrite := func() {
		p.in.Close() // unblocks a write still in progress
		if written != nil {
			<-written
		}
	}
	var readerDue <-chan time.Time
	if b.needsReader() {
		t := time.NewTimer(bodyReaderAfter)
		defer t.Stop()
		readerDue = t.C
	}
	// A reply may only come once the whole line was read; the line's write ends first.
	for {
		select {
		case l := <-p.lines:
			if l.ended && w.exitsSoon(p) {
				// The channel closed because the worker is dying: report the death.
				endWrite()
				return l, w.died(ctx, p, started)
			}
			if written != nil {
				if err := w.awaitWrite(p, written, &l); err != nil {
					return l, err
				}
			}
			return l, nil
		case err := <-written:
			written = nil
			if err != nil {
				p.killGroup(syscall.SIGKILL)
			}
		case <-readerDue:
			readerDue = nil
			if err := b.startReader(); err != nil {
				p.killGroup(syscall.SIGKILL)
				<-p.exited
				endWrite()
				w.discard(ctx, p)
				return lineOrErr{}, errorf(KindBody, "reading the response body: %v", err)
			}
		case <-p.exited:
			endWrite()
			// An adapter that answered and then exited has still answered.
			if r, ok := w.lastLine(p, func(r *protocol.Reply) bool { return r.ID == requestID }); ok {
				return lineOrErr{reply: r}, nil
			}
			return lineOrErr{}, w.died(ctx, p, started)
		case <-ctx.Done():
			p.killGroup(syscall.SIGKILL)
			<-p.exited
			endWrite()
			return lineOrErr{}, w.timedOut(ctx, p, invoked)
		}
	}
}

// writeLine writes line to the channel in. What the pipe takes at once is written here; the rest,
// if any, by a goroutine whose result the returned channel gives. It returns nil when the whole
// line was written (a warm invocation's event fits the pipe: no goroutine).
func writeLine(in *os.File, line []byte) <-chan error {
	n := 0
	if raw, err := in.SyscallConn(); err == nil {
		_ = raw.Write(func(fd uintptr) bool {
			if m, err := unix.Write(int(fd), line); err == nil {
				n = m
			}
			return true // one attempt, never a wait
		})
	}
	if n == len(line) {
		return nil
	}
	written := make(chan error, 1)
	go func(rest []byte) {
		_, err := in.Write(rest)
		written <- err
	}(line[n:])
	return written
}

// awaitWrite waits for the invoke line's write to end after the reply came. The write ends soon
// unless the worker replied without reading the whole line: such a worker is out of step with the
// channel and is killed (after ReapWait). A worker that exited after its reply has its reply kept.
// The write never outlives the invocation: the next one reuses the line's buffer.
func (w *Worker) awaitWrite(p *process, written <-chan error, reply *lineOrErr) error {
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
		return w.fail(context.Background(), p, "the worker replied before reading the whole invoke line")
	}
}

// Reasons begin gives for a worker that cannot take the invocation and is replaced, at no cost to
// the invocation.
var (
	errWorkerGone = errors.New("the worker exited between invocations")
	errStrayLine  = errors.New("the worker wrote to its channel between invocations")
)

// prepare makes sure a worker process runs and readies it for the invocation requestID. A process
// found to have exited, or to have written a stray line, since the last invocation is replaced,
// once: that is no fault of the invocation about to run. A deadline that passes while a worker
// starts is the timeout of the invocation, which was invoked at invoked.
func (w *Worker) prepare(ctx context.Context, requestID string, invoked time.Time) (*process, error) {
	for retried := false; ; retried = true {
		if err := w.Start(ctx); err != nil {
			return nil, startFailed(ctx, err, invoked)
		}
		p := w.proc
		err := w.begin(ctx, p, requestID)
		switch {
		case err == nil:
			return p, nil
		case errors.Is(err, errWorkerGone) && !retried:
			w.replaceDead(ctx, p)
		case errors.Is(err, errStrayLine) && !retried:
			w.cfg.Warn("restarting the worker: "+err.Error(), "requestId", requestID)
			w.discard(ctx, p)
		case errors.Is(err, errWorkerGone):
			exit := w.exitError(ctx, p, "the worker exited before the invocation")
			w.discard(ctx, p)
			return nil, exit
		default:
			return nil, w.fail(ctx, p, err.Error())
		}
	}
}

// startFailed is the error of an invocation, invoked at invoked, whose worker did not start with
// err: the init error Start found, else the invocation's timeout when ctx ended meanwhile.
func startFailed(ctx context.Context, err error, invoked time.Time) error {
	var se *Error
	var he *HandlerError
	switch {
	case errors.As(err, &se), errors.As(err, &he):
		return err
	case ctx.Err() != nil:
		return timeoutError(invoked, nil)
	}
	return errorf(KindStart, "%v", err)
}

// begin checks that nothing came on the channel out since the last invocation and retags the log
// stream. Its drain is short and bounded by ReapWait, not by the invocation's deadline: a deadline
// that passes meanwhile is the invocation's timeout, which Invoke reports, not a broken worker.
func (w *Worker) begin(ctx context.Context, p *process, requestID string) error {
	select {
	case l := <-p.lines:
		if l.ended && w.exitsSoon(p) {
			return errWorkerGone
		}
		if l.err != nil {
			return fmt.Errorf("%w: %v", errStrayLine, l.err)
		}
		return fmt.Errorf("%w: a %q line (id %q)", errStrayLine, l.reply.Type, l.reply.ID)
	default:
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), w.cfg.ReapWait)
	defer cancel()
	return p.logs.Sync(ctx, func() { p.split.retag(requestID) })
}

// finish turns a reply into the invocation's result: its body, or its error. requestID is in its
// invoke line form (protocol.LineString).
func (w *Worker) finish(ctx context.Context, p *process, b *bodyFifo, requestID string, l lineOrErr, invoked time.Time) ([]byte, error) {
	if err := w.checkReply(ctx, p, requestID, l); err != nil {
		return nil, err
	}
	r := l.reply
	tail, err := w.invocationLogs(ctx, p, r)
	if err != nil {
		return nil, w.fail(ctx, p, err.Error())
	}
	body, bodyErr := w.endBody(ctx, p, b, r.Type == protocol.ReplyResponse, invoked)
	ending := w.endIfFinal(ctx, p, r)
	switch {
	case r.Type == protocol.ReplyError:
		return nil, errorReplyError(r, ending, tail)
	case bodyErr != nil:
		return nil, bodyErr
	}
	return body, nil
}

// checkReply reports a reply that is not this invocation's response or error, after killing the
// worker that sent it.
func (w *Worker) checkReply(ctx context.Context, p *process, requestID string, l lineOrErr) error {
	if l.err != nil {
		return w.fail(ctx, p, "the worker broke the channel protocol: "+l.err.Error())
	}
	r := l.reply
	if r.Type != protocol.ReplyResponse && r.Type != protocol.ReplyError {
		return w.fail(ctx, p, fmt.Sprintf("the worker sent %q instead of a reply", r.Type))
	}
	if r.ID != requestID {
		return w.fail(ctx, p, fmt.Sprintf("the worker replied for request %q during request %q", r.ID, requestID))
	}
	return nil
}

// invocationLogs drains the log stream, so that the invocation's lines are logged before its
// result, and returns the tail an error reply asks for. The deadline may pass meanwhile; the drain
// is short and bounded by ReapWait.
func (w *Worker) invocationLogs(ctx context.Context, p *process, r *protocol.Reply) ([]string, error) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), w.cfg.ReapWait)
	defer cancel()
	var tail []string
	err := p.logs.Sync(ctx, func() {
		p.split.flush()
		if r.Type == protocol.ReplyError && r.LogTail > 0 {
			tail = p.split.lastLines(r.LogTail)
		}
	})
	return tail, err
}

// endBody takes the body from the FIFO b at the reply and closes b. A collected body is drained
// within ReapWait; a streamed one may wait for its stream until ctx's deadline, and is a timeout
// when the stream does not take it by then. keep says the reply is a response, whose body is
// returned; otherwise the bytes are dropped.
func (w *Worker) endBody(ctx context.Context, p *process, b *bodyFifo, keep bool, invoked time.Time) ([]byte, error) {
	q := b.sink.queue
	dctx := ctx
	if q == nil {
		var cancel context.CancelFunc
		dctx, cancel = context.WithTimeout(context.WithoutCancel(ctx), w.cfg.ReapWait)
		defer cancel()
	}
	err := b.end(dctx)
	if q != nil {
		var streamErr error
		if err == nil {
			streamErr, err = q.finish(ctx)
		}
		if err != nil {
			late := timeoutError(invoked, nil)
			late.Msg += " (the response stream did not take the body before the deadline)"
			return nil, late
		}
		if streamErr != nil {
			// The Runtime API stopped taking the stream (it reports why to the invoke loop).
			w.cfg.Warn("the response stream failed; the rest of the body was dropped", "error", streamErr.Error())
		}
		return nil, nil
	}
	if err != nil {
		// The drain reads what is in the pipe without waiting; the worker is not at fault.
		return nil, errorf(KindBody, "taking the response body: %v", err)
	}
	return p.takeBody(b.sink, keep)
}

// endIfFinal waits for the exit of a worker that said its reply was final, or kills it, and
// returns how it ended when that was by a signal.
func (w *Worker) endIfFinal(ctx context.Context, p *process, r *protocol.Reply) string {
	if !r.Final {
		return ""
	}
	ending := ""
	if !w.exitsSoon(p) {
		w.cfg.Warn("worker said its reply was final but did not exit; killing it")
	} else if ws, ok := p.state.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		ending = exitDescription(p.state)
	}
	w.discard(ctx, p)
	return ending
}
