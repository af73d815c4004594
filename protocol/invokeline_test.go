package protocol_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/polyboot/polyboot/protocol"
)

// invokeMembers are the members of an invoke line in the order docs/protocol.md fixes.
var invokeMembers = []string{
	"len", "type", "id", "body", "deadline_ms", "invoked_function_arn", "trace_id",
	"client_context", "cognito_identity", "tenant_id", "event",
}

// testBody is the body FIFO path the tests put in invoke lines.
const testBody = "/tmp/polyboot-1234.x_Y-9/17"

// withLen replaces the placeholder NNNNNNNNNN in line with line's length as 10 digits.
func withLen(line string) string {
	return strings.Replace(line, "NNNNNNNNNN", fmt.Sprintf("%010d", len(line)), 1)
}

func TestAppendInvokeLine(t *testing.T) {
	tests := []struct {
		name  string
		inv   protocol.Invocation
		event string
		want  string // with NNNNNNNNNN for the length
	}{
		{
			name: "all members",
			inv: protocol.Invocation{
				RequestID: "8476a536-e9f4-11e8-9739-2dfe598c3fcd", DeadlineMs: 1732640000000,
				FunctionARN:     "arn:aws:lambda:us-east-1:012345678912:function:test_function",
				TraceID:         "Root=1-5bef4de7-ad49b0e87f6ef6c87fc2e700;Parent=9a9197af755a6419;Sampled=1",
				ClientContext:   `{"custom":{"k":"v"}}`,
				CognitoIdentity: `{"cognitoIdentityId":"id","cognitoIdentityPoolId":"pool"}`,
				TenantID:        "tenant-7",
			},
			event: `{"a":1,"b":[true,null]}`,
			want: `{"len":"NNNNNNNNNN","type":"invoke","id":"8476a536-e9f4-11e8-9739-2dfe598c3fcd",` +
				`"body":"/tmp/polyboot-1234.x_Y-9/17",` +
				`"deadline_ms":1732640000000,` +
				`"invoked_function_arn":"arn:aws:lambda:us-east-1:012345678912:function:test_function",` +
				`"trace_id":"Root=1-5bef4de7-ad49b0e87f6ef6c87fc2e700;Parent=9a9197af755a6419;Sampled=1",` +
				`"client_context":"{\"custom\":{\"k\":\"v\"}}",` +
				`"cognito_identity":"{\"cognitoIdentityId\":\"id\",\"cognitoIdentityPoolId\":\"pool\"}",` +
				`"tenant_id":"tenant-7","event":{"a":1,"b":[true,null]}}` + "\n",
		},
		{
			name:  "absent headers are empty strings",
			inv:   protocol.Invocation{RequestID: "r"},
			event: `null`,
			want: `{"len":"NNNNNNNNNN","type":"invoke","id":"r","body":"/tmp/polyboot-1234.x_Y-9/17","deadline_ms":0,"invoked_function_arn":"",` +
				`"trace_id":"","client_context":"","cognito_identity":"","tenant_id":"","event":null}` + "\n",
		},
		{
			name:  "the six short escapes",
			inv:   protocol.Invocation{RequestID: "q\"b\\n\nr\rt\tb\bf\f."},
			event: `"s"`,
			want: `{"len":"NNNNNNNNNN","type":"invoke","id":"q\"b\\n\nr\rt\tb\bf\f.","body":"/tmp/polyboot-1234.x_Y-9/17","deadline_ms":0,` +
				`"invoked_function_arn":"","trace_id":"","client_context":"","cognito_identity":"",` +
				`"tenant_id":"","event":"s"}` + "\n",
		},
		{
			name:  "other control characters as \\u00XX, DEL raw",
			inv:   protocol.Invocation{RequestID: "\x00\x01\x0b\x1b\x1f\x7f"},
			event: `0`,
			want: `{"len":"NNNNNNNNNN","type":"invoke","id":"\u0000\u0001\u000b\u001b\u001f` + "\x7f" +
				`","body":"/tmp/polyboot-1234.x_Y-9/17","deadline_ms":0,"invoked_function_arn":"","trace_id":"","client_context":"",` +
				`"cognito_identity":"","tenant_id":"","event":0}` + "\n",
		},
		{
			name: "non-ASCII and HTML characters raw",
			inv: protocol.Invocation{
				RequestID: "é日本\u2028\u2029😀", TenantID: "<a href='x'>&amp;</a>",
			},
			event: `["é","\u00e9"]`,
			want: `{"len":"NNNNNNNNNN","type":"invoke","id":"é日本` + "\u2028\u2029" + `😀","body":"/tmp/polyboot-1234.x_Y-9/17","deadline_ms":0,` +
				`"invoked_function_arn":"","trace_id":"","client_context":"","cognito_identity":"",` +
				`"tenant_id":"<a href='x'>&amp;</a>","event":["é","\u00e9"]}` + "\n",
		},
		{
			name:  "bytes that are not UTF-8 as U+FFFD",
			inv:   protocol.Invocation{RequestID: "a\xffb\xed\xa0\x80c\xe6\x97", TenantID: "\x80"},
			event: `1`,
			want: `{"len":"NNNNNNNNNN","type":"invoke",` + "\"id\":\"a\uFFFDb\uFFFD\uFFFD\uFFFDc\uFFFD\uFFFD\"" +
				`,"body":"/tmp/polyboot-1234.x_Y-9/17","deadline_ms":0,"invoked_function_arn":"","trace_id":"","client_context":"","cognito_identity":"",` +
				"\"tenant_id\":\"\uFFFD\"" + `,"event":1}` + "\n",
		},
		{
			name: "strings that look like members",
			inv: protocol.Invocation{
				RequestID: `","deadline_ms":1,"x":"`, TraceID: `","event":{}}`, ClientContext: `,",",",`,
			},
			event: `{"k":","}`,
			want: `{"len":"NNNNNNNNNN","type":"invoke","id":"\",\"deadline_ms\":1,\"x\":\"","body":"/tmp/polyboot-1234.x_Y-9/17","deadline_ms":0,` +
				`"invoked_function_arn":"","trace_id":"\",\"event\":{}}","client_context":",\",\",\",",` +
				`"cognito_identity":"","tenant_id":"","event":{"k":","}}` + "\n",
		},
		{
			name:  "negative deadline",
			inv:   protocol.Invocation{RequestID: "r", DeadlineMs: -5},
			event: `{}`,
			want: `{"len":"NNNNNNNNNN","type":"invoke","id":"r","body":"/tmp/polyboot-1234.x_Y-9/17","deadline_ms":-5,"invoked_function_arn":"",` +
				`"trace_id":"","client_context":"","cognito_identity":"","tenant_id":"","event":{}}` + "\n",
		},
		{
			name:  "event written as given, spaces and escapes included",
			inv:   protocol.Invocation{RequestID: "r"},
			event: ` { "a" : [ 1 , "\n\u0041" ] }	`,
			want: `{"len":"NNNNNNNNNN","type":"invoke","id":"r","body":"/tmp/polyboot-1234.x_Y-9/17","deadline_ms":0,"invoked_function_arn":"",` +
				`"trace_id":"","client_context":"","cognito_identity":"","tenant_id":"",` +
				`"event": { "a" : [ 1 , "\n\u0041" ] }	}` + "\n",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := protocol.AppendInvokeLine(nil, &tt.inv, testBody, []byte(tt.event))
			if want := withLen(tt.want); string(got) != want {
				t.Errorf("line\n got %q\nwant %q", got, want)
			}
			checkInvokeLine(t, got, &tt.inv, []byte(tt.event))
		})
	}
}

func TestAppendInvokeLineAppends(t *testing.T) {
	inv := &protocol.Invocation{RequestID: "r1", DeadlineMs: 7}
	first := protocol.AppendInvokeLine(nil, inv, testBody, []byte(`{}`))
	dst := append([]byte("previous bytes"), first...)
	got := protocol.AppendInvokeLine(dst, &protocol.Invocation{RequestID: "r2"}, testBody, []byte(`[1]`))
	if !bytes.HasPrefix(got, dst) {
		t.Fatalf("the bytes already in dst changed: %q", got)
	}
	line := got[len(dst):]
	checkInvokeLine(t, line, &protocol.Invocation{RequestID: "r2"}, []byte(`[1]`))
}

func TestAppendInvokeLineLengthDigits(t *testing.T) {
	for _, n := range []int{0, 1, 1000, 100000, 1 << 20} {
		event := []byte(`"` + strings.Repeat("x", n) + `"`)
		inv := &protocol.Invocation{RequestID: "r"}
		line := protocol.AppendInvokeLine(nil, inv, testBody, event)
		checkInvokeLine(t, line, inv, event)
	}
}

// TestInvokeLineStringsNeverContainCut checks, over many random strings made of the characters
// that matter (quotes, commas, backslashes, control characters, non-ASCII), that no string member
// holds `","` between its quotes and that each can be cut out of the line the way the bash adapter
// does it, at `","<next member>":`.
func TestInvokeLineStringsNeverContainCut(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	alphabet := []string{
		`"`, `,`, `\`, `","`, `":"`, `:`, `{`, `}`, "\n", "\r", "\t", "\b", "\f", "\x00", "\x1f",
		"\x7f", "a", "Z", "0", " ", "é", "日", "\u2028", "😀", `\u00`, `\"`, `u0022`,
	}
	str := func() string {
		var b strings.Builder
		for n := rng.IntN(12); n > 0; n-- {
			b.WriteString(alphabet[rng.IntN(len(alphabet))])
		}
		return b.String()
	}
	for i := 0; i < 1500; i++ {
		inv := &protocol.Invocation{
			RequestID: str(), DeadlineMs: rng.Int64() - rng.Int64(), FunctionARN: str(), TraceID: str(),
			ClientContext: str(), CognitoIdentity: str(), TenantID: str(),
		}
		event, err := json.Marshal(str())
		if err != nil {
			t.Fatal(err)
		}
		line := protocol.AppendInvokeLine(nil, inv, testBody, event)
		checkInvokeLine(t, line, inv, event)
		if t.Failed() {
			t.Fatalf("invocation %d: %+v", i, inv)
		}
	}
}

// checkInvokeLine checks line against every promise docs/protocol.md makes for the invoke line of
// inv carrying event: the 19-byte prefix and its length, one line ending in "}\n", valid JSON with
// the members in order that decodes back to inv and event, and string members that a reader can
// cut at the first `","` and unescape with the six short escapes and \u00XX.
func checkInvokeLine(t testing.TB, line []byte, inv *protocol.Invocation, event []byte) {
	t.Helper()
	if len(line) < 19 || !bytes.HasPrefix(line, []byte(`{"len":"`)) || line[18] != '"' {
		t.Fatalf("line does not start with {\"len\":\"NNNNNNNNNN\": %.40q", line)
	}
	digits := string(line[8:18])
	n, err := strconv.Atoi(digits)
	if err != nil || strings.ContainsAny(digits, "+- ") {
		t.Fatalf("len %q is not 10 decimal digits", digits)
	}
	if n != len(line) {
		t.Errorf("len says %d, the line has %d bytes", n, len(line))
	}
	if !bytes.HasSuffix(line, []byte("}\n")) {
		t.Errorf("line does not end in }\\n: %.40q", line[max(0, len(line)-40):])
	}
	if i := bytes.IndexByte(line, '\n'); i != len(line)-1 {
		t.Errorf("line holds a line break at %d of %d", i, len(line))
	}
	if utf8.Valid(event) && !utf8.Valid(line) {
		t.Errorf("line is not valid UTF-8: %q", line)
	}
	checkDecodes(t, line, inv, event)
	checkCuts(t, line, inv, event)
}

// checkDecodes decodes line as ordinary JSON and compares members, their order, and values.
func checkDecodes(t testing.TB, line []byte, inv *protocol.Invocation, event []byte) {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(line))
	dec.UseNumber()
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		t.Fatalf("line is not a JSON object: %v %v", tok, err)
	}
	var keys []string
	values := map[string]json.RawMessage{}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			t.Fatalf("line is not valid JSON: %v\n%q", err, line)
		}
		key := tok.(string)
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			t.Fatalf("member %q: %v\n%q", key, err, line)
		}
		keys = append(keys, key)
		values[key] = raw
	}
	if tok, err := dec.Token(); err != nil || tok != json.Delim('}') {
		t.Fatalf("line does not close its object: %v %v", tok, err)
	}
	if _, err := dec.Token(); err != io.EOF {
		t.Fatalf("bytes after the object: %v", err)
	}
	if strings.Join(keys, ",") != strings.Join(invokeMembers, ",") {
		t.Fatalf("members\n got %v\nwant %v", keys, invokeMembers)
	}
	want := map[string]string{
		"len": fmt.Sprintf("%010d", len(line)), "type": "invoke", "id": inv.RequestID, "body": testBody,
		"invoked_function_arn": inv.FunctionARN, "trace_id": inv.TraceID,
		"client_context": inv.ClientContext, "cognito_identity": inv.CognitoIdentity,
		"tenant_id": inv.TenantID,
	}
	for key, w := range want {
		var got string
		if err := json.Unmarshal(values[key], &got); err != nil {
			t.Errorf("member %q: %v", key, err)
		} else if got != validUTF8(w) {
			t.Errorf("member %q decodes to %q, want %q", key, got, validUTF8(w))
		}
	}
	if got, want := string(values["deadline_ms"]), strconv.FormatInt(inv.DeadlineMs, 10); got != want {
		t.Errorf("deadline_ms is %s, want %s", got, want)
	}
	if got, want := values["event"], bytes.Trim(event, " \t\r\n"); !bytes.Equal(got, want) {
		t.Errorf("event decodes to %q, want %q", got, want)
	}
}

// checkCuts reads line the way an adapter without a JSON parser does (the bash adapter): a string
// member ends where `","<next member>":` begins, the event runs from after `"event":` to the final
// "}\n". It also checks that no string holds the sequence `","` between its quotes.
func checkCuts(t testing.TB, line []byte, inv *protocol.Invocation, event []byte) {
	t.Helper()
	rest := string(line[19:])
	expect := func(s string) {
		t.Helper()
		if !strings.HasPrefix(rest, s) {
			t.Fatalf("expected %q at %.60q", s, rest)
		}
		rest = rest[len(s):]
	}
	// cutString cuts the string member name, which is followed by member next.
	cutString := func(name, next, want string) {
		t.Helper()
		end := strings.Index(rest, `","`+next+`":`)
		if end < 0 {
			t.Fatalf("member %s: no \",\"%s\": after it", name, next)
		}
		inside := rest[:end]
		if strings.Contains(inside, `","`) {
			t.Errorf("member %s holds \",\": %q", name, inside)
		}
		got, err := unescape(inside)
		if err != nil {
			t.Errorf("member %s: %v in %q", name, err, inside)
		} else if got != validUTF8(want) {
			t.Errorf("member %s cut as %q, want %q", name, got, validUTF8(want))
		}
		rest = rest[end+1:]
	}
	expect(`,"type":"invoke","id":"`)
	cutString("id", "body", inv.RequestID)
	expect(`,"body":"`)
	cutString("body", "deadline_ms", testBody)
	expect(`,"deadline_ms":` + strconv.FormatInt(inv.DeadlineMs, 10) + `,"invoked_function_arn":"`)
	cutString("invoked_function_arn", "trace_id", inv.FunctionARN)
	expect(`,"trace_id":"`)
	cutString("trace_id", "client_context", inv.TraceID)
	expect(`,"client_context":"`)
	cutString("client_context", "cognito_identity", inv.ClientContext)
	expect(`,"cognito_identity":"`)
	cutString("cognito_identity", "tenant_id", inv.CognitoIdentity)
	expect(`,"tenant_id":"`)
	cutString("tenant_id", "event", inv.TenantID)
	expect(`,"event":`)
	if got := strings.TrimSuffix(rest, "}\n"); got != string(event) {
		t.Errorf("event cut as %.60q, want %.60q", got, event)
	}
}

// validUTF8 returns s with each byte that is not part of valid UTF-8 replaced by U+FFFD, as a
// JSON decoder reads it.
func validUTF8(s string) string {
	if utf8.ValidString(s) {
		return s
	}
	var b strings.Builder
	for _, r := range s {
		b.WriteRune(r) // ranging over a string yields U+FFFD for each invalid byte
	}
	return b.String()
}

// unescape decodes the inside of a string member, accepting only the escapes docs/protocol.md
// allows: \" \\ \n \r \t \b \f and \u00XX.
func unescape(s string) (string, error) {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '"':
			return "", errors.New("raw quote")
		case c < 0x20:
			return "", fmt.Errorf("raw control character %#x", c)
		case c != '\\':
			b.WriteByte(c)
			continue
		}
		if i+1 == len(s) {
			return "", errors.New("backslash at the end")
		}
		i++
		switch s[i] {
		case '"', '\\':
			b.WriteByte(s[i])
		case 'n':
			b.WriteByte('\n')
		case 'r':
			b.WriteByte('\r')
		case 't':
			b.WriteByte('\t')
		case 'b':
			b.WriteByte('\b')
		case 'f':
			b.WriteByte('\f')
		case 'u':
			if i+4 >= len(s) || s[i+1:i+3] != "00" {
				return "", fmt.Errorf("escape %q is not \\u00XX", s[i-1:min(len(s), i+5)])
			}
			v, err := strconv.ParseUint(s[i+3:i+5], 16, 8)
			if err != nil || v >= 0x20 {
				return "", fmt.Errorf("escape %q is not a control character", s[i-1:i+5])
			}
			b.WriteByte(byte(v))
			i += 4
		default:
			return "", fmt.Errorf("escape \\%c is not allowed", s[i])
		}
	}
	return b.String(), nil
}

func TestLineString(t *testing.T) {
	for _, s := range []string{"", "plain", "é日本😀", "a\xff\xfeb", "\xed\xa0\x80", "x\xe6\x97", "\x80"} {
		line := protocol.AppendInvokeLine(nil, &protocol.Invocation{RequestID: s}, testBody, []byte("1"))
		var decoded struct {
			ID string `json:"id"`
		}
		if err := json.Unmarshal(line, &decoded); err != nil {
			t.Fatal(err)
		}
		if got := protocol.LineString(s); got != decoded.ID {
			t.Errorf("LineString(%q) = %q, the invoke line decodes to %q", s, got, decoded.ID)
		}
	}
}
