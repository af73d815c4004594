package e2e

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// privacyHandlers are, per adapter language, a handler whose event's "action" says what to do:
// "fds" lists the descriptors a program it starts holds ("fd:target", from /proc, once the
// program runs), "late" (bash, Python) leaves a background writer that writes to the body after
// the invocation has ended (once the file named by "marker" exists; it then creates marker.done),
// "fork" (Python) forks a child that returns into the adapter; anything else echoes the event.
// The "fds" handlers start sleep in the C locale: in another one, sleep opens and closes the
// locale archive as it starts, a descriptor of its own that a listing could catch.
var privacyHandlers = map[string]string{
	".sh": `handler() {
  case $1 in
  *'"fds"'*)
    LC_ALL=C sleep 30 & local pid=$! f
    until [[ $(</proc/$pid/comm) == sleep && $(</proc/$pid/maps) == *libc* ]]; do :; done
    printf '['; for f in /proc/$pid/fd/*; do printf '"%s:%s",' "${f##*/}" "$(readlink "$f")"; done; printf '"end"]'
    kill "$pid" ;;
  *'"late"'*)
    local m=${1#*'"marker":"'}; m=${m%%'"'*}
    (trap '' PIPE; until [[ -e $m ]]; do sleep 0.01; done; printf LATE; : >"$m.done") &
    printf '"early"' ;;
  *) printf '%s' "$1" ;;
  esac
}
`,
	".tcl": `proc handler {event context} {
    if {[dict get $event action] ne "fds"} {
        return [dict get $context event_json]
    }
    set pid [exec env LC_ALL=C sleep 30 &]
    while {[Read /proc/$pid/comm] ne "sleep\n" || ![string match *libc* [Read /proc/$pid/maps]]} {}
    set out {}
    foreach f [glob /proc/$pid/fd/*] {
        lappend out [json::string "[file tail $f]:[file readlink $f]"]
    }
    exec kill $pid
    return "\[[join $out ,],\"end\"\]"
}
proc Read {path} {
    set f [open $path]
    try { return [read $f] } finally { close $f }
}
`,
	".py": `import os, subprocess, sys, time

def handler(event, context):
    action = event.get('action')
    if action == 'fds':
        child = subprocess.Popen(['sleep', '30'], env=dict(os.environ, LC_ALL='C'))
        fd_dir = '/proc/%d/fd' % child.pid
        while True:
            with open('/proc/%d/comm' % child.pid) as comm, open('/proc/%d/maps' % child.pid) as maps:
                if comm.read() == 'sleep\n' and 'libc' in maps.read():
                    break
        out = ['%s:%s' % (fd, os.readlink(os.path.join(fd_dir, fd))) for fd in os.listdir(fd_dir)]
        child.kill()
        child.wait()
        return out + ['end']
    if action == 'late':
        if os.fork() == 0:
            while not os.path.exists(event['marker']):
                time.sleep(0.01)
            try:
                context.write(b'LATE')
            except Exception:
                pass
            open(event['marker'] + '.done', 'w').close()
            os._exit(0)
        return 'early'
    if action == 'fork':
        pid = os.fork()
        if pid == 0:
            if event.get('exit'):
                sys.exit(0)
            return 'from the child'
        os.waitpid(pid, 0)
        return 'from the parent'
    return event
`,
}

// TestChannelPrivacy: under the real bootstrap, in every language, a program the handler starts holds
// fds 0 (/dev/null), 1 and 2 only; bytes a background job writes after its invocation ended reach
// no later response; a forked Python child that returns or exits into the adapter answers nothing
// (issue 11, points 1-3).
//
// Descriptors this test process inherited from its own parent would reach the workers through
// the emulator and the bootstrap (neither closes what it inherited): they are marked
// close-on-exec first, as they would not exist on Lambda.
func TestChannelPrivacy(t *testing.T) {
	closeInheritedOnExec(t)
	eachLanguage(t, all, func(t *testing.T, c *conformance) {
		src := privacyHandlers[c.lang.ext]
		e := startEmulator(t, function{
			taskDir: writeTask(t, map[string]string{"function" + c.lang.ext: src}),
			handler: "function.handler",
			env:     []string{c.lang.envVar + "=" + c.interp},
		})
		t.Run("child-fds", func(t *testing.T) { privacyFDs(t, e) })
		if c.lang.ext != ".tcl" { // Tcl's programs cannot reach the body; nothing runs between invocations
			t.Run("late-writer", func(t *testing.T) { privacyLate(t, e, c.lang.canonical) })
		}
		if c.lang.ext == ".py" {
			t.Run("fork", func(t *testing.T) { privacyFork(t, e) })
		}
	})
}

// closeInheritedOnExec marks this process's descriptors above 2 close-on-exec.
func closeInheritedOnExec(t *testing.T) {
	entries, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if fd, err := strconv.Atoi(e.Name()); err == nil && fd > 2 {
			unix.CloseOnExec(fd)
		}
	}
}

func privacyFDs(t *testing.T, e *emulator) {
	status, body := e.Invoke(t, []byte(`{"action":"fds"}`))
	var fds []string
	if status != 200 || json.Unmarshal(body, &fds) != nil {
		t.Fatalf("status %d, body %s", status, body)
	}
	got := map[string]string{}
	for _, f := range fds[:len(fds)-1] {
		n, target, _ := strings.Cut(f, ":")
		got[n] = target
	}
	if len(got) != 3 || got["0"] != "/dev/null" || !strings.HasPrefix(got["2"], "pipe:[") ||
		!(strings.HasPrefix(got["1"], "pipe:[") || strings.Contains(got["1"], "polyboot")) {
		t.Fatalf("a program the handler starts holds %v, want only 0 (/dev/null), 1 and 2", fds)
	}
}

func privacyLate(t *testing.T, e *emulator, canonical func(string) string) {
	marker := filepath.Join(t.TempDir(), "ended")
	ev := canonical(`{"action":"late","marker":"` + marker + `"}`)
	if status, body := e.Invoke(t, []byte(ev)); status != 200 || string(body) != `"early"` {
		t.Fatalf("status %d, body %s", status, body)
	}
	if err := os.WriteFile(marker, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for _, err := os.Stat(marker + ".done"); err != nil; _, err = os.Stat(marker + ".done") {
		if time.Now().After(deadline) {
			t.Fatal("the background writer never finished")
		}
		time.Sleep(10 * time.Millisecond)
	}
	next := canonical(`{"action":"echo","n":2}`)
	if status, body := e.Invoke(t, []byte(next)); status != 200 || string(body) != next {
		t.Fatalf("the next invocation: status %d, body %s, want %s", status, body, next)
	}
}

func privacyFork(t *testing.T, e *emulator) {
	for _, ev := range []string{`{"action": "fork"}`, `{"action": "fork", "exit": true}`} {
		if status, body := e.Invoke(t, []byte(ev)); status != 200 || string(body) != `"from the parent"` {
			t.Fatalf("%s: status %d, body %s", ev, status, body)
		}
		next := `{"action": "echo"}`
		if status, body := e.Invoke(t, []byte(next)); status != 200 || string(body) != next {
			t.Fatalf("after %s: status %d, body %s", ev, status, body)
		}
	}
}
