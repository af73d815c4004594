package e2e

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/polyboot/polyboot/internal/rietest"
)

const sleeper = `handler() {
  case $1 in *crash*) kill -9 $$ ;; esac
  sleep 0.2
  echo "served $LAMBDA_REQUEST_ID" >&2
  printf '{"id":"%s","pid":%d,"event":%s}' "$LAMBDA_REQUEST_ID" "$$" "$1"
}`

// TestConcurrencyFakeAPI: with AWS_LAMBDA_MAX_CONCURRENCY=4 the bootstrap polls /next from four
// workers at once, each with its own interpreter.
func TestConcurrencyFakeAPI(t *testing.T) {
	api := newFakeAPI(t)
	runBootstrap(t, api, function{taskDir: writeTask(t, map[string]string{"function.sh": sleeper}), handler: "function.handler",
		env: []string{"AWS_LAMBDA_MAX_CONCURRENCY=4"}})
	time.Sleep(300 * time.Millisecond) // let the four workers start
	start := time.Now()
	for i := 0; i < 4; i++ {
		api.queue <- fakeInvocation{id: fmt.Sprintf("c%d", i), body: fmt.Sprintf(`{"n":%d}`, i)}
	}
	pids := map[int]bool{}
	for i := 0; i < 4; i++ {
		r := api.result(t)
		var got struct {
			ID    string
			PID   int
			Event struct{ N int }
		}
		if r.kind != "response" || json.Unmarshal([]byte(r.body), &got) != nil || got.ID != r.id || r.id != fmt.Sprintf("c%d", got.Event.N) {
			t.Errorf("mismatched result %+v", r)
		}
		pids[got.PID] = true
	}
	if d := time.Since(start); d > 600*time.Millisecond {
		t.Errorf("4 concurrent 200 ms invocations took %v: not served in parallel", d)
	}
	if len(pids) != 4 {
		t.Errorf("served by %d interpreters, want 4", len(pids))
	}
}

// TestManagedInstancesEmulator runs the layer under the emulator's Managed Instances mode
// (AWS_LAMBDA_MAX_CONCURRENCY in its environment), which only runs /opt/bootstrap in /var/task:
// a private mount namespace gives it that layout. N concurrent invocations of a 200 ms handler
// finish in about one handler time, every response matches its request, and a crashing worker
// leaves the others serving.
func TestManagedInstancesEmulator(t *testing.T) {
	if _, err := exec.LookPath("unshare"); err != nil || os.Geteuid() != 0 {
		t.Fatal("*** this test needs unshare and root (a private mount namespace): it cannot run here ***")
	}
	const n = 4
	task := writeTask(t, map[string]string{"function.sh": sleeper})
	for _, dir := range []string{task, filepath.Dir(task), env.layerDir, filepath.Dir(env.layerDir)} {
		if err := os.Chmod(dir, 0o755); err != nil { // the emulator runs the runtime as uid 993
			t.Fatal(err)
		}
	}
	port := rietest.FreePort(t)
	logs := &rietest.SyncBuffer{}
	script := `set -e
mount -t tmpfs tmpfs /var && mkdir -p /var/task && mount --bind "$1" /var/task
mount --bind "$2" /opt
shift 2
exec "$@"`
	cmd := exec.Command("unshare", "-m", "--propagation", "private", "bash", "-c", script, "-", task, env.layerDir,
		env.rie, "--runtime-interface-emulator-address", fmt.Sprintf("127.0.0.1:%d", port),
		"--runtime-api-address", fmt.Sprintf("127.0.0.1:%d", rietest.FreePort(t)))
	cmd.Env = append(rietest.CleanEnv(), "_HANDLER=function.handler", fmt.Sprintf("AWS_LAMBDA_MAX_CONCURRENCY=%d", n), "AWS_LAMBDA_FUNCTION_TIMEOUT=10")
	cmd.Stdout, cmd.Stderr = logs, logs
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		_ = cmd.Wait()
		if t.Failed() {
			t.Logf("emulator log:\n%s", logs.String())
		}
	})
	e := &emulator{&rietest.Emulator{URL: fmt.Sprintf("http://127.0.0.1:%d/2015-03-31/functions/function/invocations", port), Logs: logs, Cmd: cmd}}
	rietest.WaitListening(t, port, logs)

	round := func(events []string) ([]string, time.Duration) {
		// The emulator's Managed Instances mode answers Runtime.Unavailable to an invocation that
		// arrives while fewer workers poll /next than invocations are in flight; a worker polls
		// again just after it posted its last result, so give them that moment between rounds.
		time.Sleep(100 * time.Millisecond)
		bodies := make([]string, len(events))
		var wg sync.WaitGroup
		start := time.Now()
		for i, ev := range events {
			wg.Add(1)
			go func() {
				defer wg.Done()
				_, body := e.Invoke(t, []byte(ev))
				bodies[i] = string(body)
			}()
		}
		wg.Wait()
		return bodies, time.Since(start)
	}
	// The first round also initialises the workers.
	round([]string{`{"warm":1}`})
	for r := 0; r < 3; r++ {
		events := make([]string, n)
		for i := range events {
			events[i] = fmt.Sprintf(`{"round":%d,"i":%d}`, r, i)
		}
		bodies, took := round(events)
		for i, body := range bodies {
			if !strings.HasSuffix(body, `"event":`+events[i]+`}`) {
				t.Errorf("round %d, invocation %d: got %s", r, i, body)
			}
		}
		t.Logf("round %d: %d concurrent 200 ms invocations in %v", r, n, took.Round(time.Millisecond))
		if took > 2*200*time.Millisecond+300*time.Millisecond {
			t.Errorf("round %d took %v: the invocations were not served in parallel", r, took)
		}
	}
	// One worker crashes; the others keep serving, and it is replaced.
	bodies, _ := round([]string{`{"crash":1}`, `{"ok":1}`, `{"ok":2}`})
	if !strings.Contains(bodies[0], "Runtime.ExitError") || !strings.Contains(bodies[1], `"event":{"ok":1}`) || !strings.Contains(bodies[2], `"event":{"ok":2}`) {
		t.Errorf("crash round: %q", bodies)
	}
	time.Sleep(300 * time.Millisecond)
	events := make([]string, n)
	for i := range events {
		events[i] = fmt.Sprintf(`{"after":%d}`, i)
	}
	bodies, _ = round(events)
	for i, body := range bodies {
		if !strings.HasSuffix(body, `"event":`+events[i]+`}`) {
			t.Errorf("after the crash, invocation %d: got %s", i, body)
		}
	}
}
