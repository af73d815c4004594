package e2e

import (
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestSIGTERMMidInvocation: SIGTERM to the bootstrap while an invocation runs gives that
// invocation the shutdown grace (200 ms): the worker's process group gets SIGTERM, so the
// handler's TERM trap runs, and SIGKILL only once the grace has passed; what comes of it is posted
// (the emulator cannot send SIGTERM mid-invocation, hence the fake Runtime API), and the bootstrap
// still exits within Lambda's 500 ms.
func TestSIGTERMMidInvocation(t *testing.T) {
	tests := []struct {
		name     string
		handler  string
		wantBody []string // in the posted error
	}{
		{
			name:     "trap runs",
			handler:  `handler() { trap 'echo "TERM trapped" >&2; exit 7' TERM; echo started >&2; sleep 30 & wait $!; }`,
			wantBody: []string{"shut down (SIGTERM)", "TERM trapped"},
		},
		{
			name:     "TERM ignored",
			handler:  `handler() { trap '' TERM; echo started >&2; ( exec sleep 30 ); }`,
			wantBody: []string{"shut down (SIGTERM)", "200ms to finish before SIGKILL", "Task timed out"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			api := newFakeAPI(t)
			task := writeTask(t, map[string]string{"function.sh": tt.handler + "\n"})
			logs, cmd := startBootstrap(t, api.srv.URL, function{taskDir: task, handler: "function.handler", env: []string{"POLYBOOT_ENABLE_SIGTERM=1"}})
			api.queue <- fakeInvocation{id: "r1", body: `{}`}
			if !eventually(func() bool { return strings.Contains(logs.String(), "started") }) {
				t.Fatalf("the handler did not start; log:\n%s", logs.String())
			}
			start := time.Now()
			if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
				t.Fatal(err)
			}
			res := api.result(t)
			if res.id != "r1" || res.kind != "error" {
				t.Fatalf("posted %+v, want an error for r1", res)
			}
			t.Logf("posted after %v: %s", time.Since(start).Round(time.Millisecond), res.body)
			for _, want := range tt.wantBody {
				if !strings.Contains(res.body, want) {
					t.Errorf("error %s does not say %q", res.body, want)
				}
			}
			if code := waitExit(t, cmd, 2*time.Second); code != 0 {
				t.Errorf("exit code %d, want 0", code)
			}
			if d := time.Since(start); d > 500*time.Millisecond {
				t.Errorf("exit took %v, want ≤ 500 ms", d)
			}
		})
	}
}
