package supervisor

// The fake worker: the test binary re-run (TestMain, workerEnv) as a worker that speaks
// docs/protocol.md (version 2) on fds 0, 1 and 2 and the body FIFO like a real adapter. (Given an
// invoke line without "body", it writes the body to fd 3 as version 1 did, so that these tests can
// be run against the version 1 supervisor to show what they catch.) The environment variable chooses how
// it behaves during init; each event chooses what one invocation does ({"do": ...}; any other event
// is echoed).

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"
	"unsafe"

	"github.com/polyboot/polyboot/protocol"
)

// Environment of the helper processes besides workerEnv.
const (
	markerEnv  = "POLYBOOT_TEST_MARKER"   // sleeper: file to create when SIGTERM arrives
	readyFDEnv = "POLYBOOT_TEST_READY_FD" // sleeper: fd to write "ok\n" to once its handler is set
)

// command is an event that tells the fake worker what to do.
type command struct {
	Do   string `json:"do"`
	Code int    `json:"code"` // exit status
	N    int    `json:"n"`    // a size or a count
	Text string `json:"text"` // written to the log stream first
	Body string `json:"body"` // written to the body stream
	Path string `json:"path"` // a file the command uses (late writer: its trigger FIFO; result is Path+".result")
}

// fakeWorker is the state of one fake worker process.
type fakeWorker struct {
	in       *protocol.LineReader
	out      *os.File // channel out, fd 1
	logs     *os.File // log stream, fd 2
	body     *os.File // the invocation's body FIFO, once opened; nil outside an invocation
	path     string   // the invocation's body FIFO ("" under version 1: fd 3)
	v1       bool     // the ready line says no version (mode ready_v1)
	deadline int64    // the invocation's deadline_ms
	count    int      // warm state: invocations counted by "count"
}

func init() {
	// The pdeath helpers need every other goroutine off the main thread: a goroutine that exits
	// locked to the main thread wedges it instead of ending it. Locking during init keeps the main
	// goroutine on the main thread for good.
	if strings.HasPrefix(os.Getenv(workerEnv), "pdeath_") {
		runtime.LockOSThread()
	}
}

// runHelper runs the helper process for mode and returns its exit status.
func runHelper(mode string) int {
	switch mode {
	case "sleeper":
		return runSleeper()
	case "pdeath_spawner", "pdeath_direct":
		return runPdeathParent(mode)
	case "flooder":
		// As fast as the pipe takes it: one prepared buffer, written again and again, until the
		// pipe breaks or a signal comes.
		var lines []byte
		for i := 0; len(lines) < 64<<10; i++ {
			lines = fmt.Appendf(lines, "flood line %08d %s\n", i, strings.Repeat("y", 80))
		}
		for {
			if _, err := os.Stderr.Write(lines); err != nil {
				return 0
			}
		}
	case "exit7":
		fmt.Println("hello from", os.Getpid())
		return 7
	case "late_writer":
		return runLateWriter(os.Getenv(markerEnv))
	case "rss_bootstrap":
		return runRSSBootstrap()
	}
	f := &fakeWorker{
		in:   protocol.NewLineReader(os.Stdin, 64<<20),
		out:  os.Stdout,
		logs: os.Stderr,
		v1:   mode == "ready_v1",
	}
	return f.run(mode)
}

// run is the fake worker's life: init as mode says, then one invocation per invoke line.
func (f *fakeWorker) run(mode string) int {
	stayOnEOF := false
	switch mode {
	case "ready", "ready_v1":
	case "init_error":
		f.log("loading handler")
		f.reply(map[string]any{
			"type": "init_error", "errorType": "Runtime.ImportModuleError",
			"errorMessage": "Unable to import module 'app': no module named app",
			"stackTrace":   []string{"  File app.py, line 1", "  import nothing"},
		})
		return 1
	case "init_exit":
		f.log("loading handler")
		f.log("fatal: the handler is broken")
		fmt.Fprint(f.logs, "last words without newline")
		return 3
	case "init_exit_127":
		f.log("sh: 1: exec: nosuchinterpreter: not found")
		return 127
	case "init_kill":
		f.log("about to die")
		dieBySignal(syscall.SIGKILL)
	case "init_hang":
		f.log(fmt.Sprintf("pid=%d", os.Getpid()))
		time.Sleep(time.Hour)
	case "init_garbage":
		f.write(f.out, []byte("Traceback (most recent call last):\n"))
		time.Sleep(time.Hour)
	case "early_reply":
		f.ready()
		f.replyEarly()
	case "init_response":
		f.reply(map[string]any{"type": "response", "id": "x"})
		time.Sleep(time.Hour)
	case "ignore_term":
		signal.Ignore(syscall.SIGTERM)
		stayOnEOF = true
	case "term_group":
		// The worker ignores SIGTERM and keeps running on EOF; its grandchild notes the SIGTERM.
		signal.Ignore(syscall.SIGTERM)
		stayOnEOF = true
		pid := f.startSleeper(os.Getenv(markerEnv))
		f.log(fmt.Sprintf("grandchild pid=%d", pid))
	default:
		f.log("unknown mode " + mode)
		return 2
	}
	f.ready()
	for {
		line, err := f.in.ReadLine()
		if err != nil {
			if stayOnEOF {
				time.Sleep(time.Hour)
			}
			return 0
		}
		var inv struct {
			ID       string          `json:"id"`
			Body     string          `json:"body"`
			Deadline int64           `json:"deadline_ms"`
			Event    json.RawMessage `json:"event"`
		}
		if err := json.Unmarshal(line, &inv); err != nil {
			f.log("bad invoke line: " + err.Error())
			return 4
		}
		f.path, f.deadline = inv.Body, inv.Deadline
		f.handle(inv.ID, inv.Event)
		f.closeBody()
	}
}

// handle runs one invocation.
func (f *fakeWorker) handle(id string, event []byte) {
	var c command
	if bytes.HasPrefix(event, []byte(`{"do":`)) {
		if err := json.Unmarshal(event, &c); err != nil {
			f.log("bad command: " + err.Error())
			os.Exit(5)
		}
	}
	fmt.Fprint(f.logs, c.Text)
	respond := func(body string) {
		f.writeBody([]byte(body))
		f.reply(map[string]any{"type": "response", "id": id})
	}
	switch c.Do {
	case "":
		f.log("echo " + id)
		f.writeBody(event)
		f.reply(map[string]any{"type": "response", "id": id})
	case "count":
		f.count++
		respond(strconv.Itoa(f.count))
	case "pid":
		respond(strconv.Itoa(os.Getpid()))
	case "log":
		respond("logged")
	case "error":
		f.writeBody([]byte("partial body of a failed invocation"))
		f.reply(map[string]any{
			"type": "error", "id": id, "errorType": "HandlerError", "errorMessage": "it failed",
			"stackTrace": []string{"frame 1", "frame 2"}, "logTail": c.N,
		})
	case "exit":
		os.Exit(c.Code)
	case "kill":
		dieBySignal(syscall.SIGKILL)
	case "segv":
		dieBySignal(syscall.SIGSEGV)
	case "hang":
		pid := f.startSleeper("")
		f.log(fmt.Sprintf("grandchild pid=%d", pid))
		f.log("handler sleeping")
		time.Sleep(time.Hour)
	case "wrong_id":
		f.reply(map[string]any{"type": "response", "id": "not-" + id})
	case "garbage":
		f.write(f.out, []byte("this is not JSON\n"))
	case "unknown_type":
		f.reply(map[string]any{"type": "bogus", "id": id})
	case "ready_again":
		f.ready()
	case "stray_garbage":
		respond("first")
		f.write(f.out, []byte("Traceback: not a reply\n"))
	case "twice":
		respond("first")
		f.reply(map[string]any{"type": "response", "id": id})
	case "huge_log":
		f.write(f.logs, bytes.Repeat([]byte("x"), c.N))
		respond("huge")
	case "flood":
		f.flood(c.N)
		respond("flooded")
	case "flood_forever":
		// A background job, as a handler's "yes >&2 &" would start: another process writing to
		// the log stream, so that the kernel, not a Go lock, shares the pipe between writers.
		cmd := exec.Command(os.Args[0])
		cmd.Env = append(os.Environ(), workerEnv+"=flooder")
		cmd.Stderr = f.logs
		if err := cmd.Start(); err != nil {
			f.die("starting the flooder: " + err.Error())
		}
		respond("flooding")
	case "escape":
		// A job that leaves the worker's process group (setsid), keeping its environment (n 0)
		// or without it (n 1, as env -i would start it); the body is its pid.
		cmd := exec.Command(os.Args[0])
		cmd.Env = append(os.Environ(), workerEnv+"=sleeper")
		if c.N == 1 {
			cmd.Env = []string{workerEnv + "=sleeper"}
		}
		cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
		if err := cmd.Start(); err != nil {
			f.die("starting the job: " + err.Error())
		}
		respond(strconv.Itoa(cmd.Process.Pid))
	case "body":
		respond(c.Body)
	case "body_flood":
		f.bodyFlood(c.N)
		respond("")
	case "huge_error":
		f.reply(map[string]any{
			"type": "error", "id": id, "errorType": "HugeError",
			"errorMessage": strings.Repeat("é", c.N/2), "stackTrace": []string{"frame"},
		})
	case "deadline":
		respond(strconv.FormatInt(f.deadline, 10))
	case "body_path":
		fi, err := os.Stat(filepath.Dir(f.path))
		if err != nil {
			f.die(err.Error())
		}
		st, err := os.Stat(f.path)
		if err != nil {
			f.die(err.Error())
		}
		respond(fmt.Sprintf("%s %o %s", f.path, fi.Mode().Perm(), st.Mode().Type()))
	case "slow_body":
		// c.N bytes in pieces of 64 KiB, as fast as the bootstrap takes them.
		piece := bytes.Repeat([]byte("s"), 64<<10)
		for n := c.N; n > 0; n -= len(piece) {
			f.writeBody(piece[:min(n, len(piece))])
		}
		respond("")
	case "late":
		// A background job that holds the body FIFO and writes to it once triggered.
		f.startLateWriter(c.Path)
		respond("early")
	case "trigger":
		// Trigger the late writer while this invocation runs, and wait until it has written.
		f.triggerLateWriter(c.Path)
		respond("B")
	case "final":
		f.writeBody([]byte("bye"))
		f.reply(map[string]any{"type": "response", "id": id, "final": true})
		os.Exit(0)
	case "final_stay":
		f.writeBody([]byte("not leaving"))
		f.reply(map[string]any{"type": "response", "id": id, "final": true})
	case "exit_after_reply":
		respond("answered")
		os.Exit(0)
	case "close_then_exit":
		respond("answered")
		f.out.Close()
		time.Sleep(time.Duration(c.N) * time.Millisecond)
		os.Exit(0)
	default:
		f.log("unknown command " + c.Do)
		os.Exit(6)
	}
}

// replyEarly answers the first invoke line after reading only its start, then waits: a worker that
// breaks the rule that a reply comes after the whole line was read.
func (f *fakeWorker) replyEarly() {
	buf := make([]byte, 4096)
	n, err := os.Stdin.Read(buf)
	id := regexp.MustCompile(`"id":"([^"]*)"`).FindSubmatch(buf[:n])
	if err != nil || id == nil {
		f.die(fmt.Sprintf("no id in %q: %v", buf[:n], err))
	}
	if body := regexp.MustCompile(`"body":"([^"]*)"`).FindSubmatch(buf[:n]); body != nil {
		f.path = string(body[1])
	}
	f.writeBody([]byte("early"))
	f.reply(map[string]any{"type": "response", "id": string(id[1])})
	time.Sleep(time.Hour)
}

// flood writes n bytes of numbered log lines in large writes.
func (f *fakeWorker) flood(n int) {
	var buf []byte
	for i := 0; n > 0; i++ {
		line := fmt.Sprintf("flood line %08d %s\n", i, strings.Repeat("y", 80))
		if len(line) > n {
			line = line[:n-1] + "\n"
		}
		buf = append(buf, line...)
		n -= len(line)
		if len(buf) >= 64<<10 || n == 0 {
			f.write(f.logs, buf)
			buf = buf[:0]
		}
	}
}

// startSleeper starts the test binary as a grandchild that sleeps, inheriting the worker's channel
// out, log and body pipes, and returns its pid once it runs (and has its SIGTERM handler).
func (f *fakeWorker) startSleeper(marker string) int {
	r, w, err := os.Pipe()
	if err != nil {
		f.die("pipe: " + err.Error())
	}
	cmd := exec.Command(os.Args[0])
	cmd.Env = append(os.Environ(), workerEnv+"=sleeper", markerEnv+"="+marker, readyFDEnv+"=4")
	cmd.Stdout, cmd.Stderr = f.out, f.logs
	body := os.Stdin // no invocation, no body FIFO to inherit: a placeholder for fd 3
	if f.path != "" {
		body = f.bodyFile()
	}
	cmd.ExtraFiles = []*os.File{body, w}
	if err := cmd.Start(); err != nil {
		f.die("starting sleeper: " + err.Error())
	}
	w.Close()
	ok, err := bufio.NewReader(r).ReadString('\n')
	if ok != "ok\n" {
		f.die(fmt.Sprintf("sleeper did not start: %q %v", ok, err))
	}
	r.Close()
	return cmd.Process.Pid
}

// runSleeper is the grandchild: it sleeps, and on SIGTERM creates the marker file and exits.
func runSleeper() int {
	terms := make(chan os.Signal, 1)
	signal.Notify(terms, syscall.SIGTERM)
	if fd, err := strconv.Atoi(os.Getenv(readyFDEnv)); err == nil {
		ready := os.NewFile(uintptr(fd), "ready")
		fmt.Fprint(ready, "ok\n")
		ready.Close()
	}
	select {
	case <-terms:
		if m := os.Getenv(markerEnv); m != "" {
			_ = os.WriteFile(m, []byte("SIGTERM\n"), 0o644)
		}
		return 0
	case <-time.After(60 * time.Second):
		return 0
	}
}

// dieBySignal ends the process by sig with the kernel's default action, as a crashing interpreter
// would; the Go runtime's handler (which turns a SIGSEGV sent by kill into exit status 2) is put
// back to SIG_DFL first, and core dumps are disabled.
func dieBySignal(sig syscall.Signal) {
	_ = syscall.Setrlimit(syscall.RLIMIT_CORE, &syscall.Rlimit{})
	var dfl [4]uint64 // struct kernel_sigaction, all zero: SIG_DFL, no flags, empty mask
	_, _, _ = syscall.RawSyscall6(syscall.SYS_RT_SIGACTION, uintptr(sig), uintptr(unsafe.Pointer(&dfl)), 0, 8, 0, 0)
	_ = syscall.Kill(os.Getpid(), sig)
	time.Sleep(time.Hour)
}

// log writes one line to the log stream.
func (f *fakeWorker) log(line string) {
	f.write(f.logs, []byte(line+"\n"))
}

// ready says the worker is ready, in version 2 unless it plays a version 1 worker.
func (f *fakeWorker) ready() {
	if f.v1 {
		f.reply(map[string]any{"type": "ready"})
		return
	}
	f.reply(map[string]any{"type": "ready", "protocol": 2})
}

// bodyFile returns the invocation's body stream, opening its FIFO for writing at the first use
// (fd 3 under version 1).
func (f *fakeWorker) bodyFile() *os.File {
	if f.body != nil {
		return f.body
	}
	if f.path == "" {
		f.body = os.NewFile(3, "body")
		return f.body
	}
	b, err := os.OpenFile(f.path, os.O_WRONLY, 0)
	if err != nil {
		f.die("opening the body FIFO: " + err.Error())
	}
	f.body = b
	return b
}

// writeBody writes b to the invocation's body stream.
func (f *fakeWorker) writeBody(b []byte) {
	f.write(f.bodyFile(), b)
}

// closeBody closes the body FIFO, as an adapter must before its reply (fd 3 stays open).
func (f *fakeWorker) closeBody() {
	if f.body != nil && f.path != "" {
		f.body.Close()
	}
	if f.path != "" {
		f.body = nil
	}
}

// reply writes one JSON line to the channel out, after closing the body FIFO.
func (f *fakeWorker) reply(v map[string]any) {
	f.closeBody()
	b, err := json.Marshal(v)
	if err != nil {
		f.die(err.Error())
	}
	f.write(f.out, append(b, '\n'))
}

// write writes b to file or exits: a fake worker whose pipes broke has nothing left to do.
func (f *fakeWorker) write(file *os.File, b []byte) {
	if _, err := file.Write(b); err != nil {
		os.Exit(9)
	}
}

// die logs why the fake worker cannot go on and exits.
func (f *fakeWorker) die(msg string) {
	fmt.Fprintln(os.Stderr, "fake worker:", msg)
	os.Exit(8)
}

// runPdeathParent is the parent of the Spawner test: it starts a sleeper from a goroutine locked
// to its own thread, through a Spawner (pdeath_spawner) or directly (pdeath_direct), lets that
// goroutine and its thread exit, and reports "child PID" and "thread gone" on stdout. Then it waits
// to be killed.
func runPdeathParent(mode string) int {
	sp := NewSpawner()
	started := make(chan int)
	tids := make(chan int)
	go func() {
		runtime.LockOSThread() // never unlocked: the thread ends with this goroutine
		cmd := exec.Command(os.Args[0])
		cmd.Env = append(os.Environ(), workerEnv+"=sleeper")
		if mode == "pdeath_spawner" {
			// A worker as the bootstrap starts one; it ignores the end of its channel in, so
			// only a signal ends it.
			w := NewWorker(sp, Config{
				Argv: cmd.Args,
				Env:  append(os.Environ(), workerEnv+"=ignore_term"),
				Logs: LogSinkFunc(func(string, []byte) {}),
			})
			if err := w.Start(context.Background()); err != nil {
				fmt.Println("error", err)
				os.Exit(1)
			}
			started <- w.proc.pid
		} else {
			cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
			if err := cmd.Start(); err != nil {
				fmt.Println("error", err)
				os.Exit(1)
			}
			go func() { _ = cmd.Wait() }() // reap it, as startProcess does
			started <- cmd.Process.Pid
		}
		tids <- syscall.Gettid()
	}()
	fmt.Println("child", <-started)
	tid := <-tids
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(time.Millisecond) {
		if _, err := os.Stat(fmt.Sprintf("/proc/self/task/%d", tid)); os.IsNotExist(err) {
			break
		}
		if time.Now().After(deadline) {
			fmt.Println("error: thread", tid, "still there")
			return 1
		}
	}
	fmt.Println("thread gone")
	time.Sleep(time.Hour)
	return 0
}

// bodyFlood writes n zero bytes to the body in large writes.
func (f *fakeWorker) bodyFlood(n int) {
	buf := make([]byte, 1<<20)
	for ; n > 0; n -= len(buf) {
		f.writeBody(buf[:min(n, len(buf))])
	}
}

// startLateWriter starts the late writer (runLateWriter) holding the body FIFO as its fd 3, with
// trigger as its trigger FIFO, and returns once it waits for the trigger.
func (f *fakeWorker) startLateWriter(trigger string) {
	if err := syscall.Mkfifo(trigger, 0o600); err != nil {
		f.die("mkfifo: " + err.Error())
	}
	cmd := exec.Command(os.Args[0])
	cmd.Env = append(os.Environ(), workerEnv+"=late_writer", markerEnv+"="+trigger)
	cmd.Stderr = f.logs
	cmd.ExtraFiles = []*os.File{f.bodyFile()}
	if err := cmd.Start(); err != nil {
		f.die("starting the late writer: " + err.Error())
	}
	f.log(fmt.Sprintf("late writer pid=%d", cmd.Process.Pid))
}

// triggerLateWriter lets the late writer write, and waits for its result file.
func (f *fakeWorker) triggerLateWriter(trigger string) {
	t, err := os.OpenFile(trigger, os.O_WRONLY, 0) // waits for the late writer's open
	if err != nil {
		f.die("opening the trigger: " + err.Error())
	}
	t.Close()
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(time.Millisecond) {
		if _, err := os.Stat(trigger + ".result"); err == nil {
			return // polling: the late writer is not our child's channel to wait on
		}
	}
	f.die("the late writer wrote no result")
}

// runLateWriter is a handler's background job: it waits until its trigger FIFO is opened and
// closed, writes LATE to fd 3 (the body FIFO of the invocation that started it), and records the
// write's result in trigger+".result": "ok", or the error.
func runLateWriter(trigger string) int {
	signal.Ignore(syscall.SIGPIPE) // see the EPIPE instead of dying of SIGPIPE
	t, err := os.Open(trigger)
	if err != nil {
		return 1
	}
	_, _ = io.Copy(io.Discard, t)
	t.Close()
	result := "ok"
	if _, err := os.NewFile(3, "body").Write([]byte("LATE")); err != nil {
		result = err.Error()
	}
	if err := os.WriteFile(trigger+".tmp", []byte(result), 0o600); err != nil {
		return 1
	}
	if err := os.Rename(trigger+".tmp", trigger+".result"); err != nil {
		return 1
	}
	return 0
}

// describeErr returns what an invocation's error is (an *Error's Kind, a *HandlerError's type,
// "none" for no error) and its message.
func describeErr(err error) (what, msg string) {
	var e *Error
	var h *HandlerError
	switch {
	case err == nil:
		return "none", ""
	case errors.As(err, &e):
		return e.Kind.String(), e.Msg
	case errors.As(err, &h):
		return h.Report.Type, h.Report.Message
	}
	return fmt.Sprintf("%T", err), err.Error()
}

// runRSSBootstrap is a bootstrap in small: it runs a fake worker through a Worker, makes it write
// a 300 MB body and a 9 MB error message, and prints the results and its own peak RSS (VmHWM) on
// stdout, as "<kind or errorType> <message size> <message up to its first é>" lines and "VmHWM <kB>".
func runRSSBootstrap() int {
	w := NewWorker(NewSpawner(), Config{
		Argv: []string{os.Args[0]},
		Env:  append(os.Environ(), workerEnv+"=ready"),
		Logs: LogSinkFunc(func(string, []byte) {}),
	})
	defer w.Close()
	for _, event := range []string{`{"do":"body_flood","n":300000000}`, `{"do":"huge_error","n":9000000}`} {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		_, err := w.Invoke(ctx, &protocol.Invocation{RequestID: "rss", Payload: []byte(event)})
		cancel()
		what, msg := describeErr(err)
		fmt.Println(what, len(msg), strings.SplitN(msg, "é", 2)[0])
	}
	status, err := os.ReadFile("/proc/self/status")
	if err != nil {
		fmt.Println("error", err)
		return 1
	}
	for _, l := range strings.Split(string(status), "\n") {
		if strings.HasPrefix(l, "VmHWM:") {
			fmt.Println("VmHWM", strings.TrimSuffix(strings.TrimSpace(strings.TrimPrefix(l, "VmHWM:")), " kB"))
		}
	}
	return 0
}
