package invoke_test

import (
	"context"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/polyboot/polyboot/invoke"
	"github.com/polyboot/polyboot/protocol"
)

// TestRunTellsTheEnforcedDeadline: the worker (and so the handler) is told the deadline the loop
// enforces, the Runtime API's less the margin, not the raw one it is killed before.
func TestRunTellsTheEnforcedDeadline(t *testing.T) {
	raw := time.Now().Add(time.Hour).UnixMilli()
	tests := []struct {
		name     string
		margin   time.Duration
		raw      int64
		wantTold int64
	}{
		{"margin of 50 ms", 50 * time.Millisecond, raw, raw - 50},
		{"margin of 2.5 s", 2500 * time.Millisecond, raw, raw - 2500},
		{"no margin", 0, raw, raw},
		{"no deadline", 50 * time.Millisecond, 0, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(answer{inv: &protocol.Invocation{RequestID: "r1", DeadlineMs: tt.raw, Payload: []byte("{}")}})
			h.loop.Margin = tt.margin
			var told int64
			var ctxDeadline time.Time
			h.worker.invoke = func(ctx context.Context, inv *protocol.Invocation) ([]byte, error) {
				told = inv.DeadlineMs
				ctxDeadline, _ = ctx.Deadline()
				return []byte("ok"), nil
			}
			if err := h.run(t); err != nil {
				t.Fatal(err)
			}
			if told != tt.wantTold {
				t.Errorf("worker told the deadline %d, want %d (raw %d, margin %v)", told, tt.wantTold, tt.raw, tt.margin)
			}
			if tt.raw != 0 && ctxDeadline.UnixMilli() != told {
				t.Errorf("told %d, but the invocation is stopped at %d", told, ctxDeadline.UnixMilli())
			}
			if len(h.api.posts) != 1 || h.api.posts[0].id != "r1" {
				t.Errorf("posts %+v", h.api.posts)
			}
		})
	}
}

// TestRunAnswersAnInvalidDeadline: an invocation handed out with a deadline header that is not a
// number gets exactly one post, an error, without reaching the worker, and the loop goes on.
func TestRunAnswersAnInvalidDeadline(t *testing.T) {
	for _, value := range []string{"soon", "", "99999999999999999999"} {
		t.Run(strconv.Quote(value), func(t *testing.T) {
			bad := &protocol.InvalidDeadlineError{
				Invocation: &protocol.Invocation{RequestID: "r1", Payload: []byte("{}")},
				Value:      value, Err: strconv.ErrSyntax,
			}
			h := newHarness(answer{err: bad}, invocation("r2"))
			if err := h.run(t); err != nil {
				t.Fatalf("Run = %v, want nil", err)
			}
			want := []string{"next", "fail r1", "next", "invoke r2", "respond r2", "next"}
			if got := h.rec.without("start"); !reflect.DeepEqual(got, want) {
				t.Errorf("calls\n got %q\nwant %q", got, want)
			}
			if len(h.api.posts) != 2 {
				t.Fatalf("posts %+v, want 2", h.api.posts)
			}
			r := h.api.posts[0].report
			if r == nil || r.Type != invoke.ErrTypeInvalidDeadline || !strings.Contains(r.Message, strconv.Quote(value)) {
				t.Errorf("r1 report %+v, want %s naming %q", r, invoke.ErrTypeInvalidDeadline, value)
			}
		})
	}
}
