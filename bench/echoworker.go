package bench

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"syscall"
)

// Layout of an invoke line (docs/protocol.md): it starts with {"len":"NNNNNNNNNN" (19 bytes).
const (
	invokeHeaderSize = 19
	invokeLenStart   = len(`{"len":"`)
	invokeLenDigits  = 10
)

var (
	idStart    = []byte(`,"id":"`)
	idEnd      = []byte(`","body":"`)
	bodyEnd    = []byte(`","deadline_ms":`)
	eventStart = []byte(`,"event":`)
)

// OpenBody opens an invocation's body stream, named by the invoke line's "body" member.
type OpenBody func(path string) (io.WriteCloser, error)

// OpenFIFO is the OpenBody of a worker: it opens the FIFO for writing with plain system calls, as
// an adapter in another language does (os.OpenFile would put the FIFO on Go's poller, which costs
// two more system calls to add it and two to remove it).
func OpenFIFO(path string) (io.WriteCloser, error) {
	fd, err := syscall.Open(path, syscall.O_WRONLY|syscall.O_CLOEXEC, 0)
	if err != nil {
		return nil, &os.PathError{Op: "open", Path: path, Err: err}
	}
	return fdWriter(fd), nil
}

// fdWriter writes to a blocking descriptor with write(2).
type fdWriter int

func (w fdWriter) Write(b []byte) (int, error) {
	n := 0
	for n < len(b) {
		m, err := syscall.Write(int(w), b[n:])
		if m > 0 {
			n += m
		}
		if err == syscall.EINTR {
			continue
		}
		if err != nil {
			return n, &os.PathError{Op: "write", Path: "body FIFO", Err: err}
		}
	}
	return n, nil
}

func (w fdWriter) Close() error { return syscall.Close(int(w)) }

// ServeEcho is a worker of docs/protocol.md (version 2) whose handler echoes the event: it writes
// {"type":"ready","protocol":2} to out, then answers each invoke line read from in by writing the
// event, as it is in the line, to the line's body stream (opened with open, closed before the
// reply) and a response reply to out, until in ends. It does in Go, with a few
// system calls per invocation, what an adapter does in its language, so that a bootstrap running
// it shows its own cost. It returns nil at EOF between invocations.
func ServeEcho(in io.Reader, out io.Writer, open OpenBody) error {
	r := bufio.NewReaderSize(in, 64*1024)
	if _, err := io.WriteString(out, `{"type":"ready","protocol":2}`+"\n"); err != nil {
		return fmt.Errorf("echo worker: writing ready: %w", err)
	}
	var line, reply []byte
	for {
		var err error
		line, err = readInvokeLine(r, line[:0])
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("echo worker: %w", err)
		}
		id, path, event, err := cutInvokeLine(line)
		if err != nil {
			return fmt.Errorf("echo worker: %w", err)
		}
		body, err := open(string(path))
		if err != nil {
			return fmt.Errorf("echo worker: %w", err)
		}
		_, err = body.Write(event)
		if cerr := body.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return fmt.Errorf("echo worker: writing body: %w", err)
		}
		reply = append(reply[:0], `{"type":"response","id":"`...)
		reply = append(reply, id...)
		reply = append(reply, "\"}\n"...)
		if _, err := out.Write(reply); err != nil {
			return fmt.Errorf("echo worker: writing reply: %w", err)
		}
	}
}

// readInvokeLine reads one whole invoke line into buf, using its "len" member; io.EOF means the
// channel ended between lines.
func readInvokeLine(r *bufio.Reader, buf []byte) ([]byte, error) {
	var hdr [invokeHeaderSize]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		if errors.Is(err, io.ErrUnexpectedEOF) {
			return nil, fmt.Errorf("channel ended inside an invoke line: %w", err)
		}
		return nil, err
	}
	n, err := strconv.Atoi(string(hdr[invokeLenStart : invokeLenStart+invokeLenDigits]))
	if err != nil || n < invokeHeaderSize+2 {
		return nil, fmt.Errorf("bad invoke line start %q", hdr[:])
	}
	if cap(buf) < n {
		buf = make([]byte, 0, n)
	}
	buf = append(buf[:0], hdr[:]...)
	buf = buf[:n]
	if _, err := io.ReadFull(r, buf[invokeHeaderSize:]); err != nil {
		return nil, fmt.Errorf("reading invoke line: %w", err)
	}
	return buf, nil
}

// cutInvokeLine returns the request id (JSON-escaped, as in the line), the body path and the event
// of an invoke line. The protocol's layout guarantees that `","` and `,"event":` never occur
// inside a string, and the body path needs no escaping.
func cutInvokeLine(line []byte) (id, body, event []byte, err error) {
	_, rest, ok := bytes.Cut(line, idStart)
	if !ok {
		return nil, nil, nil, errors.New(`invoke line without "id"`)
	}
	id, rest, ok = bytes.Cut(rest, idEnd)
	if !ok {
		return nil, nil, nil, errors.New(`invoke line without "body" after "id"`)
	}
	body, _, ok = bytes.Cut(rest, bodyEnd)
	if !ok {
		return nil, nil, nil, errors.New(`invoke line without "deadline_ms" after "body"`)
	}
	i := bytes.Index(line, eventStart)
	if i < 0 || !bytes.HasSuffix(line, []byte("}\n")) {
		return nil, nil, nil, errors.New(`invoke line without "event" last`)
	}
	return id, body, line[i+len(eventStart) : len(line)-2], nil
}
