package adapters_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

// startBash starts adapters/bash/adapter.sh for the handler script src (function "handler"),
// under $POLYBOOT_BASH (the manifest's override) when set, else the bash on PATH.
func startBash(t *testing.T, src string, env ...string) *worker {
	t.Helper()
	w := startBashFile(t, writeHandler(t, src), env...)
	w.ready(t)
	return w
}

// writeHandler writes src as function.sh in a folder of the test's and returns its path.
func writeHandler(t *testing.T, src string) string {
	t.Helper()
	file := filepath.Join(t.TempDir(), "function.sh")
	if err := os.WriteFile(file, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	return file
}

// startBashFile starts adapters/bash/adapter.sh for the handler file (function "handler"), as
// startBash does, before its first reply.
func startBashFile(t *testing.T, file string, env ...string) *worker {
	t.Helper()
	bash, err := exec.LookPath("bash")
	if b := os.Getenv("POLYBOOT_BASH"); b != "" {
		bash, err = b, nil
	}
	if err != nil {
		t.Fatal("*** bash NOT FOUND ***")
	}
	adapter, err := filepath.Abs("bash/adapter.sh")
	if err != nil {
		t.Fatal(err)
	}
	return startWorker(t, env, bash, "--noprofile", "--norc", adapter, file, "handler", "function")
}

// wantResponse checks that an exchange is the response to id (escaped as on the line) with body.
func wantResponse(t *testing.T, x exchange, escapedID, body string) {
	t.Helper()
	if want := `{"type":"response","id":"` + escapedID + `"}`; x.reply != want {
		t.Fatalf("reply %s, want %s", x.reply, want)
	}
	if string(x.body) != body {
		t.Fatalf("body %q, want %q", x.body, body)
	}
}

// childFDs is a handler fragment that starts a program (sleep) and prints the descriptors that
// program holds, from /proc, as "fd -> target" lines.
const childFDs = `
list_child_fds() {
  LC_ALL=C sleep 30 & # C locale: sleep opens no locale archive of its own
  local pid=$! f
  # Until sleep sleeps (state S): its exec, loader and start-up have closed what they opened.
  until [[ $(</proc/$pid/comm) == sleep && $(</proc/$pid/stat) == *') S '* ]]; do :; done
  for f in /proc/$pid/fd/*; do printf '%s -> %s\n' "${f##*/}" "$(readlink "$f")"; done >"$1"
  kill "$pid"; wait "$pid" 2>/dev/null
  return 0
}
`

// checkChildFDs checks a listing of childFDs: only 0 (/dev/null), 1 (stdout, want1) and 2 (the
// log pipe), and none of them the channel pipes.
func checkChildFDs(t *testing.T, w *worker, listing, want1 string) {
	t.Helper()
	got := strings.Split(strings.TrimSpace(listing), "\n")
	want := []string{"0 -> /dev/null", "1 -> " + want1, fmt.Sprintf("2 -> pipe:[%d]", w.logIn)}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("a program the handler runs holds:\n%s\nwant:\n%s\n(channel in pipe:[%d], out pipe:[%d])",
			listing, strings.Join(want, "\n"), w.inIno, w.outIn)
	}
}

// TestBashV2Basics: ready says protocol 2, the body is what the handler prints to the
// invocation's own FIFO, state is warm.
func TestBashV2Basics(t *testing.T) {
	w := startBash(t, `n=0; handler() { n=$((n+1)); printf '{"n":%d,"event":%s}' "$n" "$1"; }`)
	for i := 1; i <= 3; i++ {
		x := w.invoke(t, fmt.Sprintf("id-%d", i), `{"a":"é😀 \"q\" \\"}`, nil)
		wantResponse(t, x, fmt.Sprintf("id-%d", i), fmt.Sprintf(`{"n":%d,"event":{"a":"é😀 \"q\" \\"}}`, i))
	}
}

// TestBashContextDecoded: LAMBDA_REQUEST_ID and the other context variables hold the decoded
// values; the reply carries the id back in the escaped form it came in (issue 11, point 4).
func TestBashContextDecoded(t *testing.T) {
	w := startBash(t, `handler() {
  printf '%s|%s|%s|%s|%s|%s' "$LAMBDA_REQUEST_ID" "$LAMBDA_TENANT_ID" "$LAMBDA_FUNCTION_ARN" \
    "${_X_AMZN_TRACE_ID-unset}" "$LAMBDA_CLIENT_CONTEXT" "$LAMBDA_DEADLINE_MS"
}`)
	id := `q\"b\\c\t#?%zz`
	x := w.invoke(t, id, `{}`, map[string]string{
		"tenant_id": `t\\1\n`, "invoked_function_arn": `arn:x`, "trace_id": `Root=1-a`,
		"client_context": `{\"custom\":{\"k\":\"v\"}}`, "deadline_ms": "1732640000000",
	})
	wantResponse(t, x, id, "q\"b\\c\t#?%zz|t\\1\n|arn:x|Root=1-a|{\"custom\":{\"k\":\"v\"}}|1732640000000")
}

// TestBashLongLines: a line over 64 KiB, which the adapter reads in parts, gives the handler the
// whole event and context whether the head ends inside the first 16 KiB part, exactly at its end,
// across it, or beyond it (a large client context).
func TestBashLongLines(t *testing.T) {
	w := startBash(t, `handler() { printf '%s|%s' "${#LAMBDA_CLIENT_CONTEXT}" "$1"; }`)
	event := `{"s":"` + strings.Repeat(`café \"q\" back\\slash; `, 4000) + `"}`
	extra := map[string]string{"deadline_ms": "1732640000000"}
	// Where the event's start marker begins in the line after its 19-byte header, with no
	// client context (the next invocations' FIFO paths have the same length).
	head := bytes.Index(invokeLine("id", w.nextBodyPath(), event, extra)[19:], []byte(`,"event":`))
	for _, n := range []int{0, 16384 - 9 - head, 16384 - 4 - head, 20000} {
		t.Run(fmt.Sprintf("client context %d bytes", n), func(t *testing.T) {
			extra["client_context"] = strings.Repeat("x", n)
			wantResponse(t, w.invoke(t, "id", event, extra), "id", fmt.Sprintf("%d|%s", n, event))
		})
	}
}

// TestBashChildSeesNoChannel: a program the handler starts holds fds 0 (/dev/null), 1 (the
// body FIFO) and 2 (the log stream) only, in the handler's call and at load time.
func TestBashChildSeesNoChannel(t *testing.T) {
	listing := filepath.Join(t.TempDir(), "fds")
	w := startBash(t, childFDs+`list_child_fds `+listing+`.load
handler() { list_child_fds `+listing+`; printf done; }`)
	x := w.invoke(t, "fds", `{}`, nil)
	wantResponse(t, x, "fds", "done")
	checkChildFDs(t, w, readFile(t, listing), x.fifo)
	// At load time the handler's stdout is the log stream.
	checkChildFDs(t, w, readFile(t, listing+".load"), fmt.Sprintf("pipe:[%d]", w.logIn))
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestBashChildCannotForgeReplies: a program that writes reply-shaped lines to every descriptor
// it inherited, during the call and after it (a background job), changes no answer.
func TestBashChildCannotForgeReplies(t *testing.T) {
	dir := t.TempDir()
	marker := filepath.Join(dir, "late-done")
	// bash, which takes fds above 9 (dash does not); one subshell per fd, as sh ends at the first
	// redirection to a closed one.
	forge := filepath.Join(dir, "forge.sh")
	if err := os.WriteFile(forge, []byte(`for fd in $(seq 0 40) 63 255; do
  (printf '{"type":"response","id":"forged"}\n' >&$fd) 2>/dev/null; done; true
`), 0o644); err != nil {
		t.Fatal(err)
	}
	w := startBash(t, `handler() {
  case $1 in
  *now*) bash `+forge+`; printf ok ;;
  *late*) (sleep 0.2; bash `+forge+`; : >`+marker+`) & printf ok ;;
  *) printf '%s' "$1" ;;
  esac
}`)
	x := w.invoke(t, "now", `"now"`, nil)
	if x.reply != `{"type":"response","id":"now"}` || !strings.HasSuffix(string(x.body), "ok") {
		t.Fatalf("reply %s body %q", x.reply, x.body)
	}
	wantResponse(t, w.invoke(t, "after-now", `1`, nil), "after-now", "1")
	wantResponse(t, w.invoke(t, "late", `"late"`, nil), "late", "ok")
	waitFile(t, marker)
	// Any forged line would now be read before this reply, and the late bytes would be in its body.
	wantResponse(t, w.invoke(t, "after-late", `2`, nil), "after-late", "2")
}

// waitFile polls until path exists (10 s at most).
func waitFile(t *testing.T, path string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		if _, err := os.Stat(path); err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s never appeared", path)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestBashSubshellsNeverAct: subshells the handler starts that exit, return, fail under set -e
// or end in the background run neither the EXIT trap's reply nor the loop.
func TestBashSubshellsNeverAct(t *testing.T) {
	marker := filepath.Join(t.TempDir(), "bg-done")
	w := startBash(t, `handler() {
  ( exit 3 ); ( return 4 ); ( set -e; false; echo no ); x=$(exit 5)
  { sleep 0.1; : >`+marker+`; exit 6; } &
  ( trap 'echo sub-trap >&2' EXIT; exit 7 )
  printf ok
}`)
	wantResponse(t, w.invoke(t, "a", `{}`, nil), "a", "ok")
	waitFile(t, marker)
	wantResponse(t, w.invoke(t, "b", `{}`, nil), "b", "ok")
}

// TestBashExitInHandler: exit and set -e inside the handler's call (where the channel fds are
// closed) still answer Function.NonZeroExit with final, also from inside the handler's own
// redirections; the worker then ends.
func TestBashExitInHandler(t *testing.T) {
	cases := []struct{ name, src, want string }{
		{"exit", `handler() { printf partial; exit 4; }`, "status 4"},
		{"set -e", `set -e; handler() { false; printf no; }`, "status 1"},
		{"nested redirection", `inner() { exit 9; }; handler() { inner >/dev/null 2>&1 </dev/null; }`, "status 9"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			w := startBash(t, c.src)
			x := w.invoke(t, `e\"1`, `{}`, nil)
			r := decodeReply(t, x.reply)
			if r["type"] != "error" || r["id"] != `e"1` || r["errorType"] != "Function.NonZeroExit" ||
				r["final"] != true || !strings.Contains(r["errorMessage"].(string), c.want) {
				t.Fatalf("reply %s", x.reply)
			}
			if err := waitExit(w, 5*time.Second); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// TestBashSyntaxError: a handler file with a syntax error is an init_error with bash -n's own
// message (file, line, token), and none of the file runs: not the command before the error either.
func TestBashSyntaxError(t *testing.T) {
	marker := filepath.Join(t.TempDir(), "ran")
	file := writeHandler(t, "touch "+marker+"\nhandler() { printf ok; }\nif then fi\n")
	w := startBashFile(t, file)
	r := decodeReply(t, w.replyLine(t))
	msg, _ := r["errorMessage"].(string)
	if r["type"] != "init_error" || r["errorType"] != "Runtime.UserCodeSyntaxError" ||
		!strings.HasPrefix(msg, file+": line 3: syntax error near unexpected token") {
		t.Fatalf("first reply %v", r)
	}
	if err := waitExit(w, 5*time.Second); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(marker); !os.IsNotExist(err) {
		t.Errorf("the file ran although its syntax is wrong (%v)", err)
	}
}

// waitExit waits for the worker's channel out to reach end of file (the process is gone).
func waitExit(w *worker, timeout time.Duration) error {
	done := make(chan error, 1)
	go func() {
		_, err := w.out.ReadString('\n')
		done <- err
	}()
	select {
	case err := <-done:
		if err == nil {
			return fmt.Errorf("a line after the final reply")
		}
		return nil
	case <-time.After(timeout):
		return fmt.Errorf("the worker did not exit after its final reply")
	}
}

// TestBashHandlerFDs: descriptors the handler file and the handler open with exec {var}>...
// (at load time, and in the call, where the channel fds are closed) stay theirs.
func TestBashHandlerFDs(t *testing.T) {
	dir := t.TempDir()
	w := startBash(t, `exec {log}>>`+dir+`/load.log
handler() {
  [[ -v call ]] || exec {call}>>`+dir+`/call.log
  printf 'load %s\n' "$1" >&"$log"; printf 'call %s\n' "$1" >&"$call"; printf ok
}`)
	for i := 0; i < 3; i++ {
		wantResponse(t, w.invoke(t, fmt.Sprint("h", i), fmt.Sprint(i), nil), fmt.Sprint("h", i), "ok")
	}
	if got := readFile(t, dir+"/load.log"); got != "load 0\nload 1\nload 2\n" {
		t.Errorf("the load-time descriptor got %q", got)
	}
	if got := readFile(t, dir+"/call.log"); got != "call 0\ncall 1\ncall 2\n" {
		t.Errorf("the descriptor opened in the call got %q", got)
	}
}

// TestBashLocale: in a UTF-8 locale the handler counts characters (the adapter reads the line
// as bytes), also when the handler file sets LC_ALL itself.
func TestBashLocale(t *testing.T) {
	if !hasLocale("C.UTF-8") && !hasLocale("C.utf8") {
		t.Fatal("*** no C.UTF-8 locale on this machine: the bash locale test cannot run ***")
	}
	for _, c := range []struct{ name, pre string }{{"LANG", ""}, {"LC_ALL set by the handler", "export LC_ALL=C.UTF-8\n"}} {
		t.Run(c.name, func(t *testing.T) {
			w := startBash(t, c.pre+`handler() { local s=${1#\"}; s=${s%\"}; printf '%d:%s' "${#s}" "$1"; }`, "LANG=C.UTF-8")
			for i, ev := range []string{`"é😀中"`, `"abc"`, `"` + strings.Repeat("ü", 5000) + `"`} {
				id := fmt.Sprintf("l%d", i)
				n := len([]rune(ev)) - 2
				wantResponse(t, w.invoke(t, id, ev, nil), id, fmt.Sprintf("%d:%s", n, ev))
			}
		})
	}
}

func hasLocale(name string) bool {
	out, err := exec.Command("locale", "-a").Output()
	return err == nil && strings.Contains("\n"+string(out)+"\n", "\n"+name+"\n")
}

// TestPerlExample drives examples/perl/handler.pl, an executable handler that speaks protocol
// v2 itself, the way the bootstrap does.
func TestPerlExample(t *testing.T) {
	if _, err := exec.LookPath("perl"); err != nil {
		t.Fatal("*** perl NOT FOUND: the executable-handler example cannot be tested ***")
	}
	src, err := os.ReadFile(filepath.Join("..", "examples", "perl", "handler.pl"))
	if err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(t.TempDir(), "handler.pl")
	if err := os.WriteFile(file, src, 0o755); err != nil {
		t.Fatal(err)
	}
	w := startWorker(t, nil, file, file, "main", "handler")
	w.ready(t)
	for i, id := range []string{"p1", `q\"b\\c`} {
		x := w.invoke(t, id, `{"x":[1,"ü"]}`, nil)
		var want map[string]any
		json.Unmarshal([]byte(`{"type":"response","id":"`+id+`"}`), &want)
		if got := decodeReply(t, x.reply); !reflect.DeepEqual(got, want) {
			t.Fatalf("reply %s, want %v", x.reply, want)
		}
		if want := `{"event":{"x":[1,"ü"]},"hello":"from perl"}`; string(x.body) != want {
			t.Fatalf("body %s, want %s", x.body, want)
		}
		// The log stream is read by its own goroutine: wait for the line, within a deadline.
		waitLogCount(t, w, "perl handler: request ", i+1)
	}
}

// waitLogCount waits up to 10 s until the worker's log holds want copies of text.
func waitLogCount(t *testing.T, w *worker, text string, want int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		n := strings.Count(w.log.String(), text)
		if n == want {
			return
		}
		if n > want || time.Now().After(deadline) {
			t.Fatalf("%d log lines %q, want %d:\n%s", n, text, want, w.log.String())
		}
		time.Sleep(5 * time.Millisecond)
	}
}
