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
)

// pipeSize is asked of the kernel for the channel in and the body FIFOs, so a multi-megabyte
// event or response crosses in few system calls. Failure to get it is harmless.
const pipeSize = 1024 * 1024

// process is one running worker process and the goroutines that serve its pipes.
type process struct {
	cmd   *exec.Cmd
	pid   int
	in    *os.File // channel in, write end
	out   *os.File // channel out, read end
	logs  *Pump
	split *lineSplitter // owned by the logs pump's goroutine
	dir   *bodyDir      // the process's body FIFOs
	// FIFO upkeep (mkfifo costs 20-100 µs on ext4) is done while an invocation's result is posted,
	// by prepareBody (prepareAhead): next is the FIFO made for the next invocation (or nextErr why
	// it could not be made), retired the last invocation's, to unlink.
	next, retired *bodyFifo
	nextErr       error
	preparing     chan struct{} // closed when prepareAhead's goroutine is done; nil when none runs
	// Body buffers: buf collects the next body; spare is the previous response's, still held by
	// Invoke's caller until the next Invoke. readBuf is the body pumps' read buffer (one pump runs
	// at a time).
	buf, spare, readBuf []byte
	lines               chan lineOrErr
	exited              chan struct{}
	state               *os.ProcessState // valid once exited is closed
	orphans             *orphans.Group   // what the process starts; swept once it exited
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
	logR, logW, err := logStream(logPTY)
	if err != nil {
		return fail(err)
	}
	parentEnds, childEnds = append(parentEnds, logR), append(childEnds, logW)
	setPipeSize(inW)
	bodies, err := newBodyDir()
	if err != nil {
		return fail(err)
	}

	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Dir = dir
	cmd.Env = env
	cmd.Stdin, cmd.Stdout, cmd.Stderr = inR, outW, logW
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}

	p := &process{
		cmd:     cmd,
		in:      inW,
		out:     outR,
		split:   &lineSplitter{sink: sink},
		dir:     bodies,
		readBuf: make([]byte, pumpBufferSize),
		lines:   make(chan lineOrErr, 1),
		exited:  make(chan struct{}),
	}
	if p.logs, err = NewPump(logR, p.split.write); err != nil {
		bodies.remove()
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
		bodies.remove()
		inW.Close()
		outR.Close()
		return nil, fmt.Errorf("starting %s: %w", argv[0], err)
	}
	p.pid = cmd.Process.Pid
	go p.readReplies()
	go p.wait()
	return p, nil
}

// prepareBody unlinks the last invocation's FIFO (closed at its reply) and makes the next
// invocation's, unless that is done.
func (p *process) prepareBody() {
	p.retired.retire()
	p.retired = nil
	if p.next == nil && p.nextErr == nil {
		p.next, p.nextErr = p.dir.newFifo()
	}
}

// prepareAhead runs prepareBody on a goroutine of its own, which Invoke starts as it returns:
// while the result is posted and the next invocation awaited, the goroutine that serves
// invocations waits on the network, and the system calls (20-100 µs on ext4) cost no invocation
// any time. (Made during the handler's run instead, they delayed a fast handler's reply: +30 µs a
// warm invocation of bench's Go echo worker; made in the next invocation, they would add to it.)
func (p *process) prepareAhead() {
	if p.preparing != nil {
		return
	}
	done := make(chan struct{})
	p.preparing = done
	go func() {
		defer close(done)
		p.prepareBody()
	}()
}

// awaitPrepared waits for prepareAhead's goroutine, if one runs.
func (p *process) awaitPrepared() {
	if p.preparing != nil {
		<-p.preparing
		p.preparing = nil
	}
}

// takeFifo returns the FIFO made ahead, or makes one.
func (p *process) takeFifo() (*bodyFifo, error) {
	p.awaitPrepared()
	p.prepareBody() // nothing to do when the FIFO was made ahead
	b, err := p.next, p.nextErr
	p.next, p.nextErr = nil, nil
	return b, err
}

// openBody takes the next invocation's body FIFO and starts reading it: into the process's body
// buffer, or into a queue to out when out is not nil.
func (p *process) openBody(out io.Writer, trim bool) (*bodyFifo, error) {
	b, err := p.takeFifo()
	if err != nil {
		return nil, err
	}
	var q *streamQueue
	if out != nil {
		q = newStreamQueue(out)
	}
	if err := b.start(newBodySink(p.buf, q, trim), p.readBuf); err != nil {
		if q != nil {
			q.stop()
		}
		b.close()
		return nil, err
	}
	return b, nil
}

// takeBody returns the collected body of a reply (keep: a response) and takes the sink's buffer
// back. The two buffers take turns: the one returned is not written again until the next
// invocation has ended, by when its caller has posted it. Call it after the FIFO was closed.
func (p *process) takeBody(s *bodySink, keep bool) ([]byte, error) {
	if !keep {
		p.buf = s.buf[:0]
		return nil, nil
	}
	p.buf, p.spare = p.spare[:0], s.buf
	if s.tooLarge() {
		return nil, tooLargeError(s.size)
	}
	if s.buf == nil {
		return []byte{}, nil
	}
	return s.buf, nil
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

// setPipeSize asks the kernel to make f's pipe pipeSize bytes (setPipeSizeFd).
func setPipeSize(f *os.File) {
	if raw, err := f.SyscallConn(); err == nil {
		_ = raw.Control(func(fd uintptr) { setPipeSizeFd(int(fd)) })
	}
}

// setPipeSizeFd asks the kernel to make fd's pipe pipeSize bytes and returns the size it has, 0
// if that cannot be told.
func setPipeSizeFd(fd int) int {
	n, err := unix.FcntlInt(uintptr(fd), unix.F_SETPIPE_SZ, pipeSize)
	if err != nil { // over the limit of an unprivileged user, say: keep the size it has
		n, err = unix.FcntlInt(uintptr(fd), unix.F_GETPIPE_SZ, 0)
	}
	if err != nil {
		return 0
	}
	return n
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
	p.awaitPrepared()
	p.retired.retire()
	p.next.retire()
	p.retired, p.next = nil, nil
	p.dir.remove()
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
