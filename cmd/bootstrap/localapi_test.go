package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap/zaptest"

	"github.com/polyboot/polyboot/protocol"
	"github.com/polyboot/polyboot/supervisor"
)

// echoWorker answers each event as its body says: "big" a body over 6 MB, "stream" a body
// streamed in two parts, anything else the deadline it was told. It is an invoke.StreamWorker.
type echoWorker struct{ starts int }

func (w *echoWorker) Start(context.Context) error { w.starts++; return nil }

func (w *echoWorker) Warm() bool { return w.starts > 0 }

func (w *echoWorker) Invoke(ctx context.Context, inv *protocol.Invocation) ([]byte, error) {
	if string(inv.Payload) == "big" {
		return bytes.Repeat([]byte("x"), protocol.MaxResponseSize+1), nil
	}
	d, _ := ctx.Deadline()
	return []byte(fmt.Sprintf("told=%d enforced=%d", inv.DeadlineMs, d.UnixMilli())), nil
}

func (w *echoWorker) InvokeStream(ctx context.Context, inv *protocol.Invocation, out io.Writer) error {
	if string(inv.Payload) != "stream" {
		body, err := w.Invoke(ctx, inv)
		_, _ = out.Write(body)
		return err
	}
	_, _ = io.WriteString(out, "part1 ")
	_, _ = io.WriteString(out, "part2")
	return &supervisor.HandlerError{Report: protocol.Errorf("Function.Late", "failed after the body began")}
}

// TestServeLocal: `bootstrap invoke` runs its events through the invoke loop: one result line per
// event in order, the loop ends after the last, the handler is told and held to the deadline less
// the margin, a response over 6 MB is Function.ResponseSizeTooLarge, and with streaming the body
// comes as written and an error after it follows on its own line.
func TestServeLocal(t *testing.T) {
	const timeout, margin = 10 * time.Second, 4 * time.Second
	tests := []struct {
		name     string
		stream   bool
		events   []string
		wantCode int
		check    func(t *testing.T, lines []string)
	}{
		{"margin", false, []string{"{}", "{}"}, 0, func(t *testing.T, lines []string) {
			if len(lines) != 2 {
				t.Fatalf("lines %q, want 2", lines)
			}
			for _, l := range lines {
				var told, enforced int64
				if _, err := fmt.Sscanf(l, "told=%d enforced=%d", &told, &enforced); err != nil {
					t.Fatalf("line %q: %v", l, err)
				}
				left := time.Until(time.UnixMilli(told))
				if told != enforced || left > timeout-margin || left < timeout-margin-2*time.Second {
					t.Errorf("told %d (%v left), enforced %d; want both about now + %v", told, left, enforced, timeout-margin)
				}
			}
		}},
		{"size limit", false, []string{"big"}, exitInvokeError, func(t *testing.T, lines []string) {
			var r protocol.ErrorReport
			if len(lines) != 1 || json.Unmarshal([]byte(lines[0]), &r) != nil || r.Type != "Function.ResponseSizeTooLarge" {
				t.Errorf("lines %.200q, want one Function.ResponseSizeTooLarge", lines)
			}
		}},
		{"streaming", true, []string{"stream"}, exitInvokeError, func(t *testing.T, lines []string) {
			var r protocol.ErrorReport
			if len(lines) != 2 || lines[0] != "part1 part2" || json.Unmarshal([]byte(lines[1]), &r) != nil || r.Type != "Function.Late" {
				t.Errorf("lines %q, want the streamed body, then its error", lines)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out, stderr bytes.Buffer
			events := make([][]byte, len(tt.events))
			for i, e := range tt.events {
				events[i] = []byte(e)
			}
			api := &localAPI{events: events, timeout: timeout, out: &out, arn: "arn"}
			o := &options{margin: margin, stream: tt.stream}
			code := serveLocal(context.Background(), api, &echoWorker{}, o, zaptest.NewLogger(t), &stderr)
			if code != tt.wantCode {
				t.Errorf("exit %d, want %d (stderr %q)", code, tt.wantCode, stderr.String())
			}
			tt.check(t, strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n"))
		})
	}
}
