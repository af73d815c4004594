package supervisor

import (
	"bytes"
	"fmt"
)

// LogSink receives a worker's log output, one line at a time, tagged with the request id of the
// invocation in progress ("" between invocations). line holds no line terminator and is only valid
// during the call. A LogSink is called from several workers' goroutines at once.
type LogSink interface {
	Log(requestID string, line []byte)
}

// LogSinkFunc adapts a function to LogSink.
type LogSinkFunc func(requestID string, line []byte)

// Log calls f.
func (f LogSinkFunc) Log(requestID string, line []byte) { f(requestID, line) }

// Limits of the line splitter.
const (
	maxLogLine  = 256 * 1024 // a longer line is cut into pieces of this size
	logTailSize = 50         // lines kept for error messages (logTail, exit and timeout reports)
	maxTailLine = 8 * 1024   // bytes kept of each of them: the tail holds at most 50 × 8 KiB
)

// lineSplitter cuts a byte stream into log lines. It runs on a Pump's goroutine only.
type lineSplitter struct {
	sink    LogSink
	tag     string
	partial []byte
	tail    [][]byte // ring of the last lines of the current tag
	next    int
}

// write consumes bytes from the stream. A line longer than maxLogLine is logged in pieces of
// maxLogLine bytes, the last one shorter, however the stream is cut into chunks.
func (s *lineSplitter) write(p []byte) {
	for len(p) > 0 {
		i := bytes.IndexByte(p, '\n')
		if i < 0 {
			s.partial = append(s.partial, p...)
			s.cut()
			return
		}
		line := p[:i]
		if len(s.partial) > 0 {
			s.partial = append(s.partial, line...)
			s.cut()
			line = s.partial
		}
		for len(line) > maxLogLine {
			s.record(line[:maxLogLine])
			line = line[maxLogLine:]
		}
		s.emit(line)
		s.partial = s.partial[:0]
		p = p[i+1:]
	}
}

// cut logs the pending line's first pieces while it holds more than maxLogLine bytes. A pending
// line of exactly maxLogLine bytes waits: if its newline comes next, it is one whole line.
func (s *lineSplitter) cut() {
	n := 0
	for len(s.partial)-n > maxLogLine {
		s.record(s.partial[n : n+maxLogLine])
		n += maxLogLine
	}
	if n > 0 {
		s.partial = append(s.partial[:0], s.partial[n:]...)
	}
}

// flush emits a pending line that has no terminator yet.
func (s *lineSplitter) flush() {
	if len(s.partial) > 0 {
		s.emit(s.partial)
		s.partial = s.partial[:0]
	}
}

// retag flushes and starts tagging lines with tag, with an empty tail.
func (s *lineSplitter) retag(tag string) {
	s.flush()
	s.tag = tag
	s.tail = s.tail[:0]
	s.next = 0
}

// lastLines returns up to n of the most recent lines of the current tag, oldest first.
func (s *lineSplitter) lastLines(n int) []string {
	if n > len(s.tail) {
		n = len(s.tail)
	}
	out := make([]string, 0, n)
	for i := len(s.tail) - n; i < len(s.tail); i++ {
		out = append(out, string(s.tail[(s.next+i)%len(s.tail)]))
	}
	return out
}

// emit logs a line that ended, without the '\r' of a "\r\n" terminator.
func (s *lineSplitter) emit(line []byte) {
	s.record(bytes.TrimSuffix(line, []byte{'\r'}))
}

// record logs line as it is and keeps it in the tail, cut to maxTailLine bytes.
func (s *lineSplitter) record(line []byte) {
	s.sink.Log(s.tag, line)
	if len(s.tail) < logTailSize {
		s.tail = append(s.tail, tailLine(nil, line))
		return
	}
	s.tail[s.next] = tailLine(s.tail[s.next][:0], line)
	s.next = (s.next + 1) % logTailSize
}

// tailLine appends line to dst as the tail keeps it: whole, or its first maxTailLine bytes and
// how many were dropped.
func tailLine(dst, line []byte) []byte {
	if len(line) <= maxTailLine {
		return append(dst, line...)
	}
	if cap(dst) < maxTailLine+40 {
		dst = make([]byte, 0, maxTailLine+40) // room for the note: no growth beyond it
	}
	dst = append(dst, line[:maxTailLine]...)
	return fmt.Appendf(dst, " [… %d bytes truncated]", len(line)-maxTailLine)
}
