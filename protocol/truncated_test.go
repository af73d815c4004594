package protocol_test

import (
	"errors"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/polyboot/polyboot/protocol"
)

// readLong reads line (with its '\n') through a LineReader with limit max and returns the
// *LongLineError it must give, checking that the reader stays in step.
func readLong(t *testing.T, line string, max int) *protocol.LongLineError {
	t.Helper()
	lr := protocol.NewLineReader(strings.NewReader(line+"next\n"), max)
	_, err := lr.ReadLine()
	var long *protocol.LongLineError
	if !errors.As(err, &long) || !errors.Is(err, protocol.ErrLineTooLong) {
		t.Fatalf("ReadLine: %v, want a *LongLineError", err)
	}
	if long.Len != int64(len(line)-1) {
		t.Errorf("Len = %d, want %d", long.Len, len(line)-1)
	}
	head, tail := string(long.Head), string(long.Tail)
	if !strings.HasPrefix(line, head) || !strings.HasSuffix(line[:len(line)-1], tail) {
		t.Errorf("Head (%d bytes) or Tail (%d bytes) is not the line's", len(head), len(tail))
	}
	if len(head) > 256<<10 || len(tail) > 64<<10 {
		t.Errorf("kept %d + %d bytes", len(head), len(tail))
	}
	// The error is taken before the next line is read: copy what the test needs.
	long = &protocol.LongLineError{Max: long.Max, Len: long.Len, Head: []byte(head), Tail: []byte(tail)}
	if next, err := lr.ReadLine(); string(next) != "next" || err != nil {
		t.Errorf("the line after: %q, %v", next, err)
	}
	return long
}

func TestTruncatedReply(t *testing.T) {
	t.Parallel()
	const max = 1 << 20
	huge := strings.Repeat("é", max) // 2 MiB
	tests := []struct {
		name      string
		line      string
		wantErr   bool
		wantType  string // the reply's errorType ("" for a response)
		wantReply string
		wantStart string // of the message
	}{
		{
			name:      "members first, message cut",
			line:      `{"type":"error","id":"r1","errorType":"Boom","errorMessage":"` + huge + `","stackTrace":["a"]}`,
			wantReply: "error", wantType: "Boom", wantStart: "éé",
		},
		{
			name:      "message first, members after it (a Python dict)",
			line:      `{"errorMessage":"` + huge + `","stackTrace":[],"errorType":"ValueError","type":"error","id":"r1"}`,
			wantReply: "error", wantType: "ValueError", wantStart: "éé",
		},
		{
			name:      "escapes cut anywhere",
			line:      `{"type":"error","id":"r1","errorType":"E","errorMessage":"` + strings.Repeat(`\u00e9\"\\`, max/4) + `"}`,
			wantReply: "error", wantType: "E", wantStart: `é"\é"\`,
		},
		{
			name:      "quoted member names inside the message do not count",
			line:      `{"errorMessage":"` + strings.Repeat(`\"id\":\"fake\",`, max/8) + `","type":"error","errorType":"E","id":"real"}`,
			wantReply: "error", wantType: "E", wantStart: `"id":"fake"`,
		},
		{
			name:      "an error without errorType",
			line:      `{"type":"error","id":"r1","errorMessage":"` + huge + `"}`,
			wantReply: "error", wantType: "Runtime.InvalidReply", wantStart: "é",
		},
		{
			name:      "a long response",
			line:      `{"type":"response","id":"r1","junk":"` + huge + `"}`,
			wantReply: "response",
		},
		{name: "no id", line: `{"type":"error","errorType":"E","errorMessage":"` + huge + `"}`, wantErr: true},
		{name: "not JSON", line: strings.Repeat("x", 2*max), wantErr: true},
		{name: "a long ready", line: `{"type":"ready","x":"` + huge + `"}`, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			long := readLong(t, tt.line+"\n", max)
			r, err := protocol.TruncatedReply(long)
			if tt.wantErr {
				if err == nil {
					t.Fatalf("got reply %+v, want an error", r)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if r.Type != tt.wantReply || r.ErrorType != tt.wantType || r.ID == "" {
				t.Errorf("reply %q %q id %q, want %q %q", r.Type, r.ErrorType, r.ID, tt.wantReply, tt.wantType)
			}
			if r.ID == "fake" {
				t.Errorf("took an id from inside the message")
			}
			if tt.wantReply != "error" {
				return
			}
			if !strings.HasPrefix(r.Message, tt.wantStart) || !utf8.ValidString(r.Message) {
				t.Errorf("message starts %.30q, want %q, in UTF-8", r.Message, tt.wantStart)
			}
			if n := len(r.Message); n > protocol.MaxErrorMessage+64 || n < 1000 {
				t.Errorf("message of %d bytes", n)
			}
			if want := " bytes truncated]"; !strings.HasSuffix(r.Message, want) || strings.Contains(r.Message, "\uFFFD") {
				t.Errorf("message ends %q", r.Message[len(r.Message)-40:])
			}
			if r.StackTrace == nil {
				t.Errorf("stackTrace is nil")
			}
		})
	}
}
