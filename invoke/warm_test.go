package invoke_test

import (
	"context"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/polyboot/polyboot/protocol"
)

// TestRunBoundsARestartByTheDeadline: a worker restart that takes longer than the next
// invocation's deadline (1.5 s against 300 ms) does not delay that invocation's answer: its
// timeout is posted before the deadline less the margin has long passed, the restart is abandoned
// (its context ends), and the loop goes on with a new start for the invocation after.
func TestRunBoundsARestartByTheDeadline(t *testing.T) {
	const margin = 50 * time.Millisecond
	deadline := time.Now().Add(300 * time.Millisecond)
	h := newHarness(invocation("r1"),
		answer{inv: &protocol.Invocation{RequestID: "r2", DeadlineMs: deadline.UnixMilli(), Payload: []byte("{}")}},
		invocation("r3"))
	h.loop.Margin = margin
	var abandoned bool
	h.worker.startCtx = func(ctx context.Context, call int) error {
		if call != 2 {
			return nil
		}
		select { // the slow restart after r1
		case <-ctx.Done():
			abandoned = true
			return ctx.Err()
		case <-time.After(1500 * time.Millisecond):
			return nil
		}
	}
	var mu sync.Mutex
	var failedAt time.Time
	h.api.fail = func(id string, _ int) error {
		mu.Lock()
		defer mu.Unlock()
		failedAt = time.Now()
		return nil
	}
	if err := h.run(t); err != nil {
		t.Fatal(err)
	}
	want := []string{"start", "invoke r1", "respond r1", "start", "fail r2", "start", "invoke r3", "respond r3", "start"}
	if got := h.rec.without("next"); !reflect.DeepEqual(got, want) {
		t.Errorf("calls\n got %q\nwant %q", got, want)
	}
	if late := failedAt.Sub(deadline.Add(-margin)); late > 100*time.Millisecond {
		t.Errorf("r2's timeout was posted %v after its deadline less the margin", late)
	}
	if !abandoned {
		t.Error("the restart went on after the deadline it was bounded by")
	}
	if len(h.api.posts) != 3 || h.api.posts[1].report == nil {
		t.Fatalf("posts %+v", h.api.posts)
	}
	if r := h.api.posts[1].report; r.Type != "Sandbox.Timedout" || !strings.Contains(r.Message, "being restarted") {
		t.Errorf("r2 report %+v, want Sandbox.Timedout saying the worker was being restarted", r)
	}
}
