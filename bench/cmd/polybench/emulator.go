package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"time"
)

// emulator is one running Runtime Interface Emulator serving one runtime.
type emulator struct {
	cmd     *exec.Cmd
	addr    string // host:port of the invoke endpoint
	url     string
	started time.Time // just before the emulator's process was started
	logs    *tailBuffer
	client  *http.Client
}

// functionTimeout is the emulator's function timeout (AWS_LAMBDA_FUNCTION_TIMEOUT), in seconds.
const functionTimeout = 60

// startEmulator starts RIE on two free loopback ports with bootstrap as the runtime, in its own
// process group (stop kills the group: RIE, the runtime and whatever the runtime started).
func startEmulator(rie, bootstrap, taskDir string, env []string) (*emulator, error) {
	client := &http.Client{
		Transport: &http.Transport{Proxy: nil, MaxIdleConnsPerHost: 2, DisableCompression: true},
		Timeout:   (functionTimeout + 30) * time.Second,
	}
	return launchEmulator([]string{rie}, []string{bootstrap}, taskDir, env, client)
}

// launchEmulator starts head (a command line ending in the emulator), the emulator's two address
// flags on free loopback ports, then tail, in its own process group.
func launchEmulator(head, tail []string, dir string, env []string, client *http.Client) (*emulator, error) {
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	apiPort, err := freePort()
	if err != nil {
		return nil, err
	}
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	argv := append(append(append([]string{}, head...),
		"--runtime-interface-emulator-address", addr,
		"--runtime-api-address", fmt.Sprintf("127.0.0.1:%d", apiPort)), tail...)
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Dir = dir
	cmd.Env = env
	logs := &tailBuffer{max: 1 << 20}
	cmd.Stdout, cmd.Stderr = logs, logs
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	e := &emulator{
		cmd: cmd, addr: addr, logs: logs, client: client,
		url: "http://" + addr + "/2015-03-31/functions/function/invocations",
	}
	e.started = time.Now()
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting %s: %w", argv[0], err)
	}
	return e, nil
}

// waitListening polls the invoke endpoint's port every millisecond until it accepts a connection.
func (e *emulator) waitListening(timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		c, err := net.DialTimeout("tcp", e.addr, time.Second)
		if err == nil {
			c.Close()
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("the emulator did not listen on %s within %s: %w", e.addr, timeout, err)
		}
		time.Sleep(time.Millisecond)
	}
}

// invoke sends one event and returns the HTTP status and the response body.
func (e *emulator) invoke(event []byte) (int, []byte, error) {
	req, err := http.NewRequestWithContext(context.Background(), http.MethodPost, e.url, bytes.NewReader(event))
	if err != nil {
		return 0, nil, fmt.Errorf("invoke: %w", err)
	}
	resp, err := e.client.Do(req)
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

// pid is the emulator's process id.
func (e *emulator) pid() int { return e.cmd.Process.Pid }

// stop kills the emulator's process group and waits for the emulator.
func (e *emulator) stop() {
	e.client.CloseIdleConnections()
	_ = syscall.Kill(-e.cmd.Process.Pid, syscall.SIGKILL)
	_ = e.cmd.Wait()
}

// runtimeProcs finds the runtime the emulator started (its child) and that runtime's own child
// (polyboot's worker), waiting up to a second for them to appear. worker is 0 when want is false
// or none appeared.
func (e *emulator) runtimeProcs(wantWorker bool) (bootstrap, worker int, err error) {
	deadline := time.Now().Add(time.Second)
	for {
		if kids := children(e.pid()); len(kids) == 1 {
			bootstrap = kids[0]
			if !wantWorker {
				return bootstrap, 0, nil
			}
			if w := children(bootstrap); len(w) == 1 {
				return bootstrap, w[0], nil
			}
		}
		if time.Now().After(deadline) {
			if bootstrap == 0 {
				return 0, 0, errors.New("no single runtime process under the emulator")
			}
			return bootstrap, 0, errors.New("no single worker process under the bootstrap")
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// freePort returns a loopback TCP port that was free a moment ago.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("finding a free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// tailBuffer keeps the last max bytes written to it; safe for concurrent use.
type tailBuffer struct {
	mu  sync.Mutex
	max int
	buf []byte
}

func (t *tailBuffer) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.buf = append(t.buf, p...)
	if over := len(t.buf) - t.max; over > 0 {
		t.buf = append(t.buf[:0], t.buf[over:]...)
	}
	return len(p), nil
}

// String returns the kept bytes.
func (t *tailBuffer) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return string(t.buf)
}

// lastLines returns the last n lines kept, without the emulator's own (rapid) chatter.
func (t *tailBuffer) lastLines(n int) string {
	var keep []string
	for _, l := range strings.Split(strings.TrimSpace(t.String()), "\n") {
		if !strings.Contains(l, "(rapid)") {
			keep = append(keep, l)
		}
	}
	if len(keep) > n {
		keep = keep[len(keep)-n:]
	}
	return strings.Join(keep, "\n")
}

// cleanEnv is this process's environment without what would change the runtimes' behaviour or
// route loopback traffic through a proxy.
func cleanEnv() []string {
	var out []string
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		switch strings.ToUpper(k) {
		case "PYTHONUNBUFFERED", "PYTHONPATH", "PYTHONHOME", "_HANDLER", "LAMBDA_TASK_ROOT",
			"AWS_LAMBDA_RUNTIME_API", "AWS_LAMBDA_LOG_FORMAT", "AWS_LAMBDA_MAX_CONCURRENCY",
			"AWS_LAMBDA_FUNCTION_TIMEOUT", "POLYBOOT_PYTHON", "POLYBOOT_TCLSH", "POLYBOOT_BASH",
			"POLYBOOT_ADAPTER_PATH", "HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "NO_PROXY":
			continue
		}
		out = append(out, kv)
	}
	return out
}
