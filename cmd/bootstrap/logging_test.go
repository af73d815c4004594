package main

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
)

func TestParseRecord(t *testing.T) {
	cases := []struct {
		line, level, message string
		formatted            bool
	}{
		{"plain line", "INFO", "plain line", false},
		{"[ERROR]\t2026-01-01T00:00:00.000Z\treq-1\tboom\rTraceback", "ERROR", "boom\rTraceback", true},
		{"[WARNING]\tts\tid\twarned", "WARN", "warned", true},
		{"[CRITICAL]\tts\tid\tdown", "FATAL", "down", true},
		{"[NOTALEVEL]\tts\tid\tx", "INFO", "[NOTALEVEL]\tts\tid\tx", false},
		{"[INFO]\tonly two\tfields", "INFO", "[INFO]\tonly two\tfields", false},
		{"[INFO] no tab", "INFO", "[INFO] no tab", false},
		{"[", "INFO", "[", false},
	}
	for _, c := range cases {
		level, msg, formatted := parseRecord([]byte(c.line))
		if level != c.level || string(msg) != c.message || formatted != c.formatted {
			t.Errorf("parseRecord(%q) = %q, %q, %v; want %q, %q, %v", c.line, level, msg, formatted, c.level, c.message, c.formatted)
		}
	}
}

func TestHandlerLogSink(t *testing.T) {
	cases := []struct {
		format, level string
		lines         []string
		want          []string // substrings of the output lines, in order; "" = nothing written
	}{
		{"", "", []string{"hello"}, []string{"\treq\tINFO\thello\n"}},
		{"", "", []string{"[ERROR]\tts\treq\tboom"}, []string{"[ERROR]\tts\treq\tboom\n"}},
		{"", "WARN", []string{"hello", "[WARN]\tts\treq\tw"}, []string{"[WARN]\tts\treq\tw\n"}},
		{"JSON", "", []string{"hello <b>"}, []string{`"level":"INFO","requestId":"req","message":"hello <b>"}`}},
		{"json", "", []string{"[ERROR]\tts\treq\tline1\rline2"}, []string{`"level":"ERROR","requestId":"req","message":"line1\nline2"}`}},
		{"JSON", "ERROR", []string{"hello", "[WARNING]\tts\treq\tw"}, nil},
		// Text logs without AWS_LAMBDA_LOG_LEVEL filter nothing, as on Lambda; JSON logs default to INFO.
		{"", "", []string{"[DEBUG]\tts\treq\td"}, []string{"[DEBUG]\tts\treq\td\n"}},
		{"Text", "", []string{"[DEBUG]\tts\treq\td"}, []string{"[DEBUG]\tts\treq\td\n"}},
		{"", "INFO", []string{"[DEBUG]\tts\treq\td", "i"}, []string{"\treq\tINFO\ti\n"}},
		{"JSON", "", []string{"[DEBUG]\tts\treq\td", "i"}, []string{`"level":"INFO","requestId":"req","message":"i"}`}},
	}
	for _, c := range cases {
		var out bytes.Buffer
		sink := newHandlerLogSink(&out, newLogSettings(c.format, c.level))
		for _, l := range c.lines {
			sink.Log("req", []byte(l))
		}
		got := strings.SplitAfter(out.String(), "\n")
		if got[len(got)-1] == "" {
			got = got[:len(got)-1]
		}
		if len(got) != len(c.want) {
			t.Errorf("%s/%s %q: wrote %q, want %d lines", c.format, c.level, c.lines, out.String(), len(c.want))
			continue
		}
		for i, w := range c.want {
			if !strings.Contains(got[i], w) {
				t.Errorf("%s/%s: line %q lacks %q", c.format, c.level, got[i], w)
			}
			if strings.EqualFold(c.format, "json") {
				var rec map[string]string
				if err := json.Unmarshal([]byte(got[i]), &rec); err != nil || rec["timestamp"] == "" {
					t.Errorf("not a JSON record: %q", got[i])
				}
			}
		}
	}
}

func TestConcurrency(t *testing.T) {
	for _, c := range []struct {
		in   string
		want int
		ok   bool
	}{{"", 1, true}, {"1", 1, true}, {"8", 8, true}, {"0", 0, false}, {"-2", 0, false}, {"x", 0, false}, {"5000", 0, false}} {
		got, err := concurrency(c.in)
		if got != c.want || (err == nil) != c.ok {
			t.Errorf("concurrency(%q) = %d, %v", c.in, got, err)
		}
	}
}

func TestParseFlags(t *testing.T) {
	e := newEnv([]string{"_HANDLER=function.handler", "POLYBOOT_TIMEOUT_MARGIN_MS=120", "POLYBOOT_ENABLE_SIGTERM=true", "AWS_LAMBDA_RUNTIME_API=127.0.0.1:9001"})
	var stderr bytes.Buffer
	o, err := parseFlags(nil, e, &stderr)
	if err != nil || o.handler != "function.handler" || o.margin.Milliseconds() != 120 || !o.sigterm || o.api != "127.0.0.1:9001" {
		t.Errorf("from the environment: %+v, %v", o, err)
	}
	o, err = parseFlags([]string{"--handler", "other.fn", "--timeout-margin", "1s"}, e, &stderr)
	if err != nil || o.handler != "other.fn" || o.margin.Seconds() != 1 {
		t.Errorf("flags over the environment: %+v, %v", o, err)
	}
	for _, bad := range []string{"soon", "12abc", "-5"} {
		if _, err := parseFlags(nil, newEnv([]string{"POLYBOOT_TIMEOUT_MARGIN_MS=" + bad}), &stderr); err == nil {
			t.Errorf("POLYBOOT_TIMEOUT_MARGIN_MS=%s was accepted", bad)
		}
	}
}
