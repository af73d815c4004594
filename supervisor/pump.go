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
)

// Pump reads one pipe (or pseudo-terminal master) continuously, so the writer never blocks on a
// full pipe, and hands what it reads to a sink. Sync lets the caller act at a point in the stream:
// once everything written before the call has reached the sink.
//
// The sink and every function given to Sync run on the pump's own goroutine, one at a time, so
// they may share state without locks.
type Pump struct {
	f    *os.File
	raw  syscall.RawConn
	sink func([]byte)
	// bounded: Sync drains what the pipe holds when it begins, not until it is empty
	bounded bool
	syncs   chan syncRequest
	stop    chan struct{}
	done    chan struct{}
}

type syncRequest struct {
	fn   func()
	done chan struct{}
}

// pumpBufferSize is the size of one read.
const pumpBufferSize = 256 * 1024

// NewPump starts reading f, which must be pollable (a pipe from os.Pipe, or a pty master).
func NewPump(f *os.File, sink func([]byte)) (*Pump, error) {
	return newPump(f, sink, make([]byte, pumpBufferSize), false)
}

// newPump is NewPump with buf as the read buffer, which the pump owns until Close returns. With
// bounded, a Sync drains only the bytes the pipe holds when it begins (FIONREAD), so that a writer
// that never stops cannot hold it up; a pseudo-terminal's FIONREAD misses bytes still on their way
// through the line discipline, so the log stream's pump drains until the pipe is empty.
func newPump(f *os.File, sink func([]byte), buf []byte, bounded bool) (*Pump, error) {
	raw, err := f.SyscallConn()
	if err != nil {
		return nil, fmt.Errorf("pump %s: %w", f.Name(), err)
	}
	p := &Pump{
		f:       f,
		raw:     raw,
		sink:    sink,
		bounded: bounded,
		syncs:   make(chan syncRequest, 1),
		stop:    make(chan struct{}),
		done:    make(chan struct{}),
	}
	go p.run(buf)
	return p, nil
}

func (p *Pump) run(buf []byte) {
	defer close(p.done)
	eof := false
	for {
		select {
		case req := <-p.syncs:
			p.serve(req, buf, eof)
			continue
		case <-p.stop:
			return
		default:
		}
		if eof {
			select {
			case req := <-p.syncs:
				p.serve(req, buf, eof)
			case <-p.stop:
				return
			}
			continue
		}
		n, err := p.f.Read(buf)
		if n > 0 {
			p.sink(buf[:n])
		}
		switch {
		case err == nil:
		case errors.Is(err, os.ErrDeadlineExceeded):
			// A Sync woke us; clear the deadline before looking at the request (see Sync).
			_ = p.f.SetReadDeadline(time.Time{})
		case isEOF(err):
			eof = true
		default:
			// os.ErrClosed after Close, or a read error: nothing more will come.
			eof = true
		}
	}
}

// isEOF reports whether err ends the stream: EOF on a pipe, EIO on a pty master whose slave is gone.
func isEOF(err error) bool {
	return errors.Is(err, io.EOF) || errors.Is(err, syscall.EIO)
}

// serve reads whatever the pipe holds without blocking, then runs the request's function.
func (p *Pump) serve(req syncRequest, buf []byte, eof bool) {
	if !eof {
		p.drain(buf)
	}
	req.fn()
	close(req.done)
}

// drain reads until the pipe is empty, or, for a bounded pump, the bytes the pipe held when drain
// began (FIONREAD). It reads through Control (drainFd), whose raw system calls a read deadline
// does not affect.
func (p *Pump) drain(buf []byte) {
	_ = p.raw.Control(func(fd uintptr) { drainFd(int(fd), buf, p.bounded, p.sink) })
}

// drainFd passes to sink what the non-blocking pipe fd holds: until it is empty, or, when
// bounded, the bytes it held when drainFd began (FIONREAD), so that a writer that never stops
// cannot hold it up.
func drainFd(fd int, buf []byte, bounded bool, sink func([]byte)) {
	left := 0
	if bounded {
		n, err := unix.IoctlGetInt(fd, unix.TIOCINQ) // FIONREAD
		left, bounded = n, err == nil
	}
	for !bounded || left > 0 {
		want := buf
		if bounded {
			want = buf[:min(left, len(buf))]
		}
		n, err := syscall.Read(fd, want)
		if n > 0 {
			sink(buf[:n])
			left -= n
		}
		if errors.Is(err, syscall.EINTR) {
			continue
		}
		if err != nil || n <= 0 {
			return
		}
	}
}

// Sync runs fn on the pump's goroutine once every byte written to the pipe before Sync was called
// has been passed to the sink. It returns when fn has run, or with ctx's error.
func (p *Pump) Sync(ctx context.Context, fn func()) error {
	req := syncRequest{fn: fn, done: make(chan struct{})}
	select {
	case p.syncs <- req:
	case <-p.done:
		return errors.New("pump closed")
	case <-ctx.Done():
		return fmt.Errorf("pump sync: %w", ctx.Err())
	}
	// Wake a Read blocked in the poller. The request is queued before the deadline is set, and the
	// pump clears the deadline before it looks at its queue, so no request is missed; a deadline
	// that arrives after its request was served costs one spurious wake-up.
	_ = p.f.SetReadDeadline(time.Now())
	select {
	case <-req.done:
		return nil
	case <-p.done:
		return errors.New("pump closed")
	case <-ctx.Done():
		return fmt.Errorf("pump sync: %w", ctx.Err())
	}
}

// Close stops the pump and closes its file.
func (p *Pump) Close() error {
	close(p.stop)
	err := p.f.Close()
	<-p.done
	return err
}
