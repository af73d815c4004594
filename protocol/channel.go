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

// Version is the channel protocol version this package speaks (docs/protocol.md).
const Version = 1

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

// AppendInvokeLine appends the invoke line for inv, carrying event (from PrepareEvent), to dst.
// The layout is fixed by docs/protocol.md: members in order, "len" first, "event" last.
func AppendInvokeLine(dst []byte, inv *Invocation, event []byte) []byte {
	start := len(dst)
	dst = append(dst, lenPrefix...)
	dst = append(dst, "0000000000"...)
	dst = append(dst, `","type":"invoke","id":`...)
	dst = appendString(dst, inv.RequestID)
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
	Final      bool     `json:"final"` // the worker exits after this reply
	// RequestID, when present, goes into the error body as "requestId" (the Python adapter
	// sends it, as awslambdaric does).
	RequestID *string `json:"requestId"`
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

// ErrLineTooLong is returned by LineReader for a line over its limit.
var ErrLineTooLong = errors.New("line too long")

// LineReader reads newline-terminated lines of any length up to a limit (no 64 KiB cap).
type LineReader struct {
	r   *bufio.Reader
	max int
	buf []byte
}

// NewLineReader returns a LineReader over r that refuses lines longer than max bytes.
func NewLineReader(r io.Reader, max int) *LineReader {
	return &LineReader{r: bufio.NewReaderSize(r, 64*1024), max: max}
}

// ReadLine returns the next line without its '\n'. The slice is valid until the next call. A final
// line without '\n' is returned with io.ErrUnexpectedEOF.
func (l *LineReader) ReadLine() ([]byte, error) {
	l.buf = l.buf[:0]
	for {
		chunk, err := l.r.ReadSlice('\n')
		n := len(l.buf) + len(chunk)
		if err == nil {
			n-- // the '\n' is not part of the line
		}
		if n > l.max {
			l.discardLine(err)
			return nil, fmt.Errorf("%w: over %d bytes", ErrLineTooLong, l.max)
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

// discardLine skips the rest of an over-long line so the reader stays in step.
func (l *LineReader) discardLine(err error) {
	for errors.Is(err, bufio.ErrBufferFull) {
		_, err = l.r.ReadSlice('\n')
	}
}
