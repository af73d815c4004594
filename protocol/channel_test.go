package protocol_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"reflect"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/polyboot/polyboot/protocol"
)

func TestPrepareEvent(t *testing.T) {
	tests := []struct {
		name    string
		payload string
		want    string // "" with wantErr
		wantErr error
	}{
		{name: "object", payload: `{"a":1}`, want: `{"a":1}`},
		{name: "spaces and tabs kept", payload: " {\t\"a\" : [1, 2], \"b\": \"x  y\"} ", want: " {\t\"a\" : [1, 2], \"b\": \"x  y\"} "},
		{name: "string", payload: `"hi"`, want: `"hi"`},
		{name: "number", payload: `-1.5e3`, want: `-1.5e3`},
		{name: "null", payload: `null`, want: `null`},
		{name: "escapes kept as written", payload: `{"a":"\n\u00e9\/"}`, want: `{"a":"\n\u00e9\/"}`},
		{name: "non-ASCII and U+2028 raw", payload: "[\"é\u2028\"]", want: "[\"é\u2028\"]"},
		{
			name:    "pretty-printed compacted",
			payload: "{\n  \"a\": 1,\n  \"b\": [\n    1,\n    2\n  ],\n  \"c d\": \"e  f\"\n}\n",
			want:    `{"a":1,"b":[1,2],"c d":"e  f"}`,
		},
		{name: "CRLF compacted", payload: "{\r\n\t\"a\" : \"x\\ny\"\r\n}", want: `{"a":"x\ny"}`},
		{name: "lone CR compacted", payload: "[1,\r2]", want: `[1,2]`},
		{name: "trailing newline removed", payload: "{\"a\":1}\n", want: `{"a":1}`},
		{name: "compacting keeps non-ASCII and HTML raw", payload: "{\n\"<é>\": \"&\u2028\"\n}", want: "{\"<é>\":\"&\u2028\"}"},
		{name: "empty", payload: ``, wantErr: protocol.ErrNotJSON},
		{name: "only whitespace", payload: " \n ", wantErr: protocol.ErrNotJSON},
		{name: "truncated", payload: `{"a":1`, wantErr: protocol.ErrNotJSON},
		{name: "single quotes", payload: `{'a':1}`, wantErr: protocol.ErrNotJSON},
		{name: "two values", payload: `{"a":1}{"b":2}`, wantErr: protocol.ErrNotJSON},
		{name: "two values on two lines", payload: "1\n2", wantErr: protocol.ErrNotJSON},
		{name: "bare word", payload: `hello`, wantErr: protocol.ErrNotJSON},
		{name: "raw newline in a string", payload: "\"a\nb\"", wantErr: protocol.ErrNotJSON},
		{name: "trailing comma", payload: `[1,]`, wantErr: protocol.ErrNotJSON},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := protocol.PrepareEvent([]byte(tt.payload))
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("PrepareEvent(%q) = %q, %v; want error %v", tt.payload, got, err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("PrepareEvent(%q): %v", tt.payload, err)
			}
			if string(got) != tt.want {
				t.Errorf("PrepareEvent(%q) = %q, want %q", tt.payload, got, tt.want)
			}
			if bytes.ContainsAny(got, "\r\n") {
				t.Errorf("PrepareEvent(%q) holds a line break: %q", tt.payload, got)
			}
		})
	}
}

func TestParseReply(t *testing.T) {
	tests := []struct {
		name    string
		line    string
		want    *protocol.Reply
		wantErr string // a part of the error message; "" for success
	}{
		{name: "ready", line: `{"type":"ready"}`, want: &protocol.Reply{Type: "ready"}},
		{name: "ready ignores unknown members", line: `{"type":"ready","pid":12,"x":{"y":[1]}}`, want: &protocol.Reply{Type: "ready"}},
		{name: "response", line: `{"type":"response","id":"r1"}`, want: &protocol.Reply{Type: "response", ID: "r1"}},
		{name: "member order free", line: `{"id":"r1","type":"response"}`, want: &protocol.Reply{Type: "response", ID: "r1"}},
		{name: "response final", line: `{"type":"response","id":"r1","final":true}`, want: &protocol.Reply{Type: "response", ID: "r1", Final: true}},
		{name: "response without id", line: `{"type":"response"}`, wantErr: `without "id"`},
		{name: "response with empty id", line: `{"type":"response","id":""}`, wantErr: `without "id"`},
		{
			name: "error with every member",
			line: `{"type":"error","id":"r2","errorType":"ValueError","errorMessage":"bad value","stackTrace":["  File \"f.py\"","x"],"logTail":10,"final":true}`,
			want: &protocol.Reply{
				Type: "error", ID: "r2", ErrorType: "ValueError", Message: "bad value",
				StackTrace: []string{`  File "f.py"`, "x"}, LogTail: 10, Final: true,
			},
		},
		{name: "error with only id and type", line: `{"type":"error","id":"r2","errorType":"E"}`, want: &protocol.Reply{Type: "error", ID: "r2", ErrorType: "E"}},
		{name: "error logTail 0", line: `{"type":"error","id":"r2","errorType":"E","logTail":0}`, want: &protocol.Reply{Type: "error", ID: "r2", ErrorType: "E"}},
		{name: "error without id", line: `{"type":"error","errorType":"E"}`, wantErr: `without "id"`},
		{name: "error without errorType", line: `{"type":"error","id":"r2","errorMessage":"m"}`, wantErr: `without "errorType"`},
		{name: "error with negative logTail", line: `{"type":"error","id":"r2","errorType":"E","logTail":-1}`, wantErr: "negative logTail"},
		{name: "error with fractional logTail", line: `{"type":"error","id":"r2","errorType":"E","logTail":1.5}`, wantErr: "not a JSON object"},
		{name: "error with string logTail", line: `{"type":"error","id":"r2","errorType":"E","logTail":"3"}`, wantErr: "not a JSON object"},
		{name: "error with a stackTrace that is not strings", line: `{"type":"error","id":"r2","errorType":"E","stackTrace":[1]}`, wantErr: "not a JSON object"},
		{
			name: "init_error needs no id",
			line: `{"type":"init_error","errorType":"Runtime.ImportModuleError","errorMessage":"no module x","stackTrace":[]}`,
			want: &protocol.Reply{Type: "init_error", ErrorType: "Runtime.ImportModuleError", Message: "no module x", StackTrace: []string{}},
		},
		{name: "init_error without errorType", line: `{"type":"init_error","errorMessage":"m"}`, wantErr: `init_error reply without "errorType"`},
		{name: "init_error with negative logTail", line: `{"type":"init_error","errorType":"E","logTail":-3}`, wantErr: "negative logTail"},
		{name: "unknown type", line: `{"type":"invoke","id":"r"}`, wantErr: `unknown reply type "invoke"`},
		{name: "no type", line: `{"id":"r"}`, wantErr: `without "type"`},
		{name: "empty object", line: `{}`, wantErr: `without "type"`},
		{name: "null", line: `null`, wantErr: `without "type"`},
		{name: "array", line: `[{"type":"ready"}]`, wantErr: "not a JSON object"},
		{name: "string", line: `"ready"`, wantErr: "not a JSON object"},
		{name: "not JSON", line: `ready`, wantErr: "not a JSON object"},
		{name: "empty line", line: ``, wantErr: "not a JSON object"},
		{name: "two objects", line: `{"type":"ready"}{"type":"ready"}`, wantErr: "not a JSON object"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := protocol.ParseReply([]byte(tt.line))
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("ParseReply(%s) = %+v, %v; want an error with %q", tt.line, got, err, tt.wantErr)
				}
				if got != nil {
					t.Errorf("ParseReply(%s) returned a reply with its error: %+v", tt.line, got)
				}
				return
			}
			if err != nil {
				t.Fatalf("ParseReply(%s): %v", tt.line, err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("ParseReply(%s)\n got %+v\nwant %+v", tt.line, got, tt.want)
			}
		})
	}
}

func TestReplyReport(t *testing.T) {
	tests := []struct {
		name  string
		reply protocol.Reply
		want  protocol.ErrorReport
	}{
		{
			name:  "no stack trace gives an empty one",
			reply: protocol.Reply{Type: "error", ID: "r", ErrorType: "E", Message: "m"},
			want:  protocol.ErrorReport{Type: "E", Message: "m", StackTrace: []string{}},
		},
		{
			name:  "stack trace kept",
			reply: protocol.Reply{Type: "init_error", ErrorType: "E", StackTrace: []string{"a", "b"}},
			want:  protocol.ErrorReport{Type: "E", StackTrace: []string{"a", "b"}},
		},
		{
			name:  "request id kept",
			reply: protocol.Reply{Type: "error", ID: "r", ErrorType: "E", RequestID: ptr("r")},
			want:  protocol.ErrorReport{Type: "E", RequestID: ptr("r"), StackTrace: []string{}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := tt.reply.Report()
			if !reflect.DeepEqual(*got, tt.want) || got.StackTrace == nil {
				t.Errorf("Report() = %#v, want %#v", *got, tt.want)
			}
			if got.Error() != tt.want.Type+": "+tt.want.Message {
				t.Errorf("Error() = %q", got.Error())
			}
		})
	}
}

func ptr(s string) *string { return &s }

// TestErrorBodyRequestID: the error body has awslambdaric's members in its order when an adapter
// sends requestId ("" for an init error), and Lambda's three without one.
func TestErrorBodyRequestID(t *testing.T) {
	tests := []struct {
		line string
		want string
	}{
		{`{"type":"error","id":"r1","errorType":"E","errorMessage":"m","stackTrace":["s"],"requestId":"r1"}`,
			`{"errorMessage":"m","errorType":"E","requestId":"r1","stackTrace":["s"]}`},
		{`{"type":"init_error","errorType":"E","errorMessage":"m","requestId":""}`,
			`{"errorMessage":"m","errorType":"E","requestId":"","stackTrace":[]}`},
		{`{"type":"error","id":"r1","errorType":"E","errorMessage":"m"}`,
			`{"errorMessage":"m","errorType":"E","stackTrace":[]}`},
	}
	for _, tt := range tests {
		reply, err := protocol.ParseReply([]byte(tt.line))
		if err != nil {
			t.Fatalf("ParseReply(%s): %v", tt.line, err)
		}
		body, err := json.Marshal(reply.Report())
		if err != nil || string(body) != tt.want {
			t.Errorf("body of %s = %s (%v), want %s", tt.line, body, err, tt.want)
		}
	}
}

// readAll reads lines from lr until io.EOF and returns them with each error that came with one.
func readAll(t *testing.T, lr *protocol.LineReader) (lines []string, errs []error) {
	t.Helper()
	for range 100 {
		line, err := lr.ReadLine()
		if err == io.EOF {
			if line != nil {
				t.Errorf("io.EOF came with a line: %.40q", line)
			}
			return lines, errs
		}
		lines, errs = append(lines, string(line)), append(errs, err)
	}
	t.Fatal("no io.EOF after 100 lines")
	return nil, nil
}

func TestLineReader(t *testing.T) {
	t.Parallel()
	const max = protocol.MaxResponseSize + 4096 // a 6 MB event and its invoke line's envelope
	big := protocol.AppendInvokeLine(nil, &protocol.Invocation{RequestID: "r1"}, testBody,
		[]byte(`"`+strings.Repeat("é", (protocol.MaxResponseSize-2)/2)+`"`))
	big = big[:len(big)-1] // without its '\n'
	exact := strings.Repeat("x", max)
	over := strings.Repeat("y", max+1)
	tests := []struct {
		name      string
		input     string
		wantLines []string
		wantErrs  []error // one per line: nil, or what errors.Is must match
	}{
		{name: "empty input", input: ""},
		{
			name:      "many lines in one read",
			input:     "a\nbb\n\n{\"type\":\"ready\"}\nccc\n",
			wantLines: []string{"a", "bb", "", `{"type":"ready"}`, "ccc"},
			wantErrs:  []error{nil, nil, nil, nil, nil},
		},
		{
			name:      "final line without newline",
			input:     "a\nlast",
			wantLines: []string{"a", "last"},
			wantErrs:  []error{nil, io.ErrUnexpectedEOF},
		},
		{name: "CR kept", input: "a\r\n", wantLines: []string{"a\r"}, wantErrs: []error{nil}},
		{
			name:      "a 6 MB invoke line",
			input:     string(big) + "\nnext\n",
			wantLines: []string{string(big), "next"},
			wantErrs:  []error{nil, nil},
		},
		{
			name:      "a line of exactly the limit",
			input:     exact + "\nnext\n",
			wantLines: []string{exact, "next"},
			wantErrs:  []error{nil, nil},
		},
		{
			name:      "a line over the limit is refused and the next one still read",
			input:     "first\n" + over + "\nnext\n",
			wantLines: []string{"first", "", "next"},
			wantErrs:  []error{nil, protocol.ErrLineTooLong, nil},
		},
		{
			name:      "a much longer line is refused and the next one still read",
			input:     over + over + "\nnext",
			wantLines: []string{"", "next"},
			wantErrs:  []error{protocol.ErrLineTooLong, io.ErrUnexpectedEOF},
		},
		{
			name:      "a final line over the limit without newline is refused",
			input:     "first\n" + over,
			wantLines: []string{"first", ""},
			wantErrs:  []error{nil, protocol.ErrLineTooLong},
		},
	}
	readers := map[string]func(io.Reader) io.Reader{
		"whole":      func(r io.Reader) io.Reader { return r },
		"half reads": iotest.HalfReader,
	}
	for _, tt := range tests {
		for rname, wrap := range readers {
			if rname != "whole" && len(tt.input) > 1<<20 {
				continue // big lines fill the buffer however they are read; spare the time
			}
			t.Run(tt.name+"/"+rname, func(t *testing.T) {
				lr := protocol.NewLineReader(wrap(strings.NewReader(tt.input)), max)
				lines, errs := readAll(t, lr)
				if len(lines) != len(tt.wantLines) {
					t.Fatalf("read %d lines, want %d (errors %v)", len(lines), len(tt.wantLines), errs)
				}
				for i := range lines {
					if lines[i] != tt.wantLines[i] {
						t.Errorf("line %d: got %d bytes %.40q, want %d bytes %.40q",
							i, len(lines[i]), lines[i], len(tt.wantLines[i]), tt.wantLines[i])
					}
					if (errs[i] == nil) != (tt.wantErrs[i] == nil) || !errors.Is(errs[i], tt.wantErrs[i]) {
						t.Errorf("line %d: error %v, want %v", i, errs[i], tt.wantErrs[i])
					}
				}
			})
		}
	}
}

// TestLineReaderReadError checks that a read error other than EOF is passed on.
func TestLineReaderReadError(t *testing.T) {
	boom := errors.New("boom")
	lr := protocol.NewLineReader(io.MultiReader(strings.NewReader("ok\npart"), iotest.ErrReader(boom)), 100)
	if line, err := lr.ReadLine(); string(line) != "ok" || err != nil {
		t.Fatalf("first line: %q, %v", line, err)
	}
	if _, err := lr.ReadLine(); !errors.Is(err, boom) {
		t.Fatalf("second line: error %v, want %v", err, boom)
	}
}
