package e2e

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/polyboot/polyboot/internal/rietest"
)

// survivorBash is a bash handler that starts a job escaping its worker's process group (ESCAPE),
// then returns ({"do":"start"}), runs past its deadline ("timeout") or kills its worker ("crash").
const survivorBash = `survivor() {
  ESCAPE
}
handler() {
  survivor
  case $1 in
  *'"timeout"'*) sleep 300 ;;
  *'"crash"'*) kill -9 $$ ;;
  esac
  printf '{"ok":true}'
}
`

const survivorPython = `import os
import subprocess
import time


def handler(event, context):
    subprocess.Popen(["sleep", os.environ["SURVIVOR"]], preexec_fn=os.setsid)
    if event["do"] == "timeout":
        time.sleep(300)
    if event["do"] == "crash":
        os.kill(os.getpid(), 9)
    return {"ok": True}
`

const survivorTcl = `proc handler {event context} {
    exec setsid sleep $::env(SURVIVOR) &
    switch -- [dict get $event do] {
        timeout { after 300000 }
        crash { exec kill -9 [pid] }
    }
    return {{"ok":true}}
}
`

// TestSurvivors: whatever a handler starts (setsid, a double fork, a daemon, Popen with setsid,
// Tcl's exec setsid &, with or without its environment) is gone once its worker timed out or
// crashed: not running, not a zombie. Each case starts a job in one invocation (the test sees it
// run), then one that also starts a job and times out or crashes; twice, the second time in a
// restarted worker. (A double fork that stays in the worker's process group was killed before
// the bootstrap became a subreaper too; its case guards against zombies, now that orphans come
// to the bootstrap.)
func TestSurvivors(t *testing.T) {
	bash := func(escape string) (string, map[string]string) {
		return "", map[string]string{"function.sh": strings.Replace(survivorBash, "ESCAPE", escape, 1)}
	}
	cases := []struct {
		name  string
		files func() (interp string, files map[string]string)
		ends  []string
	}{
		{"bash/setsid", func() (string, map[string]string) { return bash(`setsid sleep "$SURVIVOR" &`) }, []string{"timeout", "crash"}},
		{"bash/double-fork", func() (string, map[string]string) { return bash(`( ( sleep "$SURVIVOR" & ) & )`) }, []string{"timeout", "crash"}},
		{"bash/daemon", func() (string, map[string]string) { return bash(`( ( setsid sleep "$SURVIVOR" & ) & )`) }, []string{"timeout", "crash"}},
		{"bash/env-i-setsid", func() (string, map[string]string) { return bash(`env -i setsid sleep "$SURVIVOR" &`) }, []string{"timeout"}},
		{"bash/env-i-daemon", func() (string, map[string]string) {
			return bash(`( ( env -i setsid sleep "$SURVIVOR" & ) & )`)
		}, []string{"timeout", "crash"}},
		{"python2.7", func() (string, map[string]string) {
			return "POLYBOOT_PYTHON", map[string]string{"function.py": survivorPython}
		}, []string{"timeout", "crash"}},
		{"tcl", func() (string, map[string]string) {
			return "POLYBOOT_TCLSH", map[string]string{"function.tcl": survivorTcl}
		}, []string{"timeout", "crash"}},
	}
	for _, c := range cases {
		for _, end := range c.ends {
			t.Run(c.name+"/"+end, func(t *testing.T) {
				envVar, files := c.files()
				env := []string{"AWS_LAMBDA_FUNCTION_TIMEOUT=1", "POLYBOOT_TIMEOUT_MARGIN_MS=300"}
				switch envVar {
				case "POLYBOOT_PYTHON":
					p := python27(t)
					if !requireInterpreter(t, "python2.7", p) {
						return
					}
					env = append(env, envVar+"="+p)
				case "POLYBOOT_TCLSH":
					p := tclsh(t)
					if !requireInterpreter(t, "tclsh8.6", p) {
						return
					}
					env = append(env, envVar+"="+p)
				}
				checkNoSurvivors(t, files, env, end)
			})
		}
	}
}

// checkNoSurvivors serves files, and twice runs a start invocation then an end one (timeout or
// crash), checking after each end that no job is left, running or as a zombie.
func checkNoSurvivors(t *testing.T, files map[string]string, env []string, end string) {
	marker := survivorMarker(t)
	e := startEmulator(t, function{taskDir: writeTask(t, files), handler: "function.handler", env: append(env, "SURVIVOR="+marker)})
	wantType := map[string]string{"timeout": "Sandbox.Timedout", "crash": "Runtime.ExitError"}[end]
	for round := 1; round <= 2; round++ {
		if status, body := e.Invoke(t, []byte(`{"do":"start"}`)); status != 200 || !bytes.Contains(body, []byte("true")) {
			t.Fatalf("round %d: start: %d %s", round, status, body)
		}
		var jobs []string
		if !eventually(func() bool { jobs = processesWithArg(t, marker); return len(jobs) == 1 }) {
			t.Fatalf("round %d: the handler's job is not running: %v", round, jobs)
		}
		starts := startTimes(jobs)
		status, body := e.Invoke(t, []byte(`{"do":"`+end+`"}`))
		checkResult(t, end, status, body, wantType, ".")
		boot := bootstrapOf(t, e.Cmd.Process.Pid)
		var left, zombies []string
		if !eventually(func() bool {
			left, zombies = processesWithArg(t, marker), zombieChildren(boot)
			for pid, start := range starts {
				if startTimes([]string{pid})[pid] == start {
					left = append(left, pid+" ("+procState(pid)+")")
				}
			}
			return len(left) == 0 && len(zombies) == 0
		}) {
			t.Fatalf("round %d: after the %s, jobs left %v; zombie children of the bootstrap %v", round, end, left, zombies)
		}
	}
}

// survivorMarker returns a sleep time unique to this run (GNU sleep takes fractions), to tell the
// test's jobs from any other sleep on the machine; those left when the test ends are killed.
func survivorMarker(t *testing.T) string {
	marker := fmt.Sprintf("1000.%d%09d", os.Getpid(), rand.IntN(1e9))
	t.Cleanup(func() {
		for _, pid := range processesWithArg(t, marker) {
			n, _ := strconv.Atoi(pid)
			_ = syscall.Kill(n, syscall.SIGKILL)
		}
	})
	return marker
}

// startTimes maps each pid to its start time (/proc/<pid>/stat field 22), for the pids that exist.
func startTimes(pids []string) map[string]string {
	m := make(map[string]string)
	for _, pid := range pids {
		b, err := os.ReadFile("/proc/" + pid + "/stat")
		if err != nil {
			continue
		}
		if f := strings.Fields(string(b)[strings.LastIndexByte(string(b), ')')+2:]); len(f) > 19 {
			m[pid] = f[19]
		}
	}
	return m
}

// bootstrapOf returns the pid of the bootstrap the emulator (pid rie) runs.
func bootstrapOf(t *testing.T, rie int) int {
	t.Helper()
	var boot int
	if !eventually(func() bool {
		entries, _ := os.ReadDir("/proc")
		for _, e := range entries {
			exe, err := os.Readlink("/proc/" + e.Name() + "/exe")
			if err == nil && filepath.Base(exe) == "bootstrap" && ppid(t, e.Name()) == rie {
				boot, _ = strconv.Atoi(e.Name())
				return true
			}
		}
		return false
	}) {
		t.Fatalf("no bootstrap under the emulator %d", rie)
	}
	return boot
}

// zombieChildren lists the zombies whose parent is pid.
func zombieChildren(pid int) []string {
	var out []string
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		b, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil {
			continue
		}
		f := strings.Fields(string(b)[strings.LastIndexByte(string(b), ')')+2:])
		if len(f) > 1 && f[0] == "Z" && f[1] == strconv.Itoa(pid) {
			out = append(out, e.Name()+" "+string(b[:bytes.IndexByte(b, ')')+1]))
		}
	}
	return out
}

// TestSurvivorsShutdown: a job a handler put in a session of its own dies when the bootstrap
// shuts down (SIGTERM), before the bootstrap exits.
func TestSurvivorsShutdown(t *testing.T) {
	api := newFakeAPI(t)
	marker := survivorMarker(t)
	task := writeTask(t, map[string]string{"function.sh": strings.Replace(survivorBash, "ESCAPE", `setsid sleep "$SURVIVOR" &`, 1)})
	_, cmd := startBootstrap(t, api.srv.URL, function{taskDir: task, handler: "function.handler", env: []string{"SURVIVOR=" + marker}})
	api.queue <- fakeInvocation{id: "r1", body: `{"do":"start"}`}
	if r := api.result(t); r.kind != "response" {
		t.Fatalf("got %+v", r)
	}
	if !eventually(func() bool { return len(processesWithArg(t, marker)) == 1 }) {
		t.Fatalf("the handler's job is not running")
	}
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if code := waitExit(t, cmd, 2*time.Second); code != 0 {
		t.Errorf("exit code %d, want 0", code)
	}
	if jobs := processesWithArg(t, marker); len(jobs) > 0 {
		t.Errorf("the handler's job %v outlived the bootstrap", jobs)
	}
}

// TestSurvivorsLocalInvoke: `bootstrap invoke` with handlers that time out leaves no job behind
// when it exits, the last timed-out worker's included.
func TestSurvivorsLocalInvoke(t *testing.T) {
	marker := survivorMarker(t)
	task := writeTask(t, map[string]string{
		"function.sh": strings.Replace(survivorBash, "ESCAPE", `setsid sleep "$SURVIVOR" &`, 1),
		"event.json":  `{"do":"timeout"}`,
	})
	cmd := exec.Command(env.layerDir+"/bootstrap", "invoke", "--handler", "function.handler", "--timeout", "300ms",
		"--event", "event.json", "--event", "event.json", "--event", "event.json")
	cmd.Dir = task
	cmd.Env = append(rietest.CleanEnv(), "SURVIVOR="+marker)
	out, err := cmd.Output()
	if n := bytes.Count(out, []byte("Sandbox.Timedout")); n != 3 {
		t.Fatalf("%d timeouts, want 3 (%v):\n%s", n, err, out)
	}
	if jobs := processesWithArg(t, marker); len(jobs) > 0 {
		t.Errorf("the handlers' jobs %v outlived bootstrap invoke", jobs)
	}
}
