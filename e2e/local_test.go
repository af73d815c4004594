package e2e

import (
	"bytes"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/polyboot/polyboot/internal/rietest"
)

// TestLocalInvoke: `bootstrap invoke` runs events through the real adapter with no Runtime API.
func TestLocalInvoke(t *testing.T) {
	task := writeTask(t, map[string]string{
		"function.sh": `n=0
handler() { n=$((n+1)); echo "log $n" >&2; printf '{"n":%d,"event":%s}' "$n" "$1"; }
fail() { return 3; }`,
		"event.json": `{"from":"file"}`,
	})
	cases := []struct {
		args       []string
		stdin      string
		wantOut    string
		wantCode   int
		wantStderr string
	}{
		{[]string{"--handler", "function.handler", "--event", "event.json", "--event", "-"}, `{"from":"stdin"}`,
			`{"n":1,"event":{"from":"file"}}` + "\n" + `{"n":2,"event":{"from":"stdin"}}` + "\n", 0, "\tINFO\tlog 2"},
		{[]string{"--handler", "function.handler"}, "", `{"n":1,"event":{}}` + "\n", 0, "log 1"},
		{[]string{"--handler", "function.fail"}, "", `"errorType":"Function.NonZeroExit"`, 1, ""},
		{[]string{"--handler", "nope.handler"}, "", `"errorType":"Runtime.HandlerNotFound"`, 3, ""},
		{[]string{"--handler", "function.handler", "--event", "missing.json"}, "", "", 2, "missing.json"},
		{[]string{"--bogus"}, "", "", 2, "unknown flag"},
	}
	for _, c := range cases {
		cmd := exec.Command(env.layerDir+"/bootstrap", append([]string{"invoke"}, c.args...)...)
		cmd.Dir = task
		cmd.Env = rietest.CleanEnv()
		cmd.Stdin = strings.NewReader(c.stdin)
		var stdout, stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		err := cmd.Run()
		code := 0
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			code = ee.ExitCode()
		} else if err != nil {
			t.Fatal(err)
		}
		if code != c.wantCode || !strings.Contains(stdout.String(), c.wantOut) || !strings.Contains(stderr.String(), c.wantStderr) {
			t.Errorf("invoke %q: exit %d, stdout %q, stderr %q; want exit %d, stdout with %q, stderr with %q",
				c.args, code, stdout.String(), stderr.String(), c.wantCode, c.wantOut, c.wantStderr)
		}
	}
	out, _ := exec.Command(env.layerDir+"/bootstrap", "invoke", "--help").CombinedOutput()
	for _, want := range []string{"--handler", "--task-root", "--event", "--timeout", "AWS_LAMBDA_LOG_FORMAT", "POLYBOOT_PYTHON", "AWS_LAMBDA_MAX_CONCURRENCY"} {
		if !strings.Contains(string(out), want) {
			t.Errorf("invoke --help does not explain %s", want)
		}
	}
}

// localInvoke runs `bootstrap invoke` with args in task and returns its stdout and exit code.
func localInvoke(t *testing.T, task string, extraEnv []string, args ...string) (string, int) {
	t.Helper()
	cmd := exec.Command(bootstrapPath(), append([]string{"invoke"}, args...)...)
	cmd.Dir = task
	cmd.Env = append(rietest.CleanEnv(), extraEnv...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return stdout.String(), ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return stdout.String(), 0
}

// bootstrapPath is the layer's bootstrap.
func bootstrapPath() string { return env.layerDir + "/bootstrap" }

// TestLocalInvokeLikeLambda: `bootstrap invoke` goes through the same invoke loop as Lambda's
// invocations: the handler is told (and held to) the deadline less the margin, and a response
// over 6 MB is Function.ResponseSizeTooLarge.
func TestLocalInvokeLikeLambda(t *testing.T) {
	task := writeTask(t, map[string]string{
		"function.sh": `deadline() { printf '%s' "$LAMBDA_DEADLINE_MS"; }
big() { head -c 6291457 /dev/zero | tr '\0' x; }`,
	})
	start := time.Now()
	out, code := localInvoke(t, task, []string{"POLYBOOT_TIMEOUT_MARGIN_MS=4000"}, "--handler", "function.deadline", "--timeout", "10s")
	told, err := strconv.ParseInt(strings.TrimSpace(out), 10, 64)
	if code != 0 || err != nil {
		t.Fatalf("deadline: exit %d, stdout %q", code, out)
	}
	if left := time.UnixMilli(told).Sub(start); left < 5*time.Second || left > 6*time.Second+100*time.Millisecond {
		t.Errorf("the handler was told a deadline %v after the start, want 10 s less the 4 s margin", left)
	}
	out, code = localInvoke(t, task, nil, "--handler", "function.big")
	if code != 1 || !strings.Contains(out, `"errorType":"Function.ResponseSizeTooLarge"`) || len(out) > 1000 {
		t.Errorf("big: exit %d, stdout %.200q; want exit 1 and Function.ResponseSizeTooLarge", code, out)
	}
}

// TestLocalInvokeStreams: with POLYBOOT_STREAM_RESPONSE=1, `bootstrap invoke` prints the body as
// the handler writes it: the first part is out while the handler still waits (for a file the test
// creates once it has read that part).
func TestLocalInvokeStreams(t *testing.T) {
	task := writeTask(t, map[string]string{
		"function.sh": `handler() { printf first; while [ ! -e go ]; do sleep 0.01; done; printf second; }`,
	})
	cmd := exec.Command(bootstrapPath(), "invoke", "--handler", "function.handler")
	cmd.Dir = task
	cmd.Env = append(rietest.CleanEnv(), "POLYBOOT_STREAM_RESPONSE=1")
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = os.WriteFile(filepath.Join(task, "go"), nil, 0o644); _ = cmd.Wait() }()
	first := make(chan string, 1)
	go func() {
		buf := make([]byte, 5)
		n, _ := io.ReadFull(stdout, buf)
		first <- string(buf[:n])
	}()
	select {
	case got := <-first:
		if got != "first" {
			t.Fatalf("stdout began with %q, want first", got)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("nothing printed while the handler was still running: the response was not streamed")
	}
	if err := os.WriteFile(filepath.Join(task, "go"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	rest, _ := io.ReadAll(stdout)
	if string(rest) != "second\n" {
		t.Errorf("rest of stdout %q, want \"second\\n\"", rest)
	}
}

// TestLocalInvokeInitTimeout: POLYBOOT_INIT_TIMEOUT_MS bounds how long the handler may take to
// load (here 300 ms against a 5 s load): Runtime.InitTimeout, exit 3, long before the load ends.
func TestLocalInvokeInitTimeout(t *testing.T) {
	task := writeTask(t, map[string]string{"function.sh": "sleep 5\nhandler() { :; }\n"})
	start := time.Now()
	out, code := localInvoke(t, task, []string{"POLYBOOT_INIT_TIMEOUT_MS=300"}, "--handler", "function.handler")
	if code != 3 || !strings.Contains(out, `"errorType":"Runtime.InitTimeout"`) || !strings.Contains(out, "300ms") {
		t.Errorf("exit %d, stdout %q; want exit 3 and Runtime.InitTimeout after 300ms", code, out)
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("took %v, want about 300 ms", d)
	}
}

// TestInheritedDescriptorsStayWithTheBootstrap: a descriptor the bootstrap inherits (here fd 3
// and fd 9, as a wrapper or a test shell might leak them) reaches neither the worker nor the
// programs a handler runs: they hold fds 0, 1 and 2 only (and bash's channel copies, which are
// closed for the handler's call).
func TestInheritedDescriptorsStayWithTheBootstrap(t *testing.T) {
	task := writeTask(t, map[string]string{
		"function.sh": `fds() { ls /proc/self/fd | sort -n | tr '\n' ' '; }`,
	})
	leak, err := os.Open(os.DevNull)
	if err != nil {
		t.Fatal(err)
	}
	defer leak.Close()
	cmd := exec.Command(bootstrapPath(), "invoke", "--handler", "function.fds")
	cmd.Dir = task
	cmd.Env = rietest.CleanEnv()
	// ExtraFiles become fds 3, 4, ... of the bootstrap, inherited without close-on-exec.
	cmd.ExtraFiles = []*os.File{leak, leak, leak, leak, leak, leak, leak}
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("bootstrap invoke: %v (stdout %q)", err, out)
	}
	// ls itself holds one more descriptor while it lists the folder (3).
	if got, want := strings.TrimSpace(string(out)), "0 1 2 3"; got != want {
		t.Errorf("a program the handler ran held fds %q, want %q", got, want)
	}
}
