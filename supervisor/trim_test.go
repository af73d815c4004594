package supervisor

import (
	"strings"
	"testing"
)

func TestNewlineTrimmer(t *testing.T) {
	t.Parallel()
	// What bash's $(...) makes of the same output: trailing "\n" bytes go, nothing else.
	tests := []struct {
		name   string
		chunks []string
		want   string
	}{
		{name: "nothing", chunks: nil, want: ""},
		{name: "empty writes", chunks: []string{"", ""}, want: ""},
		{name: "one newline", chunks: []string{"a\n"}, want: "a"},
		{name: "several newlines", chunks: []string{"a\n\n\n"}, want: "a"},
		{name: "only newlines", chunks: []string{"\n\n", "\n"}, want: ""},
		{name: "inner newlines kept", chunks: []string{"a\n\nb\n"}, want: "a\n\nb"},
		{name: "leading newlines kept", chunks: []string{"\n\na"}, want: "\n\na"},
		{name: "held newlines released by a later chunk", chunks: []string{"a\n", "\n", "b\n"}, want: "a\n\nb"},
		{name: "newlines split across chunks", chunks: []string{"a", "\n", "\n", ""}, want: "a"},
		{name: "carriage return kept", chunks: []string{"a\r\n"}, want: "a\r"},
		{name: "no newline", chunks: []string{"ab", "cd"}, want: "abcd"},
		{name: "more held than one release piece", chunks: []string{"x", strings.Repeat("\n", 1000), "y\n"}, want: "x" + strings.Repeat("\n", 1000) + "y"},
		{name: "many newlines at the end", chunks: []string{"x", strings.Repeat("\n", 100000)}, want: "x"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got strings.Builder
			var emptyEmits int
			tr := newNewlineTrimmer(func(b []byte) {
				if len(b) == 0 {
					emptyEmits++
				}
				got.Write(b)
			})
			for _, c := range tt.chunks {
				tr.write([]byte(c))
			}
			if got.String() != tt.want {
				t.Errorf("got %q, want %q", got.String(), tt.want)
			}
			if emptyEmits > 0 {
				t.Errorf("%d empty writes passed on", emptyEmits)
			}
		})
	}
}
