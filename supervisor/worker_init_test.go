package supervisor

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/polyboot/polyboot/protocol"
)

// TestStartInitTimeout: a worker that never says ready is killed after InitTimeout and reported
// as Runtime.InitTimeout with its last log lines; an empty configuration is refused.
func TestStartInitTimeout(t *testing.T) {
	w := NewWorker(NewSpawner(), Config{
		Argv:        []string{"bash", "-c", "echo loading >&2; sleep 30"},
		Logs:        LogSinkFunc(func(string, []byte) {}),
		InitTimeout: 300 * time.Millisecond,
	})
	start := time.Now()
	err := w.Start(context.Background())
	var report *protocol.ErrorReport
	if !errors.As(err, &report) || report.Type != ErrTypeInitTimeout || !strings.Contains(report.Message, "loading") {
		t.Fatalf("Start = %v", err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("the init timeout took %v", d)
	}
	if err := NewWorker(NewSpawner(), Config{}).Start(context.Background()); !errors.As(err, &report) || report.Type != ErrTypeStart {
		t.Errorf("an empty configuration: %v", err)
	}
}
