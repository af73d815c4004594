package supervisor

// Tests of channel protocol 2's guarantees (issue #11): one body FIFO per invocation, stray lines
// between invocations, bounded memory, over-long replies, the enforced deadline.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/polyboot/polyboot/protocol"
)

func TestWorkerLateBodyWriter(t *testing.T) {
	t.Parallel()
	// Invocation A leaves a background job holding its body stream; the job writes "LATE" after
	// A's reply: before B, or while B runs. B's body is B's alone, and the job's write fails.
	tests := []struct {
		name   string
		during bool // the job writes while B runs (B triggers it), else between A and B
	}{
		{name: "between invocations"},
		{name: "during the next invocation", during: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			w, _ := testWorker(t, "ready")
			trigger := filepath.Join(t.TempDir(), "trigger")
			late, _ := json.Marshal(command{Do: "late", Path: trigger})
			if got := mustInvoke(t, w, "A", string(late)); got != "early" {
				t.Fatalf("A's body = %q", got)
			}
			var next string
			if tt.during {
				b, _ := json.Marshal(command{Do: "trigger", Path: trigger})
				next = string(b)
			} else {
				triggerLateWriter(t, trigger)
				next = `{"do":"body","body":"B"}`
			}
			if got := mustInvoke(t, w, "B", next); got != "B" {
				t.Errorf("B's body = %q, want %q: another invocation's bytes reached it", got, "B")
			}
			if got := mustInvoke(t, w, "C", `{"do":"body","body":"C"}`); got != "C" {
				t.Errorf("C's body = %q", got)
			}
			result, err := os.ReadFile(trigger + ".result")
			if err != nil || !strings.Contains(string(result), "broken pipe") {
				t.Errorf("the late write gave %q (%v), want EPIPE (broken pipe)", result, err)
			}
		})
	}
}

// triggerLateWriter lets the late writer write and waits (bounded) for its result.
func triggerLateWriter(t *testing.T, trigger string) {
	t.Helper()
	f, err := os.OpenFile(trigger, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.Close()
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(time.Millisecond) {
		if _, err := os.Stat(trigger + ".result"); err == nil {
			return // polling: the late writer is another process's child
		}
		if time.Now().After(deadline) {
			t.Fatal("the late writer wrote no result within 10s")
		}
	}
}

func TestWorkerBodyFIFO(t *testing.T) {
	t.Parallel()
	w, _ := testWorker(t, "ready")
	var paths []string
	for i := range 3 {
		got := strings.Fields(mustInvoke(t, w, fmt.Sprint("path-", i), `{"do":"body_path"}`))
		if len(got) != 3 {
			t.Fatalf("body_path answered %q", got)
		}
		path, dirMode, kind := got[0], got[1], got[2]
		if !plainPath(path) || !filepath.IsAbs(path) {
			t.Errorf("body path %q has bytes the invoke line would have to escape", path)
		}
		if dirMode != "700" || kind != "p---------" {
			t.Errorf("the body folder has mode %s and the body is %s, want 700 and a FIFO", dirMode, kind)
		}
		// After the reply the FIFO has no reader: a writer that opens it now gets ENXIO, or finds
		// no FIFO (it is unlinked while the result is posted, before the next invocation).
		if f, err := os.OpenFile(path, os.O_WRONLY|syscall.O_NONBLOCK, 0); !errors.Is(err, syscall.ENXIO) && !os.IsNotExist(err) {
			t.Errorf("invocation %d's FIFO %s after the reply: opened for writing: %v", i, path, err)
			f.Close()
		}
		if i > 0 {
			if _, err := os.Lstat(paths[i-1]); !os.IsNotExist(err) {
				t.Errorf("invocation %d's FIFO %s is still there after the next one: %v", i-1, paths[i-1], err)
			}
		}
		paths = append(paths, path)
	}
	if paths[0] == paths[1] || paths[1] == paths[2] || filepath.Dir(paths[0]) != filepath.Dir(paths[2]) {
		t.Errorf("body paths %q: want a new FIFO per invocation, in one folder per worker", paths)
	}
	dir := filepath.Dir(paths[0])
	if !strings.HasPrefix(dir, os.TempDir()) {
		t.Errorf("body folder %s is not under %s", dir, os.TempDir())
	}
	// A new process gets a new folder; the old one is removed with its process.
	mustInvoke(t, w, "exit", `{"do":"exit_after_reply"}`)
	<-w.proc.exited
	got := strings.Fields(mustInvoke(t, w, "new", `{"do":"body_path"}`))
	if filepath.Dir(got[0]) == dir {
		t.Errorf("the new worker process uses the old body folder %s", dir)
	}
	if _, err := os.Lstat(dir); !os.IsNotExist(err) {
		t.Errorf("the dead worker's body folder %s is still there: %v", dir, err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Lstat(filepath.Dir(got[0])); !os.IsNotExist(err) {
		t.Errorf("the closed worker's body folder is still there: %v", err)
	}
}

func TestWorkerStrayLineBetweenInvocations(t *testing.T) {
	t.Parallel()
	// A line on the channel out between invocations (an extra reply, as a forked copy of an
	// adapter would write) costs a restart, never the next invocation.
	for _, do := range []string{"twice", "stray_garbage"} {
		t.Run(do, func(t *testing.T) {
			t.Parallel()
			w, rec := testWorker(t, "ready")
			if got := mustInvoke(t, w, "one", `{"do":"`+do+`"}`); got != "first" {
				t.Fatalf("body = %q", got)
			}
			pid := workerPid(w)
			<-lineQueued(w.proc) // the stray is there before the next invocation begins
			if got := mustInvoke(t, w, "two", `"innocent"`); got != `"innocent"` {
				t.Errorf("body = %q", got)
			}
			waitGone(t, pid)
			if workerPid(w) == pid {
				t.Errorf("the worker that wrote a stray line was not restarted")
			}
			if warns := rec.warnings(); len(warns) != 1 || !strings.Contains(warns[0], "between invocations") {
				t.Errorf("warnings = %q, want one about the stray line", warns)
			}
		})
	}
}

// lineQueued returns a channel closed once p's reply reader has queued a line.
func lineQueued(p *process) <-chan struct{} {
	return channelEnded(p)
}

func TestWorkerResponseSize(t *testing.T) {
	t.Parallel()
	const limit = protocol.MaxResponseSize
	tests := []struct {
		name     string
		n        int
		wantSize int // of the body, when it is answered
		tooLarge bool
	}{
		{name: "exactly the limit", n: limit, wantSize: limit},
		{name: "one byte over", n: limit + 1, tooLarge: true},
		{name: "300 MB", n: 300_000_000, tooLarge: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			w, pid := warmWorker(t)
			body, err := invoke(t, w, "big", fmt.Sprintf(`{"do":"body_flood","n":%d}`, tt.n))
			if !tt.tooLarge {
				if err != nil || len(body) != tt.wantSize {
					t.Fatalf("got %d bytes and %v, want %d bytes", len(body), err, tt.wantSize)
				}
				return
			}
			e := checkErr(t, err, KindTooLarge, fmt.Sprintf("Response payload size (%d bytes) exceeded", tt.n))
			if e.Size != int64(tt.n) {
				t.Errorf("size = %d, want %d", e.Size, tt.n)
			}
			if workerPid(w) != pid {
				t.Errorf("a response that was too large restarted the worker")
			}
			if got := mustInvoke(t, w, "after", `"small"`); got != `"small"` {
				t.Errorf("next body = %q", got)
			}
			if c := cap(w.proc.buf) + cap(w.proc.spare); c > 2*(limit+1)+1<<20 {
				t.Errorf("the body buffers hold %d bytes, want at most twice the limit", c)
			}
		})
	}
}

func TestBootstrapRSSBounded(t *testing.T) {
	t.Parallel()
	// A bootstrap (a child process, so that its peak RSS is its own) serves a 300 MB body and a
	// 9 MB error message. Before protocol 2 its RSS grew with the body (about 1 GB here).
	cmd := exec.Command(testExe)
	cmd.Env = append(helperEnv(), workerEnv+"=rss_bootstrap")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("rss bootstrap: %v\n%s", err, out)
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	if len(lines) != 3 {
		t.Fatalf("rss bootstrap said %q", out)
	}
	if !strings.HasPrefix(lines[0], KindTooLarge.String()+" ") || !strings.Contains(lines[0], "(300000000 bytes)") {
		t.Errorf("300 MB body: %q, want %s with the real size", lines[0], KindTooLarge)
	}
	if f := strings.Fields(lines[1]); len(f) < 2 || f[0] != "HugeError" {
		t.Errorf("9 MB error message: %q, want the worker's HugeError, truncated", lines[1])
	} else if n, _ := strconv.Atoi(f[1]); n > protocol.MaxErrorMessage+100 {
		t.Errorf("9 MB error message kept %d bytes of message", n)
	}
	kb, err := strconv.Atoi(strings.TrimPrefix(lines[2], "VmHWM "))
	if err != nil {
		t.Fatalf("bad VmHWM line %q", lines[2])
	}
	t.Logf("peak RSS of a bootstrap that served a 300 MB body and a 9 MB error: %d kB", kb)
	// The body buffers (2 × 6 MB), the 8 MiB reply line, pumps and the Go runtime; the race
	// detector's shadow memory multiplies that.
	if bound := rssBoundKB(); kb > bound {
		t.Errorf("peak RSS %d kB, want under %d kB: memory grows with what the handler writes", kb, bound)
	}
}

func TestWorkerHugeErrorReply(t *testing.T) {
	t.Parallel()
	// A 9 MB error message is over the 8 MiB reply line limit: it becomes a valid, truncated
	// error of this invocation, and the worker, still in step, stays.
	w, pid := warmWorker(t)
	_, err := invoke(t, w, "huge", `{"do":"huge_error","n":9000000}`)
	report := checkHandlerErr(t, err, "HugeError", "bytes truncated]")
	if len(report.Message) > protocol.MaxErrorMessage+100 || !strings.HasPrefix(report.Message, "éé") {
		t.Errorf("message of %d bytes starting %.20q, want the first 256 KiB", len(report.Message), report.Message)
	}
	if !json.Valid([]byte(strconv.Quote(report.Message))) || !strings.Contains(report.Message, "é [") {
		t.Errorf("message does not end in whole characters: %q", report.Message[len(report.Message)-40:])
	}
	if workerPid(w) != pid {
		t.Errorf("the worker was restarted for a long error message")
	}
	if got := mustInvoke(t, w, "after", `"fine"`); got != `"fine"` {
		t.Errorf("next body = %q", got)
	}
}

func TestWorkerEnforcedDeadline(t *testing.T) {
	t.Parallel()
	w, _ := testWorker(t, "ready")
	deadline := time.Now().Add(20 * time.Second)
	ctx, cancel := context.WithDeadline(context.Background(), deadline)
	defer cancel()
	inv := &protocol.Invocation{RequestID: "d", DeadlineMs: deadline.Add(time.Second).UnixMilli(), Payload: []byte(`{"do":"deadline"}`)}
	body, err := w.Invoke(ctx, inv)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := string(body), strconv.FormatInt(deadline.UnixMilli(), 10); got != want {
		t.Errorf("the worker was told deadline_ms %s, want the enforced %s", got, want)
	}
	if inv.DeadlineMs != deadline.Add(time.Second).UnixMilli() {
		t.Errorf("Invoke changed the invocation's deadline")
	}
}

func TestWorkerTrimTrailingNewlines(t *testing.T) {
	t.Parallel()
	tests := []struct{ body, want string }{
		{"a\n", "a"},
		{"a\n\n\n", "a"},
		{"a\nb\n", "a\nb"},
		{"\n\n", ""},
		{"a\r\n", "a\r"},
		{"no newline", "no newline"},
	}
	for _, stream := range []bool{false, true} {
		t.Run(fmt.Sprint("stream=", stream), func(t *testing.T) {
			t.Parallel()
			w, _ := testWorker(t, "ready", func(c *Config) { c.TrimTrailingNewlines = true })
			for i, tt := range tests {
				event, _ := json.Marshal(command{Do: "body", Body: tt.body})
				var got string
				if stream {
					out := &streamRecorder{}
					inv := &protocol.Invocation{RequestID: fmt.Sprint("s", i), Payload: event}
					ctx, cancel := context.WithTimeout(context.Background(), invokeTimeout)
					err := w.InvokeStream(ctx, inv, out)
					cancel()
					if err != nil {
						t.Fatal(err)
					}
					got, _ = out.close()
				} else {
					got = mustInvoke(t, w, fmt.Sprint("b", i), string(event))
				}
				if got != tt.want {
					t.Errorf("body %q answered %q, want %q", tt.body, got, tt.want)
				}
			}
		})
	}
}

// warmWorker returns a worker in mode "ready" that has served an invocation, and its pid.
func warmWorker(t *testing.T) (*Worker, int) {
	t.Helper()
	w, _ := testWorker(t, "ready")
	mustInvoke(t, w, "warm", `{}`)
	return w, workerPid(w)
}

func TestWorkerRequestIDNotUTF8(t *testing.T) {
	t.Parallel()
	// The invoke line carries such an id with U+FFFD for each invalid byte, and the worker answers
	// with that form: it is this invocation's answer, not a protocol violation.
	w, pid := warmWorker(t)
	for _, id := range []string{"a\xff\xfeb", "\xed\xa0\x80", "ok-\x80"} {
		if got := mustInvoke(t, w, id, `{"do":"body","body":"mine"}`); got != "mine" {
			t.Errorf("id %q: body %q", id, got)
		}
	}
	if workerPid(w) != pid {
		t.Errorf("the worker was restarted")
	}
}
