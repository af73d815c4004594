package supervisor

import (
	"context"
	"io"
	"sync"

	"github.com/polyboot/polyboot/protocol"
)

// Limits of the queue between a body FIFO's reader and a slow stream: at most streamChunks chunks
// of streamChunkSize bytes wait for the stream; while it is full the FIFO is not read, so the
// handler's writes wait (the pipe fills), as Lambda slows a streaming function down to its reader.
const (
	streamChunkSize = 64 << 10
	streamChunks    = 16
)

// InvokeStream runs one invocation like Invoke, but the response body goes to out as the handler
// writes it, through a bounded queue and a goroutine of its own (a slow out slows the handler
// down). At the reply, InvokeStream waits for out to take the rest of the queue until ctx's
// deadline; a stream still stalled then ends the invocation with a KindTimeout error (the worker,
// which replied, stays). No write to out begins after InvokeStream returns; a write that out has
// not returned from by then is abandoned, and out must let it return when its reader goes away
// (an io.PipeWriter does when it is closed). Its errors are Invoke's, but for KindTooLarge: a
// streamed body has no limit here.
func (w *Worker) InvokeStream(ctx context.Context, inv *protocol.Invocation, out io.Writer) error {
	_, err := w.invoke(ctx, inv, out)
	return err
}

// streamQueue carries body bytes from a FIFO's pump to a stream writer goroutine.
type streamQueue struct {
	out     io.Writer
	chunks  chan []byte // queued for the writer
	free    chan []byte // written, ready for reuse
	made    int         // chunks allocated (pump goroutine only)
	abort   chan struct{}
	aborted sync.Once
	closed  sync.Once
	done    chan struct{} // closed when the writer goroutine ended
	err     error         // the stream's first write error; read after done
}

// newStreamQueue starts the writer goroutine for out.
func newStreamQueue(out io.Writer) *streamQueue {
	q := &streamQueue{
		out:    out,
		chunks: make(chan []byte, streamChunks),
		free:   make(chan []byte, streamChunks),
		abort:  make(chan struct{}),
		done:   make(chan struct{}),
	}
	go q.run()
	return q
}

// run writes the queued chunks to the stream until the queue is closed. After a write error or
// an abort, chunks are dropped.
func (q *streamQueue) run() {
	defer close(q.done)
	for c := range q.chunks {
		select {
		case <-q.abort:
		default:
			if q.err == nil {
				if _, err := q.out.Write(c); err != nil {
					q.err = err
				}
			}
		}
		q.free <- c[:0]
	}
}

// put queues a copy of b, waiting for room while the stream is slow, until the queue is aborted.
func (q *streamQueue) put(b []byte) {
	for len(b) > 0 {
		c, ok := q.chunk()
		if !ok {
			return
		}
		n := copy(c[:cap(c)], b)
		q.chunks <- c[:n] // never blocks: no more chunks exist than the queue holds
		b = b[n:]
	}
}

// chunk returns an empty chunk: a free one, a new one while fewer than streamChunks exist, else
// the next one the writer frees. It reports false once the queue is aborted.
func (q *streamQueue) chunk() ([]byte, bool) {
	select {
	case c := <-q.free:
		return c, true
	default:
	}
	if q.made < streamChunks {
		q.made++
		return make([]byte, 0, streamChunkSize), true
	}
	select {
	case c := <-q.free:
		return c, true
	case <-q.abort:
		return nil, false
	}
}

// finish closes the queue (call it once no more put can come) and waits until the stream took
// every chunk, or until ctx ends: then the rest is dropped and finish returns ctx's error. The
// stream's own write error is returned as streamErr.
func (q *streamQueue) finish(ctx context.Context) (streamErr, err error) {
	q.stop()
	select {
	case <-q.done:
		return q.err, nil
	case <-ctx.Done():
		q.cancel()
		return nil, ctx.Err()
	}
}

// stop closes the queue, so the writer ends once it wrote or dropped what is queued. No put may
// follow.
func (q *streamQueue) stop() {
	q.closed.Do(func() { close(q.chunks) })
}

// cancel makes put and the writer drop what is left.
func (q *streamQueue) cancel() {
	q.aborted.Do(func() { close(q.abort) })
}
