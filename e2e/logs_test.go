package e2e

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestJSONLogs: with AWS_LAMBDA_LOG_FORMAT=JSON every log line, the handler's and the bootstrap's,
// is one JSON object with timestamp, level, requestId and message; AWS_LAMBDA_LOG_LEVEL filters;
// a multi-line record stays one record.
func TestJSONLogs(t *testing.T) {
	py := python3(t)
	if !requireInterpreter(t, "python3", py) {
		return
	}
	task := writeTask(t, map[string]string{
		"function.sh": `handler() { echo "plain info" >&2; printf '{}'; }`,
		"function.py": `import logging
def handler(event, context):
    print("printed")
    logging.getLogger().warning("warned")
    logging.getLogger().error("multi\nline")
    return {}
`,
	})
	cases := []struct {
		handler, level string
		want           map[string]string // message → level
		notWant        []string
	}{
		{"function.handler", "", map[string]string{"plain info": "INFO"}, nil},
		{"function.handler", "WARN", nil, []string{"plain info"}},
		{"function.py.handler", "", map[string]string{"printed": "INFO", "warned": "WARN", "multi\nline": "ERROR"}, nil},
		{"function.py.handler", "WARN", map[string]string{"warned": "WARN", "multi\nline": "ERROR"}, []string{"printed"}},
	}
	for _, c := range cases {
		handler := strings.Replace(c.handler, "function.py.", "function.", 1)
		env := []string{"AWS_LAMBDA_LOG_FORMAT=JSON", "POLYBOOT_PYTHON=" + py}
		if c.level != "" {
			env = append(env, "AWS_LAMBDA_LOG_LEVEL="+c.level)
		}
		dir := task
		if strings.HasPrefix(c.handler, "function.py") {
			dir = writeTask(t, map[string]string{"function.py": readTaskFile(t, task, "function.py")})
		}
		e := startEmulator(t, function{taskDir: dir, handler: handler, env: env})
		status, body := e.Invoke(t, []byte(`{}`))
		if status != 200 {
			t.Fatalf("%s: %d %s", c.handler, status, body)
		}
		e.waitLog(t, "END RequestId")
		got := map[string]string{}
		for _, line := range strings.Split(e.Logs.String(), "\n") {
			if !strings.HasPrefix(line, "{") {
				continue // the emulator's own lines
			}
			var rec struct{ Timestamp, Level, RequestID, Message string }
			if err := json.Unmarshal([]byte(line), &rec); err != nil || rec.Timestamp == "" || rec.Level == "" {
				t.Errorf("%s: not a log record: %s", c.handler, line)
				continue
			}
			if rec.RequestID != "" {
				got[rec.Message] = rec.Level
			}
		}
		for msg, level := range c.want {
			if got[msg] != level {
				t.Errorf("%s (level %q): record %q has level %q, want %q; records %q", c.handler, c.level, msg, got[msg], level, got)
			}
		}
		for _, msg := range c.notWant {
			if _, ok := got[msg]; ok {
				t.Errorf("%s (level %q): %q was not filtered", c.handler, c.level, msg)
			}
		}
	}
}

func readTaskFile(t *testing.T, dir, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, name))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestLogPTY: with POLYBOOT_LOG_PTY=1 the worker's log stream is a pseudo-terminal, so a program a
// handler runs line-buffers its output: its line reaches the log even though it is killed (with
// the timed-out handler) before it could flush a pipe's buffer. No '\r' leaks into the log.
func TestLogPTY(t *testing.T) {
	py := python3(t)
	if !requireInterpreter(t, "python3", py) {
		return
	}
	handler := `import subprocess, sys, time
def handler(event, context):
    subprocess.Popen([sys.executable, "-c", "import sys, time; print('line from child isatty=%s' % sys.stdout.isatty()); time.sleep(60)"])
    time.sleep(60)
`
	for _, pty := range []bool{false, true} {
		env := []string{"POLYBOOT_PYTHON=" + py, "AWS_LAMBDA_FUNCTION_TIMEOUT=2", "POLYBOOT_TIMEOUT_MARGIN_MS=200"}
		if pty {
			env = append(env, "POLYBOOT_LOG_PTY=1")
		}
		e := startEmulator(t, function{taskDir: writeTask(t, map[string]string{"function.py": handler}), handler: "function.handler", env: env})
		status, body := e.Invoke(t, []byte(`{}`))
		if status != 200 || !strings.Contains(string(body), "Sandbox.Timedout") {
			t.Fatalf("pty=%v: %d %s", pty, status, body)
		}
		// The handler's log lines come before the emulator's END line in the same output.
		logs := e.waitLog(t, "END RequestId")
		got := strings.Contains(logs, "\tINFO\tline from child isatty=True\n")
		if got != pty {
			t.Errorf("pty=%v: the child's line reached the log: %v\n%s", pty, got, logs)
		}
		if pty && strings.Contains(logs, "\r") {
			t.Errorf("a carriage return leaked into the log")
		}
	}
}
