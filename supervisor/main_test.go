package supervisor

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/polyboot/polyboot/protocol"
)

// workerEnv names the helper-process mode: when it is set, the test binary runs as a fake worker
// (fake_worker_test.go) instead of running tests.
const workerEnv = "POLYBOOT_TEST_WORKER"

// testSpawner is shared by all tests, as the bootstrap shares one Spawner between its workers.
var testSpawner *Spawner

// testExe is the test binary, re-run as the fake worker.
var testExe string

func TestMain(m *testing.M) {
	if mode, ok := os.LookupEnv(workerEnv); ok {
		os.Exit(runHelper(mode))
	}
	exe, err := os.Executable()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	testExe = exe
	// Orphaned grandchildren of fake workers are reparented to this process instead of PID 1, so the
	// tests can reap them and then prove they are gone (a zombie still answers kill(pid, 0)).
	if err := setChildSubreaper(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	testSpawner = NewSpawner()
	// The Spawner's goroutine lives as long as the process, by design.
	goleak.VerifyTestMain(m, goleak.IgnoreTopFunction("github.com/polyboot/polyboot/supervisor.(*Spawner).run"))
}

// setChildSubreaper makes this process the reaper of its orphaned descendants.
func setChildSubreaper() error {
	const prSetChildSubreaper = 36
	if _, _, errno := syscall.RawSyscall(syscall.SYS_PRCTL, prSetChildSubreaper, 1, 0); errno != 0 {
		return fmt.Errorf("prctl(PR_SET_CHILD_SUBREAPER): %w", errno)
	}
	return nil
}

// logRecorder is a LogSink that keeps every line with its tag and lets a test wait for a line.
type logRecorder struct {
	mu      sync.Mutex
	lines   []logLine
	count   int                    // lines received
	bytes   int                    // bytes received, line terminators excluded
	perID   map[string]int         // lines received by tag
	keep    func(line []byte) bool // nil keeps every line
	changed chan struct{}          // closed and replaced whenever a line arrives
	warns   []string
}

type logLine struct {
	id   string
	text string
}

func newLogRecorder() *logRecorder {
	return &logRecorder{changed: make(chan struct{}), perID: make(map[string]int)}
}

// Log implements LogSink.
func (r *logRecorder) Log(requestID string, line []byte) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.count++
	r.bytes += len(line)
	r.perID[requestID]++
	if r.keep == nil || r.keep(line) {
		r.lines = append(r.lines, logLine{id: requestID, text: string(line)})
	}
	close(r.changed)
	r.changed = make(chan struct{})
}

// warn records a Config.Warn call.
func (r *logRecorder) warn(msg string, kv ...any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.warns = append(r.warns, strings.TrimSuffix(fmt.Sprintln(append([]any{msg}, kv...)...), "\n"))
}

// linesFor returns the text of the lines tagged with id, in order.
func (r *logRecorder) linesFor(id string) []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []string
	for _, l := range r.lines {
		if l.id == id {
			out = append(out, l.text)
		}
	}
	return out
}

// all returns every line kept so far.
func (r *logRecorder) all() []logLine {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]logLine(nil), r.lines...)
}

// warnings returns the Config.Warn calls so far.
func (r *logRecorder) warnings() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.warns...)
}

// waitFor waits (bounded) for a line starting with prefix and returns it.
func (r *logRecorder) waitFor(t *testing.T, prefix string) string {
	t.Helper()
	timeout := time.After(10 * time.Second)
	for {
		r.mu.Lock()
		for _, l := range r.lines {
			if strings.HasPrefix(l.text, prefix) {
				r.mu.Unlock()
				return l.text
			}
		}
		changed := r.changed
		r.mu.Unlock()
		select {
		case <-changed:
		case <-timeout:
			t.Fatalf("no log line starting with %q within 10s; got %q", prefix, r.all())
			return ""
		}
	}
}

// waitCount waits (bounded) until at least n lines arrived.
func (r *logRecorder) waitCount(t *testing.T, n int) {
	t.Helper()
	timeout := time.After(10 * time.Second)
	for {
		r.mu.Lock()
		count, changed := r.count, r.changed
		r.mu.Unlock()
		if count >= n {
			return
		}
		select {
		case <-changed:
		case <-timeout:
			t.Fatalf("%d log lines within 10s, want %d", count, n)
		}
	}
}

// testWorker returns a Worker running the fake worker in mode; it is closed when the test ends.
func testWorker(t *testing.T, mode string, configure ...func(*Config)) (*Worker, *logRecorder) {
	t.Helper()
	rec := newLogRecorder()
	cfg := Config{
		Argv:      []string{testExe, "fake-worker"},
		Dir:       t.TempDir(),
		Env:       append(helperEnv(), workerEnv+"="+mode),
		Logs:      rec,
		Warn:      rec.warn,
		StopGrace: 2 * time.Second,
		ReapWait:  2 * time.Second,
	}
	for _, c := range configure {
		c(&cfg)
	}
	w := NewWorker(testSpawner, cfg)
	t.Cleanup(func() {
		if err := w.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return w, rec
}

// helperEnv is the environment of helper processes: this one's, without the race detector's
// one-second sleep at exit (GORACE atexit_sleep_ms), which would slow every worker exit down.
func helperEnv() []string {
	return append(os.Environ(), "GORACE="+strings.TrimSpace(os.Getenv("GORACE")+" atexit_sleep_ms=0"))
}

// invokeTimeout bounds every invocation a test makes that is not about deadlines.
const invokeTimeout = 30 * time.Second

// invoke runs one invocation of event with request id id, bounded by invokeTimeout.
func invoke(t *testing.T, w *Worker, id, event string) ([]byte, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), invokeTimeout)
	defer cancel()
	return invokeCtx(ctx, w, id, event)
}

// invokeCtx runs one invocation under ctx.
func invokeCtx(ctx context.Context, w *Worker, id, event string) ([]byte, error) {
	inv := &protocol.Invocation{
		RequestID:   id,
		DeadlineMs:  time.Now().Add(time.Minute).UnixMilli(),
		FunctionARN: "arn:aws:lambda:eu-west-1:123456789012:function:test",
		Payload:     []byte(event),
	}
	return w.Invoke(ctx, inv)
}

// mustInvoke runs an invocation that must succeed and returns its body as a string.
func mustInvoke(t *testing.T, w *Worker, id, event string) string {
	t.Helper()
	body, err := invoke(t, w, id, event)
	if err != nil {
		t.Fatalf("invoke %s: unexpected error %T: %v", id, err, err)
	}
	return string(body)
}

// checkErr fails the test unless err is an *Error of kind whose message holds every fragment, and
// returns it.
func checkErr(t *testing.T, err error, kind Kind, fragments ...string) *Error {
	t.Helper()
	var e *Error
	if !errors.As(err, &e) {
		t.Fatalf("got %T %v, want an *Error of kind %s", err, err, kind)
	}
	if e.Kind != kind {
		t.Errorf("error kind = %s, want %s (message %q)", e.Kind, kind, e.Msg)
	}
	checkFragments(t, e.Msg, fragments)
	return e
}

// checkHandlerErr fails the test unless err is a *HandlerError whose report has the type, a
// message that holds every fragment, and a stack trace (an array, as Lambda wants); it returns
// the report.
func checkHandlerErr(t *testing.T, err error, errorType string, fragments ...string) *protocol.ErrorReport {
	t.Helper()
	var h *HandlerError
	if !errors.As(err, &h) || h.Report == nil {
		t.Fatalf("got %T %v, want a *HandlerError of type %s", err, err, errorType)
	}
	report := h.Report
	if report.Type != errorType {
		t.Errorf("error type = %q, want %q (message %q)", report.Type, errorType, report.Message)
	}
	checkFragments(t, report.Message, fragments)
	if report.StackTrace == nil {
		t.Errorf("stackTrace is nil; Lambda wants an array")
	}
	return report
}

// checkFragments fails the test unless msg holds every fragment.
func checkFragments(t *testing.T, msg string, fragments []string) {
	t.Helper()
	for _, f := range fragments {
		if !strings.Contains(msg, f) {
			t.Errorf("error message %q does not contain %q", msg, f)
		}
	}
}

// workerPid returns the pid of the worker's current process, or 0 when it has none.
func workerPid(w *Worker) int {
	if w.proc == nil {
		return 0
	}
	return w.proc.pid
}

// waitGone waits (bounded) until pid no longer exists, reaping it if it became this process's
// child (see setChildSubreaper). It fails the test when the process is still there after 10 s.
func waitGone(t *testing.T, pid int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		var ws syscall.WaitStatus
		wpid, err := syscall.Wait4(pid, &ws, syscall.WNOHANG, nil)
		if err == nil && wpid == pid {
			continue // reaped; the next kill(pid, 0) must say it is gone
		}
		if err := syscall.Kill(pid, 0); errors.Is(err, syscall.ESRCH) {
			return
		}
		if time.Now().After(deadline) {
			state, _ := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
			t.Fatalf("process %d still exists after 10s: %s", pid, state)
		}
		time.Sleep(5 * time.Millisecond) // polling: nothing signals another process's death to us
	}
}

// alive reports whether pid exists and is not a zombie.
func alive(pid int) bool {
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	// The state follows the parenthesised command name, which may itself hold ") ".
	i := strings.LastIndex(string(stat), ") ")
	return i >= 0 && i+2 < len(stat) && stat[i+2] != 'Z' && stat[i+2] != 'X'
}
