// Package rietest runs polyboot's runtime layer the way Lambda does, under AWS's Runtime Interface
// Emulator (RIE), for the project's end-to-end tests (e2e/, layer/publishtest/) and its benchmark
// (bench/). Launch and the Emulator methods that return errors serve both; Start, Invoke and the
// other functions that take a testing.TB are thin wrappers over them for tests.
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
	URL     string      // the invoke URL
	Addr    string      // host:port of the invoke endpoint
	Logs    *SyncBuffer // everything the emulator and the runtime printed
	Cmd     *exec.Cmd
	Started time.Time    // just before the emulator's process started
	client  *http.Client // nil: a fresh one per invocation
}

// Options says what Launch starts.
type Options struct {
	RIE       string   // the emulator binary
	Bootstrap string   // the runtime the emulator runs; "" for none (Managed Instances mode runs /opt/bootstrap)
	Dir       string   // the emulator's working folder (the task root)
	Env       []string // the emulator's whole environment
	Wrap      []string // a command line the emulator runs under, its argv appended (e.g. unshare); nil for none
	// Sandbox, when set, runs the emulator (its Rapid, with its Opt's bootstrap) in this Lambda-like
	// sandbox with Env (sandbox.Env) as its whole environment; RIE, Bootstrap, Dir and Wrap are unused.
	Sandbox *sandbox.Sandbox
}

// Launch starts RIE on two free loopback ports in its own process group, without waiting for it
// to listen (Listening does). Stop kills it with everything it started.
func Launch(o Options) (*Emulator, error) {
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	apiPort, err := freePort()
	if err != nil {
		return nil, err
	}
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	cmd, err := o.command([]string{"--runtime-interface-emulator-address", addr,
		"--runtime-api-address", fmt.Sprintf("127.0.0.1:%d", apiPort)})
	if err != nil {
		return nil, fmt.Errorf("starting the emulator: %w", err)
	}
	logs := &SyncBuffer{}
	cmd.Stdout, cmd.Stderr = logs, logs
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	e := &Emulator{
		URL: "http://" + addr + "/2015-03-31/functions/function/invocations", Addr: addr, Logs: logs, Cmd: cmd,
		client: &http.Client{
			Transport: &http.Transport{Proxy: nil, MaxIdleConnsPerHost: 2, DisableCompression: true},
			Timeout:   5 * time.Minute,
		},
		Started: time.Now(),
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting the emulator %s: %w", cmd.Path, err)
	}
	return e, nil
}

// Listening waits up to timeout for the emulator to accept connections, polling every
// millisecond, and gives up at once when its process has exited.
func (e *Emulator) Listening(timeout time.Duration) error {
	for deadline := time.Now().Add(timeout); ; time.Sleep(time.Millisecond) {
		c, err := net.DialTimeout("tcp", e.Addr, time.Second)
		if err == nil {
			c.Close()
			return nil
		}
		if exited(e.Cmd.Process.Pid) {
			return fmt.Errorf("the emulator exited before it listened:\n%s", e.Logs.String())
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("the emulator did not listen on %s within %s: %w\n%s", e.Addr, timeout, err, e.Logs.String())
		}
	}
}

// exited reports whether pid, a child of this process, has exited (a zombie until waited for).
func exited(pid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return true
	}
	i := bytes.LastIndexByte(b, ')')
	return i >= 0 && i+2 < len(b) && (b[i+2] == 'Z' || b[i+2] == 'X')
}

// Post sends one event (with header name/value pairs) and returns the HTTP status and body.
func (e *Emulator) Post(event []byte, headers ...string) (int, []byte, error) {
	req, err := http.NewRequest(http.MethodPost, e.URL, bytes.NewReader(event))
	if err != nil {
		return 0, nil, fmt.Errorf("invoke: %w", err)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	client := e.client
	if client == nil {
		client = &http.Client{Timeout: 5 * time.Minute}
	}
	resp, err := client.Do(req)
	if err != nil {
		return 0, nil, fmt.Errorf("invoke: %w", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return resp.StatusCode, nil, fmt.Errorf("invoke: reading the response: %w", err)
	}
	return resp.StatusCode, body, nil
}

// Stop kills the emulator's process group and waits for the emulator.
func (e *Emulator) Stop() {
	if e.client != nil {
		e.client.CloseIdleConnections()
	}
	_ = syscall.Kill(-e.Cmd.Process.Pid, syscall.SIGKILL)
	_ = e.Cmd.Wait()
}

// Start starts RIE (at rie) for fn with AWS_LAMBDA_FUNCTION_TIMEOUT=30 unless fn.Env sets it, and
// waits until it listens. It is stopped, with everything it started, when the test ends.
func Start(t testing.TB, rie string, fn Function) *Emulator {
	t.Helper()
	env := []string{"_HANDLER=" + fn.Handler, "AWS_LAMBDA_FUNCTION_TIMEOUT=30"}
	o := Options{RIE: rie, Bootstrap: filepath.Join(fn.Layer, "bootstrap"), Dir: fn.TaskDir,
		Env: append(append(CleanEnv(), env...), fn.Env...)}
	if fn.Sandbox != nil {
		box := *fn.Sandbox
		box.Opt, box.Task, box.Rapid = fn.Layer, fn.TaskDir, rie
		o.Sandbox, o.Env = &box, sandbox.Env(append(env, fn.Env...)...)
	}
	e, err := Launch(o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		e.Stop()
		if t.Failed() {
			t.Logf("emulator log:\n%s", e.Logs.String())
		}
	})
	if err := e.Listening(10 * time.Second); err != nil {
		t.Fatal(err)
	}
	return e
}

// command is the emulator's command line, on this machine or in o.Sandbox.
func (o Options) command(addrs []string) (*exec.Cmd, error) {
	if o.Sandbox != nil {
		return o.Sandbox.Command(o.Env, append(append([]string{o.Sandbox.RapidPath()}, addrs...), "/opt/bootstrap")...)
	}
	argv := append(append(append([]string{}, o.Wrap...), o.RIE), addrs...)
	if o.Bootstrap != "" {
		argv = append(argv, o.Bootstrap)
	}
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Dir, cmd.Env = o.Dir, o.Env
	return cmd, nil
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
	status, body, err := e.Post(event, headers...)
	if err != nil {
		t.Fatalf("%v\n%s", err, e.Logs.String())
	}
	return status, body
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
// interpreter's behaviour, or send loopback traffic through a proxy.
func CleanEnv() []string {
	var out []string
	for _, kv := range os.Environ() {
		switch k, _, _ := strings.Cut(kv, "="); strings.ToUpper(k) {
		case "PYTHONUNBUFFERED", "PYTHONPATH", "PYTHONHOME", "_HANDLER", "LAMBDA_TASK_ROOT",
			"AWS_LAMBDA_RUNTIME_API", "AWS_LAMBDA_LOG_FORMAT", "AWS_LAMBDA_LOG_LEVEL", "AWS_LAMBDA_MAX_CONCURRENCY",
			"AWS_LAMBDA_FUNCTION_TIMEOUT", "POLYBOOT_BASH", "POLYBOOT_TCLSH", "POLYBOOT_PYTHON", "POLYBOOT_ADAPTER_PATH",
			"HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "NO_PROXY":
			continue
		}
		out = append(out, kv)
	}
	return out
}

// FreePort returns a TCP port on 127.0.0.1 that was free a moment ago.
func FreePort(t testing.TB) int {
	t.Helper()
	p, err := freePort()
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("finding a free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
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
