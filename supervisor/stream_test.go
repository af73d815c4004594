package supervisor

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/polyboot/polyboot/protocol"
)

// streamRecorder is an io.Writer that keeps what it gets and notes writes after it was closed.
type streamRecorder struct {
	mu     sync.Mutex
	buf    bytes.Buffer
	writes int
	closed bool
	late   int // writes after close
}

// Write implements io.Writer.
func (s *streamRecorder) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		s.late++
	}
	s.writes++
	return s.buf.Write(p)
}

// close marks the end of the invocation: no write may follow.
func (s *streamRecorder) close() (body string, writes int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.closed = true
	return s.buf.String(), s.writes
}

// lateWrites returns the number of writes after close.
func (s *streamRecorder) lateWrites() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.late
}

func TestWorkerInvokeStream(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		event    string
		budget   time.Duration
		wantBody string // what out got
		wantKind Kind   // of the *Error wanted
		wantType string // of the *HandlerError wanted; both zero want success
	}{
		{name: "6 MB", event: jsonString(6 << 20), wantBody: jsonString(6 << 20)},
		{name: "small body", event: `{"do":"log"}`, wantBody: "logged"},
		{name: "error after some bytes", event: `{"do":"error"}`, wantBody: "partial body of a failed invocation", wantType: "HandlerError"},
		{name: "timeout", event: `{"do":"hang"}`, budget: 300 * time.Millisecond, wantKind: KindTimeout},
		{name: "crash", event: `{"do":"exit","code":2}`, wantKind: KindExit},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			w, _ := testWorker(t, "ready")
			budget := tt.budget
			if budget == 0 {
				budget = invokeTimeout
			}
			ctx, cancel := context.WithTimeout(context.Background(), budget)
			defer cancel()
			out := &streamRecorder{}
			inv := &protocol.Invocation{RequestID: "streamed", Payload: []byte(tt.event)}
			start := time.Now()
			err := w.InvokeStream(ctx, inv, out)
			body, writes := out.close()
			t.Logf("%d bytes in %d writes, %s", len(body), writes, time.Since(start))
			switch {
			case tt.wantType != "":
				checkHandlerErr(t, err, tt.wantType)
			case tt.wantKind != 0:
				checkErr(t, err, tt.wantKind)
			case err != nil:
				t.Fatalf("InvokeStream: %v", err)
			}
			if body != tt.wantBody {
				t.Errorf("out got %d bytes, want %d", len(body), len(tt.wantBody))
			}
			// The stream is the invocation's only: the next invocation's body is buffered again.
			if got := mustInvoke(t, w, "plain", `"plain"`); got != `"plain"` {
				t.Errorf("next body = %q", got)
			}
			if n := out.lateWrites(); n > 0 {
				t.Errorf("out got %d writes after InvokeStream returned", n)
			}
		})
	}
}

// throttledWriter takes bytes at rate bytes per second, as Lambda takes a streamed response
// after its first 6 MB.
type throttledWriter struct {
	streamRecorder
	rate int
}

// Write implements io.Writer.
func (s *throttledWriter) Write(p []byte) (int, error) {
	time.Sleep(time.Duration(len(p)) * time.Second / time.Duration(s.rate)) // the throttle, not a synchronisation
	return s.streamRecorder.Write(p)
}

func TestWorkerInvokeStreamSlowReader(t *testing.T) {
	t.Parallel()
	// A 4 MB body at 2 MB/s: at the reply about 2 MB (queue and FIFO) still wait for the
	// stream, far longer than ReapWait. The body is delivered whole, without error.
	w, rec := testWorker(t, "ready", func(c *Config) { c.ReapWait = 300 * time.Millisecond })
	mustInvoke(t, w, "warm", `{}`)
	pid := workerPid(w)
	const size = 4 << 20
	out := &throttledWriter{rate: 2 << 20}
	ctx, cancel := context.WithTimeout(context.Background(), invokeTimeout)
	defer cancel()
	start := time.Now()
	inv := &protocol.Invocation{RequestID: "slow", Payload: []byte(fmt.Sprintf(`{"do":"slow_body","n":%d}`, size))}
	if err := w.InvokeStream(ctx, inv, out); err != nil {
		t.Fatalf("InvokeStream: %v", err)
	}
	body, writes := out.close()
	t.Logf("%d bytes in %d writes, %s", len(body), writes, time.Since(start))
	if len(body) != size || strings.Trim(body, "s") != "" {
		t.Errorf("the stream got %d bytes, want %d", len(body), size)
	}
	if workerPid(w) != pid || len(rec.warnings()) > 0 {
		t.Errorf("worker restarted or warnings %q", rec.warnings())
	}
}

// stalledWriter blocks every Write until released.
type stalledWriter struct {
	release chan struct{}
	entered chan struct{} // closed at the first Write
	once    sync.Once
}

// Write implements io.Writer.
func (s *stalledWriter) Write(p []byte) (int, error) {
	s.once.Do(func() { close(s.entered) })
	<-s.release
	return len(p), nil
}

func TestWorkerInvokeStreamStalled(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		size       int
		workerStay bool // the worker replied in time: only the stream is late
	}{
		{name: "stalled while the handler writes", size: 8 << 20},
		{name: "stalled after the reply", size: 256 << 10, workerStay: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			w, pid := warmWorker(t)
			out := &stalledWriter{release: make(chan struct{}), entered: make(chan struct{})}
			defer close(out.release)
			const budget = 700 * time.Millisecond
			ctx, cancel := context.WithTimeout(context.Background(), budget)
			defer cancel()
			start := time.Now()
			inv := &protocol.Invocation{RequestID: "stalled", Payload: []byte(fmt.Sprintf(`{"do":"slow_body","n":%d}`, tt.size))}
			err := w.InvokeStream(ctx, inv, out)
			elapsed := time.Since(start)
			checkErr(t, err, KindTimeout, "Task timed out after")
			if elapsed > budget+time.Second {
				t.Errorf("InvokeStream returned %s after the start, want at the %s deadline", elapsed, budget)
			}
			select {
			case <-out.entered:
			default:
				t.Errorf("the stream got no write")
			}
			if stayed := workerPid(w) == pid; stayed != tt.workerStay {
				t.Errorf("worker stayed: %v, want %v", stayed, tt.workerStay)
			}
			if got := mustInvoke(t, w, "next", `"next"`); got != `"next"` {
				t.Errorf("next body = %q", got)
			}
		})
	}
}
