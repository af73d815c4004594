package protocol

import (
	"encoding/json"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestValidJSON(t *testing.T) {
	cases := []struct {
		in         string
		valid, lbs bool
	}{
		{`{}`, true, false}, {`[]`, true, false}, {`""`, true, false}, {`0`, true, false},
		{`-0.5e+10`, true, false}, {`true`, true, false}, {`null`, true, false},
		{` {"a" : [1, {"b":null}] } `, true, false},
		{"{\n  \"a\": 1\r\n}", true, true},
		{`{"a":"\u00e9\n\"\\\/"}`, true, false},
		{`[[[[[[[[[[]]]]]]]]]]`, true, false},
		{`{"a":1,}`, false, false}, {`[1,]`, false, false}, {`{"a"}`, false, false},
		{`{1:2}`, false, false}, {`01`, false, false}, {`1.`, false, false}, {`1e`, false, false},
		{`-`, false, false}, {`"\x"`, false, false}, {`"\u12g4"`, false, false}, {"\"a\nb\"", false, false},
		{`tru`, false, false}, {`nul`, false, false}, {`{} {}`, false, false}, {``, false, false},
		{`[}`, false, false}, {`{]`, false, false}, {`"unterminated`, false, false},
		{"\"\xff\"", false, false}, {`[1 2]`, false, false}, {`{"a":1 "b":2}`, false, false},
	}
	for _, c := range cases {
		valid, lbs := validJSON([]byte(c.in))
		if valid != c.valid || (valid && lbs != c.lbs) {
			t.Errorf("validJSON(%q) = %v, %v; want %v, %v", c.in, valid, lbs, c.valid, c.lbs)
		}
		if want := json.Valid([]byte(c.in)) && utf8.ValidString(c.in); valid != want {
			t.Errorf("validJSON(%q) = %v, encoding/json says %v", c.in, valid, want)
		}
	}
	deep := strings.Repeat("[", 100000) + strings.Repeat("]", 100000)
	if v, _ := validJSON([]byte(deep)); !v {
		t.Error("deep nesting rejected")
	}
}

// FuzzValidJSON: validJSON agrees with encoding/json.Valid plus a UTF-8 check, on any input.
func FuzzValidJSON(f *testing.F) {
	for _, s := range []string{`{"a":[1,2.5e-3,true,null,"x\u0041"]}`, "[\n]", `"\\"`, `-0`, `{"":{}}`, "\"\xe2\x82\xac\""} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		valid, lbs := validJSON(b)
		if want := json.Valid(b) && utf8.Valid(b); valid != want {
			t.Fatalf("validJSON(%q) = %v, want %v", b, valid, want)
		}
		if valid && lbs != strings.ContainsAny(string(b), "\r\n") {
			t.Fatalf("validJSON(%q) line breaks = %v", b, lbs)
		}
	})
}

func BenchmarkValidJSON6MB(b *testing.B) {
	ev := []byte(`{"data":"` + strings.Repeat("0123456789abcdef", 6*1024*1024/16-64) + `"}`)
	b.SetBytes(int64(len(ev)))
	for i := 0; i < b.N; i++ {
		if v, _ := validJSON(ev); !v {
			b.Fatal("invalid")
		}
	}
}
