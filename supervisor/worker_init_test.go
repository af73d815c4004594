package supervisor

import (
	"context"
	"testing"
	"time"
)

// TestStartInitTimeout: a worker that never says ready is killed after InitTimeout and reported
// as KindInitTimeout with its last log lines; an empty configuration is refused.
func TestStartInitTimeout(t *testing.T) {
	w := NewWorker(NewSpawner(), Config{
		Argv:        []string{"bash", "-c", "echo loading >&2; sleep 30"},
		Logs:        LogSinkFunc(func(string, []byte) {}),
		InitTimeout: 300 * time.Millisecond,
	})
	start := time.Now()
	err := w.Start(context.Background())
	checkErr(t, err, KindInitTimeout, "loading")
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("the init timeout took %v", d)
	}
	err = NewWorker(NewSpawner(), Config{}).Start(context.Background())
	checkErr(t, err, KindStart, "lacks a command or a log sink")
}
