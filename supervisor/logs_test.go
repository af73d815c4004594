package supervisor

import (
	"bytes"
	"fmt"
	"slices"
	"strings"
	"testing"
)

// splitterLog records what a lineSplitter emits.
type splitterLog struct {
	lines []logLine
}

// Log implements LogSink.
func (l *splitterLog) Log(requestID string, line []byte) {
	l.lines = append(l.lines, logLine{id: requestID, text: string(line)})
}

// texts returns the lines' text.
func (l *splitterLog) texts() []string {
	out := make([]string, 0, len(l.lines))
	for _, x := range l.lines {
		out = append(out, x.text)
	}
	return out
}

func TestLineSplitter(t *testing.T) {
	long := strings.Repeat("a", maxLogLine)
	tests := []struct {
		name   string
		chunks []string
		want   []string // emitted before flush
		flush  []string // emitted by flush
	}{
		{name: "one line", chunks: []string{"hello\n"}, want: []string{"hello"}},
		{name: "several lines in a chunk", chunks: []string{"a\nb\nc\n"}, want: []string{"a", "b", "c"}},
		{name: "line across chunks", chunks: []string{"hel", "lo wor", "ld\n"}, want: []string{"hello world"}},
		{name: "newline alone in a chunk", chunks: []string{"abc", "\n", "def", "\n"}, want: []string{"abc", "def"}},
		{name: "empty lines", chunks: []string{"\n\n", "\n"}, want: []string{"", "", ""}},
		{name: "crlf", chunks: []string{"one\r\ntwo\r\n"}, want: []string{"one", "two"}},
		{name: "crlf split across chunks", chunks: []string{"one\r", "\ntwo\r", "\n"}, want: []string{"one", "two"}},
		{name: "lone cr kept", chunks: []string{"a\rb\n"}, want: []string{"a\rb"}},
		{name: "partial line flushed", chunks: []string{"done\nhalf", " a line"}, want: []string{"done"}, flush: []string{"half a line"}},
		{name: "partial crlf flushed", chunks: []string{"text\r"}, flush: []string{"text"}},
		{name: "nothing to flush", chunks: []string{"x\n"}, want: []string{"x"}},
		{name: "line of exactly maxLogLine", chunks: []string{long + "\n"}, want: []string{long}},
		{name: "line of exactly maxLogLine, newline later", chunks: []string{long, "\n"}, want: []string{long}},
		{name: "line of maxLogLine without newline", chunks: []string{long}, flush: []string{long}},
		{name: "line of maxLogLine+1", chunks: []string{long, "b\n"}, want: []string{long, "b"}},
		{name: "cut piece keeps its cr", chunks: []string{long[1:] + "\r", "b\n"}, want: []string{long[1:] + "\r", "b"}},
		{name: "long line cut", chunks: []string{long + long + "tail\n"}, want: []string{long, long, "tail"}},
		{name: "long line cut, pieces across chunks",
			chunks: []string{long[:1000], long[1000:] + "b", "c\n"}, want: []string{long, "bc"}},
		{name: "long line ending in a later chunk",
			chunks: []string{long[:maxLogLine/2], long[maxLogLine/2:] + "xyz\nnext\n"}, want: []string{long, "xyz", "next"}},
		{name: "long line completed by a chunk with its newline",
			chunks: []string{long[:maxLogLine-10], "0123456789ABCDEF\n"}, want: []string{long[:maxLogLine-10] + "0123456789", "ABCDEF"}},
		{name: "long partial line flushed", chunks: []string{long + "rest"}, want: []string{long}, flush: []string{"rest"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sink := &splitterLog{}
			s := &lineSplitter{sink: sink, tag: "req"}
			for _, c := range tt.chunks {
				s.write([]byte(c))
			}
			if got := sink.texts(); !slices.Equal(got, tt.want) {
				t.Errorf("lines = %s, want %s", describe(got), describe(tt.want))
			}
			s.flush()
			if got, want := sink.texts(), append(slices.Clone(tt.want), tt.flush...); !slices.Equal(got, want) {
				t.Errorf("after flush, lines = %s, want %s", describe(got), describe(want))
			}
			for i, l := range sink.lines {
				if l.id != "req" {
					t.Errorf("line %d tagged %q", i, l.id)
				}
				if len(l.text) > maxLogLine {
					t.Errorf("line %d has %d bytes, over maxLogLine", i, len(l.text))
				}
			}
			s.flush()
			if n := len(sink.lines); n != len(tt.want)+len(tt.flush) {
				t.Errorf("a second flush emitted %d more lines", n-len(tt.want)-len(tt.flush))
			}
		})
	}
}

// describe shortens long lines for failure messages.
func describe(lines []string) string {
	out := make([]string, len(lines))
	for i, l := range lines {
		if len(l) > 40 {
			l = fmt.Sprintf("%.20s…(%d bytes)", l, len(l))
		}
		out[i] = fmt.Sprintf("%q", l)
	}
	return "[" + strings.Join(out, " ") + "]"
}

// FuzzLineSplitter checks that however a stream is cut into chunks, the lines are the same, and
// none is longer than maxLogLine.
func FuzzLineSplitter(f *testing.F) {
	f.Add([]byte("a\nb\r\nc"), uint8(1))
	f.Add([]byte("\r\n\r\n\n"), uint8(2))
	f.Add([]byte("no newline at all"), uint8(5))
	f.Fuzz(func(t *testing.T, stream []byte, step uint8) {
		whole := &splitterLog{}
		s := &lineSplitter{sink: whole}
		s.write(stream)
		s.flush()
		chunked := &splitterLog{}
		s = &lineSplitter{sink: chunked}
		n := int(step%16) + 1
		for i := 0; i < len(stream); i += n {
			s.write(stream[i:min(i+n, len(stream))])
		}
		s.flush()
		if !slices.Equal(whole.texts(), chunked.texts()) {
			t.Fatalf("whole %q, in chunks of %d %q", whole.texts(), n, chunked.texts())
		}
		if want := strings.Split(strings.TrimSuffix(string(stream), "\n"), "\n"); len(stream) > 0 {
			for i := range want {
				want[i] = strings.TrimSuffix(want[i], "\r")
			}
			if !slices.Equal(whole.texts(), want) {
				t.Fatalf("lines %q, want %q", whole.texts(), want)
			}
		}
	})
}

func TestLineSplitterRetag(t *testing.T) {
	sink := &splitterLog{}
	s := &lineSplitter{sink: sink}
	s.write([]byte("between invocations\nunfinished"))
	s.retag("req-1")
	s.write([]byte("inside\n"))
	if got := s.lastLines(10); !slices.Equal(got, []string{"inside"}) {
		t.Errorf("tail after retag = %q, want only the new tag's lines", got)
	}
	s.retag("req-2")
	if got := s.lastLines(10); len(got) != 0 {
		t.Errorf("tail after retag = %q, want empty", got)
	}
	want := []logLine{{"", "between invocations"}, {"", "unfinished"}, {"req-1", "inside"}}
	if !slices.Equal(sink.lines, want) {
		t.Errorf("lines = %q, want %q", sink.lines, want)
	}
}

func TestLineSplitterLastLines(t *testing.T) {
	tests := []struct {
		written int // lines written
		n       int // asked for
		want    []int
	}{
		{written: 0, n: 5, want: nil},
		{written: 3, n: 0, want: nil},
		{written: 3, n: 2, want: []int{1, 2}},
		{written: 3, n: 10, want: []int{0, 1, 2}},
		{written: logTailSize, n: logTailSize, want: seq(0, logTailSize)},
		{written: logTailSize + 1, n: 3, want: []int{logTailSize - 2, logTailSize - 1, logTailSize}},
		{written: 123, n: 5, want: seq(118, 123)},
		{written: 123, n: 100, want: seq(123-logTailSize, 123)},
		{written: 2*logTailSize + 7, n: logTailSize, want: seq(logTailSize+7, 2*logTailSize+7)},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%d lines, last %d", tt.written, tt.n), func(t *testing.T) {
			s := &lineSplitter{sink: &splitterLog{}}
			for i := range tt.written {
				s.write(fmt.Appendf(nil, "line %d\n", i))
			}
			var want []string
			for _, i := range tt.want {
				want = append(want, fmt.Sprintf("line %d", i))
			}
			if got := s.lastLines(tt.n); !slices.Equal(got, want) {
				t.Errorf("lastLines(%d) = %q, want %q", tt.n, got, want)
			}
		})
	}
	t.Run("ring reused after retag", func(t *testing.T) {
		s := &lineSplitter{sink: &splitterLog{}}
		for i := range 2*logTailSize + 3 {
			s.write(fmt.Appendf(nil, "old %d\n", i))
		}
		s.retag("next")
		s.write([]byte("new 0\nnew 1\n"))
		if got := s.lastLines(5); !slices.Equal(got, []string{"new 0", "new 1"}) {
			t.Errorf("lastLines = %q", got)
		}
	})
	t.Run("bounded", func(t *testing.T) {
		// 60 lines of maxLogLine bytes are logged whole; the tail keeps 50 × 8 KiB of them.
		sink := &splitterLog{}
		s := &lineSplitter{sink: sink}
		line := append(bytes.Repeat([]byte("z"), maxLogLine), '\n')
		for range 60 {
			s.write(line)
		}
		held := 0
		for _, l := range s.tail {
			held += cap(l)
		}
		if bound := logTailSize * (maxTailLine + 64); held > bound {
			t.Errorf("the tail holds %d bytes, want at most %d", held, bound)
		}
		last := s.lastLines(1)[0]
		if want := strings.Repeat("z", maxTailLine) + fmt.Sprintf(" [… %d bytes truncated]", maxLogLine-maxTailLine); last != want {
			t.Errorf("last tail line: %d bytes ending %q", len(last), last[len(last)-30:])
		}
		if len(sink.lines) != 60 || len(sink.lines[59].text) != maxLogLine {
			t.Errorf("logged %d lines", len(sink.lines))
		}
	})
	t.Run("lines are copies", func(t *testing.T) {
		s := &lineSplitter{sink: &splitterLog{}}
		buf := []byte("first\n")
		s.write(buf)
		copy(buf, "XXXXX")
		if got := s.lastLines(1); !slices.Equal(got, []string{"first"}) {
			t.Errorf("lastLines = %q: the tail aliases the caller's buffer", got)
		}
	})
}

// seq returns the integers from lo up to hi, hi excluded.
func seq(lo, hi int) []int {
	var out []int
	for i := lo; i < hi; i++ {
		out = append(out, i)
	}
	return out
}
