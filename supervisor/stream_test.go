package supervisor

import (
	"bytes"
	"context"
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
		wantType string // "" wants success
	}{
		{name: "6 MB", event: jsonString(6 << 20), wantBody: jsonString(6 << 20)},
		{name: "small body", event: `{"do":"log"}`, wantBody: "logged"},
		{name: "error after some bytes", event: `{"do":"error"}`, wantBody: "partial body of a failed invocation", wantType: "HandlerError"},
		{name: "timeout", event: `{"do":"hang"}`, budget: 300 * time.Millisecond, wantType: ErrTypeTimeout},
		{name: "crash", event: `{"do":"exit","code":2}`, wantType: ErrTypeExit},
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
			report := w.InvokeStream(ctx, inv, out)
			body, writes := out.close()
			t.Logf("%d bytes in %d writes, %s", len(body), writes, time.Since(start))
			if tt.wantType == "" && report != nil {
				t.Fatalf("InvokeStream: %s: %s", report.Type, report.Message)
			}
			if tt.wantType != "" {
				checkReport(t, report, tt.wantType)
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
