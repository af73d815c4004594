package e2e

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"
)

const bashCounter = `
count=0
handler() {
  count=$((count + 1))
  echo "stderr line $count for $LAMBDA_REQUEST_ID" >&2
  printf '{"count":%d,"pid":%d,"id":"%s","event":%s}' "$count" "$$" "$LAMBDA_REQUEST_ID" "$1"
}
`

// TestBashThousandInvocations is the runtime issue's acceptance test: one warm bash process
// answers 1,000 sequential invocations correctly, and each invocation's stderr line is in the log
// before the emulator records the response (END RequestId).
func TestBashThousandInvocations(t *testing.T) {
	n := 1000
	if testing.Short() {
		n = 100
	}
	e := startEmulator(t, function{taskDir: writeTask(t, map[string]string{"function.sh": bashCounter}), handler: "function.handler"})
	var pid int
	ids := make([]string, 0, n)
	latencies := make([]time.Duration, 0, n)
	for i := 1; i <= n; i++ {
		event := fmt.Sprintf(`{"i":%d,"pad":"%s"}`, i, strings.Repeat("x", 1000))
		start := time.Now()
		status, body := e.Invoke(t, []byte(event))
		latencies = append(latencies, time.Since(start))
		var got struct {
			Count int             `json:"count"`
			PID   int             `json:"pid"`
			ID    string          `json:"id"`
			Event json.RawMessage `json:"event"`
		}
		if status != 200 || json.Unmarshal(body, &got) != nil {
			t.Fatalf("invocation %d: status %d, body %.300s", i, status, body)
		}
		if got.Count != i || string(got.Event) != event || got.ID == "" {
			t.Fatalf("invocation %d: got count %d, id %q, event %.80s", i, got.Count, got.ID, got.Event)
		}
		if pid == 0 {
			pid = got.PID
		} else if got.PID != pid {
			t.Fatalf("invocation %d ran in process %d, not the warm %d", i, got.PID, pid)
		}
		ids = append(ids, got.ID)
	}
	logs := e.waitLog(t, "END RequestId: "+ids[len(ids)-1])
	for i, id := range ids {
		line := strings.Index(logs, fmt.Sprintf("\t%s\tINFO\tstderr line %d for %s\n", id, i+1, id))
		end := strings.Index(logs, "END RequestId: "+id)
		if line < 0 || end < 0 || line > end {
			t.Fatalf("invocation %d (%s): log line at %d, END at %d", i+1, id, line, end)
		}
	}
	sort.Slice(latencies, func(i, j int) bool { return latencies[i] < latencies[j] })
	t.Logf("%d invocations, 1 KB events, one warm bash process: latency p50 %v, p99 %v (client → emulator → bootstrap → bash and back)",
		n, latencies[n/2], latencies[n*99/100])
}

// TestBashHandlerFaults checks that whatever a bash handler does, its invocation gets one clear
// answer and the next invocation works.
func TestBashHandlerFaults(t *testing.T) {
	script := `
handler() {
  case $1 in
  *'"ok"'*) printf '{"ok":true,"pid":%d}' "$$" ;;
  *'"status"'*) echo "going wrong" >&2; return 3 ;;
  *'"exit"'*) echo "leaving" >&2; exit 4 ;;
  *'"errexit"'*) set -e; false; echo "not reached" ;;
  *'"stdin"'*) cat; read -r line; printf '{"stdin":"%s"}' "$line" ;;
  *'"stdout-noise"'*) exec 5>&1; printf '{"a":1}'; echo "to the log" >&2 ;;
  *'"background"'*) (sleep 0.2; echo late) & printf '{"bg":true}' ;;
  *'"killself"'*) kill -9 $$ ;;
  *'"exec"'*) exec /bin/true ;;
  *'"segv"'*) kill -SEGV $$ ;;
  esac
}
`
	e := startEmulator(t, function{taskDir: writeTask(t, map[string]string{"function.sh": script}), handler: "function.handler"})
	cases := []struct {
		event     string
		wantType  string // "" for a response
		wantBody  string // regexp the body (response) or errorMessage (error) must match
		restarted bool   // the worker is replaced after this case
	}{
		{`{"case":"ok"}`, "", `^\{"ok":true,"pid":\d+\}$`, false},
		{`{"case":"status"}`, "Function.NonZeroExit", `returned status 3\ngoing wrong$`, false},
		{`{"case":"stdin"}`, "", `^\{"stdin":""\}$`, false},
		{`{"case":"stdout-noise"}`, "", `^\{"a":1\}$`, false},
		{`{"case":"exit"}`, "Function.NonZeroExit", `status 4 .*\nleaving$`, true},
		{`{"case":"errexit"}`, "Function.NonZeroExit", `status 1 \(exit or set -e\)`, true},
		{`{"case":"killself"}`, "Runtime.ExitError", `signal killed`, true},
		{`{"case":"exec"}`, "Runtime.ExitError", `exit status 0`, true},
		// bash runs its EXIT trap on a fatal signal, so the adapter answers; the bootstrap adds how the
		// worker then ended.
		{`{"case":"segv"}`, "Function.NonZeroExit", `\(the worker then ended: signal segmentation fault\)`, true},
		{`{"case":"background"}`, "", `^\{"bg":true\}$`, false},
	}
	pid := okPID(t, e)
	for _, c := range cases {
		status, body := e.Invoke(t, []byte(c.event))
		checkResult(t, c.event, status, body, c.wantType, c.wantBody)
		next := okPID(t, e)
		if c.restarted == (next == pid) {
			t.Errorf("%s: worker pid %d → %d, want restarted=%v", c.event, pid, next, c.restarted)
		}
		pid = next
	}
	time.Sleep(300 * time.Millisecond) // the background job's late write
	if _, body := e.Invoke(t, []byte(`{"case":"ok"}`)); strings.Contains(string(body), "late") {
		t.Errorf("a background job's output leaked into a later response: %s", body)
	}
}

// checkResult checks an invocation's outcome: a response whose body matches want (wantType ""), or
// an error of wantType whose message matches want.
func checkResult(t *testing.T, what string, status int, body []byte, wantType, want string) {
	t.Helper()
	if status != 200 {
		t.Errorf("%s: HTTP %d: %s", what, status, body)
		return
	}
	if wantType == "" {
		if !regexp.MustCompile(want).Match(body) {
			t.Errorf("%s: response %s does not match %s", what, body, want)
		}
		return
	}
	var got struct {
		Type    string   `json:"errorType"`
		Message string   `json:"errorMessage"`
		Stack   []string `json:"stackTrace"`
	}
	if err := json.Unmarshal(body, &got); err != nil || got.Type != wantType || !regexp.MustCompile(want).MatchString(got.Message) {
		t.Errorf("%s: got %s; want errorType %s with message matching %s", what, body, wantType, want)
	}
}

func okPID(t *testing.T, e *emulator) int {
	t.Helper()
	status, body := e.Invoke(t, []byte(`{"case":"ok"}`))
	var got struct{ PID int }
	if status != 200 || json.Unmarshal(body, &got) != nil || got.PID == 0 {
		t.Fatalf("ok invocation: status %d, body %s", status, body)
	}
	return got.PID
}

// TestBashHostileEvents round-trips events full of shell syntax and proves none of it ran.
func TestBashHostileEvents(t *testing.T) {
	marker := filepath.Join(t.TempDir(), "pwned")
	e := startEmulator(t, function{
		taskDir: writeTask(t, map[string]string{"function.sh": `handler() { printf '%s' "$1"; }`}),
		handler: "function.handler",
	})
	events := []string{
		fmt.Sprintf(`{"a":"$(touch %s)","b":"`+"`touch %s`"+`","c":"; touch %s;","d":"'\"' \\\"","e":"*","f":"$HOME $((1+1)) ${x:-y}"}`, marker, marker, marker),
		`{"nl":"line1\nline2\r\n","tab":"\t","nul":"\u0000","esc":"\\u0041 \\n \\\\","uni":"héllo wörld ☃ 😀 \ud83d\ude00"}`,
		`[1,-2.5e10,true,false,null,{},[],"",{"deep":[[[[[[[[[[{"x":"y"}]]]]]]]]]]}]`,
		`"just a string"`, `42`, `null`,
		`{"pretty":` + "\n" + `  "json"}`,
	}
	for _, ev := range events {
		status, body := e.Invoke(t, []byte(ev))
		want := ev
		if strings.Contains(ev, "\n  ") {
			want = `{"pretty":"json"}` // raw line breaks between tokens are compacted
		}
		if status != 200 || string(body) != want {
			t.Errorf("event %s: status %d, got %s", ev, status, body)
		}
	}
	if _, err := os.Stat(marker); err == nil {
		t.Fatal("event data was executed: the marker file exists")
	}
	status, body := e.Invoke(t, []byte(`not json`))
	checkResult(t, "non-JSON event", status, body, "Runtime.UnmarshalError", "^Unable to unmarshal input")
}
