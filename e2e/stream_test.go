package e2e

import (
	"encoding/base64"
	"strings"
	"testing"
	"time"
)

// TestResponseStreaming: with POLYBOOT_STREAM_RESPONSE=1 what a bash handler writes flows to the
// Runtime API as it is written (chunked, Lambda-Runtime-Function-Response-Mode: streaming); an
// error after the first byte arrives in the trailers; an error before it is a plain /error.
func TestResponseStreaming(t *testing.T) {
	script := `handler() { printf 'first,'; sleep 0.4; printf 'second'; }
broken() { printf 'partial'; sleep 0.1; echo "went wrong" >&2; return 5; }
early() { return 6; }
`
	task := writeTask(t, map[string]string{"function.sh": script})
	for _, tc := range []struct{ handler string }{{"function.handler"}, {"function.broken"}, {"function.early"}} {
		api := newFakeAPI(t)
		runBootstrap(t, api, function{taskDir: task, handler: tc.handler, env: []string{"POLYBOOT_STREAM_RESPONSE=1"}})
		api.queue <- fakeInvocation{id: "s1", body: `{}`}
		r := api.result(t)
		switch tc.handler {
		case "function.handler":
			if !r.streamed || r.kind != "response" || r.body != "first,second" {
				t.Fatalf("got %+v", r)
			}
			if len(r.chunks) < 2 || !strings.HasPrefix(r.chunks[0].data, "first,") ||
				r.chunks[len(r.chunks)-1].at.Sub(r.chunks[0].at) < 300*time.Millisecond {
				t.Errorf("the body did not flow as written: chunks %+v", r.chunks)
			}
			if r.trailer.Get("Lambda-Runtime-Function-Error-Type") != "" {
				t.Errorf("a successful stream has error trailers: %v", r.trailer)
			}
		case "function.broken":
			body, _ := base64.StdEncoding.DecodeString(r.trailer.Get("Lambda-Runtime-Function-Error-Body"))
			if !r.streamed || r.body != "partial" || r.trailer.Get("Lambda-Runtime-Function-Error-Type") != "Function.NonZeroExit" ||
				!strings.Contains(string(body), "returned status 5") || !strings.Contains(string(body), "went wrong") {
				t.Errorf("got %+v, error body %s", r, body)
			}
		case "function.early":
			if r.kind != "error" || r.errorType != "Function.NonZeroExit" || r.streamed {
				t.Errorf("got %+v", r)
			}
		}
	}
}

// TestResponseStreamingPython: context.write sends a chunk at once; what the handler returns
// after writing (None) adds nothing.
func TestResponseStreamingPython(t *testing.T) {
	python := func(l language) bool { return l.ext == ".py" }
	eachLanguage(t, python, func(t *testing.T, c *conformance) {
		task := writeTask(t, map[string]string{"function.py": `import time
def handler(event, context):
    context.write(u"first,")
    time.sleep(0.4)
    context.write(b"second")
`})
		api := newFakeAPI(t)
		runBootstrap(t, api, function{taskDir: task, handler: "function.handler", env: []string{"POLYBOOT_STREAM_RESPONSE=1", "POLYBOOT_PYTHON=" + c.interp}})
		api.queue <- fakeInvocation{id: "s1", body: `{}`}
		r := api.result(t)
		if !r.streamed || r.body != "first,second" || len(r.chunks) < 2 || r.chunks[len(r.chunks)-1].at.Sub(r.chunks[0].at) < 300*time.Millisecond {
			t.Errorf("got %+v", r)
		}
	})
}

// TestResponseStreamingTcl: lambda::write sends a chunk at once; an empty result adds nothing.
func TestResponseStreamingTcl(t *testing.T) {
	tcl := tclsh(t)
	if !requireInterpreter(t, "tcl", tcl) {
		return
	}
	task := writeTask(t, map[string]string{"function.tcl": `proc handler {event context} {
    lambda::write "first,"
    after 400
    lambda::write "sécond"
    return ""
}`})
	api := newFakeAPI(t)
	runBootstrap(t, api, function{taskDir: task, handler: "function.handler", env: []string{"POLYBOOT_STREAM_RESPONSE=1", "POLYBOOT_TCLSH=" + tcl}})
	api.queue <- fakeInvocation{id: "s1", body: `{}`}
	r := api.result(t)
	if !r.streamed || r.body != "first,sécond" || len(r.chunks) < 2 || r.chunks[len(r.chunks)-1].at.Sub(r.chunks[0].at) < 300*time.Millisecond {
		t.Errorf("got %+v", r)
	}
}
