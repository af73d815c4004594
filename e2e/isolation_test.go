package e2e

// Nothing crosses an invocation (issue #11, points 1 and 7; docs/protocol.md, "The body stream"):
// a background job of invocation A that holds A's body FIFO and writes after A's reply gets EPIPE,
// and B's body is B's alone, whether the job writes between A and B or while B runs. In bash,
// trailing newlines go as $(handler) drops them, and a 300 MB body is refused with its size.

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// lateWriterSh is the background job: it holds the body FIFO as fd 3 (opened by path when $2 is
// given), says so in $1.opened, waits until its trigger FIFO $1 is opened and closed, writes LATE
// to fd 3 and records the write's exit status in $1.result.
const lateWriterSh = `trap "" PIPE; if [ -n "$2" ]; then exec 3>"$2"; fi; : > "$1.opened"; read -r _ < "$1"; printf LATE >&3; echo "status=$?" > "$1.tmp"; mv "$1.tmp" "$1.result"`

// isolationHandlers are the handler files of the test, by language fixture folder. Each has a
// function step(event) doing the event's "action": "late" (start the late writer, answer
// "early"), "trigger" (let it write, wait until it did, answer "B"), anything else answers "B";
// in bash "echo" answers the event with echo (a final newline).
var isolationHandlers = map[string]string{
	"bash": `member() { local v=${1#*\"$2\":\"}; printf '%s' "${v%%\"*}"; }
wait_for() { local i; for ((i = 0; i < 1000; i++)); do [ -e "$1" ] && return 0; sleep 0.01; done; return 1; }
step() {
  local action trigger
  action=$(member "$1" action); trigger=$(member "$1" trigger)
  case $action in
    late)
      sh -c '` + lateWriterSh + `' sh "$trigger" 3>&1 >/dev/null 2>&1 &
      wait_for "$trigger.opened" || return 1
      printf early ;;
    trigger)
      : > "$trigger"
      wait_for "$trigger.result" || return 1
      printf B ;;
    echo) echo "$1" ;;
    flood) head -c 300000000 /dev/zero ;;
    *) printf B ;;
  esac
}
`,
	"python": `import os, subprocess, time

LATE_SH = '''` + lateWriterSh + `'''

def body_path():
    fds = '/proc/self/fd'
    for name in os.listdir(fds):
        try:
            target = os.readlink(os.path.join(fds, name))
        except OSError:
            continue
        if '/polyboot-' in target:
            return target
    raise RuntimeError('no body FIFO among this process\'s descriptors')

def wait_for(path):
    for _ in range(1000):
        if os.path.exists(path):
            return
        time.sleep(0.01)
    raise RuntimeError('timed out waiting for ' + path)

def step(event, context):
    action, trigger = event.get('action'), event.get('trigger')
    if action == 'late':
        context.write('early')
        devnull = open(os.devnull, 'w')
        subprocess.Popen(['sh', '-c', LATE_SH, 'sh', trigger, body_path()], stdout=devnull, stderr=devnull)
        wait_for(trigger + '.opened')
        return None
    if action == 'trigger':
        open(trigger, 'w').close()
        wait_for(trigger + '.result')
    context.write('B')
`,
	"tcl": `set lateSh {` + lateWriterSh + `}

proc bodyPath {} {
    foreach f [glob -nocomplain /proc/[pid]/fd/*] {
        if {![catch {file readlink $f} target] && [string match */polyboot-* $target]} {
            return $target
        }
    }
    error "no body FIFO among this process's descriptors"
}

proc waitFor {path} {
    for {set i 0} {$i < 1000} {incr i} {
        if {[file exists $path]} return
        after 10
    }
    error "timed out waiting for $path"
}

proc step {event context} {
    set action [dict get $event action]
    set trigger [expr {[dict exists $event trigger] ? [dict get $event trigger] : ""}]
    switch -- $action {
        late {
            lambda::write early
            exec sh -c $::lateSh sh $trigger [bodyPath] > /dev/null 2> /dev/null &
            waitFor $trigger.opened
            return ""
        }
        trigger {
            close [open $trigger w]
            waitFor $trigger.result
        }
    }
    lambda::write B
    return ""
}
`,
}

func TestIsolation(t *testing.T) {
	eachLanguage(t, all, func(t *testing.T, c *conformance) {
		dir := c.taskDir(t)
		if err := os.WriteFile(filepath.Join(dir, "isolation"+c.lang.ext), []byte(isolationHandlers[c.lang.fixtures]), 0o644); err != nil {
			t.Fatal(err)
		}
		e := startEmulator(t, function{taskDir: dir, handler: "isolation.step",
			env: []string{c.lang.envVar + "=" + c.interp, "AWS_LAMBDA_FUNCTION_NAME=isolation"}})
		for _, during := range []bool{false, true} {
			name := "late write between invocations"
			if during {
				name = "late write during the next invocation"
			}
			t.Run(name, func(t *testing.T) { lateWrite(t, e, during) })
		}
		if c.lang.name != "bash" {
			return
		}
		t.Run("trailing newlines dropped", func(t *testing.T) {
			ev := `{"action":"echo","text":"x\n"}`
			if status, body := e.Invoke(t, []byte(ev)); status != 200 || string(body) != ev {
				t.Errorf("echo answered %d %q, want %q (without echo's newline)", status, body, ev)
			}
		})
		t.Run("300 MB body", func(t *testing.T) {
			status, body := e.Invoke(t, []byte(`{"action":"flood"}`))
			checkResult(t, "flood", status, body, "Function.ResponseSizeTooLarge", `\(300000000 bytes\) exceeded`)
		})
	})
}

// lateWrite runs invocation A, which leaves a job holding its body FIFO, then B: the job writes
// before B (the test triggers it) or while B runs (B triggers it). B's body must be "B" only, and
// the job's write must have failed.
func lateWrite(t *testing.T, e *emulator, during bool) {
	trigger := filepath.Join(t.TempDir(), "trigger")
	if err := syscall.Mkfifo(trigger, 0o600); err != nil {
		t.Fatal(err)
	}
	event := func(action string) []byte {
		b, _ := json.Marshal(map[string]string{"action": action, "trigger": trigger})
		return b
	}
	if status, body := e.Invoke(t, event("late")); status != 200 || string(body) != "early" {
		t.Fatalf("A: %d %q, want early", status, body)
	}
	next := event("b")
	if during {
		next = event("trigger")
	} else {
		f, err := os.OpenFile(trigger, os.O_WRONLY, 0) // waits for the job to open it
		if err != nil {
			t.Fatal(err)
		}
		f.Close()
		if !eventually(func() bool { _, err := os.Stat(trigger + ".result"); return err == nil }) {
			t.Fatal("the late writer wrote no result")
		}
	}
	if status, body := e.Invoke(t, next); status != 200 || string(body) != "B" {
		t.Errorf("B: %d %q, want B: another invocation's bytes reached it", status, body)
	}
	result, err := os.ReadFile(trigger + ".result")
	if err != nil || strings.TrimSpace(string(result)) == "status=0" {
		t.Errorf("the late write succeeded or never ran: %q %v", result, err)
	}
	t.Logf("late write: %s", strings.TrimSpace(string(result)))
	if status, body := e.Invoke(t, event("c")); status != 200 || string(body) != "B" {
		t.Errorf("C: %d %q", status, body)
	}
}
