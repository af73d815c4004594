package bench

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/polyboot/polyboot/protocol"
)

// Sizes the codec benchmarks run at: a typical event, and the largest the Runtime API delivers.
var codecSizes = []struct {
	name string
	size int
}{
	{"1KB", 1024},
	{"6MB", EventSize6MB},
}

// benchInvocation is a Runtime API invocation with every header Lambda sets.
func benchInvocation(event []byte) *protocol.Invocation {
	return &protocol.Invocation{
		RequestID:   "8476a536-e9f4-11e8-9739-2dfe598c3fcd",
		DeadlineMs:  1732640000000,
		FunctionARN: "arn:aws:lambda:us-east-1:012345678912:function:test_function",
		TraceID:     "Root=1-5bef4de7-ad49b0e87f6ef6c87fc2e700;Parent=9a9197af755a6419;Sampled=1",
		Payload:     event,
	}
}

func mustEvent(b testing.TB, size int) []byte {
	b.Helper()
	ev, err := Event(size)
	if err != nil {
		b.Fatal(err)
	}
	return ev
}

// benchBody is a body FIFO path as the supervisor makes them.
const benchBody = "/tmp/polyboot-1234567890/42"

// BenchmarkAppendInvokeLine measures building the invoke line into a reused buffer, as the
// supervisor does for every invocation.
func BenchmarkAppendInvokeLine(b *testing.B) {
	for _, s := range codecSizes {
		b.Run(s.name, func(b *testing.B) {
			inv := benchInvocation(mustEvent(b, s.size))
			line := protocol.AppendInvokeLine(nil, inv, benchBody, inv.Payload)
			b.SetBytes(int64(len(line)))
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				line = protocol.AppendInvokeLine(line[:0], inv, benchBody, inv.Payload)
			}
		})
	}
}

// BenchmarkPrepareEvent measures the check of an event before it goes into an invoke line: one-line
// JSON (the common case: validated, passed on as it is) and pretty-printed JSON (compacted).
func BenchmarkPrepareEvent(b *testing.B) {
	for _, s := range codecSizes {
		ev := mustEvent(b, s.size)
		b.Run(s.name, func(b *testing.B) {
			b.SetBytes(int64(len(ev)))
			b.ReportAllocs()
			for i := 0; i < b.N; i++ {
				if _, err := protocol.PrepareEvent(ev); err != nil {
					b.Fatal(err)
				}
			}
		})
		pretty := []byte(strings.ReplaceAll(string(ev), `{"id": `, "{\n  \"id\": "))
		b.Run(s.name+"-pretty", func(b *testing.B) {
			b.SetBytes(int64(len(pretty)))
			b.ReportAllocs()
			for i := 0; i < b.N; i++ {
				if _, err := protocol.PrepareEvent(pretty); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkParseReply measures decoding a worker's reply line: the response line every invocation
// sends, and error lines whose message and stack trace make them 1 KB and 6 MB long.
func BenchmarkParseReply(b *testing.B) {
	lines := []struct {
		name string
		line []byte
	}{
		{"response", []byte(`{"type":"response","id":"8476a536-e9f4-11e8-9739-2dfe598c3fcd"}`)},
		{"error-1KB", errorLine(1024)},
		{"error-6MB", errorLine(EventSize6MB)},
	}
	for _, l := range lines {
		b.Run(l.name, func(b *testing.B) {
			b.SetBytes(int64(len(l.line)))
			b.ReportAllocs()
			for i := 0; i < b.N; i++ {
				if _, err := protocol.ParseReply(l.line); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// errorLine is an error reply of about size bytes: a message and a stack trace of 80-byte frames.
func errorLine(size int) []byte {
	frame := `  File "/var/task/function.py", line 12, in handler` + strings.Repeat(" ", 28)
	var stack []string
	for n := 200; n < size; n += len(frame) + 3 {
		stack = append(stack, frame)
	}
	line, _ := json.Marshal(map[string]any{
		"type": "error", "id": "8476a536-e9f4-11e8-9739-2dfe598c3fcd",
		"errorType": "ValueError", "errorMessage": "bad value: the handler refused the event",
		"stackTrace": stack,
	})
	return line
}
