// Package rietest runs polyboot's runtime layer the way Lambda does, under AWS's Runtime Interface
// Emulator (RIE), for the project's end-to-end tests (e2e/, layer/publishtest/, bench/).
//
// The layer is POLYBOOT_LAYER_ZIP unpacked (make test sets it to the zip `make layer` built), or
// one assembled from the working tree as `make layer` does. The emulator is the go.mod tool
// github.com/aws/aws-lambda-runtime-interface-emulator/cmd/aws-lambda-rie.
package rietest

import (
	"bytes"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/polyboot/polyboot/internal/layerzip"
	"github.com/polyboot/polyboot/internal/sandbox"
)

// Root returns the module's root folder.
func Root() (string, error) {
	out, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		return "", fmt.Errorf("finding the module root: %w", err)
	}
	gomod := strings.TrimSpace(string(out))
	if gomod == "" || gomod == os.DevNull {
		return "", fmt.Errorf("not inside the polyboot module")
	}
	return filepath.Dir(gomod), nil
}

// RIE returns the emulator binary's path (building it if needed).
func RIE() (string, error) {
	out, err := exec.Command("go", "tool", "-n", "aws-lambda-rie").Output()
	if err != nil {
		return "", fmt.Errorf("finding the emulator (go tool -n aws-lambda-rie): %w", err)
	}
	return strings.TrimSpace(string(out)), nil
}

// StaticRIE returns the path of the emulator built without cgo: a static binary, which runs in a
// sandbox whose root has an older glibc than this machine's.
func StaticRIE() (string, error) {
	cmd := exec.Command("go", "tool", "-n", "aws-lambda-rie")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("finding the static emulator (CGO_ENABLED=0 go tool -n aws-lambda-rie): %w", err)
	}
	return strings.TrimSpace(string(out)), nil
}

// Layer puts the runtime layer in dir (POLYBOOT_LAYER_ZIP unpacked, else assembled from the
// working tree) and says which it is.
func Layer(dir string) (what string, err error) {
	if zipPath := os.Getenv("POLYBOOT_LAYER_ZIP"); zipPath != "" {
		return "layer " + zipPath, layerzip.Unzip(zipPath, dir)
	}
	root, err := Root()
	if err != nil {
		return "", err
	}
	cmd := exec.Command("go", "build", "-trimpath", "-o", filepath.Join(dir, "bootstrap"), "./cmd/bootstrap")
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("building bootstrap: %w\n%s", err, out)
	}
	cp := exec.Command("bash", "-c", `cd "$1" && find adapters -path '*/tests' -prune -o -path '*/example' -prune -o -type f -print | while read -r f; do install -D -m 0644 "$f" "$2/$f"; done`, "-", root, dir)
	if out, err := cp.CombinedOutput(); err != nil {
		return "", fmt.Errorf("copying adapters: %w\n%s", err, out)
	}
	return "a layer assembled from the working tree (set POLYBOOT_LAYER_ZIP to test a zip)", nil
}

// Function is what an emulator serves.
type Function struct {
	Layer   string   // the unpacked runtime layer (its bootstrap runs)
	TaskDir string   // the task root
	Handler string   // _HANDLER
	Env     []string // more environment, KEY=VALUE
	// Sandbox, when set, runs the emulator (which must be StaticRIE's) in this Lambda-like sandbox
	// with Layer at /opt and TaskDir at /var/task; its RootFS and CABundle are used, and it gets
	// Lambda's environment (sandbox.Env) instead of this process's.
	Sandbox *sandbox.Sandbox
}

// Emulator is one running RIE serving one function.
type Emulator struct {
	URL  string      // the invoke URL
	Logs *SyncBuffer // everything the emulator and the runtime printed
	Cmd  *exec.Cmd
}

// Start starts RIE (at rie) for fn with AWS_LAMBDA_FUNCTION_TIMEOUT=30 unless fn.Env sets it, and
// waits until it listens. It is stopped, with everything it started, when the test ends.
func Start(t testing.TB, rie string, fn Function) *Emulator {
	t.Helper()
	port, apiPort := FreePort(t), FreePort(t)
	logs := &SyncBuffer{}
	cmd, err := command(rie, port, apiPort, fn)
	if err != nil {
		t.Fatalf("starting the emulator: %v", err)
	}
	cmd.Stdout, cmd.Stderr = logs, logs
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting the emulator: %v", err)
	}
	e := &Emulator{URL: fmt.Sprintf("http://127.0.0.1:%d/2015-03-31/functions/function/invocations", port), Logs: logs, Cmd: cmd}
	t.Cleanup(func() {
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		_ = cmd.Wait()
		if t.Failed() {
			t.Logf("emulator log:\n%s", logs.String())
		}
	})
	WaitListening(t, port, logs)
	return e
}

// command is the emulator's command line for fn, on this machine or in fn.Sandbox.
func command(rie string, port, apiPort int, fn Function) (*exec.Cmd, error) {
	addrs := []string{"--runtime-interface-emulator-address", fmt.Sprintf("127.0.0.1:%d", port),
		"--runtime-api-address", fmt.Sprintf("127.0.0.1:%d", apiPort)}
	env := []string{"_HANDLER=" + fn.Handler, "AWS_LAMBDA_FUNCTION_TIMEOUT=30"}
	if fn.Sandbox == nil {
		cmd := exec.Command(rie, append(addrs, filepath.Join(fn.Layer, "bootstrap"))...)
		cmd.Dir = fn.TaskDir
		cmd.Env = append(append(CleanEnv(), env...), fn.Env...)
		return cmd, nil
	}
	box := *fn.Sandbox
	box.Opt, box.Task, box.Rapid = fn.Layer, fn.TaskDir, rie
	argv := append(append([]string{box.RapidPath()}, addrs...), "/opt/bootstrap")
	return box.Command(sandbox.Env(append(env, fn.Env...)...), argv...)
}

// WaitListening waits up to 10 s for a TCP listener on 127.0.0.1:port.
func WaitListening(t testing.TB, port int, logs *SyncBuffer) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		c, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", port))
		if err == nil {
			c.Close()
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the emulator did not listen: %v\n%s", err, logs.String())
		}
	}
}

// Invoke sends one event (with header name/value pairs) and returns the HTTP status and body.
func (e *Emulator) Invoke(t testing.TB, event []byte, headers ...string) (int, []byte) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, e.URL, bytes.NewReader(event))
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := (&http.Client{Timeout: 5 * time.Minute}).Do(req)
	if err != nil {
		t.Fatalf("invoke: %v\n%s", err, e.Logs.String())
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("invoke: reading the response: %v", err)
	}
	return resp.StatusCode, body
}

// WaitLog waits until the log satisfies match (the emulator's output reaches the test through a
// copying goroutine, a little after the response) and returns the log.
func (e *Emulator) WaitLog(t testing.TB, what string, match func(log string) bool) string {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		logs := e.Logs.String()
		if match(logs) {
			return logs
		}
		if time.Now().After(deadline) {
			t.Fatalf("the emulator's log never showed %s", what)
		}
	}
}

// CleanEnv is this process's environment without what would change the runtime's or an
// interpreter's behaviour.
func CleanEnv() []string {
	var out []string
	for _, kv := range os.Environ() {
		switch strings.SplitN(kv, "=", 2)[0] {
		case "PYTHONUNBUFFERED", "PYTHONPATH", "PYTHONHOME", "_HANDLER", "LAMBDA_TASK_ROOT",
			"AWS_LAMBDA_RUNTIME_API", "AWS_LAMBDA_LOG_FORMAT", "AWS_LAMBDA_LOG_LEVEL", "AWS_LAMBDA_MAX_CONCURRENCY",
			"POLYBOOT_BASH", "POLYBOOT_TCLSH", "POLYBOOT_PYTHON", "POLYBOOT_ADAPTER_PATH":
			continue
		}
		out = append(out, kv)
	}
	return out
}

// FreePort returns a TCP port on 127.0.0.1 that was free a moment ago.
func FreePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// SyncBuffer is a bytes.Buffer safe for a process's output and a test's reads at once.
type SyncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

// Write implements io.Writer.
func (b *SyncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

// String returns everything written so far.
func (b *SyncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
