package invoke_test

import (
	"context"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/polyboot/polyboot/invoke"
	"github.com/polyboot/polyboot/protocol"
)

// terminatingWorker is a fakeWorker that is a Terminator: Terminate closes terminated.
type terminatingWorker struct {
	*fakeWorker
	once       sync.Once
	terminated chan struct{}
}

var _ invoke.Terminator = (*terminatingWorker)(nil)

func (w *terminatingWorker) Terminate() {
	w.rec.add("terminate")
	w.once.Do(func() { close(w.terminated) })
}

// TestRunShutdownGrace: when Run's context ends (SIGTERM) during an invocation, the worker gets
// SIGTERM (Terminate) instead of being killed at once; what it answers within the grace is
// posted, and a worker that does not finish is stopped Grace later and its error posted, saying
// the runtime was shutting down. Both posts go out with a live context.
func TestRunShutdownGrace(t *testing.T) {
	const grace = 200 * time.Millisecond
	tests := []struct {
		name     string
		answer   bool // the worker answers on SIGTERM; else it runs until its context ends
		wantKind string
	}{
		{"answers on SIGTERM", true, "respond"},
		{"ignores SIGTERM", false, "fail"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(invocation("r1"), invocation("r2"))
			h.loop.Grace = grace
			w := &terminatingWorker{fakeWorker: h.worker, terminated: make(chan struct{})}
			h.loop.Worker = w
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			var stoppedAfter time.Duration
			h.worker.invoke = func(ictx context.Context, _ *protocol.Invocation) ([]byte, error) {
				cancel() // SIGTERM
				start := time.Now()
				select {
				case <-ictx.Done():
					t.Errorf("the invocation's context ended before the worker got SIGTERM")
				case <-w.terminated:
				}
				if tt.answer {
					return []byte("trapped"), nil
				}
				<-ictx.Done()
				stoppedAfter = time.Since(start)
				return nil, timeoutErr("Task timed out after 0.20 seconds")
			}
			if err := h.loop.Run(ctx); err != nil {
				t.Fatalf("Run = %v, want nil", err)
			}
			want := []string{"next", "invoke r1", "terminate", tt.wantKind + " r1"}
			if got := h.rec.without("start"); !reflect.DeepEqual(got, want) {
				t.Errorf("calls\n got %q\nwant %q", got, want)
			}
			if len(h.api.posts) != 1 || h.api.posts[0].ctxErr != nil {
				t.Fatalf("posts %+v, want one, made with a live context", h.api.posts)
			}
			p := h.api.posts[0]
			if tt.answer && string(p.body) != "trapped" {
				t.Errorf("posted %q, want the worker's answer", p.body)
			}
			if !tt.answer {
				if stoppedAfter < grace || stoppedAfter > grace+150*time.Millisecond {
					t.Errorf("the worker was stopped %v after SIGTERM, want the grace of %v", stoppedAfter, grace)
				}
				if p.report.Type != invoke.ErrTypeTimeout || !strings.Contains(p.report.Message, "shut down (SIGTERM)") || !strings.Contains(p.report.Message, "Task timed out") {
					t.Errorf("report %+v does not say the runtime was shutting down", p.report)
				}
			}
		})
	}
}

// cancelingAPI is a fakeAPI that ends Run's context (SIGTERM) as it hands out invocation `at`.
type cancelingAPI struct {
	*fakeAPI
	at     int
	cancel func()
	calls  int
}

func (c *cancelingAPI) Next(ctx context.Context) (*protocol.Invocation, error) {
	inv, err := c.fakeAPI.Next(ctx)
	if c.calls++; c.calls == c.at {
		c.cancel()
	}
	return inv, err
}

// TestRunShutdownDuringARestart: SIGTERM while the worker is being restarted for an invocation
// ends the restart, starts no other worker during the grace, and posts the invocation's error.
func TestRunShutdownDuringARestart(t *testing.T) {
	h := newHarness(invocation("r1"), invocation("r2"))
	h.loop.Grace = time.Second
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	h.loop.API = &cancelingAPI{fakeAPI: h.api, at: 2, cancel: cancel}
	h.worker.startCtx = func(sctx context.Context, call int) error {
		if call == 1 {
			return nil
		}
		<-sctx.Done() // the restart after r1, until it is abandoned
		return sctx.Err()
	}
	if err := h.loop.Run(ctx); err != nil {
		t.Fatalf("Run = %v, want nil", err)
	}
	want := []string{"start", "invoke r1", "respond r1", "start", "fail r2"}
	if got := h.rec.without("next"); !reflect.DeepEqual(got, want) {
		t.Errorf("calls\n got %q\nwant %q", got, want)
	}
	if len(h.api.posts) != 2 || h.api.posts[1].ctxErr != nil || !strings.Contains(h.api.posts[1].report.Message, "shut down (SIGTERM)") {
		t.Errorf("posts %+v, want r2's error, posted with a live context", h.api.posts)
	}
}
