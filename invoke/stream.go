package invoke

import (
	"context"
	"io"
	"net/http"
	"sync"

	"github.com/polyboot/polyboot/protocol"
)

// Streamer posts streamed responses; *protocol.Client implements it.
type Streamer interface {
	RespondStream(ctx context.Context, requestID string, body io.Reader, trailer http.Header) error
}

// StreamWorker runs an invocation whose response body goes to out as the handler writes it, and
// returns its error (posted as Report makes it); *supervisor.Worker implements it.
type StreamWorker interface {
	InvokeStream(ctx context.Context, inv *protocol.Invocation, out io.Writer) error
}

var _ Streamer = (*protocol.Client)(nil)

// serveStream runs one invocation with its response streamed. The streamed POST starts with the
// handler's first byte; an error before it is posted to /error as usual, an error after it goes
// in the stream's trailers. A handler that writes nothing gets an empty response.
// The streamed POST is never sent again: its body is gone once sent, and its error is final.
// ctx is Run's, pctx the posts', ictx the invocation's.
func (l *Loop) serveStream(ctx, pctx, ictx context.Context, sw StreamWorker, inv *protocol.Invocation) error {
	s := &lazyStream{start: func(body io.Reader, trailer http.Header) error {
		return l.Stream.RespondStream(pctx, inv.RequestID, body, trailer)
	}}
	var report *protocol.ErrorReport
	if err := sw.InvokeStream(ictx, l.enforced(inv), s); err != nil {
		report = l.ended(ctx, Report(err))
	}
	if !s.finish() {
		if report != nil {
			return l.fail(pctx, inv, report)
		}
		return l.post(pctx, inv, "response", func() error { return l.API.Respond(pctx, inv.RequestID, nil) })
	}
	if report != nil {
		protocol.SetStreamError(s.trailer, report)
	}
	_ = s.pw.Close()
	return l.settle(pctx, inv, "streamed response", <-s.done)
}

// lazyStream starts the streamed POST on its first Write and feeds it through a pipe. Writes
// come from the supervisor's stream goroutine, which may still be in one when InvokeStream
// returns at a deadline: the mutex orders the first Write against finish, and a Write after
// finish starts nothing (the invocation's one post is serveStream's then).
type lazyStream struct {
	start   func(body io.Reader, trailer http.Header) error
	mu      sync.Mutex
	started bool
	ended   bool
	pw      *io.PipeWriter
	trailer http.Header
	done    chan error
}

// Write implements io.Writer. A write blocks while the Runtime API is slower than the handler.
func (s *lazyStream) Write(p []byte) (int, error) {
	s.mu.Lock()
	if s.ended && !s.started {
		s.mu.Unlock()
		return 0, io.ErrClosedPipe
	}
	if !s.started {
		s.started = true
		pr, pw := io.Pipe()
		s.pw, s.trailer, s.done = pw, protocol.StreamTrailer(), make(chan error, 1)
		go func() {
			err := s.start(pr, s.trailer)
			_ = pr.CloseWithError(io.ErrClosedPipe) // a refused stream fails later writes fast
			s.done <- err
		}()
	}
	pw := s.pw
	s.mu.Unlock()
	return pw.Write(p)
}

// finish ends the writes' say over the stream and reports whether the streamed POST started.
func (s *lazyStream) finish() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.ended = true
	return s.started
}
