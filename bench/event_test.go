package bench

import (
	"bytes"
	"encoding/json"
	"testing"

	"github.com/polyboot/polyboot/protocol"
)

// TestLargeEvents checks the large event shapes: exact size, valid JSON, and the shape each is
// for (the string's non-ASCII text and escapes, the nesting's depth).
func TestLargeEvents(t *testing.T) {
	for _, tt := range []struct {
		name string
		make func(int) ([]byte, error)
		want []string
	}{
		{"string", StringEvent, []string{"é", `\"`, `\\`, `{"source": "polybench", "text": "`}},
		{"nested", NestedEvent, []string{`{"depth": 0, "records": [{"id": 0, `, `"next": {"depth": 500, `}},
	} {
		for _, size := range []int{256 << 10, EventSize5MB} {
			ev, err := tt.make(size)
			if err != nil {
				t.Fatalf("%s(%d): %v", tt.name, size, err)
			}
			if len(ev) != size || !json.Valid(ev) {
				t.Errorf("%s(%d): %d bytes, valid JSON: %v", tt.name, size, len(ev), json.Valid(ev))
			}
			for _, w := range tt.want {
				if !bytes.Contains(ev, []byte(w)) {
					t.Errorf("%s(%d) lacks %q", tt.name, size, w)
				}
			}
		}
	}
	ev, _ := NestedEvent(EventSize5MB)
	depth, deepest := 0, 0
	for _, c := range ev {
		switch c {
		case '{':
			depth++
			deepest = max(deepest, depth)
		case '}':
			depth--
		}
	}
	if deepest != NestedDepth+2 { // the levels, and a record inside the deepest one
		t.Errorf("nested event %d objects deep, want %d", deepest, NestedDepth+2)
	}
	if _, err := NestedEvent(1024); err == nil {
		t.Error("NestedEvent(1024) did not fail: too small for its levels")
	}
}

// TestEvent checks the benchmark events: exact size, valid JSON, json.dumps' separators.
func TestEvent(t *testing.T) {
	for _, size := range []int{64, 100, 1024, 1024 * 1024} {
		ev := mustEvent(t, size)
		if len(ev) != size {
			t.Errorf("Event(%d) has %d bytes", size, len(ev))
		}
		if _, err := protocol.PrepareEvent(ev); err != nil {
			t.Errorf("Event(%d): %v", size, err)
		}
		if size >= 1024 && !bytes.Contains(ev, []byte(`}, {"id": `)) {
			t.Errorf("Event(%d) lacks json.dumps' separators: %.80s", size, ev)
		}
	}
	if _, err := Event(10); err == nil {
		t.Error("Event(10) did not fail")
	}
}
