package e2e

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/polyboot/polyboot/internal/rietest"
)

const pidHandler = `handler() { printf '{"pid":%d}' "$$"; }
big() { head -c 7000000 /dev/zero | tr '\0' x; }
`

// waitExit waits up to d for cmd to exit and returns its exit code, or fails the test.
func waitExit(t *testing.T, cmd *exec.Cmd, d time.Duration) int {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			return ee.ExitCode()
		}
		if err != nil {
			t.Fatalf("wait: %v", err)
		}
		return 0
	case <-time.After(d):
		t.Fatalf("the bootstrap did not exit within %v", d)
		return -1
	}
}

// workerPID invokes pidHandler once through the fake API and returns the worker's pid.
func workerPID(t *testing.T, api *fakeAPI, id string) int {
	t.Helper()
	api.queue <- fakeInvocation{id: id, body: `{}`}
	r := api.result(t)
	var got struct{ PID int }
	if r.kind != "response" || json.Unmarshal([]byte(r.body), &got) != nil || got.PID == 0 {
		t.Fatalf("pid invocation: %+v", r)
	}
	return got.PID
}

// eventually polls cond for up to 5 s: a process's output reaches the test through a copying
// goroutine, a little after the process wrote it.
func eventually(cond func() bool) bool {
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		if cond() {
			return true
		}
	}
	return cond()
}

func alive(pid int) bool { return syscall.Kill(pid, 0) == nil }

// TestSIGTERM: the bootstrap stops its worker (EOF on its channel, SIGTERM to its group, SIGKILL
// for what is left) and exits 0 within Lambda's 500 ms, leaving nothing behind, not even a job
// the handler's code started that ignores SIGTERM; with POLYBOOT_ENABLE_SIGTERM it registers the
// no-op extension during init, before its first /next.
func TestSIGTERM(t *testing.T) {
	api := newFakeAPI(t)
	// The worker ignores SIGTERM, and so does a background job its code starts at load time.
	// Its sleep time is unique to this run, to tell it from any other sleep on the machine.
	job := strconv.Itoa(100000 + os.Getpid())
	script := pidHandler + "trap '' TERM\n( trap '' TERM; exec sleep " + job + " ) &\n"
	task := writeTask(t, map[string]string{"function.sh": script})
	_, cmd := startBootstrap(t, api.srv.URL, function{taskDir: task, handler: "function.handler", env: []string{"POLYBOOT_ENABLE_SIGTERM=1"}})
	pid := workerPID(t, api, "r1")
	if len(processesWithArg(t, job)) != 1 {
		t.Fatalf("the handler's background job is not running: %v", processesWithArg(t, job))
	}
	var ext []string
	api.get(func(f *fakeAPI) { ext = append(ext, f.extensions...) })
	if len(ext) != 2 || ext[0] != `polyboot {"events":[]}` || ext[1] != "next ext-id-1" {
		t.Errorf("extension calls %q, want a registration with no events, then next", ext)
	}
	start := time.Now()
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if code := waitExit(t, cmd, 2*time.Second); code != 0 {
		t.Errorf("exit code %d, want 0", code)
	}
	if d := time.Since(start); d > 500*time.Millisecond {
		t.Errorf("exit took %v, want ≤ 500 ms", d)
	}
	if alive(pid) {
		t.Errorf("worker %d outlived the bootstrap", pid)
	}
	if !eventually(func() bool { return len(processesWithArg(t, job)) == 0 }) {
		t.Errorf("the handler's SIGTERM-ignoring job outlived the bootstrap: %v", processesWithArg(t, job))
	}
}

// TestSIGTERMAsPID1: as a container's init, the bootstrap still exits promptly on SIGTERM, and
// the orphans a handler leaves behind are reaped: by the runtime it starts as its child, a child
// subreaper, when the namespace has its own /proc (as a container has); by init itself when the
// runtime cannot see its processes in /proc (the host's) and so is no subreaper.
func TestSIGTERMAsPID1(t *testing.T) {
	if _, err := exec.LookPath("unshare"); err != nil || os.Geteuid() != 0 {
		t.Fatal("*** this test needs unshare and root (to make a PID namespace): it cannot run here ***")
	}
	for _, c := range []struct {
		name      string
		mountProc bool
	}{{"own-proc", true}, {"host-proc", false}} {
		t.Run(c.name, func(t *testing.T) { testSIGTERMAsPID1(t, c.mountProc) })
	}
}

func testSIGTERMAsPID1(t *testing.T, mountProc bool) {
	api := newFakeAPI(t)
	script := pidHandler + `orphan() { ( sleep 30 & ) ; printf '{"orphaned":true}'; }` + "\n"
	task := writeTask(t, map[string]string{"function.sh": script})
	args := []string{"--pid", "--fork", "--kill-child"}
	if mountProc {
		args = append(args, "--mount-proc")
	}
	cmd := exec.Command("unshare", append(args, env.layerDir+"/bootstrap")...)
	cmd.Dir = task
	cmd.Env = append(rietest.CleanEnv(), "_HANDLER=function.orphan", "AWS_LAMBDA_RUNTIME_API="+strings.TrimPrefix(api.srv.URL, "http://"))
	logs := &rietest.SyncBuffer{}
	cmd.Stdout, cmd.Stderr = logs, logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		_ = cmd.Process.Kill()
		if t.Failed() {
			t.Logf("log:\n%s", logs.String())
		}
	}()
	api.queue <- fakeInvocation{id: "r1", body: `{}`}
	if r := api.result(t); r.kind != "response" {
		t.Fatalf("got %+v", r)
	}
	init := childOf(t, cmd.Process.Pid) // the bootstrap as PID 1 of the namespace (host pid)
	reaper := init
	if mountProc {
		reaper = childOf(t, init) // the runtime, a child subreaper
	}
	orphan := 0
	for deadline := time.Now().Add(3 * time.Second); orphan == 0 && time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		for _, pid := range processesWithArg(t, "30") {
			if ppid(t, pid) == reaper {
				orphan, _ = strconv.Atoi(pid)
			}
		}
	}
	if orphan == 0 {
		t.Fatalf("the handler's orphan was not re-parented to %d (init %d)", reaper, init)
	}
	_ = syscall.Kill(orphan, syscall.SIGKILL)
	if !eventually(func() bool { return procState(strconv.Itoa(orphan)) == "" }) {
		t.Errorf("the orphan %d stayed (state %s): %d does not reap", orphan, procState(strconv.Itoa(orphan)), reaper)
	}
	start := time.Now()
	_ = syscall.Kill(init, syscall.SIGTERM)
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case <-done:
	case <-time.After(2 * time.Second):
		t.Fatal("the bootstrap as PID 1 did not exit on SIGTERM")
	}
	if d := time.Since(start); d > 500*time.Millisecond {
		t.Errorf("exit took %v, want ≤ 500 ms", d)
	}
}

// childOf returns the first child of parent, a process that may have started it from any thread.
func childOf(t *testing.T, parent int) int {
	t.Helper()
	for deadline := time.Now().Add(3 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		tasks, _ := os.ReadDir(fmt.Sprintf("/proc/%d/task", parent))
		for _, task := range tasks {
			b, err := os.ReadFile(fmt.Sprintf("/proc/%d/task/%s/children", parent, task.Name()))
			if f := strings.Fields(string(b)); err == nil && len(f) > 0 {
				pid, _ := strconv.Atoi(f[0])
				return pid
			}
		}
	}
	t.Fatalf("process %d has no child", parent)
	return 0
}

func ppid(t *testing.T, pid string) int {
	t.Helper()
	b, err := os.ReadFile("/proc/" + pid + "/stat")
	if err != nil {
		return 0
	}
	f := strings.Fields(string(b)[strings.LastIndexByte(string(b), ')')+2:])
	p, _ := strconv.Atoi(f[1])
	return p
}

func procState(pid string) string {
	b, err := os.ReadFile("/proc/" + pid + "/stat")
	if err != nil {
		return ""
	}
	return strings.Fields(string(b)[strings.LastIndexByte(string(b), ')')+2:])[0]
}

// TestRuntimeAPIFaults: what the platform does wrong gets bounded retries, a clear log line and
// the right exit status; never a busy loop, never a second post for one invocation.
func TestRuntimeAPIFaults(t *testing.T) {
	task := writeTask(t, map[string]string{"function.sh": pidHandler})

	t.Run("no-runtime-api", func(t *testing.T) {
		_, cmd := startBootstrap(t, "127.0.0.1:1", function{taskDir: task, handler: "function.handler"})
		start := time.Now()
		if code := waitExit(t, cmd, 10*time.Second); code != 1 {
			t.Errorf("exit code %d, want 1", code)
		}
		if d := time.Since(start); d < 200*time.Millisecond {
			t.Errorf("gave up after %v: the retries have no pause", d)
		}
	})

	t.Run("next-500", func(t *testing.T) {
		api := newFakeAPI(t)
		logs, cmd := startBootstrap(t, api.srv.URL, function{taskDir: task, handler: "function.handler"})
		workerPID(t, api, "r1")
		api.set(func(f *fakeAPI) { f.nextStatus = http.StatusInternalServerError })
		api.queue <- fakeInvocation{id: "wake", body: `{}`} // ignored: /next now fails
		if code := waitExit(t, cmd, 5*time.Second); code != 1 {
			t.Errorf("exit code %d, want 1", code)
		}
		if !eventually(func() bool { return strings.Contains(logs.String(), "HTTP 500") }) {
			t.Errorf("the log does not say why:\n%s", logs.String())
		}
	})

	t.Run("response-refused", func(t *testing.T) {
		api := newFakeAPI(t)
		logs := runBootstrap(t, api, function{taskDir: task, handler: "function.handler"})
		api.set(func(f *fakeAPI) { f.responseStatus = http.StatusForbidden })
		api.queue <- fakeInvocation{id: "r1", body: `{}`}
		if r := api.result(t); r.kind != "response" {
			t.Fatalf("got %+v", r)
		}
		api.set(func(f *fakeAPI) { f.responseStatus = 0 })
		workerPID(t, api, "r2") // served: the refusal did not stop the loop
		select {
		case r := <-api.results:
			t.Errorf("a second post followed the refused response: %+v", r)
		default:
		}
		if !eventually(func() bool { return strings.Contains(logs.String(), "refused the response") }) {
			t.Errorf("the refusal is not logged:\n%s", logs.String())
		}
	})

	t.Run("response-too-large", func(t *testing.T) {
		api := newFakeAPI(t)
		runBootstrap(t, api, function{taskDir: task, handler: "function.big"})
		api.queue <- fakeInvocation{id: "r1", body: `{}`}
		r := api.result(t)
		if r.kind != "error" || r.errorType != "Function.ResponseSizeTooLarge" || !strings.Contains(r.body, "7000000") {
			t.Errorf("got %+v", r)
		}
	})
}
