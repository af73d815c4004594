package supervisor

// The fake worker: the test binary re-run (TestMain, workerEnv) as a worker that speaks
// docs/protocol.md on fds 0, 1, 2 and 3 like a real adapter. The environment variable chooses how
// it behaves during init; each event chooses what one invocation does ({"do": ...}; any other event
// is echoed).

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
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
}

// fakeWorker is the state of one fake worker process.
type fakeWorker struct {
	in    *protocol.LineReader
	out   *os.File // channel out, fd 1
	logs  *os.File // log stream, fd 2
	body  *os.File // body stream, fd 3
	count int      // warm state: invocations counted by "count"
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
	}
	f := &fakeWorker{
		in:   protocol.NewLineReader(os.Stdin, 64<<20),
		out:  os.Stdout,
		logs: os.Stderr,
		body: os.NewFile(3, "body"),
	}
	return f.run(mode)
}

// run is the fake worker's life: init as mode says, then one invocation per invoke line.
func (f *fakeWorker) run(mode string) int {
	stayOnEOF := false
	switch mode {
	case "ready":
		// SIGUSR1 writes body bytes outside any invocation, when the test says so.
		usr1 := make(chan os.Signal, 1)
		signal.Notify(usr1, syscall.SIGUSR1)
		go func() {
			for range usr1 {
				f.write(f.body, []byte("STRAY"))
				f.log("stray written")
			}
		}()
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
		f.reply(map[string]any{"type": "ready"})
		f.replyEarly()
	case "init_response":
		f.reply(map[string]any{"type": "response", "id": "x"})
		time.Sleep(time.Hour)
	case "init_stray_body":
		f.write(f.body, []byte("stray bytes before ready"))
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
	f.reply(map[string]any{"type": "ready"})
	for {
		line, err := f.in.ReadLine()
		if err != nil {
			if stayOnEOF {
				time.Sleep(time.Hour)
			}
			return 0
		}
		var inv struct {
			ID    string          `json:"id"`
			Event json.RawMessage `json:"event"`
		}
		if err := json.Unmarshal(line, &inv); err != nil {
			f.log("bad invoke line: " + err.Error())
			return 4
		}
		f.handle(inv.ID, inv.Event)
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
		f.write(f.body, []byte(body))
		f.reply(map[string]any{"type": "response", "id": id})
	}
	switch c.Do {
	case "":
		f.log("echo " + id)
		f.write(f.body, event)
		f.reply(map[string]any{"type": "response", "id": id})
	case "count":
		f.count++
		respond(strconv.Itoa(f.count))
	case "pid":
		respond(strconv.Itoa(os.Getpid()))
	case "log":
		respond("logged")
	case "error":
		f.write(f.body, []byte("partial body of a failed invocation"))
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
		f.reply(map[string]any{"type": "ready"})
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
	case "final":
		f.write(f.body, []byte("bye"))
		f.reply(map[string]any{"type": "response", "id": id, "final": true})
		os.Exit(0)
	case "final_stay":
		f.write(f.body, []byte("not leaving"))
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
	f.write(f.body, []byte("early"))
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
	cmd.ExtraFiles = []*os.File{f.body, w}
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

// reply writes one JSON line to the channel out.
func (f *fakeWorker) reply(v map[string]any) {
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
