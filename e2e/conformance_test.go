package e2e

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// language is one row of the adapter conformance table: every adapter passes the same checks.
type language struct {
	name      string
	ext       string
	fixtures  string                  // folder under testdata/conformance
	find      func(*testing.T) string // the interpreter, or "" when missing
	envVar    string                  // the manifest's interpreter override
	errorType string                  // errorType of the fail handler's error
	stack     bool                    // whether errors carry a stack trace
	canonical func(compact string) string
}

func languages() []language {
	bash := func(*testing.T) string { return "/bin/bash" }
	return []language{
		{name: "bash", ext: ".sh", fixtures: "bash", find: bash, envVar: "POLYBOOT_BASH", errorType: "Function.NonZeroExit", canonical: same},
		{name: "tcl", ext: ".tcl", fixtures: "tcl", find: tclsh, envVar: "POLYBOOT_TCLSH", errorType: "TclError", stack: true, canonical: same},
		{name: "python2.7", ext: ".py", fixtures: "python", find: python27, envVar: "POLYBOOT_PYTHON", errorType: "ValueError", stack: true, canonical: pythonStyle},
		{name: "python3", ext: ".py", fixtures: "python", find: python3, envVar: "POLYBOOT_PYTHON", errorType: "ValueError", stack: true, canonical: pythonStyle},
	}
}

func same(s string) string { return s }

// pythonStyle reformats compact JSON the way Python's json.dumps writes it (", " and ": ").
func pythonStyle(compact string) string {
	var b strings.Builder
	inString, escaped := false, false
	for _, r := range compact {
		b.WriteRune(r)
		switch {
		case escaped:
			escaped = false
		case inString && r == '\\':
			escaped = true
		case r == '"':
			inString = !inString
		case !inString && (r == ',' || r == ':'):
			b.WriteByte(' ')
		}
	}
	return b.String()
}

// TestConformance runs every adapter through the same checks, under the emulator, through the
// runtime layer.
func TestConformance(t *testing.T) {
	eachLanguage(t, all, func(t *testing.T, c *conformance) { c.run(t) })
}

// run runs the conformance checks for c's language (TestConformance, TestConformanceSandbox).
func (c *conformance) run(t *testing.T) {
	t.Run("echo", c.echo)
	t.Run("context", c.context)
	t.Run("error", c.error)
	t.Run("init-errors", c.initErrors)
	t.Run("logs", c.logs)
	t.Run("warm-state", c.warmState)
	t.Run("stray-output", c.strayOutput)
	t.Run("crash", c.crash)
	t.Run("timeout", c.timeout)
}

// eachLanguage runs fn as a subtest for every language of the table that want selects, with its
// interpreter found (a missing one fails loudly: requireInterpreter).
func eachLanguage(t *testing.T, want func(language) bool, fn func(t *testing.T, c *conformance)) {
	for _, lang := range languages() {
		if !want(lang) {
			continue
		}
		t.Run(lang.name, func(t *testing.T) {
			interp := lang.find(t)
			if !requireInterpreter(t, lang.name, interp) {
				return
			}
			fn(t, &conformance{lang: lang, interp: interp})
		})
	}
}

// all selects every language.
func all(language) bool { return true }

type conformance struct {
	lang   language
	interp string                               // "" leaves the choice to the layer's bin/ and PATH
	start  func(*testing.T, function) *emulator // nil: startEmulator
}

// serve starts the emulator on the language's fixtures with handler function.<fn>.
func (c *conformance) serve(t *testing.T, handler string, env ...string) *emulator {
	t.Helper()
	dir := c.taskDir(t)
	env = append([]string{c.lang.envVar + "=" + c.interp, "AWS_LAMBDA_FUNCTION_NAME=conformance"}, env...)
	if c.start != nil {
		return c.start(t, function{taskDir: dir, handler: handler, env: env})
	}
	return startEmulator(t, function{taskDir: dir, handler: handler, env: env})
}

func (c *conformance) echo(t *testing.T) {
	e := c.serve(t, "function.echo")
	marker := filepath.Join(t.TempDir(), "pwned")
	big := `{"data":"` + strings.Repeat("0123456789abcdef", 6*1024*1024/16-64) + `"}`
	events := map[string]string{
		"ascii":   `{"a":1,"b":[true,false,null],"c":{"d":"e"},"f":-12,"g":1.5}`,
		"unicode": `{"text":"héllo wörld ☃ 😀 日本語","emoji":"🎉"}`,
		"hostile": `{"cmd":"$(touch ` + marker + `) ` + "`touch " + marker + "`" + ` ; touch ` + marker + `; *","quote":"'\" \\\\","nl":"a\nb\r\nc\td","nul":"\u0000","esc":"\\u0041"}`,
		"nested":  `{"a":` + strings.Repeat("[", 40) + `{"deep":[1,2,{"x":[]}]}` + strings.Repeat("]", 40) + `,"empty":{}}`,
		"6MB":     big,
	}
	for name, ev := range events {
		ev = c.lang.canonical(ev)
		start := time.Now()
		status, body := e.Invoke(t, []byte(ev))
		if status != 200 || string(body) != ev {
			t.Errorf("%s: status %d, got %.200s (%d bytes), want %.200s (%d bytes)", name, status, body, len(body), ev, len(ev))
		}
		if name == "6MB" {
			t.Logf("%s: %d-byte event round trip %v", c.lang.name, len(ev), time.Since(start).Round(time.Millisecond))
		}
	}
	if _, err := os.Stat(marker); err == nil {
		t.Error("event data was executed: the marker file exists")
	}
}

func (c *conformance) context(t *testing.T) {
	e := c.serve(t, "function.context")
	trace := "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1"
	cc := base64.StdEncoding.EncodeToString([]byte(`{"custom":{"k":"v"},"client":{},"env":{}}`))
	status, body := e.Invoke(t, []byte(`{}`), "X-Amzn-Trace-Id", trace, "X-Amz-Client-Context", cc)
	var got struct {
		RequestID     string          `json:"request_id"`
		DeadlineMs    *int64          `json:"deadline_ms"`
		ARN           string          `json:"arn"`
		TraceID       string          `json:"trace_id"`
		FunctionName  string          `json:"function_name"`
		RemainingMs   int64           `json:"remaining_ms"`
		ClientContext json.RawMessage `json:"client_context"`
	}
	if status != 200 || json.Unmarshal(body, &got) != nil {
		t.Fatalf("status %d, body %s", status, body)
	}
	logs := e.waitLog(t, "END RequestId: "+got.RequestID)
	if got.RequestID == "" || !strings.Contains(logs, "START RequestId: "+got.RequestID) {
		t.Errorf("request id %q is not the emulator's", got.RequestID)
	}
	if got.ARN != "arn:aws:lambda:us-east-1:012345678912:function:conformance" {
		t.Errorf("arn %q", got.ARN)
	}
	// This emulator does not pass X-Amzn-Trace-Id on in its default mode; the trace id is checked
	// through the fake Runtime API (TestContextFromRuntimeAPI).
	if got.TraceID != "" && got.TraceID != trace {
		t.Errorf("trace id %q, want %q", got.TraceID, trace)
	}
	if got.FunctionName != "conformance" {
		t.Errorf("function name %q", got.FunctionName)
	}
	if got.RemainingMs < 20_000 || got.RemainingMs > 30_000 {
		t.Errorf("remaining %d ms, want about 30 s (AWS_LAMBDA_FUNCTION_TIMEOUT=30)", got.RemainingMs)
	}
	if got.DeadlineMs != nil && (*got.DeadlineMs < time.Now().UnixMilli() || *got.DeadlineMs > time.Now().Add(31*time.Second).UnixMilli()) {
		t.Errorf("deadline %d is not about 30 s from now", *got.DeadlineMs)
	}
	var ctx struct {
		Custom map[string]string `json:"custom"`
	}
	if json.Unmarshal(got.ClientContext, &ctx) != nil || ctx.Custom["k"] != "v" {
		t.Errorf("client context %s, want custom k=v", got.ClientContext)
	}
}

func (c *conformance) error(t *testing.T) {
	e := c.serve(t, "function.fail")
	status, body := e.Invoke(t, []byte(`{}`))
	var got struct {
		Type    string   `json:"errorType"`
		Message string   `json:"errorMessage"`
		Stack   []string `json:"stackTrace"`
	}
	if status != 200 || json.Unmarshal(body, &got) != nil {
		t.Fatalf("status %d, body %s", status, body)
	}
	if got.Type != c.lang.errorType || !strings.Contains(got.Message, "boom") {
		t.Errorf("got %s, want errorType %s and boom in the message", body, c.lang.errorType)
	}
	if c.lang.stack && (len(got.Stack) == 0 || !strings.Contains(strings.Join(got.Stack, "\n"), "function"+c.lang.ext)) {
		t.Errorf("stack trace %q does not name function%s", got.Stack, c.lang.ext)
	}
	if status, body := e.Invoke(t, []byte(`{}`)); status != 200 || !strings.Contains(string(body), "boom") {
		t.Errorf("second invocation after an error: %d %s", status, body)
	}
}

func (c *conformance) initErrors(t *testing.T) {
	cases := []struct{ handler, wantType, wantText string }{
		{"syntax.handler", "Runtime.UserCodeSyntaxError", "syntax"},
		{"function.missing", "Runtime.HandlerNotFound", "missing"},
		{"absent.handler", "Runtime.HandlerNotFound", "absent" + c.lang.ext},
	}
	for _, tc := range cases {
		e := c.serve(t, tc.handler)
		status, body := e.Invoke(t, []byte(`{}`))
		var got struct {
			Type    string `json:"errorType"`
			Message string `json:"errorMessage"`
		}
		_ = json.Unmarshal(body, &got)
		if status != 502 || got.Type != tc.wantType || !strings.Contains(got.Message, tc.wantText) {
			t.Errorf("%s: HTTP %d %s; want 502, %s, message with %q", tc.handler, status, body, tc.wantType, tc.wantText)
		}
	}
}

func (c *conformance) logs(t *testing.T) {
	e := c.serve(t, "function.logs")
	for i := 0; i < 3; i++ {
		status, body := e.Invoke(t, []byte(`{}`))
		if status != 200 || string(body) != "{}" {
			t.Fatalf("status %d, body %s", status, body)
		}
	}
	// Each invocation's log line is written before its result is posted, so it comes before the
	// emulator's END line for that request.
	// The emulator's output reaches the test through a copying goroutine: wait for all three.
	var ids []string
	for deadline := time.Now().Add(5 * time.Second); len(ids) < 3 && time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		ids = ids[:0]
		for _, line := range strings.Split(e.Logs.String(), "\n") {
			if f := strings.Split(line, "\t"); len(f) == 4 && f[2] == "INFO" && f[3] == "log-marker" {
				ids = append(ids, f[1])
			}
		}
	}
	if len(ids) != 3 {
		t.Fatalf("found %d tagged log-marker lines, want 3:\n%s", len(ids), e.Logs.String())
	}
	for _, id := range ids {
		logs := e.waitLog(t, "END RequestId: "+id)
		if strings.Index(logs, "\t"+id+"\tINFO\tlog-marker") > strings.Index(logs, "END RequestId: "+id) {
			t.Errorf("the log line of %s is not before its END line", id)
		}
	}
}

func (c *conformance) warmState(t *testing.T) {
	e := c.serve(t, "function.counter")
	for i := 1; i <= 3; i++ {
		status, body := e.Invoke(t, []byte(`{}`))
		want := c.lang.canonical(fmt.Sprintf(`{"count":%d}`, i))
		if status != 200 || string(body) != want {
			t.Errorf("invocation %d: status %d, body %s, want %s", i, status, body, want)
		}
	}
}

// TestContextFromRuntimeAPI checks the per-invocation context the emulator cannot send (trace id,
// cognito identity, tenant id) reaches every adapter's handler, through a fake Runtime API.
func TestContextFromRuntimeAPI(t *testing.T) {
	eachLanguage(t, all, func(t *testing.T, c *conformance) {
		api := newFakeAPI(t)
		runBootstrap(t, api, function{taskDir: c.taskDir(t), handler: "function.context",
			env: []string{c.lang.envVar + "=" + c.interp, "AWS_LAMBDA_FUNCTION_NAME=conformance"}})
		trace := "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1"
		for i, id := range []string{"req-1", "req-2"} {
			headers := map[string]string{
				"Lambda-Runtime-Invoked-Function-Arn": "arn:aws:lambda:eu-west-1:1:function:f",
				"Lambda-Runtime-Cognito-Identity":     `{"cognitoIdentityId":"us-east-1:abc","cognitoIdentityPoolId":"us-east-1:pool"}`,
				"Lambda-Runtime-Client-Context":       `{"custom":{"k":"v"},"client":{},"env":{}}`,
				"Lambda-Runtime-Aws-Tenant-Id":        "tenant-7",
			}
			if i == 0 {
				headers["Lambda-Runtime-Trace-Id"] = trace
			}
			api.queue <- fakeInvocation{id: id, headers: headers, body: `{}`}
			r := api.result(t)
			var got struct {
				RequestID  string `json:"request_id"`
				ARN        string `json:"arn"`
				TraceID    string `json:"trace_id"`
				IdentityID string `json:"identity_id"`
				TenantID   string `json:"tenant_id"`
			}
			if r.id != id || r.kind != "response" || json.Unmarshal([]byte(r.body), &got) != nil {
				t.Fatalf("%s: got %+v", id, r)
			}
			wantTrace := map[bool]string{true: trace, false: ""}[i == 0] // unset when absent
			if got.RequestID != id || got.ARN != headers["Lambda-Runtime-Invoked-Function-Arn"] ||
				got.TraceID != wantTrace || got.IdentityID != "us-east-1:abc" || got.TenantID != "tenant-7" {
				t.Errorf("%s: handler saw %+v", id, got)
			}
		}
	})
}

// taskDir copies the language's fixtures into a new task folder.
func (c *conformance) taskDir(t *testing.T) string {
	t.Helper()
	src := filepath.Join("testdata", "conformance", c.lang.fixtures)
	dir := t.TempDir()
	entries, err := os.ReadDir(src)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		b, err := os.ReadFile(filepath.Join(src, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, e.Name()), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// crash: the interpreter dies mid-invocation; that invocation gets Runtime.ExitError with the exit
// status and the last log lines, and the next one is served by a new worker.
func (c *conformance) crash(t *testing.T) {
	e := c.serve(t, "function.crash")
	for i := 0; i < 2; i++ {
		status, body := e.Invoke(t, []byte(`{}`))
		checkResult(t, "crash", status, body, "Runtime.ExitError", `(exit status 3|signal killed).*\ndying`)
	}
}

// timeout: a handler still running at its deadline (minus the margin) is killed with its whole
// process group, the invocation gets Sandbox.Timedout, no process it started survives, and the
// next invocation is served by a fresh worker before the emulator's own timeout would fire.
func (c *conformance) timeout(t *testing.T) {
	e := c.serve(t, "function.slow", "AWS_LAMBDA_FUNCTION_TIMEOUT=1", "POLYBOOT_TIMEOUT_MARGIN_MS=300")
	// The emulator starts the runtime on the first invocation and counts that init against its
	// timeout; a fast first invocation keeps init out of the measured ones.
	if status, body := e.Invoke(t, []byte(`{"fast":true}`)); status != 200 || c.lang.canonical(`{}`) != string(body) {
		t.Fatalf("fast invocation: %d %s", status, body)
	}
	for i := 0; i < 2; i++ {
		start := time.Now()
		status, body := e.Invoke(t, []byte(`{}`))
		checkResult(t, "timeout", status, body, "Sandbox.Timedout", `^Task timed out after \d\.\d\d seconds; last log lines:\n.*slow start`)
		if d := time.Since(start); d > 1500*time.Millisecond {
			t.Errorf("the timeout took %v", d)
		}
	}
	// The group's SIGKILL is delivered to each process when it next runs: give it that moment.
	if !eventually(func() bool { return len(processesWithArg(t, "300")) == 0 }) {
		t.Errorf("processes started by timed-out handlers survived: %v", processesWithArg(t, "300"))
	}
}

// strayOutput: a handler writing to stdout and stderr in every way (no final newline, binary bytes,
// a carriage return, a 1 MB line) corrupts neither the channel nor the response, and every byte
// reaches the log in lines tagged with the request id.
func (c *conformance) strayOutput(t *testing.T) {
	e := c.serve(t, "function.noise")
	status, body := e.Invoke(t, []byte(`{}`))
	if want := c.lang.canonical(`{"ok":true}`); status != 200 || string(body) != want {
		t.Fatalf("status %d, body %.200s, want %s", status, body, want)
	}
	// The emulator's output reaches the test through a copying goroutine: poll until all is there.
	var id string
	var ns int
	var logs string
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		logs = e.Logs.String()
		id, ns = "", 0
		for _, line := range strings.Split(logs, "\n") {
			f := strings.SplitN(line, "\t", 4)
			if len(f) < 4 || f[2] != "INFO" {
				continue
			}
			if strings.Contains(f[3], "partial") || strings.Contains(f[3], "N") || strings.Contains(f[3], "err-tail") {
				if id == "" {
					id = f[1]
				}
				if f[1] != id || id == "-" {
					t.Errorf("a log line is tagged %q, want the invocation's id %q", f[1], id)
				}
				ns += strings.Count(f[3], "N")
			}
		}
		if ns >= 1000000 && strings.Contains(logs, "err-tail") {
			break
		}
	}
	if ns != 1000000 || !strings.Contains(logs, "partial") || !strings.Contains(logs, "err-tail") {
		t.Errorf("the log has %d of 1,000,000 Ns, partial: %v, err-tail: %v",
			ns, strings.Contains(logs, "partial"), strings.Contains(logs, "err-tail"))
	}
}
