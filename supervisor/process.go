package supervisor

import (
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"syscall"

	"github.com/creack/pty"
	"golang.org/x/sys/unix"

	"github.com/polyboot/polyboot/internal/orphans"
	"github.com/polyboot/polyboot/protocol"
)

// maxReplyLine bounds one reply line from a worker. Bodies travel on fd 3, so replies are small;
// this leaves room for very long error messages and stack traces.
const maxReplyLine = 8 * 1024 * 1024

// pipeSize is asked of the kernel for the channel and body pipes, so a multi-megabyte event or
// response crosses in few system calls. Failure to get it is harmless.
const pipeSize = 1024 * 1024

// process is one running worker process and the goroutines that serve its pipes.
type process struct {
	cmd   *exec.Cmd
	pid   int
	in    *os.File // channel in, write end
	out   *os.File // channel out, read end
	logs  *Pump
	split *lineSplitter // owned by the logs pump's goroutine
	body  *Pump
	buf   []byte // body bytes, owned by the body pump's goroutine
	spare []byte // the previous response's buffer, reused for the next one (body pump only)
	// stream, when set (on the body pump's goroutine), receives body bytes as they arrive;
	// streamErr is its first write error.
	stream    io.Writer
	streamErr error
	lines     chan lineOrErr
	exited    chan struct{}
	state     *os.ProcessState // valid once exited is closed
	orphans   *orphans.Group   // what the process starts; swept once it exited
}

type lineOrErr struct {
	reply *protocol.Reply
	err   error
	ended bool // err is the end of the channel: the worker closed it, or is probably dying
}

// startProcess starts argv with the fd layout of docs/protocol.md. With logPTY, the log stream
// (fd 2) is a pseudo-terminal in raw mode instead of a pipe.
func startProcess(sp *Spawner, argv []string, dir string, env []string, sink LogSink, logPTY bool) (*process, error) {
	var parentEnds, childEnds []*os.File
	fail := func(err error) (*process, error) {
		for _, f := range append(parentEnds, childEnds...) {
			f.Close()
		}
		return nil, err
	}
	pipe := func() (r, w *os.File, err error) {
		r, w, err = os.Pipe()
		if err != nil {
			return nil, nil, fmt.Errorf("creating pipes: %w", err)
		}
		return r, w, nil
	}
	inR, inW, err := pipe()
	if err != nil {
		return fail(err)
	}
	parentEnds, childEnds = append(parentEnds, inW), append(childEnds, inR)
	outR, outW, err := pipe()
	if err != nil {
		return fail(err)
	}
	parentEnds, childEnds = append(parentEnds, outR), append(childEnds, outW)
	bodyR, bodyW, err := pipe()
	if err != nil {
		return fail(err)
	}
	parentEnds, childEnds = append(parentEnds, bodyR), append(childEnds, bodyW)
	logR, logW, err := logStream(logPTY)
	if err != nil {
		return fail(err)
	}
	parentEnds, childEnds = append(parentEnds, logR), append(childEnds, logW)
	setPipeSize(inW)
	setPipeSize(bodyR)

	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Dir = dir
	cmd.Env = env
	cmd.Stdin, cmd.Stdout, cmd.Stderr = inR, outW, logW
	cmd.ExtraFiles = []*os.File{bodyW}
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}

	p := &process{
		cmd:    cmd,
		in:     inW,
		out:    outR,
		split:  &lineSplitter{sink: sink},
		lines:  make(chan lineOrErr, 1),
		exited: make(chan struct{}),
	}
	if p.logs, err = NewPump(logR, p.split.write); err != nil {
		return fail(err)
	}
	if p.body, err = NewPump(bodyR, p.writeBody); err != nil {
		p.logs.Close()
		return fail(err)
	}
	p.orphans, err = sp.startWorker(cmd)
	// The child's ends are closed in the parent once it started (or failed to): EOF must come
	// when the child and its descendants are gone, never be held open by us.
	for _, f := range childEnds {
		f.Close()
	}
	if err != nil {
		p.logs.Close()
		p.body.Close()
		inW.Close()
		outR.Close()
		return nil, fmt.Errorf("starting %s: %w", argv[0], err)
	}
	p.pid = cmd.Process.Pid
	go p.readReplies()
	go p.wait()
	return p, nil
}

// writeBody is the body pump's sink: bytes go to the invocation's stream when it has one, else
// into the buffer that becomes the response. It runs on the body pump's goroutine only.
func (p *process) writeBody(b []byte) {
	if p.stream != nil {
		if _, err := p.stream.Write(b); err != nil {
			p.streamErr = err
			p.stream = nil
		}
		return
	}
	p.buf = append(p.buf, b...)
}

// logStream returns the parent's and the child's end of the log stream: a pipe, or a
// pseudo-terminal set raw (no echo, no "\n" to "\r\n"), so that programs the handler runs see a
// terminal and line-buffer their output.
func logStream(usePTY bool) (parent, child *os.File, err error) {
	if !usePTY {
		r, w, err := os.Pipe()
		if err != nil {
			return nil, nil, fmt.Errorf("creating the log pipe: %w", err)
		}
		return r, w, nil
	}
	master, slave, err := pty.Open()
	if err != nil {
		return nil, nil, fmt.Errorf("opening a pseudo-terminal: %w", err)
	}
	defer master.Close()
	if err := makeRaw(slave); err != nil {
		slave.Close()
		return nil, nil, fmt.Errorf("setting the pseudo-terminal raw: %w", err)
	}
	// pty.Open hands back a master in blocking mode (it called Fd on it), which a read deadline
	// cannot interrupt; a non-blocking duplicate is served by Go's poller, as a pipe is.
	fd, err := unix.Dup(int(master.Fd()))
	if err != nil {
		slave.Close()
		return nil, nil, fmt.Errorf("duplicating the pseudo-terminal: %w", err)
	}
	unix.CloseOnExec(fd)
	if err := unix.SetNonblock(fd, true); err != nil {
		unix.Close(fd)
		slave.Close()
		return nil, nil, fmt.Errorf("pseudo-terminal: %w", err)
	}
	return os.NewFile(uintptr(fd), master.Name()), slave, nil
}

// makeRaw turns off the line discipline's processing on a terminal: output is passed as written,
// input is not echoed.
func makeRaw(f *os.File) error {
	t, err := unix.IoctlGetTermios(int(f.Fd()), unix.TCGETS)
	if err != nil {
		return err
	}
	t.Oflag &^= unix.OPOST
	t.Lflag &^= unix.ECHO | unix.ECHONL | unix.ICANON | unix.ISIG | unix.IEXTEN
	t.Iflag &^= unix.ICRNL | unix.INLCR | unix.IGNCR | unix.IXON
	return unix.IoctlSetTermios(int(f.Fd()), unix.TCSETS, t)
}

func setPipeSize(f *os.File) {
	if raw, err := f.SyscallConn(); err == nil {
		_ = raw.Control(func(fd uintptr) {
			_, _, _ = syscall.Syscall(syscall.SYS_FCNTL, fd, syscall.F_SETPIPE_SZ, pipeSize)
		})
	}
}

// readReplies turns the channel out into parsed replies until it ends.
func (p *process) readReplies() {
	lr := protocol.NewLineReader(p.out, maxReplyLine)
	for {
		line, err := lr.ReadLine()
		if err != nil {
			ended := errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF)
			p.deliver(lineOrErr{err: fmt.Errorf("reading channel: %w", err), ended: ended})
			return
		}
		r, err := protocol.ParseReply(line)
		if err != nil {
			err = fmt.Errorf("%w (line: %.200q)", err, line)
		}
		if !p.deliver(lineOrErr{reply: r, err: err}) {
			return
		}
	}
}

// deliver hands a line to the worker. While nobody takes it, it waits until the process exited;
// a line that fits the buffer is always delivered, so a reply written just before an exit is kept.
func (p *process) deliver(l lineOrErr) bool {
	select {
	case p.lines <- l:
		return true
	default:
	}
	select {
	case p.lines <- l:
		return true
	case <-p.exited:
		return false
	}
}

// wait reaps the process, then kills what is left of its process group: a handler's background
// jobs must not outlive the worker that started them.
func (p *process) wait() {
	err := p.cmd.Wait()
	p.state = p.cmd.ProcessState
	_ = err // the state says how it ended; Wait's error only repeats it
	// The SIGKILL reaches each member of the group when it next runs, a moment later; their
	// zombies are reaped by whoever they are re-parented to (the bootstrap as a subreaper).
	p.killGroup(syscall.SIGKILL)
	// What escaped the group (setsid, double forks) is killed and reaped too, before the next
	// worker starts, but after the death is reported (docs/processes.md).
	p.orphans.Exited()
	close(p.exited)
	p.orphans.Sweep()
}

// killGroup signals the worker's whole process group.
func (p *process) killGroup(sig syscall.Signal) {
	p.orphans.Snapshot() // the descendants that left the group, while their parent chain is intact
	if err := syscall.Kill(-p.pid, sig); err != nil && !errors.Is(err, syscall.ESRCH) {
		_ = syscall.Kill(p.pid, sig)
	}
}

// release closes what the parent holds once the process is gone.
func (p *process) release() {
	p.in.Close()
	if p.out != nil {
		p.out.Close()
	}
	p.logs.Close()
	p.body.Close()
}

// exitDescription says how the process ended, e.g. "exit status 3" or "signal: killed".
func exitDescription(st *os.ProcessState) string {
	if st == nil {
		return "unknown exit"
	}
	if ws, ok := st.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		return "signal " + ws.Signal().String()
	}
	return fmt.Sprintf("exit status %d", st.ExitCode())
}
