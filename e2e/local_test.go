package e2e

import (
	"bytes"
	"errors"
	"os/exec"
	"strings"
	"testing"

	"github.com/polyboot/polyboot/internal/rietest"
)

// TestLocalInvoke: `bootstrap invoke` runs events through the real adapter with no Runtime API.
func TestLocalInvoke(t *testing.T) {
	task := writeTask(t, map[string]string{
		"function.sh": `n=0
handler() { n=$((n+1)); echo "log $n" >&2; printf '{"n":%d,"event":%s}' "$n" "$1"; }
fail() { return 3; }`,
		"event.json": `{"from":"file"}`,
	})
	cases := []struct {
		args       []string
		stdin      string
		wantOut    string
		wantCode   int
		wantStderr string
	}{
		{[]string{"--handler", "function.handler", "--event", "event.json", "--event", "-"}, `{"from":"stdin"}`,
			`{"n":1,"event":{"from":"file"}}` + "\n" + `{"n":2,"event":{"from":"stdin"}}` + "\n", 0, "\tINFO\tlog 2"},
		{[]string{"--handler", "function.handler"}, "", `{"n":1,"event":{}}` + "\n", 0, "log 1"},
		{[]string{"--handler", "function.fail"}, "", `"errorType":"Function.NonZeroExit"`, 1, ""},
		{[]string{"--handler", "nope.handler"}, "", `"errorType":"Runtime.HandlerNotFound"`, 3, ""},
		{[]string{"--handler", "function.handler", "--event", "missing.json"}, "", "", 2, "missing.json"},
		{[]string{"--bogus"}, "", "", 2, "unknown flag"},
	}
	for _, c := range cases {
		cmd := exec.Command(env.layerDir+"/bootstrap", append([]string{"invoke"}, c.args...)...)
		cmd.Dir = task
		cmd.Env = rietest.CleanEnv()
		cmd.Stdin = strings.NewReader(c.stdin)
		var stdout, stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		err := cmd.Run()
		code := 0
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			code = ee.ExitCode()
		} else if err != nil {
			t.Fatal(err)
		}
		if code != c.wantCode || !strings.Contains(stdout.String(), c.wantOut) || !strings.Contains(stderr.String(), c.wantStderr) {
			t.Errorf("invoke %q: exit %d, stdout %q, stderr %q; want exit %d, stdout with %q, stderr with %q",
				c.args, code, stdout.String(), stderr.String(), c.wantCode, c.wantOut, c.wantStderr)
		}
	}
	out, _ := exec.Command(env.layerDir+"/bootstrap", "invoke", "--help").CombinedOutput()
	for _, want := range []string{"--handler", "--task-root", "--event", "--timeout", "AWS_LAMBDA_LOG_FORMAT", "POLYBOOT_PYTHON", "AWS_LAMBDA_MAX_CONCURRENCY"} {
		if !strings.Contains(string(out), want) {
			t.Errorf("invoke --help does not explain %s", want)
		}
	}
}
