package adapters_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"unicode/utf8"
)

// jsonCases is hostile text for the bash JSON helpers (adapters/bash/json.sh). bash cannot hold a
// NUL byte, so none has one.
func jsonCases() map[string][]byte {
	var all []byte
	for b := 1; b < 256; b++ {
		all = append(all, byte(b))
	}
	cases := map[string][]byte{
		"empty":       {},
		"every-byte":  all,
		"quotes":      []byte(`"'\"\\\\\u0041 \n` + "`$(x)`"),
		"newlines":    []byte("a\nb\r\nc\n\n\n"),
		"controls":    []byte("\x01\x02\x07\x08\x09\x0a\x0b\x0c\x0d\x1b\x1f\x7f"),
		"unicode":     []byte("héllo wörld ☃ 😀 日本語 \u2028\u2029 \uffff \U0010ffff"),
		"invalid":     []byte("\x80 \xbf \xc0\x80 \xc1\xbf \xe0\x80\x80 \xed\xa0\x80 \xed\xbf\xbf \xf0\x80\x80\x80 \xf4\x90\x80\x80 \xf5\x80\x80\x80 \xff\xfe \xe3\x81 \xf0\x9f\x98 end\xc3"),
		"huge-ascii":  bytes.Repeat([]byte("0123456789abcdef\"\\\n"), 50000),
		"huge-mixed":  bytes.Repeat([]byte("héllo \"wörld\"\\ ☃ 😀 \xff\xc3 日本語\x01\n"), 3000),
		"block-edges": bytes.Repeat([]byte("abc😀"), 2000), // sequences cut by the 1 KB blocks
	}
	for i := 0; i < 5; i++ {
		cases[fmt.Sprintf("every-byte-shifted-%d", i)] = append(bytes.Repeat([]byte("x"), 1020+i), all...)
	}
	return cases
}

// wantJSONString is what lambda_json_string must give text, decoded: each byte outside a valid
// UTF-8 sequence replaced by U+FFFD.
func wantJSONString(text []byte) string {
	var b strings.Builder
	for len(text) > 0 {
		r, n := utf8.DecodeRune(text)
		b.WriteRune(r) // RuneError (U+FFFD) for an invalid byte, with n == 1
		text = text[n:]
	}
	return b.String()
}

// runBashJSON runs script with adapters/bash/json.sh sourced and the case files in dir; with
// strace, under strace -f recording every process or program it starts, in trace.
func runBashJSON(t *testing.T, dir, script string, trace string) {
	t.Helper()
	lib, err := filepath.Abs(filepath.Join("bash", "json.sh"))
	if err != nil {
		t.Fatal(err)
	}
	args := []string{"bash", "--noprofile", "--norc", "-c", "source \"$1\" && cd \"$2\" && " + script, "-", lib, dir}
	if trace != "" {
		args = append([]string{"strace", "-f", "-qq", "-e", "trace=fork,vfork,clone,clone3,execve", "-o", trace}, args...)
	}
	cmd := exec.Command(args[0], args[1:]...)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%s: %v\n%s", strings.Join(args[:3], " "), err, out)
	}
}

// TestBashJSONString escapes hostile text with lambda_json_string and parses every result with
// encoding/json; it also proves, with strace, that the helpers start no process.
func TestBashJSONString(t *testing.T) {
	if _, err := exec.LookPath("strace"); err != nil {
		t.Fatal("*** strace is not installed (apt-get install strace; .ci/run does): cannot prove that the JSON helpers fork nothing ***")
	}
	dir := t.TempDir()
	cases := jsonCases()
	for name, text := range cases {
		if err := os.WriteFile(filepath.Join(dir, name+".in"), text, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	trace := filepath.Join(dir, "strace.out")
	runBashJSON(t, dir, `for f in *.in; do IFS= read -r -d '' text <"$f"; lambda_json_string out "$text"; printf '%s' "$out" >"${f%.in}.json"; done`, trace)
	for name, text := range cases {
		got, err := os.ReadFile(filepath.Join(dir, name+".json"))
		if err != nil {
			t.Fatal(err)
		}
		if !utf8.Valid(got) || !json.Valid(got) {
			t.Errorf("%s: not valid UTF-8 JSON: %.300q", name, got)
			continue
		}
		var s string
		if err := json.Unmarshal(got, &s); err != nil {
			t.Errorf("%s: %v", name, err)
		} else if want := wantJSONString(text); s != want {
			t.Errorf("%s: decodes to %.200q, want %.200q", name, s, want)
		}
		if regexp.MustCompile(`[\x00-\x1f]`).Match(got) {
			t.Errorf("%s: a raw control byte in the output", name)
		}
	}
	checkNoForks(t, trace)
}

// checkNoForks fails unless the strace log shows one execve (bash itself) and no other process.
func checkNoForks(t *testing.T, trace string) {
	t.Helper()
	log, err := os.ReadFile(trace)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(string(log)), "\n")
	var execs, forks []string
	for _, l := range lines {
		switch {
		case strings.Contains(l, "execve("):
			execs = append(execs, l)
		case regexp.MustCompile(`\b(fork|vfork|clone|clone3)\(`).MatchString(l):
			forks = append(forks, l)
		}
	}
	if len(execs) != 1 || len(forks) != 0 {
		t.Errorf("the helpers started processes: %d execve (want 1: bash), forks/clones %q", len(execs), forks)
	}
}

// TestBashHTTPResponse builds API Gateway / function URL responses with lambda_http_response and
// checks them with encoding/json, with no process started.
func TestBashHTTPResponse(t *testing.T) {
	if _, err := exec.LookPath("strace"); err != nil {
		t.Fatal("*** strace is not installed (apt-get install strace; .ci/run does): cannot prove that the JSON helpers fork nothing ***")
	}
	dir := t.TempDir()
	trace := filepath.Join(dir, "strace.out")
	body := "line 1\n\"quoted\" \\ é \xff\x01"
	if err := os.WriteFile(filepath.Join(dir, "body"), []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	runBashJSON(t, dir, `IFS= read -r -d '' b <body
lambda_http_response r 201 "$b" Content-Type 'text/plain; charset=utf-8' 'X-Odd"Name' $'v\n2'; printf '%s' "$r" >plain.json
lambda_http_response -b r 200 aGVsbG8=; printf '%s' "$r" >b64.json
lambda_http_response r 404 ''; printf '%s' "$r" >empty.json
if lambda_http_response r 99 x 2>err1; then echo bad-status-accepted >&2; exit 1; fi
if lambda_http_response r 200 x Lonely 2>err2; then echo odd-header-accepted >&2; exit 1; fi`, trace)
	type response struct {
		StatusCode      int               `json:"statusCode"`
		Headers         map[string]string `json:"headers"`
		Body            string            `json:"body"`
		IsBase64Encoded *bool             `json:"isBase64Encoded"`
	}
	tru := true
	cases := map[string]response{
		"plain": {201, map[string]string{"Content-Type": "text/plain; charset=utf-8", `X-Odd"Name`: "v\n2"}, wantJSONString([]byte(body)), nil},
		"b64":   {200, map[string]string{}, "aGVsbG8=", &tru},
		"empty": {404, map[string]string{}, "", nil},
	}
	for name, want := range cases {
		raw, err := os.ReadFile(filepath.Join(dir, name+".json"))
		if err != nil {
			t.Fatal(err)
		}
		var got response
		dec := json.NewDecoder(bytes.NewReader(raw))
		dec.DisallowUnknownFields()
		if !utf8.Valid(raw) || dec.Decode(&got) != nil {
			t.Errorf("%s: not a valid response: %s", name, raw)
			continue
		}
		if fmt.Sprint(got.StatusCode, got.Headers, got.Body) != fmt.Sprint(want.StatusCode, want.Headers, want.Body) ||
			(got.IsBase64Encoded == nil) != (want.IsBase64Encoded == nil) {
			t.Errorf("%s: got %s", name, raw)
		}
	}
	for _, f := range []string{"err1", "err2"} {
		if msg, _ := os.ReadFile(filepath.Join(dir, f)); !bytes.Contains(msg, []byte("lambda_http_response:")) {
			t.Errorf("%s: no usage error message: %q", f, msg)
		}
	}
	checkNoForks(t, trace)
}
