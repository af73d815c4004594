package supervisor

import (
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"syscall"

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
	cmd    *exec.Cmd
	pid    int
	in     *os.File // channel in, write end
	out    *os.File // channel out, read end
	logs   *Pump
	split  *lineSplitter // owned by the logs pump's goroutine
	body   *Pump
	buf    []byte // body bytes, owned by the body pump's goroutine
	lines  chan lineOrErr
	exited chan struct{}
	state  *os.ProcessState // valid once exited is closed
}

type lineOrErr struct {
	reply *protocol.Reply
	err   error
	ended bool // err is the end of the channel: the worker closed it, or is probably dying
}

// startProcess starts argv with the fd layout of docs/protocol.md.
func startProcess(sp *Spawner, argv []string, dir string, env []string, sink LogSink) (p *process, err error) {
	var toClose []*os.File
	defer func() {
		for _, f := range toClose {
			f.Close()
		}
		if err != nil && p != nil {
			p.release()
		}
	}()
	pipe := func() (r, w *os.File) {
		if err != nil {
			return nil, nil
		}
		r, w, err = os.Pipe()
		return r, w
	}
	inR, inW := pipe()
	outR, outW := pipe()
	logR, logW := pipe()
	bodyR, bodyW := pipe()
	if err != nil {
		return nil, fmt.Errorf("creating pipes: %w", err)
	}
	// The child's ends are closed in the parent once it started (or failed to): EOF must come
	// when the child and its descendants are gone, never be held open by us.
	toClose = append(toClose, inR, outW, logW, bodyW)
	setPipeSize(inW)
	setPipeSize(bodyR)

	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Dir = dir
	cmd.Env = env
	cmd.Stdin, cmd.Stdout, cmd.Stderr = inR, outW, logW
	cmd.ExtraFiles = []*os.File{bodyW}
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}

	p = &process{
		cmd:    cmd,
		in:     inW,
		split:  &lineSplitter{sink: sink},
		lines:  make(chan lineOrErr, 1),
		exited: make(chan struct{}),
	}
	if p.logs, err = NewPump(logR, p.split.write); err != nil {
		inW.Close()
		outR.Close()
		logR.Close()
		bodyR.Close()
		return nil, err
	}
	if p.body, err = NewPump(bodyR, func(b []byte) { p.buf = append(p.buf, b...) }); err != nil {
		p.logs.Close()
		inW.Close()
		outR.Close()
		bodyR.Close()
		return nil, err
	}
	if err = sp.Start(cmd); err != nil {
		p.logs.Close()
		p.body.Close()
		inW.Close()
		outR.Close()
		return nil, fmt.Errorf("starting %s: %w", argv[0], err)
	}
	p.pid = cmd.Process.Pid
	p.out = outR
	go p.readReplies()
	go p.wait()
	return p, nil
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
	p.killGroup(syscall.SIGKILL)
	close(p.exited)
}

// killGroup signals the worker's whole process group.
func (p *process) killGroup(sig syscall.Signal) {
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
