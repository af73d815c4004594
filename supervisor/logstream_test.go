package supervisor

import (
	"context"
	"testing"
	"time"
)

// TestLogStreamPTY: the pseudo-terminal log stream is raw (output passes unchanged, no "\r\n"),
// its master is served by the poller (Sync sees what was written) and the slave's close ends it.
func TestLogStreamPTY(t *testing.T) {
	for _, usePTY := range []bool{false, true} {
		parent, child, err := logStream(usePTY)
		if err != nil {
			t.Fatal(err)
		}
		var got []byte
		p, err := NewPump(parent, func(b []byte) { got = append(got, b...) })
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		for _, chunk := range []string{"one\n", "two\r\n", "three"} {
			if _, err := child.Write([]byte(chunk)); err != nil {
				t.Fatal(err)
			}
		}
		var seen string
		if err := p.Sync(ctx, func() { seen = string(got) }); err != nil {
			t.Errorf("pty=%v: Sync: %v", usePTY, err)
		}
		if want := "one\ntwo\r\nthree"; seen != want {
			t.Errorf("pty=%v: read %q, want %q", usePTY, seen, want)
		}
		child.Close()
		if err := p.Sync(ctx, func() {}); err != nil {
			t.Errorf("pty=%v: Sync after the writer closed: %v", usePTY, err)
		}
		cancel()
		p.Close()
	}
}
