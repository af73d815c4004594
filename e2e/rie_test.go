package e2e

import (
	"bytes"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// emulator is one running RIE serving one handler.
type emulator struct {
	url  string
	logs *syncBuffer
	cmd  *exec.Cmd
}

// function describes what to serve.
type function struct {
	taskDir string
	handler string
	env     []string // extra environment (KEY=VALUE)
}

// startEmulator starts RIE with the layer's bootstrap for fn and waits until it listens. It is
// stopped, with everything it started, when the test ends.
func startEmulator(t *testing.T, fn function) *emulator {
	t.Helper()
	port, apiPort := freePort(t), freePort(t)
	logs := &syncBuffer{}
	cmd := exec.Command(env.rie,
		"--runtime-interface-emulator-address", fmt.Sprintf("127.0.0.1:%d", port),
		"--runtime-api-address", fmt.Sprintf("127.0.0.1:%d", apiPort),
		env.layerDir+"/bootstrap")
	cmd.Dir = fn.taskDir
	cmd.Env = append(cleanEnv(), "_HANDLER="+fn.handler, "AWS_LAMBDA_FUNCTION_TIMEOUT=30")
	cmd.Env = append(cmd.Env, fn.env...)
	cmd.Stdout, cmd.Stderr = logs, logs
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting the emulator: %v", err)
	}
	e := &emulator{url: fmt.Sprintf("http://127.0.0.1:%d/2015-03-31/functions/function/invocations", port), logs: logs, cmd: cmd}
	t.Cleanup(func() {
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		_ = cmd.Wait()
		if t.Failed() {
			t.Logf("emulator log:\n%s", logs.String())
		}
	})
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", port))
		if err == nil {
			c.Close()
			return e
		}
		if time.Now().After(deadline) {
			t.Fatalf("the emulator did not listen: %v\n%s", err, logs.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// invoke sends one event and returns the HTTP status and body.
func (e *emulator) invoke(t testing.TB, event []byte, headers ...string) (int, []byte) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, e.url, bytes.NewReader(event))
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("invoke: %v\n%s", err, e.logs.String())
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("invoke: reading response: %v", err)
	}
	return resp.StatusCode, body
}

// waitLog waits until the emulator's log holds text and returns the log.
func (e *emulator) waitLog(t testing.TB, text string) string {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		logs := e.logs.String()
		if strings.Contains(logs, text) {
			return logs
		}
		if time.Now().After(deadline) {
			t.Fatalf("the emulator's log never showed %q", text)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// cleanEnv is this process's environment without what would change an interpreter's behaviour.
func cleanEnv() []string {
	var out []string
	for _, kv := range os.Environ() {
		switch strings.SplitN(kv, "=", 2)[0] {
		case "PYTHONUNBUFFERED", "PYTHONPATH", "PYTHONHOME", "_HANDLER", "LAMBDA_TASK_ROOT",
			"AWS_LAMBDA_RUNTIME_API", "AWS_LAMBDA_LOG_FORMAT", "AWS_LAMBDA_MAX_CONCURRENCY":
			continue
		}
		out = append(out, kv)
	}
	return out
}

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// syncBuffer is a bytes.Buffer safe for a process's output and a test's reads at once.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// writeTask writes files (name → content) into a new task folder.
func writeTask(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, content := range files {
		p := dir + "/" + name
		if err := os.MkdirAll(p[:strings.LastIndex(p, "/")], 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// processesWithArg lists the pids of `sleep` processes whose argument is arg.
func processesWithArg(t *testing.T, arg string) []string {
	t.Helper()
	var pids []string
	entries, err := os.ReadDir("/proc")
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		cmdline, err := os.ReadFile("/proc/" + e.Name() + "/cmdline")
		if err != nil {
			continue
		}
		if args := strings.Split(strings.TrimRight(string(cmdline), "\x00"), "\x00"); len(args) == 2 &&
			strings.HasSuffix(args[0], "sleep") && args[1] == arg {
			pids = append(pids, e.Name())
		}
	}
	return pids
}
