package protocol

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"unicode/utf8"
)

// MaxErrorMessage is how much of an over-long reply's errorMessage TruncatedReply keeps (adapters
// cap their own messages at the same size, docs/protocol.md).
const MaxErrorMessage = 256 * 1024

// TruncatedReply makes a reply out of the head of a reply line that was over the LineReader's
// limit (a handler's 9 MB error message): the members that the head holds whole, and as much of
// errorMessage as it holds (at most MaxErrorMessage bytes), which then ends in
// " [… N bytes truncated]". The reply must be a response or an error with its id; an error without
// its errorType in the head gets Runtime.InvalidReply. Anything else is an error.
func TruncatedReply(e *LongLineError) (*Reply, error) {
	r, cut := parseHead(e.Head)
	scanTail(r, e.Tail)
	if r.Type != ReplyResponse && r.Type != ReplyError || r.ID == "" {
		return nil, fmt.Errorf("%w, and its first %d bytes hold no response or error reply with an id", e, len(e.Head))
	}
	if r.Type == ReplyError && r.ErrorType == "" {
		r.ErrorType = "Runtime.InvalidReply"
	}
	if len(r.Message) > MaxErrorMessage {
		r.Message, cut = r.Message[:MaxErrorMessage], true
	}
	if cut || r.Type == ReplyError {
		r.Message = validPrefix(r.Message) + fmt.Sprintf(" [… %d bytes truncated]", e.Len-int64(len(r.Message)))
	}
	if r.StackTrace == nil {
		r.StackTrace = []string{}
	}
	r.LogTail = max(r.LogTail, 0)
	return r, nil
}

// parseHead decodes the members of a cut JSON object until the cut. It reports whether the cut
// fell inside errorMessage, whose beginning it then keeps.
func parseHead(head []byte) (r *Reply, cutMessage bool) {
	r = &Reply{}
	dec := json.NewDecoder(bytes.NewReader(head))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return r, false
	}
	for dec.More() {
		tok, err := dec.Token()
		key, ok := tok.(string)
		if err != nil || !ok {
			return r, false
		}
		valueAt := dec.InputOffset()
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			if key != "errorMessage" {
				return r, false
			}
			r.Message = partialString(head[valueAt:])
			return r, true
		}
		setMember(r, key, raw)
	}
	return r, false
}

// tailMember matches a string member in the tail of a cut line: a quote no backslash escapes (so
// not inside a string, where every quote is escaped), a name, and a whole string value.
var tailMember = regexp.MustCompile(`(?:^|[^\\])(?:\\\\)*"(type|id|errorType)"[ \t]*:[ \t]*("(?:[^"\\]|\\.)*")`)

// scanTail fills the members of r the head did not hold (member order is free: Python writes a
// dict's members in any order) from the tail of the line, where a message may have pushed them.
// The tail's first bytes are passed over: they may continue an escape that began before them.
func scanTail(r *Reply, tail []byte) {
	if len(tail) <= 8 {
		return
	}
	for _, m := range tailMember.FindAllSubmatch(tail[8:], -1) {
		key := string(m[1])
		if (key == "type" && r.Type == "") || (key == "id" && r.ID == "") || (key == "errorType" && r.ErrorType == "") {
			setMember(r, key, m[2])
		}
	}
}

// setMember sets the member key of r from its JSON value, as decoding the reply would: through
// Reply's own JSON names (a member r does not know, or one of the wrong type, leaves r as it is).
func setMember(r *Reply, key string, raw json.RawMessage) {
	name, _ := json.Marshal(key)
	obj := append(append(append([]byte{'{'}, name...), ':'), raw...)
	_ = json.Unmarshal(append(obj, '}'), r)
}

// partialString decodes the JSON string that b (`: "…`, cut anywhere) starts, up to the cut.
func partialString(b []byte) string {
	b = bytes.TrimLeft(b, " \t\r\n:")
	if len(b) == 0 || b[0] != '"' {
		return ""
	}
	b = dropCutRune(b)
	// Drop what may be a cut escape sequence (at most "\uXXXX" less a byte) until the rest, closed
	// with a quote, decodes.
	for cut := 0; cut <= 6 && cut < len(b); cut++ {
		var s string
		candidate := append(bytes.Clone(b[:len(b)-cut]), '"')
		if err := json.Unmarshal(candidate, &s); err == nil {
			return s
		} else if !errors.As(err, new(*json.SyntaxError)) {
			return ""
		}
	}
	return ""
}

// dropCutRune drops a UTF-8 sequence cut at the end of b.
func dropCutRune(b []byte) []byte {
	for i := 1; i < utf8.UTFMax && i <= len(b); i++ {
		if c := b[len(b)-i]; utf8.RuneStart(c) {
			if !utf8.FullRune(b[len(b)-i:]) {
				return b[:len(b)-i]
			}
			break
		}
	}
	return b
}

// validPrefix drops a UTF-8 sequence cut at the end of s.
func validPrefix(s string) string {
	for i := 0; i < utf8.UTFMax-1 && len(s) > 0; i++ {
		if r, size := utf8.DecodeLastRuneInString(s); r != utf8.RuneError || size != 1 {
			break
		}
		s = s[:len(s)-1]
	}
	return s
}
