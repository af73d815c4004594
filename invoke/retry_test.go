package invoke_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"reflect"
	"sync"
	"testing"

	"go.uber.org/zap/zaptest"

	"github.com/polyboot/polyboot/invoke"
	"github.com/polyboot/polyboot/protocol"
)

// TestRunDoesNotResendAfterConnecting: a post whose connection failed once it was sent is not sent
// again (the Runtime API may have taken it); it is logged and the loop goes on. A /next that
// failed so is not sent again either (it may have handed out an invocation): Run ends.
func TestRunDoesNotResendAfterConnecting(t *testing.T) {
	t.Run("response", func(t *testing.T) {
		h := newHarness(invocation("r1"), invocation("r2"))
		h.api.respond = func(id string, _ int) error {
			if id == "r1" {
				return errBroken
			}
			return nil
		}
		if err := h.run(t); err != nil {
			t.Fatalf("Run = %v, want nil", err)
		}
		want := []string{"next", "invoke r1", "respond r1", "next", "invoke r2", "respond r2", "next"}
		if got := h.rec.without("start"); !reflect.DeepEqual(got, want) {
			t.Errorf("calls\n got %q\nwant %q", got, want)
		}
		if n := len(h.pauses("response")); n != 0 {
			t.Errorf("%d retries of the response", n)
		}
	})
	t.Run("next", func(t *testing.T) {
		h := newHarness(answer{err: errBroken}, invocation("r1"))
		if err := h.run(t); !errors.Is(err, errBroken) {
			t.Fatalf("Run = %v, want the broken connection", err)
		}
		if got := h.rec.without("start"); !reflect.DeepEqual(got, []string{"next"}) {
			t.Errorf("calls %q, want one next", got)
		}
	})
}

// streamWorker is a fakeWorker that streams "partial" and then answers err.
type streamWorker struct {
	*fakeWorker
	err error
}

func (w *streamWorker) InvokeStream(_ context.Context, inv *protocol.Invocation, out io.Writer) error {
	w.rec.add("invoke %s", inv.RequestID)
	_, _ = io.WriteString(out, "partial")
	return w.err
}

// failingStreamer reads a streamed body to its end and fails with err.
type failingStreamer struct {
	rec *recorder
	err error
}

func (s *failingStreamer) RespondStream(_ context.Context, id string, body io.Reader, _ http.Header) error {
	s.rec.add("stream %s", id)
	_, _ = io.Copy(io.Discard, body)
	return s.err
}

// TestRunDoesNotRetryAStream: a streamed response's failure is final (its body is gone, its error
// is the same every time): no retry, whatever the failure. One that broke after connecting is
// logged and the loop goes on; a Runtime API that could not be reached ends Run.
func TestRunDoesNotRetryAStream(t *testing.T) {
	tests := []struct {
		name      string
		err       error
		wantRun   error
		wantCalls []string
	}{
		{"broken after connecting", errBroken, nil, []string{"next", "invoke r1", "stream r1", "next", "invoke r2", "stream r2", "next"}},
		{"refused", errRefused, errRefused, []string{"next", "invoke r1", "stream r1"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(invocation("r1"), invocation("r2"))
			h.loop.Worker = &streamWorker{fakeWorker: h.worker}
			h.loop.Stream = &failingStreamer{rec: h.rec, err: tt.err}
			if err := h.run(t); !errors.Is(err, tt.wantRun) || (tt.wantRun == nil) != (err == nil) {
				t.Fatalf("Run = %v, want %v", err, tt.wantRun)
			}
			if got := h.rec.without("start"); !reflect.DeepEqual(got, tt.wantCalls) {
				t.Errorf("calls\n got %q\nwant %q", got, tt.wantCalls)
			}
			if n := len(h.pauses("streamed response")); n != 0 {
				t.Errorf("the streamed response was \"retried\" %d times", n)
			}
		})
	}
}

// TestRunWithAConnectionThatBreaksAfterTheBody drives the loop and the real client against a fake
// Runtime API that reads a /response to its end and then drops the connection without an answer
// (the emulator cannot do that): the response reaches it exactly once, and the loop goes on.
func TestRunWithAConnectionThatBreaksAfterTheBody(t *testing.T) {
	var mu sync.Mutex
	var got []string
	served := 0
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		mu.Lock()
		got = append(got, r.Method+" "+r.URL.Path+" "+string(body))
		n := served
		if r.Method == http.MethodGet {
			served++
		}
		mu.Unlock()
		switch {
		case r.Method == http.MethodGet && n < 2:
			w.Header().Set(protocol.HeaderRequestID, []string{"r1", "r2"}[n])
			_, _ = io.WriteString(w, "{}")
		case r.Method == http.MethodGet:
			http.Error(w, "done", http.StatusInternalServerError)
		case r.URL.Path == "/2018-06-01/runtime/invocation/r1/response":
			conn, _, _ := w.(http.Hijacker).Hijack()
			conn.Close()
		default:
			w.WriteHeader(http.StatusAccepted)
		}
	}))
	defer srv.Close()
	rec := &recorder{}
	loop := &invoke.Loop{
		API: protocol.NewClient(srv.Listener.Addr().String()), Worker: &fakeWorker{rec: rec},
		Log: zaptest.NewLogger(t), Retries: 5, Backoff: 1,
	}
	if err := loop.Run(context.Background()); protocol.StatusOf(err) != http.StatusInternalServerError {
		t.Fatalf("Run = %v, want the 500 of the third /next", err)
	}
	want := []string{
		"GET /2018-06-01/runtime/invocation/next ", "POST /2018-06-01/runtime/invocation/r1/response ok r1",
		"GET /2018-06-01/runtime/invocation/next ", "POST /2018-06-01/runtime/invocation/r2/response ok r2",
		"GET /2018-06-01/runtime/invocation/next ",
	}
	mu.Lock()
	defer mu.Unlock()
	if !reflect.DeepEqual(got, want) {
		t.Errorf("requests\n got %q\nwant %q", got, want)
	}
}

// lateStreamWorker answers err at once and writes its first body bytes only after that (as a
// supervisor's stream goroutine still busy when InvokeStream returns at a deadline would), once
// the loop has posted its report; wrote gets the late Write's error.
type lateStreamWorker struct {
	*fakeWorker
	err    error
	posted chan struct{}
	wrote  chan error
}

func (w *lateStreamWorker) InvokeStream(_ context.Context, inv *protocol.Invocation, out io.Writer) error {
	w.rec.add("invoke %s", inv.RequestID)
	go func() {
		<-w.posted
		_, err := io.WriteString(out, "late")
		w.wrote <- err
	}()
	return w.err
}

// TestRunLateStreamWriteStartsNothing: body bytes that reach the stream after the invocation's
// error was posted start no streamed POST (the invocation had its one post) and are refused.
func TestRunLateStreamWriteStartsNothing(t *testing.T) {
	h := newHarness(invocation("r1"))
	w := &lateStreamWorker{fakeWorker: h.worker, err: timeoutErr("late"),
		posted: make(chan struct{}), wrote: make(chan error, 1)}
	h.loop.Worker = w
	h.loop.Stream = &failingStreamer{rec: h.rec}
	h.api.fail = func(string, int) error { close(w.posted); return nil }
	if err := h.run(t); err != nil {
		t.Fatalf("Run = %v", err)
	}
	if err := <-w.wrote; !errors.Is(err, io.ErrClosedPipe) {
		t.Errorf("the late write returned %v, want io.ErrClosedPipe", err)
	}
	if got, want := h.rec.without("start"), []string{"next", "invoke r1", "fail r1", "next"}; !reflect.DeepEqual(got, want) {
		t.Errorf("calls\n got %q\nwant %q", got, want)
	}
}
