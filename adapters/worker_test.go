package adapters_test

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/polyboot/polyboot/internal/rietest"
)

// worker drives one adapter (or executable handler) process over channel protocol v2 the way the
// bootstrap does: invoke lines on fd 0, reply lines from fd 1, logs from fd 2, and a fresh FIFO
// per invocation for the body, opened for reading before the invoke line is written. The child
// gets fds 0, 1 and 2 only (os/exec marks everything else close-on-exec).
type worker struct {
	cmd   *exec.Cmd
	in    io.WriteCloser
	out   *bufio.Reader
	log   *rietest.SyncBuffer
	dir   string // private FIFO directory (0700)
	seq   int
	inIno uint64 // inodes of the channel pipes, as the child got them
	outIn uint64
	logIn uint64
}

// startWorker starts argv with POLYBOOT_PROTOCOL=2, env added to a minimal environment, and
// stops it when the test ends.
func startWorker(t *testing.T, env []string, argv ...string) *worker {
	t.Helper()
	cloexecOnce.Do(closeInheritedOnExec)
	dir, err := os.MkdirTemp("", "polyboot-adapters-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Env = append([]string{"PATH=" + os.Getenv("PATH"), "HOME=/tmp", "POLYBOOT_PROTOCOL=2",
		"LAMBDA_TASK_ROOT=" + filepath.Dir(argv[len(argv)-3])}, env...)
	cmd.Dir = filepath.Dir(argv[len(argv)-3])
	inR, inW, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	outR, outW, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	w := &worker{cmd: cmd, in: inW, out: bufio.NewReaderSize(outR, 1<<20), log: &rietest.SyncBuffer{}, dir: dir}
	logR, logW, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	w.inIno, w.outIn, w.logIn = inode(t, inR), inode(t, outW), inode(t, logW)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = inR, outW, logW
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	inR.Close()
	outW.Close()
	logW.Close()
	logDone := make(chan struct{})
	go func() { io.Copy(w.log, logR); close(logDone) }()
	t.Cleanup(func() {
		w.in.Close()
		done := make(chan struct{})
		go func() { cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			cmd.Process.Kill()
			<-done
		}
		outR.Close()
		<-logDone
		logR.Close()
	})
	return w
}

var cloexecOnce sync.Once

// closeInheritedOnExec marks the descriptors this test process inherited (above 2) close-on-exec,
// so that workers get fds 0, 1 and 2 only, as under the bootstrap: os/exec closes the ones Go
// opened, not ones a parent shell left open.
func closeInheritedOnExec() {
	entries, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		return
	}
	for _, e := range entries {
		var fd int
		if _, err := fmt.Sscan(e.Name(), &fd); err == nil && fd > 2 {
			unix.CloseOnExec(fd)
		}
	}
}

func inode(t *testing.T, f *os.File) uint64 {
	t.Helper()
	var st unix.Stat_t
	if err := unix.Fstat(int(f.Fd()), &st); err != nil {
		t.Fatal(err)
	}
	return st.Ino
}

// replyLine reads the next reply line (without its newline), failing after 20 s.
func (w *worker) replyLine(t *testing.T) string {
	t.Helper()
	type result struct {
		line string
		err  error
	}
	ch := make(chan result, 1)
	go func() {
		line, err := w.out.ReadString('\n')
		ch <- result{strings.TrimSuffix(line, "\n"), err}
	}()
	select {
	case r := <-ch:
		if r.err != nil {
			t.Fatalf("no reply line (%v); log:\n%s", r.err, w.log.String())
		}
		return r.line
	case <-time.After(20 * time.Second):
		t.Fatalf("no reply line within 20 s; log:\n%s", w.log.String())
	}
	return ""
}

// ready checks that the first reply is {"type":"ready","protocol":2}.
func (w *worker) ready(t *testing.T) {
	t.Helper()
	var r struct {
		Type     string `json:"type"`
		Protocol int    `json:"protocol"`
	}
	line := w.replyLine(t)
	if err := json.Unmarshal([]byte(line), &r); err != nil || r.Type != "ready" || r.Protocol != 2 {
		t.Fatalf("first reply %s, want ready with protocol 2; log:\n%s", line, w.log.String())
	}
}

// invokeLine is an invoke line in the exact layout of docs/protocol.md v2. id is the JSON
// string's text as it goes on the line (already escaped).
func invokeLine(escapedID, body, event string, extra map[string]string) []byte {
	member := func(name string) string { return extra[name] }
	deadline := extra["deadline_ms"]
	if deadline == "" {
		deadline = fmt.Sprint(time.Now().Add(time.Minute).UnixMilli())
	}
	rest := fmt.Sprintf(`,"type":"invoke","id":"%s","body":"%s","deadline_ms":%s,"invoked_function_arn":"%s","trace_id":"%s","client_context":"%s","cognito_identity":"%s","tenant_id":"%s","event":%s}`+"\n",
		escapedID, body, deadline, member("invoked_function_arn"), member("trace_id"), member("client_context"),
		member("cognito_identity"), member("tenant_id"), event)
	return []byte(fmt.Sprintf(`{"len":"%010d"`, 19+len(rest)) + rest)
}

// exchange is one invocation's outcome.
type exchange struct {
	reply string // the reply line
	body  []byte
	fifo  string // the body FIFO's path (unlinked by now)
}

// nextBodyPath is the path of the next invocation's body FIFO.
func (w *worker) nextBodyPath() string {
	return filepath.Join(w.dir, fmt.Sprintf("body-%d", w.seq+1))
}

// invoke sends one invoke line (escapedID as it goes on the line) and returns the reply line
// and the body: the bytes written to this invocation's FIFO before the reply.
func (w *worker) invoke(t *testing.T, escapedID, event string, extra map[string]string) exchange {
	t.Helper()
	path := w.nextBodyPath()
	w.seq++
	body, err := openBody(path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.in.Write(invokeLine(escapedID, path, event, extra)); err != nil {
		t.Fatalf("write invoke line: %v; log:\n%s", err, w.log.String())
	}
	line := w.replyLine(t)
	data, err := body.finish()
	if err != nil {
		t.Fatal(err)
	}
	return exchange{reply: line, body: data, fifo: path}
}

// bodyFIFO reads one invocation's FIFO as the bootstrap does: opened before the invoke line,
// read continuously, drained and closed at the reply, then unlinked. It is opened O_RDWR so
// that reads wait for data instead of seeing end of file before the adapter opens it.
type bodyFIFO struct {
	path string
	f    *os.File
	fd   int
	buf  bytes.Buffer
	done chan error
}

func openBody(path string) (*bodyFIFO, error) {
	if err := unix.Mkfifo(path, 0o600); err != nil {
		return nil, fmt.Errorf("mkfifo: %w", err)
	}
	fd, err := unix.Open(path, unix.O_RDWR|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("open fifo: %w", err)
	}
	b := &bodyFIFO{path: path, f: os.NewFile(uintptr(fd), path), fd: fd, done: make(chan error, 1)}
	go func() {
		p := make([]byte, 1<<20)
		for {
			n, err := b.f.Read(p)
			b.buf.Write(p[:n])
			if err != nil {
				b.done <- err
				return
			}
		}
	}()
	return b, nil
}

// finish stops the reader, drains what is left in the pipe, closes and unlinks the FIFO.
func (b *bodyFIFO) finish() ([]byte, error) {
	b.f.SetReadDeadline(time.Now())
	if err := <-b.done; !errors.Is(err, os.ErrDeadlineExceeded) {
		return nil, fmt.Errorf("read fifo: %w", err)
	}
	p := make([]byte, 1<<20)
	for {
		n, err := unix.Read(b.fd, p)
		if n > 0 {
			b.buf.Write(p[:n])
			continue
		}
		if err == unix.EINTR {
			continue
		}
		break // EAGAIN: empty (this reader holds a write end, so never end of file)
	}
	b.f.Close()
	os.Remove(b.path)
	return b.buf.Bytes(), nil
}

// decodeReply decodes a reply line, failing the test when it is not JSON.
func decodeReply(t *testing.T, line string) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal([]byte(line), &m); err != nil {
		t.Fatalf("reply %q is not JSON: %v", line, err)
	}
	return m
}
