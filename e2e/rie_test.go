package e2e

import (
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/polyboot/polyboot/internal/rietest"
)

// emulator is one running RIE serving one function (internal/rietest), with the e2e helpers.
type emulator struct{ *rietest.Emulator }

// function describes what to serve.
type function struct {
	taskDir string
	handler string
	env     []string // extra environment (KEY=VALUE)
}

// startEmulator serves fn with the layer under test; it stops when the test ends.
func startEmulator(t *testing.T, fn function) *emulator {
	t.Helper()
	return &emulator{rietest.Start(t, env.rie, rietest.Function{Layer: env.layerDir, TaskDir: fn.taskDir, Handler: fn.handler, Env: fn.env})}
}

// waitLog waits until the emulator's log holds text and returns the log.
func (e *emulator) waitLog(t testing.TB, text string) string {
	t.Helper()
	return e.WaitLog(t, fmt.Sprintf("%q", text), func(log string) bool { return strings.Contains(log, text) })
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
