package invoke_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap/zapcore"

	"github.com/polyboot/polyboot/invoke"
	"github.com/polyboot/polyboot/protocol"
	"github.com/polyboot/polyboot/supervisor"
)

func TestRunPostsOneResultPerInvocation(t *testing.T) {
	tooLarge := fmt.Sprintf("Response payload size (%d bytes) exceeded maximum allowed payload size (%d bytes).",
		protocol.MaxResponseSize+1, protocol.MaxResponseSize)
	valueError := &protocol.ErrorReport{Type: "ValueError", Message: "bad", StackTrace: []string{"f.py:1"}}
	tests := []struct {
		name     string
		body     []byte // what the worker answers
		err      error  // what the worker answers
		respond  error  // what Respond answers
		fail     error  // what Fail answers
		wantKind string
		wantBody []byte
		wantType string // of the report, for a fail
		wantMsg  string // of the report, for a fail
		wantLog  string // logged at error level for each invocation
	}{
		{name: "response", body: []byte(`{"ok":true}`), wantKind: "respond", wantBody: []byte(`{"ok":true}`)},
		{name: "empty response", wantKind: "respond", wantBody: nil},
		{name: "worker error", err: handlerErr(valueError), wantKind: "fail", wantType: "ValueError", wantMsg: "bad"},
		{name: "worker error with a body", body: []byte("partial"), err: handlerErr(valueError), wantKind: "fail", wantType: "ValueError", wantMsg: "bad"},
		{
			name: "supervisor error", err: &supervisor.Error{Kind: supervisor.KindExit, Msg: "the worker exited after 3ms: exit status 1"},
			wantKind: "fail", wantType: invoke.ErrTypeExit, wantMsg: "the worker exited after 3ms: exit status 1",
		},
		{
			name: "response of exactly 6 MB", body: bytes.Repeat([]byte("x"), protocol.MaxResponseSize),
			wantKind: "respond", wantBody: bytes.Repeat([]byte("x"), protocol.MaxResponseSize),
		},
		{
			name: "response over 6 MB", body: bytes.Repeat([]byte("x"), protocol.MaxResponseSize+1),
			wantKind: "fail", wantType: invoke.ErrTypeResponseTooLarge, wantMsg: tooLarge,
		},
		{
			name: "response refused as too large", body: []byte("big"),
			respond:  &protocol.StatusError{Op: "response", Status: 413, Body: "too large"},
			wantKind: "respond", wantBody: []byte("big"),
			wantLog: "runtime api refused the response as too large; the invocation has failed",
		},
		{
			name: "response refused", body: []byte("late"),
			respond:  &protocol.StatusError{Op: "response", Status: 403, Body: "already answered"},
			wantKind: "respond", wantBody: []byte("late"),
			wantLog: "runtime api refused the response",
		},
		{
			name: "error refused", err: handlerErr(valueError),
			fail:     &protocol.StatusError{Op: "error", Status: 400, Body: "bad request"},
			wantKind: "fail", wantType: "ValueError", wantMsg: "bad",
			wantLog: "runtime api refused the error",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(invocation("r1"), invocation("r2"))
			h.worker.invoke = func(context.Context, *protocol.Invocation) ([]byte, error) {
				return tt.body, tt.err
			}
			h.api.respond = func(string, int) error { return tt.respond }
			h.api.fail = func(string, int) error { return tt.fail }
			if err := h.run(t); err != nil {
				t.Fatalf("Run = %v, want nil", err)
			}
			want := []string{"start", "invoke r1", tt.wantKind + " r1", "start", "invoke r2", tt.wantKind + " r2", "start"}
			if got := h.rec.without("next"); !reflect.DeepEqual(got, want) {
				t.Errorf("calls\n got %q\nwant %q", got, want)
			}
			if tt.respond != nil || tt.fail != nil {
				if len(h.api.posts) != 0 {
					t.Errorf("%d posts went through, want none", len(h.api.posts))
				}
			} else {
				if len(h.api.posts) != 2 {
					t.Fatalf("%d posts, want one per invocation", len(h.api.posts))
				}
				for i, p := range h.api.posts {
					if p.kind != tt.wantKind || p.id != fmt.Sprintf("r%d", i+1) || !bytes.Equal(p.body, tt.wantBody) {
						t.Errorf("post %d: %s %s with %d bytes, want %s r%d with %d bytes",
							i, p.kind, p.id, len(p.body), tt.wantKind, i+1, len(tt.wantBody))
					}
					if tt.wantKind == "fail" && (p.report.Type != tt.wantType || p.report.Message != tt.wantMsg || p.report.StackTrace == nil) {
						t.Errorf("post %d: report %#v, want %s: %s", i, p.report, tt.wantType, tt.wantMsg)
					}
				}
			}
			var wantLogs []string
			if tt.wantLog != "" {
				wantLogs = []string{tt.wantLog, tt.wantLog}
			}
			if got := h.messages(zapcore.ErrorLevel); !reflect.DeepEqual(got, wantLogs) {
				t.Errorf("error logs %q, want %q", got, wantLogs)
			}
		})
	}
}

func TestRunEndsOnHTTPStatus(t *testing.T) {
	status500 := &protocol.StatusError{Op: "next", Status: 500, Body: "container error"}
	tests := []struct {
		name      string
		script    []answer
		respond   error
		fail      error
		err       error // what the worker answers
		wantCalls []string
		wantPosts int
	}{
		{
			name:      "500 on next",
			script:    []answer{invocation("r1"), {err: status500}},
			wantCalls: []string{"next", "invoke r1", "respond r1", "next"},
			wantPosts: 1,
		},
		{
			name:      "403 on the first next",
			script:    []answer{{err: &protocol.StatusError{Op: "next", Status: 403}}},
			wantCalls: []string{"next"},
		},
		{
			name:      "500 on a response",
			script:    []answer{invocation("r1"), invocation("r2")},
			respond:   &protocol.StatusError{Op: "response", Status: 500},
			wantCalls: []string{"next", "invoke r1", "respond r1"},
		},
		{
			name:      "502 on an error",
			script:    []answer{invocation("r1"), invocation("r2")},
			err:       handlerErr(&protocol.ErrorReport{Type: "E"}),
			fail:      &protocol.StatusError{Op: "error", Status: 502},
			wantCalls: []string{"next", "invoke r1", "fail r1"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(tt.script...)
			h.worker.invoke = func(_ context.Context, inv *protocol.Invocation) ([]byte, error) {
				return []byte("ok"), tt.err
			}
			h.api.respond = func(string, int) error { return tt.respond }
			h.api.fail = func(string, int) error { return tt.fail }
			err := h.run(t)
			var se *protocol.StatusError
			if !errors.As(err, &se) {
				t.Fatalf("Run = %v, want a *protocol.StatusError", err)
			}
			if got := h.rec.without("start"); !reflect.DeepEqual(got, tt.wantCalls) {
				t.Errorf("calls\n got %q\nwant %q", got, tt.wantCalls)
			}
			if len(h.api.posts) != tt.wantPosts {
				t.Errorf("%d posts, want %d", len(h.api.posts), tt.wantPosts)
			}
		})
	}
}

// checkPauses checks that the loop paused as logged, each pause twice the one before it starting
// at backoff, and that the calls at times were at least that far apart.
func checkPauses(t *testing.T, logged []time.Duration, times []time.Time, backoff time.Duration, n int) {
	t.Helper()
	var want []time.Duration
	for i := range n {
		want = append(want, backoff<<i)
	}
	if !reflect.DeepEqual(logged, want) {
		t.Errorf("pauses %v, want %v", logged, want)
	}
	for i := 0; i < n && i+1 < len(times); i++ {
		if gap := times[i+1].Sub(times[i]); gap < want[i] {
			t.Errorf("attempt %d came %v after the one before, want at least %v", i+2, gap, want[i])
		}
	}
}

func TestRunRetriesNext(t *testing.T) {
	h := newHarness(answer{err: errRefused}, answer{err: errRefused}, invocation("r1"))
	h.loop.Retries, h.loop.Backoff = 3, 2*time.Millisecond
	if err := h.run(t); err != nil {
		t.Fatalf("Run = %v", err)
	}
	want := []string{"next", "next", "next", "invoke r1", "respond r1", "next"}
	if got := h.rec.without("start"); !reflect.DeepEqual(got, want) {
		t.Errorf("calls\n got %q\nwant %q", got, want)
	}
	checkPauses(t, h.pauses("next"), h.api.nextCalls, 2*time.Millisecond, 2)
}

func TestRunGivesUpOnNext(t *testing.T) {
	h := newHarness(answer{err: errRefused}, answer{err: errRefused}, answer{err: errRefused}, answer{err: errRefused}, invocation("r1"))
	h.loop.Retries, h.loop.Backoff = 4, time.Millisecond
	err := h.run(t)
	if !errors.Is(err, errRefused) || !strings.Contains(err.Error(), "next: gave up after 4 attempts") {
		t.Fatalf("Run = %v, want the connection error after 4 attempts", err)
	}
	if protocol.StatusOf(err) != 0 {
		t.Errorf("StatusOf = %d", protocol.StatusOf(err))
	}
	if got := h.rec.without("start"); !reflect.DeepEqual(got, []string{"next", "next", "next", "next"}) {
		t.Errorf("calls %q, want 4 × next", got)
	}
	checkPauses(t, h.pauses("next"), h.api.nextCalls, time.Millisecond, 3)
}

func TestRunRetriesPosts(t *testing.T) {
	tests := []struct {
		name      string
		err       error // what the worker answers
		failures  int   // connection failures before the post goes through
		wantErr   bool
		wantCalls []string
	}{
		{
			name: "response after two failures", failures: 2,
			wantCalls: []string{"next", "invoke r1", "respond r1", "respond r1", "respond r1", "next"},
		},
		{
			name: "error after one failure", failures: 1, err: handlerErr(&protocol.ErrorReport{Type: "E"}),
			wantCalls: []string{"next", "invoke r1", "fail r1", "fail r1", "next"},
		},
		{
			name: "response never goes through", failures: 3, wantErr: true,
			wantCalls: []string{"next", "invoke r1", "respond r1", "respond r1", "respond r1"},
		},
		{
			name: "error never goes through", failures: 3, err: handlerErr(&protocol.ErrorReport{Type: "E"}), wantErr: true,
			wantCalls: []string{"next", "invoke r1", "fail r1", "fail r1", "fail r1"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(invocation("r1"))
			h.worker.invoke = func(context.Context, *protocol.Invocation) ([]byte, error) {
				return []byte("ok"), tt.err
			}
			flaky := func(_ string, attempt int) error {
				if attempt <= tt.failures {
					return errRefused
				}
				return nil
			}
			h.api.respond, h.api.fail = flaky, flaky
			err := h.run(t)
			if tt.wantErr != (err != nil) || tt.wantErr && !errors.Is(err, errRefused) {
				t.Fatalf("Run = %v, want error: %v", err, tt.wantErr)
			}
			if got := h.rec.without("start"); !reflect.DeepEqual(got, tt.wantCalls) {
				t.Errorf("calls\n got %q\nwant %q", got, tt.wantCalls)
			}
			if want := min(tt.failures, 2); len(h.pauses("response"))+len(h.pauses("error")) != want {
				t.Errorf("logged %d retries, want %d", len(h.pauses("response"))+len(h.pauses("error")), want)
			}
		})
	}
}

func TestRunCanceled(t *testing.T) {
	t.Run("before it starts", func(t *testing.T) {
		h := newHarness(invocation("r1"))
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		if err := h.loop.Run(ctx); err != nil {
			t.Fatalf("Run = %v, want nil", err)
		}
		if got := h.rec.without("start"); !reflect.DeepEqual(got, []string{"next"}) {
			t.Errorf("calls %q", got)
		}
	})
	t.Run("while waiting for the next invocation", func(t *testing.T) {
		h := newHarness()
		ctx, cancel := context.WithCancel(context.Background())
		h.api.end = func() { time.AfterFunc(time.Millisecond, cancel) }
		if err := h.loop.Run(ctx); err != nil {
			t.Fatalf("Run = %v, want nil", err)
		}
	})
	t.Run("during an invocation", func(t *testing.T) {
		h := newHarness(invocation("r1"), invocation("r2"))
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		h.worker.invoke = func(ictx context.Context, _ *protocol.Invocation) ([]byte, error) {
			cancel() // as on SIGTERM
			<-ictx.Done()
			return nil, timeoutErr("stopped")
		}
		if err := h.loop.Run(ctx); err != nil {
			t.Fatalf("Run = %v, want nil", err)
		}
		if got := h.rec.without("start"); !reflect.DeepEqual(got, []string{"next", "invoke r1", "fail r1"}) {
			t.Errorf("calls %q", got)
		}
	})
	t.Run("while pausing between attempts", func(t *testing.T) {
		h := newHarness(answer{err: errRefused}, answer{err: errRefused})
		h.loop.Backoff = time.Hour
		ctx, cancel := context.WithCancel(context.Background())
		time.AfterFunc(5*time.Millisecond, cancel)
		if err := h.loop.Run(ctx); err != nil {
			t.Fatalf("Run = %v, want nil", err)
		}
	})
}

func TestRunInvocationDeadline(t *testing.T) {
	future := time.Now().Add(time.Hour).UnixMilli()
	tests := []struct {
		name         string
		deadlineMs   int64
		margin       time.Duration
		wantDeadline time.Time // zero: none
		wantExpired  bool
	}{
		{name: "deadline minus margin", deadlineMs: future, margin: 250 * time.Millisecond, wantDeadline: time.UnixMilli(future).Add(-250 * time.Millisecond)},
		{name: "no margin", deadlineMs: future, wantDeadline: time.UnixMilli(future)},
		{name: "no deadline", deadlineMs: 0, margin: time.Second},
		{name: "deadline passed", deadlineMs: time.Now().Add(-time.Second).UnixMilli(), wantDeadline: time.Now().Add(-time.Second), wantExpired: true},
		{name: "margin longer than the time left", deadlineMs: time.Now().Add(time.Second).UnixMilli(), margin: 2 * time.Second, wantExpired: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(answer{inv: &protocol.Invocation{RequestID: "r1", DeadlineMs: tt.deadlineMs}})
			h.loop.Margin = tt.margin
			var deadline time.Time
			var hasDeadline bool
			var ctxErr error
			h.worker.invoke = func(ctx context.Context, _ *protocol.Invocation) ([]byte, error) {
				deadline, hasDeadline = ctx.Deadline()
				ctxErr = ctx.Err()
				if ctxErr != nil {
					return nil, timeoutErr("timed out")
				}
				return []byte("ok"), nil
			}
			if err := h.run(t); err != nil {
				t.Fatal(err)
			}
			switch {
			case tt.wantDeadline.IsZero() && !tt.wantExpired:
				if hasDeadline {
					t.Errorf("invocation context has the deadline %v, want none", deadline)
				}
			case !tt.wantExpired:
				if !deadline.Equal(tt.wantDeadline) {
					t.Errorf("invocation deadline %v, want %v", deadline, tt.wantDeadline)
				}
			}
			if tt.wantExpired != (ctxErr != nil) {
				t.Errorf("invocation context error %v, want expired: %v", ctxErr, tt.wantExpired)
			}
			if len(h.api.posts) != 1 || h.api.posts[0].ctxErr != nil {
				t.Fatalf("posts %+v, want one made with a live context", h.api.posts)
			}
			if wantKind := map[bool]string{false: "respond", true: "fail"}[tt.wantExpired]; h.api.posts[0].kind != wantKind {
				t.Errorf("post %s, want %s", h.api.posts[0].kind, wantKind)
			}
		})
	}
}

// TestRunStartsWorkerBeforeEachNext checks that the worker is made warm again after every
// invocation, and that a worker that cannot start is logged and does not stop the loop.
func TestRunStartsWorkerBeforeEachNext(t *testing.T) {
	h := newHarness(invocation("r1"), invocation("r2"))
	h.worker.start = func(call int) error {
		if call == 2 {
			return errors.New("exec: no such file")
		}
		return nil
	}
	if err := h.run(t); err != nil {
		t.Fatal(err)
	}
	want := []string{"start", "invoke r1", "respond r1", "start", "invoke r2", "respond r2", "start"}
	if got := h.rec.without("next"); !reflect.DeepEqual(got, want) {
		t.Errorf("calls\n got %q\nwant %q", got, want)
	}
	if got := h.messages(zapcore.WarnLevel); !reflect.DeepEqual(got, []string{"worker could not be restarted; the next invocation will try again"}) {
		t.Errorf("warnings %q", got)
	}
}

// TestRunLeavesAWarmWorker checks that a worker that says it is warm is not started again: a
// warm invocation costs the loop no Start (and no goroutine to run it), and a worker that goes
// cold between invocations is started again before the next one.
func TestRunLeavesAWarmWorker(t *testing.T) {
	h := newHarness(invocation("r1"), invocation("r2"), invocation("r3"))
	warm := map[string]bool{"invoke r1": true, "invoke r2": false, "invoke r3": true}
	h.worker.warm = func() bool {
		calls := h.rec.without("next")
		return len(calls) > 1 && warm[calls[len(calls)-2]]
	}
	if err := h.run(t); err != nil {
		t.Fatal(err)
	}
	want := []string{"start", "invoke r1", "respond r1", "invoke r2", "respond r2", "start", "invoke r3", "respond r3"}
	if got := h.rec.without("next"); !reflect.DeepEqual(got, want) {
		t.Errorf("calls\n got %q\nwant %q", got, want)
	}
}

// TestRunStartsWorkerWhileWaiting checks that a slow worker start overlaps the wait on /next
// instead of coming after it.
func TestRunStartsWorkerWhileWaiting(t *testing.T) {
	h := newHarness(invocation("r1"))
	started := make(chan struct{})
	h.worker.start = func(call int) error {
		if call == 1 {
			<-started // Next was called while Start was still running
		}
		return nil
	}
	next := h.api
	h.loop.API = &signalingAPI{fakeAPI: next, once: func() { close(started) }}
	if err := h.run(t); err != nil {
		t.Fatal(err)
	}
	if len(h.api.posts) != 1 {
		t.Errorf("posts %+v", h.api.posts)
	}
}

// signalingAPI is a fakeAPI whose first Next calls once before answering.
type signalingAPI struct {
	*fakeAPI
	once  func()
	calls int
}

func (s *signalingAPI) Next(ctx context.Context) (*protocol.Invocation, error) {
	if s.calls++; s.calls == 1 {
		s.once()
	}
	return s.fakeAPI.Next(ctx)
}
