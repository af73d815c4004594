package supervisor

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestWorkerStart(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		mode      string
		argv      []string // replaces the fake worker's command when set
		pty       bool     // Config.LogPTY
		wantKind  Kind     // of the *Error wanted
		wantType  string   // of the *HandlerError wanted; both zero want success
		fragments []string // in the error message
		stack     []string // wanted stack trace, when set
	}{
		{name: "ready", mode: "ready"},
		{
			name: "init_error", mode: "init_error",
			wantType:  "Runtime.ImportModuleError",
			fragments: []string{"Unable to import module 'app': no module named app"},
			stack:     []string{"  File app.py, line 1", "  import nothing"},
		},
		{
			name: "exit during init", mode: "init_exit",
			wantKind: KindExit,
			fragments: []string{"exited during init", "exit status 3",
				"loading handler\nfatal: the handler is broken\nlast words without newline"},
		},
		{
			name: "exit during init, pty log stream", mode: "init_exit", pty: true,
			wantKind: KindExit,
			fragments: []string{"exited during init", "exit status 3",
				"loading handler\nfatal: the handler is broken\nlast words without newline"},
		},
		{
			name: "exit 127 during init", mode: "init_exit_127",
			wantKind:  KindExit,
			fragments: []string{"exit status 127", "(command not found)", "nosuchinterpreter: not found"},
		},
		{
			name: "killed during init", mode: "init_kill",
			wantKind:  KindExit,
			fragments: []string{"signal killed", "about to die"},
		},
		{
			name: "response before ready", mode: "init_response",
			wantKind:  KindProtocol,
			fragments: []string{`"response" before ready`},
		},
		{
			name: "garbage before ready", mode: "init_garbage",
			wantKind:  KindProtocol,
			fragments: []string{"broke the channel protocol before ready", "Traceback"},
		},
		{
			name: "channel protocol 1", mode: "ready_v1",
			wantKind:  KindStart,
			fragments: []string{"the worker speaks channel protocol 1; polyboot requires protocol 2 (docs/protocol.md)"},
		},
		{
			name: "command does not exist", mode: "ready",
			argv:      []string{"/nonexistent/polyboot-interpreter", "adapter.sh"},
			wantKind:  KindStart,
			fragments: []string{"cannot start /nonexistent/polyboot-interpreter adapter.sh"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			w, _ := testWorker(t, tt.mode, func(c *Config) {
				if tt.argv != nil {
					c.Argv = tt.argv
				}
				c.ReapWait = slowReapWait
				c.LogPTY = tt.pty
			})
			ctx, cancel := context.WithTimeout(context.Background(), invokeTimeout)
			defer cancel()
			start := time.Now()
			err := w.Start(ctx)
			if elapsed := time.Since(start); elapsed > slowReapWait/2 {
				t.Errorf("Start took %s: it waited for something that had happened", elapsed)
			}
			if tt.wantKind == 0 && tt.wantType == "" {
				if err != nil {
					t.Fatalf("Start: %v", err)
				}
				pid := workerPid(w)
				if !alive(pid) {
					t.Fatalf("worker process %d is not running after Start", pid)
				}
				if err := w.Start(ctx); err != nil || workerPid(w) != pid {
					t.Fatalf("second Start: %v, pid %d, want nil and the same process %d", err, workerPid(w), pid)
				}
				return
			}
			if tt.wantKind != 0 {
				checkErr(t, err, tt.wantKind, tt.fragments...)
			} else {
				report := checkHandlerErr(t, err, tt.wantType, tt.fragments...)
				if tt.stack != nil && !slices.Equal(report.StackTrace, tt.stack) {
					t.Errorf("stack trace = %q, want %q", report.StackTrace, tt.stack)
				}
			}
			if w.proc != nil {
				t.Errorf("a worker that failed to start kept its process")
			}
		})
	}
}

// logStreams are the kinds of log stream a worker can have (Config.LogPTY).
var logStreams = []struct {
	name string
	pty  bool
}{{"pipe", false}, {"pty", true}}

// withLogPTY sets Config.LogPTY.
func withLogPTY(pty bool) func(*Config) {
	return func(c *Config) { c.LogPTY = pty }
}

// slowReapWait is a ReapWait long enough that a test sees when it is waited for needlessly.
const slowReapWait = 10 * time.Second

func TestWorkerStartContext(t *testing.T) {
	t.Parallel()
	w, rec := testWorker(t, "init_hang")
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	err := w.Start(ctx)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Start: %v, want a context.DeadlineExceeded", err)
	}
	pid, _ := strconv.Atoi(strings.TrimPrefix(rec.waitFor(t, "pid="), "pid="))
	waitGone(t, pid)
	if w.proc != nil {
		t.Errorf("the worker kept a process that never became ready")
	}
}

// jsonString returns a JSON string of about n bytes mixing escapes and UTF-8.
func jsonString(n int) string {
	var b strings.Builder
	b.WriteByte('"')
	const piece = `abc \"quoted\" \\ back\nslash é✓ \u0001 `
	for b.Len() < n-len(piece)-1 {
		b.WriteString(piece)
	}
	for b.Len() < n-1 {
		b.WriteByte('z')
	}
	b.WriteByte('"')
	return b.String()
}

func TestWorkerInvokeEcho(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		event string
		want  string
	}{
		{name: "1 KB", event: jsonString(1 << 10)},
		{name: "6 MB", event: jsonString(6 << 20)},
		{name: "object", event: `{"key":"value","n":[1,2,3],"nested":{"a":null}}`},
		{name: "pretty-printed", event: "{\n  \"a\": 1,\r\n  \"b\": [true, false]\n}", want: `{"a":1,"b":[true,false]}`},
		{name: "empty object", event: `{}`},
		{name: "number", event: `42`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if !json.Valid([]byte(tt.event)) {
				t.Fatalf("test event is not JSON")
			}
			want := tt.want
			if want == "" {
				want = tt.event
			}
			w, rec := testWorker(t, "ready")
			for i := range 3 {
				id := fmt.Sprintf("req-%d", i)
				start := time.Now()
				body := mustInvoke(t, w, id, tt.event)
				t.Logf("invocation %d with a %d-byte event took %s", i, len(tt.event), time.Since(start))
				if body != want {
					t.Fatalf("body differs from the event: got %d bytes, want %d", len(body), len(want))
				}
				if got := rec.linesFor(id); !slices.Equal(got, []string{"echo " + id}) {
					t.Errorf("log lines of %s = %q", id, got)
				}
			}
		})
	}
}

func TestWorkerWarmState(t *testing.T) {
	t.Parallel()
	w, _ := testWorker(t, "ready")
	pid := 0
	for i := 1; i <= 5; i++ {
		if got := mustInvoke(t, w, fmt.Sprint("count-", i), `{"do":"count"}`); got != strconv.Itoa(i) {
			t.Fatalf("invocation %d: count = %s; the worker did not keep its state", i, got)
		}
		if pid == 0 {
			pid = workerPid(w)
		} else if workerPid(w) != pid {
			t.Fatalf("the worker process changed from %d to %d", pid, workerPid(w))
		}
	}
}

// logCommand returns an event that makes the fake worker write text to its log stream.
func logCommand(text string) string {
	b, _ := json.Marshal(command{Do: "log", Text: text})
	return string(b)
}

func TestWorkerLogsDrainedBeforeInvokeReturns(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		text string
		want []string
	}{
		{name: "lines", text: "one\ntwo\nthree\n", want: []string{"one", "two", "three"}},
		{name: "no final newline", text: "first\nlast line without newline", want: []string{"first", "last line without newline"}},
		{name: "crlf", text: "windows\r\nstyle\r\n", want: []string{"windows", "style"}},
		{name: "empty lines", text: "\n\nx\n", want: []string{"", "", "x"}},
		{name: "only a partial line", text: "partial", want: []string{"partial"}},
		{name: "many lines", text: strings.Repeat("0123456789\n", 5000), want: slices.Repeat([]string{"0123456789"}, 5000)},
	}
	for _, ls := range logStreams {
		for _, tt := range tests {
			t.Run(ls.name+"/"+tt.name, func(t *testing.T) {
				t.Parallel()
				w, rec := testWorker(t, "ready", withLogPTY(ls.pty))
				// Several rounds: a line that arrives late shows up tagged with the next request.
				for i := range 10 {
					id := fmt.Sprintf("%s-%d", tt.name, i)
					if body := mustInvoke(t, w, id, logCommand(tt.text)); body != "logged" {
						t.Fatalf("body = %q", body)
					}
					if got := rec.linesFor(id); !slices.Equal(got, tt.want) {
						t.Fatalf("round %d: lines tagged %s when Invoke returned: %q, want %q", i, id, got, tt.want)
					}
				}
				if got := rec.linesFor(""); len(got) > 0 {
					t.Errorf("lines logged outside an invocation: %q", got)
				}
			})
		}
	}
}

func TestWorkerErrorReply(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		logTail int
		want    string
	}{
		{name: "no tail", logTail: 0, want: "it failed"},
		{name: "tail of 2", logTail: 2, want: "it failed\nline 3\nunterminated"},
		{name: "tail longer than the log", logTail: 10, want: "it failed\nline 1\nline 2\nline 3\nunterminated"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			w, _ := testWorker(t, "ready")
			mustInvoke(t, w, "before", logCommand("a line of an earlier invocation\n"))
			pid := workerPid(w)
			event, _ := json.Marshal(command{Do: "error", N: tt.logTail, Text: "line 1\nline 2\nline 3\nunterminated"})
			body, err := invoke(t, w, "failing", string(event))
			if body != nil {
				t.Errorf("an error reply came with a body: %q", body)
			}
			report := checkHandlerErr(t, err, "HandlerError")
			if report.Message != tt.want {
				t.Errorf("message = %q, want %q", report.Message, tt.want)
			}
			if !slices.Equal(report.StackTrace, []string{"frame 1", "frame 2"}) {
				t.Errorf("stack trace = %q", report.StackTrace)
			}
			// The failed invocation's body bytes are dropped, and the worker stays warm.
			if got := mustInvoke(t, w, "after", `"next"`); got != `"next"` {
				t.Errorf("next body = %q, want %q", got, `"next"`)
			}
			if workerPid(w) != pid {
				t.Errorf("an error reply restarted the worker")
			}
		})
	}
}

func TestWorkerExitDuringInvoke(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		event     command
		fragments []string
	}{
		{name: "exit 3", event: command{Do: "exit", Code: 3, Text: "about to exit\n"},
			fragments: []string{"the worker exited after", "exit status 3", "last log lines:\nabout to exit"}},
		{name: "exit 0", event: command{Do: "exit", Code: 0, Text: "partial last line"},
			fragments: []string{"exit status 0", "partial last line"}},
		{name: "exit 126", event: command{Do: "exit", Code: 126},
			fragments: []string{"exit status 126", "(a command was found but is not executable)"}},
		{name: "exit 127", event: command{Do: "exit", Code: 127, Text: "bash: frobnicate: command not found\n"},
			fragments: []string{"exit status 127", "(command not found)", "frobnicate: command not found"}},
		{name: "SIGKILL", event: command{Do: "kill", Text: "killing myself\n"},
			fragments: []string{"signal killed", "killing myself"}},
		{name: "SIGSEGV", event: command{Do: "segv", Text: "segfaulting\n"},
			fragments: []string{"signal segmentation fault", "segfaulting"}},
	}
	for _, ls := range logStreams {
		for _, tt := range tests {
			t.Run(ls.name+"/"+tt.name, func(t *testing.T) {
				t.Parallel()
				testExitDuringInvoke(t, ls.pty, tt.event, tt.fragments)
			})
		}
	}
}

// testExitDuringInvoke runs an invocation whose event makes the worker die, and checks the report,
// that the process is gone and that the next invocation runs on a new one.
func testExitDuringInvoke(t *testing.T, pty bool, cmd command, fragments []string) {
	w, rec := testWorker(t, "ready", withLogPTY(pty))
	mustInvoke(t, w, "warm", `{}`)
	pid := workerPid(w)
	event, _ := json.Marshal(cmd)
	body, err := invoke(t, w, "dying", string(event))
	if body != nil {
		t.Errorf("got a body %q", body)
	}
	exit := checkErr(t, err, KindExit, fragments...)
	if w.proc != nil {
		t.Errorf("the worker kept its dead process")
	}
	waitGone(t, pid)
	if strings.Contains(exit.Msg, "echo warm") {
		t.Errorf("the log tail holds lines of an earlier invocation: %q", exit.Msg)
	}
	if got := rec.linesFor("dying"); cmd.Text != "" && len(got) == 0 {
		t.Errorf("the dying invocation's log lines were not logged")
	}
	// The next invocation starts a new process.
	if got := mustInvoke(t, w, "next", `{"do":"pid"}`); got == strconv.Itoa(pid) || got == "" {
		t.Errorf("next invocation ran in process %s, want a new one (old %d)", got, pid)
	}
}

// grandchildPid returns the pid the fake worker logged for its grandchild.
func grandchildPid(t *testing.T, rec *logRecorder) int {
	t.Helper()
	line := rec.waitFor(t, "grandchild pid=")
	pid, err := strconv.Atoi(strings.TrimPrefix(line, "grandchild pid="))
	if err != nil {
		t.Fatalf("bad grandchild line %q: %v", line, err)
	}
	return pid
}

func TestWorkerTimeout(t *testing.T) {
	t.Parallel()
	for _, ls := range logStreams {
		t.Run(ls.name, func(t *testing.T) {
			t.Parallel()
			testTimeout(t, ls.pty)
		})
	}
}

// testTimeout runs an invocation that overruns its deadline while a grandchild holds the worker's
// pipes (and the pty's slave), and checks that both processes are killed.
func testTimeout(t *testing.T, pty bool) {
	w, rec := testWorker(t, "ready", withLogPTY(pty))
	mustInvoke(t, w, "warm", `{}`)
	pid := workerPid(w)
	const budget = 700 * time.Millisecond
	ctx, cancel := context.WithTimeout(context.Background(), budget)
	defer cancel()
	start := time.Now()
	body, err := invokeCtx(ctx, w, "slow", `{"do":"hang","text":"started the slow part\n"}`)
	elapsed := time.Since(start)
	if body != nil {
		t.Errorf("got a body %q", body)
	}
	checkErr(t, err, KindTimeout, "Task timed out after 0.", " seconds",
		"last log lines:\nstarted the slow part\ngrandchild pid=", "handler sleeping")
	if elapsed < budget || elapsed > budget+5*time.Second {
		t.Errorf("Invoke returned after %s, want just after the %s deadline", elapsed, budget)
	}
	t.Logf("timed out invocation returned after %s", elapsed)
	// The grandchild held the worker's pipes and would sleep a minute; the process group kill
	// must have taken it along with the worker.
	gpid := grandchildPid(t, rec)
	waitGone(t, pid)
	waitGone(t, gpid)
	if got := mustInvoke(t, w, "next", `{"do":"pid"}`); got == strconv.Itoa(pid) {
		t.Errorf("the next invocation ran on the timed-out process %d", pid)
	}
}

func TestWorkerTimeoutOutsideTheHandler(t *testing.T) {
	t.Parallel()
	t.Run("deadline already passed", func(t *testing.T) {
		t.Parallel()
		w, _ := testWorker(t, "ready")
		mustInvoke(t, w, "warm", `{}`)
		pid := workerPid(w)
		ctx, cancel := context.WithDeadline(context.Background(), time.Now().Add(-time.Second))
		defer cancel()
		for i := range 5 {
			_, err := invokeCtx(ctx, w, fmt.Sprint("late-", i), `{}`)
			checkErr(t, err, KindTimeout, "Task timed out after 0.")
		}
		if workerPid(w) != pid {
			t.Errorf("an invocation that never reached the worker restarted it")
		}
	})
	t.Run("deadline passes while the worker starts", func(t *testing.T) {
		t.Parallel()
		w, rec := testWorker(t, "init_hang")
		ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
		defer cancel()
		_, err := invokeCtx(ctx, w, "slow-start", `{}`)
		checkErr(t, err, KindTimeout, "Task timed out after 0.")
		pid, _ := strconv.Atoi(strings.TrimPrefix(rec.waitFor(t, "pid="), "pid="))
		waitGone(t, pid)
	})
}

func TestWorkerInvalidReply(t *testing.T) {
	t.Parallel()
	tests := []struct {
		do        string
		fragments []string
	}{
		{do: "wrong_id", fragments: []string{`replied for request "not-bad" during request "bad"`}},
		{do: "garbage", fragments: []string{"broke the channel protocol", "not a JSON object", "this is not JSON"}},
		{do: "unknown_type", fragments: []string{"broke the channel protocol", `unknown reply type "bogus"`}},
		{do: "ready_again", fragments: []string{`sent "ready" instead of a reply`}},
	}
	for _, tt := range tests {
		t.Run(tt.do, func(t *testing.T) {
			t.Parallel()
			w, _ := testWorker(t, "ready", func(c *Config) { c.ReapWait = slowReapWait })
			mustInvoke(t, w, "warm", `{}`)
			pid := workerPid(w)
			start := time.Now()
			body, err := invoke(t, w, "bad", `{"do":"`+tt.do+`"}`)
			if elapsed := time.Since(start); elapsed > slowReapWait/2 {
				t.Errorf("Invoke took %s: it waited for something that had happened", elapsed)
			}
			if body != nil {
				t.Errorf("got a body %q", body)
			}
			checkErr(t, err, KindProtocol, tt.fragments...)
			waitGone(t, pid)
			if got := mustInvoke(t, w, "next", `{"do":"pid"}`); got == strconv.Itoa(pid) {
				t.Errorf("the worker that broke the protocol was not restarted")
			}
		})
	}
}

func TestWorkerReplyBeforeReadingTheLine(t *testing.T) {
	t.Parallel()
	// A 6 MB invoke line does not fit the pipe: the worker's reply comes while the line is still
	// being written, and the rest is never read.
	w, _ := testWorker(t, "early_reply", func(c *Config) { c.ReapWait = 300 * time.Millisecond })
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Second)
	defer cancel()
	start := time.Now()
	if err := w.Start(ctx); err != nil {
		t.Fatal(err)
	}
	pid := workerPid(w)
	body, err := invokeCtx(ctx, w, "early", jsonString(6<<20))
	if elapsed := time.Since(start); elapsed > 4*time.Second {
		t.Errorf("Invoke took %s", elapsed)
	}
	if body != nil {
		t.Errorf("got a body %q", body)
	}
	checkErr(t, err, KindProtocol, "before reading the whole invoke line")
	waitGone(t, pid)
}

func TestWorkerFinal(t *testing.T) {
	t.Parallel()
	t.Run("exits", func(t *testing.T) {
		t.Parallel()
		w, rec := testWorker(t, "ready")
		for i := range 5 { // several rounds: the reply and the exit race each other
			pid, _ := strconv.Atoi(mustInvoke(t, w, fmt.Sprint("pid-", i), `{"do":"pid"}`))
			if got := mustInvoke(t, w, fmt.Sprint("final-", i), `{"do":"final"}`); got != "bye" {
				t.Fatalf("round %d: body = %q", i, got)
			}
			if w.proc != nil {
				t.Fatalf("round %d: the worker kept the process that said it was final", i)
			}
			waitGone(t, pid)
			if got := mustInvoke(t, w, fmt.Sprint("after-", i), `{"do":"pid"}`); got == strconv.Itoa(pid) {
				t.Fatalf("round %d: the invocation after a final reply ran in the old process", i)
			}
		}
		if warns := rec.warnings(); len(warns) > 0 {
			t.Errorf("warnings: %q", warns)
		}
	})
	t.Run("does not exit", func(t *testing.T) {
		t.Parallel()
		w, rec := testWorker(t, "ready", func(c *Config) { c.ReapWait = 200 * time.Millisecond })
		mustInvoke(t, w, "warm", `{}`)
		pid := workerPid(w)
		if got := mustInvoke(t, w, "final", `{"do":"final_stay"}`); got != "not leaving" {
			t.Fatalf("body = %q", got)
		}
		waitGone(t, pid)
		if warns := rec.warnings(); len(warns) != 1 || !strings.Contains(warns[0], "did not exit") {
			t.Errorf("warnings = %q, want one about the worker not exiting", warns)
		}
		mustInvoke(t, w, "next", `{}`)
	})
}

func TestWorkerExitBetweenInvocations(t *testing.T) {
	t.Parallel()
	// A worker that dies between invocations is no fault of the next invocation: it runs on a new
	// process, whether the death shows as the process's exit or as the end of its channel out.
	tests := []struct {
		name  string
		event string
		seen  func(p *process) <-chan struct{} // closed once the death is visible
	}{
		{name: "exited", event: `{"do":"exit_after_reply"}`, seen: func(p *process) <-chan struct{} { return p.exited }},
		{name: "channel closed, exit follows", event: `{"do":"close_then_exit","n":100}`, seen: channelEnded},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			w, rec := testWorker(t, "ready")
			const rounds = 3
			for i := range rounds {
				if got := mustInvoke(t, w, fmt.Sprint("answer-", i), tt.event); got != "answered" {
					t.Fatalf("round %d: body = %q; a reply written before the exit must count", i, got)
				}
				select {
				case <-tt.seen(w.proc):
				case <-time.After(10 * time.Second):
					t.Fatalf("round %d: the worker did not go", i)
				}
				if got := mustInvoke(t, w, fmt.Sprint("next-", i), `"fine"`); got != `"fine"` {
					t.Fatalf("round %d: body = %q", i, got)
				}
			}
			if warns := rec.warnings(); len(warns) != rounds || !strings.Contains(warns[0], "exited between invocations") {
				t.Errorf("warnings = %q, want one per round about the exit between invocations", warns)
			}
		})
	}
}

// channelEnded returns a channel closed once p's reply reader has queued the end of the channel out.
func channelEnded(p *process) <-chan struct{} {
	done := make(chan struct{})
	go func() {
		defer close(done)
		for deadline := time.Now().Add(10 * time.Second); len(p.lines) == 0 && time.Now().Before(deadline); {
			time.Sleep(time.Millisecond) // polling: nothing else tells that the reader queued a line
		}
	}()
	return done
}

func TestWorkerUnmarshalError(t *testing.T) {
	t.Parallel()
	payloads := []string{"not json", `{"a":`, "", `{"a":1} trailing`, "\xff"}
	t.Run("running worker", func(t *testing.T) {
		t.Parallel()
		w, rec := testWorker(t, "ready")
		mustInvoke(t, w, "warm", `{"do":"count"}`)
		pid := workerPid(w)
		for i, payload := range payloads {
			id := fmt.Sprint("bad-", i)
			body, err := invoke(t, w, id, payload)
			if body != nil {
				t.Errorf("got a body %q", body)
			}
			checkErr(t, err, KindEvent, "Unable to unmarshal input")
			if workerPid(w) != pid {
				t.Fatalf("an event that is not JSON changed the worker process")
			}
			if got := rec.linesFor(id); len(got) > 0 {
				t.Errorf("the worker saw event %q: %q", payload, got)
			}
		}
		if got := mustInvoke(t, w, "after", `{"do":"count"}`); got != "2" {
			t.Errorf("count = %s, want 2: the worker saw other invocations", got)
		}
	})
	t.Run("worker not started", func(t *testing.T) {
		t.Parallel()
		w, _ := testWorker(t, "ready")
		_, err := invoke(t, w, "bad", "nope")
		checkErr(t, err, KindEvent)
		if w.proc != nil {
			t.Errorf("an event that is not JSON started the worker")
		}
	})
}

func TestWorkerHugeLogLine(t *testing.T) {
	t.Parallel()
	for _, ls := range logStreams {
		t.Run(ls.name, func(t *testing.T) {
			t.Parallel()
			testHugeLogLine(t, ls.pty)
		})
	}
}

// testHugeLogLine logs a 1 MB line without a newline and checks it arrives whole, in pieces.
func testHugeLogLine(t *testing.T, pty bool) {
	w, rec := testWorker(t, "ready", withLogPTY(pty))
	const size = 1_000_000
	if got := mustInvoke(t, w, "huge", fmt.Sprintf(`{"do":"huge_log","n":%d}`, size)); got != "huge" {
		t.Fatalf("body = %q", got)
	}
	lines := rec.linesFor("huge")
	total := 0
	for i, l := range lines {
		if len(l) > maxLogLine {
			t.Errorf("line %d has %d bytes, over maxLogLine", i, len(l))
		}
		if strings.Trim(l, "x") != "" {
			t.Errorf("line %d holds other bytes than the log", i)
		}
		total += len(l)
	}
	if want := (size + maxLogLine - 1) / maxLogLine; len(lines) != want || total != size {
		t.Errorf("got %d lines, %d bytes, want %d lines, %d bytes", len(lines), total, want, size)
	}
}

func TestWorkerLogFlood(t *testing.T) {
	t.Parallel()
	for _, ls := range logStreams {
		t.Run(ls.name, func(t *testing.T) {
			t.Parallel()
			testLogFlood(t, ls.pty)
		})
	}
}

// testLogFlood logs 10 MB in one invocation and checks every byte arrived, tagged.
func testLogFlood(t *testing.T, pty bool) {
	w, rec := testWorker(t, "ready", withLogPTY(pty))
	rec.keep = func([]byte) bool { return false }
	const size = 10 << 20
	start := time.Now()
	if got := mustInvoke(t, w, "flood", fmt.Sprintf(`{"do":"flood","n":%d}`, size)); got != "flooded" {
		t.Fatalf("body = %q", got)
	}
	t.Logf("10 MB of logs in %s", time.Since(start))
	rec.mu.Lock()
	defer rec.mu.Unlock()
	if rec.bytes+rec.count != size || rec.perID["flood"] != rec.count {
		t.Errorf("got %d lines of %d bytes (%d tagged flood), want %d bytes with newlines", rec.count, rec.bytes, rec.perID["flood"], size)
	}
}

func TestWorkerBackgroundLogFlood(t *testing.T) {
	t.Parallel()
	// A worker that never stops logging (a background job) must not keep invocations from ending.
	w, rec := testWorker(t, "ready")
	// The flood's writes are larger than PIPE_BUF, so the worker's own short (atomic) line can
	// land inside a flood line: it then ends that line.
	rec.keep = func(line []byte) bool { return bytes.Contains(line, []byte("echo ")) }
	if got := mustInvoke(t, w, "start", `{"do":"flood_forever"}`); got != "flooding" {
		t.Fatalf("body = %q", got)
	}
	rec.waitCount(t, 20000) // the flood is on: about 2 MB
	for i := range 5 {
		id := fmt.Sprint("during-", i)
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		body, err := invokeCtx(ctx, w, id, `"still here"`)
		cancel()
		if err != nil || string(body) != `"still here"` {
			t.Fatalf("invocation %d during a log flood: body %q, error %v", i, body, err)
		}
		if got := rec.linesFor(id); !slices.ContainsFunc(got, func(l string) bool { return strings.HasSuffix(l, "echo "+id) }) {
			t.Fatalf("invocation %d: its log line is missing: %q", i, got)
		}
	}
}

func TestWorkerClose(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		mode   string
		ending string // how the worker process ended
		killed bool   // the worker ignores SIGTERM, so Close must wait StopGrace and SIGKILL it
		marker bool   // a grandchild notes the SIGTERM it got in a file
	}{
		// The fake worker exits on EOF, or on the SIGTERM that follows at once (Go's default).
		{name: "exits on EOF", mode: "ready", ending: "exit status 0|signal terminated"},
		{name: "ignores SIGTERM", mode: "ignore_term", ending: "signal killed", killed: true},
		{name: "grandchild gets SIGTERM", mode: "term_group", ending: "signal killed", killed: true, marker: true},
	}
	const grace = 300 * time.Millisecond
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			marker := filepath.Join(t.TempDir(), "sigterm")
			w, rec := testWorker(t, tt.mode, func(c *Config) {
				c.StopGrace = grace
				c.Env = append(c.Env, markerEnv+"="+marker)
			})
			mustInvoke(t, w, "warm", `{}`)
			p := w.proc
			pid := p.pid
			gpid := 0
			if tt.marker {
				gpid = grandchildPid(t, rec)
			}
			start := time.Now()
			if err := w.Close(); err != nil {
				t.Fatalf("Close: %v", err)
			}
			elapsed := time.Since(start)
			t.Logf("Close took %s", elapsed)
			if ending := exitDescription(p.state); !slices.Contains(strings.Split(tt.ending, "|"), ending) {
				t.Errorf("the worker ended by %s, want %s", ending, tt.ending)
			}
			switch {
			case tt.killed && elapsed < grace:
				t.Errorf("Close returned after %s, before StopGrace %s, from a worker that ignores SIGTERM", elapsed, grace)
			case elapsed > grace+3*time.Second:
				t.Errorf("Close took %s", elapsed)
			}
			if w.proc != nil {
				t.Errorf("Close left the worker a process")
			}
			waitGone(t, pid)
			if tt.marker {
				waitGone(t, gpid)
				if b, err := os.ReadFile(marker); err != nil || string(b) != "SIGTERM\n" {
					t.Errorf("the grandchild did not get SIGTERM: %q %v", b, err)
				}
			}
			if err := w.Close(); err != nil {
				t.Errorf("second Close: %v", err)
			}
		})
	}
}

func TestWorkerCloseNeverStarted(t *testing.T) {
	t.Parallel()
	w, _ := testWorker(t, "ready")
	if err := w.Close(); err != nil {
		t.Errorf("Close: %v", err)
	}
}

// TestWorkerLeavesNoGoroutines runs a worker through its life, deaths included, and checks that
// once it is closed no goroutine of it is left. It does not run in parallel: goleak looks at all
// of the process's goroutines (paused parallel tests excepted).
func TestWorkerLeavesNoGoroutines(t *testing.T) {
	w, _ := testWorker(t, "ready", func(c *Config) { c.StopGrace = 100 * time.Millisecond })
	mustInvoke(t, w, "echo", jsonString(2<<20))
	for _, event := range []string{`{"do":"exit","code":1}`, `{"do":"garbage"}`, `{"do":"final"}`, `{"do":"kill"}`} {
		_, _ = invoke(t, w, "x", event)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	_, err := invokeCtx(ctx, w, "hang", `{"do":"hang"}`)
	checkErr(t, err, KindTimeout)
	mustInvoke(t, w, "again", `{}`)
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	goleak.VerifyNone(t, goleak.IgnoreTopFunction("github.com/polyboot/polyboot/supervisor.(*Spawner).run"))
}

// TestWorkerWarm checks that Warm tells a running worker from one that Start would have to start:
// before the first start, and after the worker died.
func TestWorkerWarm(t *testing.T) {
	t.Parallel()
	w, _ := testWorker(t, "ready")
	if w.Warm() {
		t.Error("Warm before any start")
	}
	mustInvoke(t, w, "r1", `{}`)
	if !w.Warm() {
		t.Error("not Warm after an invocation")
	}
	_, err := invoke(t, w, "r2", `{"do":"exit","code":3}`)
	checkErr(t, err, KindExit)
	if w.Warm() {
		t.Error("Warm after the worker died")
	}
	if err := w.Start(context.Background()); err != nil || !w.Warm() {
		t.Errorf("Start: %v; Warm %v", err, w.Warm())
	}
}
