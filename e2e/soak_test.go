package e2e

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"
)

// TestSoak runs many invocations under the emulator and checks that the bootstrap's open file
// descriptors stay the same and its memory does not grow. POLYBOOT_SOAK sets the count (make soak:
// 10,000; make test: 2,000).
func TestSoak(t *testing.T) {
	n := 2000
	if v := os.Getenv("POLYBOOT_SOAK"); v != "" {
		var err error
		if n, err = strconv.Atoi(v); err != nil || n < 100 {
			t.Fatalf("POLYBOOT_SOAK=%q: want a count ≥ 100", v)
		}
	}
	script := `n=0
handler() { n=$((n+1)); echo "invocation $n" >&2; if ((n % 97 == 0)); then return 1; fi; printf '%s' "$1"; }`
	e := startEmulator(t, function{taskDir: writeTask(t, map[string]string{"function.sh": script}), handler: "function.handler"})
	event := []byte(`{"soak":"` + strings.Repeat("s", 2000) + `"}`)
	var boot int
	var first procStats
	for i := 1; i <= n; i++ {
		status, body := e.Invoke(t, event)
		if status != 200 || (i%97 != 0 && string(body) != string(event)) || (i%97 == 0 && !strings.Contains(string(body), "NonZeroExit")) {
			t.Fatalf("invocation %d: status %d, body %.200s", i, status, body)
		}
		if i == n/10 {
			boot = childOf(t, e.Cmd.Process.Pid)
			first = stats(t, boot)
		}
	}
	last := stats(t, boot)
	t.Logf("bootstrap after %d invocations: RSS %d kB, %d fds; after %d: RSS %d kB (peak %d kB), %d fds",
		n/10, first.rssKB, first.fds, n, last.rssKB, last.hwmKB, last.fds)
	if last.fds != first.fds {
		t.Errorf("open file descriptors went from %d to %d", first.fds, last.fds)
	}
	if last.rssKB > first.rssKB+4096 {
		t.Errorf("RSS grew from %d kB to %d kB", first.rssKB, last.rssKB)
	}
}

type procStats struct{ rssKB, hwmKB, fds int }

func stats(t *testing.T, pid int) procStats {
	t.Helper()
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatal(err)
	}
	fds, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
	if err != nil {
		t.Fatal(err)
	}
	s := procStats{fds: len(fds)}
	for _, line := range strings.Split(string(status), "\n") {
		f := strings.Fields(line)
		if len(f) >= 2 && f[0] == "VmRSS:" {
			s.rssKB, _ = strconv.Atoi(f[1])
		}
		if len(f) >= 2 && f[0] == "VmHWM:" {
			s.hwmKB, _ = strconv.Atoi(f[1])
		}
	}
	return s
}
