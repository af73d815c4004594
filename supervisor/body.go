package supervisor

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"golang.org/x/sys/unix"

	"github.com/polyboot/polyboot/protocol"
)

// The body stream of channel protocol 2 (docs/protocol.md): a FIFO per invocation, in a private
// folder per worker process. The bootstrap opens each FIFO for reading before the invoke line
// names it, reads it continuously while the invocation runs, and at the reply drains what is in the
// pipe, then closes and unlinks it. A background job of the handler that still holds the FIFO then
// gets EPIPE (SIGPIPE) on its next write: the FIFO has no reader left, and no later invocation
// ever reads it, so its bytes can reach no other invocation.
//
// The FIFO is opened O_RDWR (Linux defines this for FIFOs): the open does not wait for a writer,
// and the bootstrap's own write end keeps the pipe from ever reading as EOF, whether the adapter
// opened it yet, opened and closed it, or never opens it (an invocation without a body). A read
// that finds the pipe empty is EAGAIN, served by Go's poller, so no goroutine spins. Closing that
// single descriptor removes the FIFO's last reader.

// bodyDir is a worker process's private folder of body FIFOs, mode 0700 under os.TempDir().
type bodyDir struct {
	path string
	seq  uint64
}

// newBodyDir creates the folder. A temporary folder whose path the invoke line could not carry
// without escaping (docs/protocol.md allows letters, digits, "/", "-", "." and "_") is passed over
// for /tmp.
func newBodyDir() (*bodyDir, error) {
	base, err := filepath.Abs(os.TempDir())
	if err != nil || !plainPath(base) {
		base = "/tmp"
	}
	dir, err := os.MkdirTemp(base, "polyboot-")
	if err != nil {
		return nil, fmt.Errorf("creating the body FIFO folder: %w", err)
	}
	if err := os.Chmod(dir, 0o700); err != nil {
		os.Remove(dir)
		return nil, fmt.Errorf("creating the body FIFO folder: %w", err)
	}
	return &bodyDir{path: dir}, nil
}

// plainPath reports whether p holds only the bytes an invoke line's "body" may hold unescaped.
func plainPath(p string) bool {
	for i := 0; i < len(p); i++ {
		c := p[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		case c == '/', c == '-', c == '.', c == '_':
		default:
			return false
		}
	}
	return p != ""
}

// remove deletes the folder and any FIFO left in it.
func (d *bodyDir) remove() {
	_ = os.RemoveAll(d.path)
}

// bodyFifo is one invocation's body FIFO, open for reading.
//
// A collected body that fits the pipe (setPipeSize) needs no reader until the reply: the handler's
// writes never wait, and end takes the bytes from the pipe on the caller's goroutine. So a reader
// goroutine (a Pump, on Go's poller) starts only for a streamed body, for an invocation that runs
// longer than bodyReaderAfter (its body may be longer than the pipe, whose writer then waits), or
// for a pipe the kernel would not enlarge. Until then the descriptor is not even on the poller, so
// the handler's writes wake no thread of the bootstrap: a warm invocation's small body costs no
// goroutine hand-off and no wake-up.
type bodyFifo struct {
	path string
	fd   int   // -1 once closed
	big  bool  // the pipe holds at least pipeSize bytes
	pump *Pump // nil until the reader starts (it owns fd then, on Go's poller)
	sink *bodySink
	buf  []byte // the reader's buffer
}

// bodyReaderAfter is how long an invocation runs before its collected body gets a reader of its
// own: a body longer than the pipe waits at most this long for one.
const bodyReaderAfter = time.Millisecond

// newFifo creates and opens the next FIFO of the folder.
func (d *bodyDir) newFifo() (*bodyFifo, error) {
	d.seq++
	path := d.path + "/" + strconv.FormatUint(d.seq, 10)
	if err := unix.Mkfifo(path, 0o600); err != nil {
		return nil, fmt.Errorf("creating the body FIFO: %w", &os.PathError{Op: "mkfifo", Path: path, Err: err})
	}
	fd, err := unix.Open(path, unix.O_RDWR|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
	if err != nil {
		_ = os.Remove(path)
		return nil, fmt.Errorf("opening the body FIFO: %w", &os.PathError{Op: "open", Path: path, Err: err})
	}
	return &bodyFifo{path: path, fd: fd, big: setPipeSizeFd(fd) >= pipeSize}, nil
}

// start makes sink the FIFO's sink, with buf as the read buffer, and starts its reader at once
// when the body is streamed or the pipe is small; otherwise the invocation starts it later
// (needsReader, startReader) or never.
func (b *bodyFifo) start(sink *bodySink, buf []byte) error {
	b.sink, b.buf = sink, buf
	if sink.queue != nil || !b.big {
		return b.startReader()
	}
	return nil
}

// needsReader reports whether the body has no reader yet and must get one (startReader) if the
// invocation runs on past bodyReaderAfter.
func (b *bodyFifo) needsReader() bool {
	return b.pump == nil && b.fd >= 0
}

// startReader starts reading the FIFO continuously into the sink.
func (b *bodyFifo) startReader() error {
	f := os.NewFile(uintptr(b.fd), b.path) // non-blocking: served by the poller
	pump, err := newPump(f, b.sink.write, b.buf, true)
	if err != nil {
		f.Close()
		b.fd = -1
		return err
	}
	b.pump = pump
	return nil
}

// end drains what the pipe holds into the sink, which then takes no more bytes, and closes the
// FIFO (see close). ctx bounds the drain (a sink that streams may wait for its
// stream). A stream queue is left to finish what it holds.
func (b *bodyFifo) end(ctx context.Context) error {
	if b.pump == nil {
		// No reader ever ran: what the pipe holds is all the body, taken here.
		drainFd(b.fd, b.buf, true, b.sink.write)
		b.sink.closed = true
		b.shut(false) // no reader is left: a late writer gets EPIPE
		return nil
	}
	err := b.pump.Sync(ctx, func() { b.sink.closed = true })
	b.shut(false)
	return err
}

// close closes the FIFO, dropping what a stream queue still holds; it may be called again, and
// after end. The FIFO is unlinked later (retire), while the result is posted: with its reader gone
// it can take no bytes, and no invocation names its path again.
func (b *bodyFifo) close() {
	b.shut(true)
}

// retire closes the FIFO if it is still open and unlinks it; b may be nil.
func (b *bodyFifo) retire() {
	if b == nil {
		return
	}
	b.close()
	_ = os.Remove(b.path)
}

// shut stops the reader, closes the FIFO, and closes the stream queue, aborted first
// when abort is set (a pump blocked on a stalled stream then gives up, so that it can stop).
func (b *bodyFifo) shut(abort bool) {
	if b.fd < 0 {
		return
	}
	var q *streamQueue
	if b.sink != nil {
		q = b.sink.queue
	}
	if q != nil && abort {
		q.cancel()
	}
	if b.pump != nil {
		b.pump.Close() // closes the descriptor
	} else {
		_ = unix.Close(b.fd)
	}
	if q != nil {
		q.stop() // the pump is gone: no put can follow
	}
	b.fd = -1
}

// bodySink takes one invocation's body bytes from the FIFO's reader, on one goroutine at a time:
// it keeps at most limit+1 of them (counting and dropping the rest, so that the handler is never
// blocked), or passes them all to a stream queue. The trimmer, when set, comes first.
type bodySink struct {
	trim   *newlineTrimmer
	buf    []byte
	limit  int
	size   int64        // bytes taken, trimmed newlines not counted
	queue  *streamQueue // nil when the body is collected in buf
	closed bool         // the reply came: later bytes are dropped
}

// newBodySink returns a sink collecting into buf (reused from its start), or streaming to queue
// when it is not nil.
func newBodySink(buf []byte, queue *streamQueue, trim bool) *bodySink {
	s := &bodySink{buf: buf[:0], limit: protocol.MaxResponseSize, queue: queue}
	if trim {
		s.trim = newNewlineTrimmer(s.take)
	}
	return s
}

// write is the pump's sink.
func (s *bodySink) write(b []byte) {
	switch {
	case s.closed:
	case s.trim != nil:
		s.trim.write(b)
	default:
		s.take(b)
	}
}

// take counts b and keeps or streams it.
func (s *bodySink) take(b []byte) {
	s.size += int64(len(b))
	if s.queue != nil {
		s.queue.put(b)
		return
	}
	if room := s.limit + 1 - len(s.buf); room > 0 {
		s.buf = append(s.buf, b[:min(room, len(b))]...)
	}
}

// tooLarge reports whether the body is collected and over the limit.
func (s *bodySink) tooLarge() bool {
	return s.queue == nil && s.size > int64(s.limit)
}
