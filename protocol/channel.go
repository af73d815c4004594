package protocol

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"unicode/utf8"
)

// Version is the channel protocol version this package speaks (docs/protocol.md). A worker says
// the version it speaks in its ready line; any other is refused.
const Version = 2

// Reply types a worker writes on its channel out.
const (
	ReplyReady     = "ready"
	ReplyInitError = "init_error"
	ReplyResponse  = "response"
	ReplyError     = "error"
)

// lenFieldWidth is the number of digits in the invoke line's "len" member, and lenPrefix the
// line's fixed start: {"len":"NNNNNNNNNN".
const (
	lenFieldWidth = 10
	lenPrefix     = `{"len":"`
)

// ErrNotJSON is returned by PrepareEvent for a payload that is not valid JSON in UTF-8.
var ErrNotJSON = errors.New("event is not valid JSON (UTF-8)")

// PrepareEvent returns the event as it goes into an invoke line: the payload itself when it is
// valid JSON (in UTF-8) on one line, or its compacted form when it holds raw line breaks between
// tokens. Anything else is ErrNotJSON, so every adapter sees the same well-formed input.
func PrepareEvent(payload []byte) ([]byte, error) {
	valid, lineBreaks := validJSON(payload)
	if !valid {
		return nil, ErrNotJSON
	}
	if !lineBreaks {
		return payload, nil
	}
	var buf bytes.Buffer
	if err := json.Compact(&buf, payload); err != nil {
		return nil, fmt.Errorf("compacting event: %w", err)
	}
	return buf.Bytes(), nil
}

// AppendInvokeLine appends the invoke line for inv, carrying event (from PrepareEvent) and the path
// of the invocation's body FIFO, to dst. The layout is fixed by docs/protocol.md: members in order,
// "len" first, "body" right after "id", "event" last.
func AppendInvokeLine(dst []byte, inv *Invocation, body string, event []byte) []byte {
	start := len(dst)
	dst = append(dst, lenPrefix...)
	dst = append(dst, "0000000000"...)
	dst = append(dst, `","type":"invoke","id":`...)
	dst = appendString(dst, inv.RequestID)
	dst = append(dst, `,"body":`...)
	dst = appendString(dst, body)
	dst = append(dst, `,"deadline_ms":`...)
	dst = strconv.AppendInt(dst, inv.DeadlineMs, 10)
	dst = append(dst, `,"invoked_function_arn":`...)
	dst = appendString(dst, inv.FunctionARN)
	dst = append(dst, `,"trace_id":`...)
	dst = appendString(dst, inv.TraceID)
	dst = append(dst, `,"client_context":`...)
	dst = appendString(dst, inv.ClientContext)
	dst = append(dst, `,"cognito_identity":`...)
	dst = appendString(dst, inv.CognitoIdentity)
	dst = append(dst, `,"tenant_id":`...)
	dst = appendString(dst, inv.TenantID)
	dst = append(dst, `,"event":`...)
	dst = append(dst, event...)
	dst = append(dst, "}\n"...)
	n := strconv.AppendInt(nil, int64(len(dst)-start), 10)
	copy(dst[start+len(lenPrefix)+lenFieldWidth-len(n):], n)
	return dst
}

// LineString returns s as a string member of an invoke line decodes: each byte that is not part
// of valid UTF-8 replaced by U+FFFD (appendString). A reply's "id" is compared with the request
// id in this form.
func LineString(s string) string {
	if utf8.ValidString(s) {
		return s
	}
	b := make([]byte, 0, len(s)+8)
	for _, r := range s { // ranging yields U+FFFD for each invalid byte
		b = utf8.AppendRune(b, r)
	}
	return string(b)
}

const hexDigits = "0123456789abcdef"

// appendString appends s as a JSON string, escaping only '"', '\\' and control characters, so that
// the sequence `","` never occurs inside it (docs/protocol.md). Bytes that are not valid UTF-8 are
// written as U+FFFD, as encoding/json does, so that the line stays valid JSON.
func appendString(dst []byte, s string) []byte {
	dst = append(dst, '"')
	last := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c >= utf8.RuneSelf {
			r, size := utf8.DecodeRuneInString(s[i:])
			if r == utf8.RuneError && size == 1 {
				dst = append(dst, s[last:i]...)
				dst = append(dst, "\uFFFD"...)
				last = i + 1
			}
			i += size
			continue
		}
		i++
		if c >= 0x20 && c != '"' && c != '\\' {
			continue
		}
		dst = append(dst, s[last:i-1]...)
		last = i
		switch c {
		case '"', '\\':
			dst = append(dst, '\\', c)
		case '\n':
			dst = append(dst, '\\', 'n')
		case '\r':
			dst = append(dst, '\\', 'r')
		case '\t':
			dst = append(dst, '\\', 't')
		case '\b':
			dst = append(dst, '\\', 'b')
		case '\f':
			dst = append(dst, '\\', 'f')
		default:
			dst = append(dst, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
		}
	}
	dst = append(dst, s[last:]...)
	return append(dst, '"')
}

// Reply is one line a worker writes on its channel out.
type Reply struct {
	Type       string   `json:"type"`
	ID         string   `json:"id"`
	ErrorType  string   `json:"errorType"`
	Message    string   `json:"errorMessage"`
	StackTrace []string `json:"stackTrace"`
	LogTail    int      `json:"logTail"`
	Final      bool     `json:"final"`    // the worker exits after this reply
	Protocol   int      `json:"protocol"` // on ready: the channel protocol version the worker speaks
	// RequestID, when present, goes into the error body as "requestId" (the Python adapter
	// sends it, as awslambdaric does).
	RequestID *string `json:"requestId"`
}

// SpokenVersion returns the protocol version a ready reply announces: its "protocol" member, or 1
// when it has none (version 1 had no such member).
func (r *Reply) SpokenVersion() int {
	if r.Protocol == 0 {
		return 1
	}
	return r.Protocol
}

// Report returns the error a reply of type error or init_error carries.
func (r *Reply) Report() *ErrorReport {
	st := r.StackTrace
	if st == nil {
		st = []string{}
	}
	return &ErrorReport{Type: r.ErrorType, Message: r.Message, RequestID: r.RequestID, StackTrace: st}
}

// ParseReply decodes and checks one reply line.
func ParseReply(line []byte) (*Reply, error) {
	var r Reply
	if err := json.Unmarshal(line, &r); err != nil {
		return nil, fmt.Errorf("reply is not a JSON object: %w", err)
	}
	switch r.Type {
	case ReplyReady:
	case ReplyResponse:
		if r.ID == "" {
			return nil, errors.New(`response reply without "id"`)
		}
	case ReplyError, ReplyInitError:
		if r.Type == ReplyError && r.ID == "" {
			return nil, errors.New(`error reply without "id"`)
		}
		if r.ErrorType == "" {
			return nil, fmt.Errorf(`%s reply without "errorType"`, r.Type)
		}
		if r.LogTail < 0 {
			return nil, fmt.Errorf("negative logTail %d", r.LogTail)
		}
	case "":
		return nil, errors.New(`reply without "type"`)
	default:
		return nil, fmt.Errorf("unknown reply type %q", r.Type)
	}
	return &r, nil
}

// ErrLineTooLong is returned by LineReader for a line over its limit (as a *LongLineError).
var ErrLineTooLong = errors.New("line too long")

// How much of an over-long line a LineReader keeps: its first maxHead and last maxTail bytes.
const (
	maxHead = 256 * 1024
	maxTail = 64 * 1024
)

// LongLineError is LineReader's error for a line over its limit: the line was skipped to its end,
// so the reader stays in step, and its first bytes are kept.
type LongLineError struct {
	Max  int    // the reader's limit
	Len  int64  // the whole line's length, without its '\n'
	Head []byte // its first bytes (at most 256 KiB), valid until the next ReadLine
	Tail []byte // its last bytes (at most 64 KiB, after Head), valid until the next ReadLine
}

// Error implements error.
func (e *LongLineError) Error() string {
	return fmt.Sprintf("%v: %d bytes, over %d", ErrLineTooLong, e.Len, e.Max)
}

// Is makes errors.Is(err, ErrLineTooLong) hold.
func (e *LongLineError) Is(target error) bool { return target == ErrLineTooLong }

// LineReader reads newline-terminated lines of any length up to a limit (no 64 KiB cap).
type LineReader struct {
	r    *bufio.Reader
	max  int
	buf  []byte
	tail []byte // of an over-long line
}

// NewLineReader returns a LineReader over r that refuses lines longer than max bytes.
func NewLineReader(r io.Reader, max int) *LineReader {
	return &LineReader{r: bufio.NewReaderSize(r, 64*1024), max: max}
}

// ReadLine returns the next line without its '\n'. The slice is valid until the next call. A final
// line without '\n' is returned with io.ErrUnexpectedEOF. A line over the limit is a
// *LongLineError, and the next call reads the line after it.
func (l *LineReader) ReadLine() ([]byte, error) {
	l.buf, l.tail = l.buf[:0], l.tail[:0]
	for {
		chunk, err := l.r.ReadSlice('\n')
		n := len(l.buf) + len(chunk)
		if err == nil {
			n-- // the '\n' is not part of the line
		}
		if n > l.max {
			return nil, l.skipLine(chunk, err)
		}
		switch {
		case err == nil:
			if len(l.buf) == 0 {
				return chunk[:len(chunk)-1], nil
			}
			l.buf = append(l.buf, chunk[:len(chunk)-1]...)
			return l.buf, nil
		case errors.Is(err, bufio.ErrBufferFull):
			l.buf = append(l.buf, chunk...)
		case errors.Is(err, io.EOF) && len(l.buf)+len(chunk) > 0:
			l.buf = append(l.buf, chunk...)
			return l.buf, io.ErrUnexpectedEOF
		default:
			return nil, err
		}
	}
}

// skipLine reads the rest of an over-long line, of which l.buf and chunk (read with err) are the
// start, keeping its head, and returns its *LongLineError.
func (l *LineReader) skipLine(chunk []byte, err error) error {
	total := int64(len(l.buf))
	if len(l.buf) > maxHead {
		l.keepTail(l.buf[maxHead:])
		l.buf = l.buf[:maxHead]
	}
	for {
		total += int64(len(chunk))
		room := max(0, maxHead-len(l.buf))
		l.buf = append(l.buf, chunk[:min(len(chunk), room)]...)
		l.keepTail(chunk[min(len(chunk), room):])
		if !errors.Is(err, bufio.ErrBufferFull) {
			break
		}
		chunk, err = l.r.ReadSlice('\n')
	}
	if err == nil {
		total-- // the '\n' is not part of the line
	}
	nl := []byte{'\n'}
	if len(l.tail) == 0 {
		return &LongLineError{Max: l.max, Len: total, Head: bytes.TrimSuffix(l.buf, nl)}
	}
	return &LongLineError{Max: l.max, Len: total, Head: l.buf, Tail: bytes.TrimSuffix(l.tail, nl)}
}

// keepTail appends b to the kept tail of an over-long line, keeping its last maxTail bytes.
func (l *LineReader) keepTail(b []byte) {
	if len(b) >= maxTail {
		l.tail = append(l.tail[:0], b[len(b)-maxTail:]...)
		return
	}
	if over := len(l.tail) + len(b) - maxTail; over > 0 {
		l.tail = l.tail[:copy(l.tail, l.tail[over:])]
	}
	l.tail = append(l.tail, b...)
}
