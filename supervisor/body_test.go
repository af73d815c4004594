package supervisor

import (
	"bytes"
	"context"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// TestBodyFifoReader checks when a collected body gets a reader goroutine: at once only for a pipe
// the kernel would not enlarge; never for a body that fits the pipe (its writer does not wait, and
// end takes it from the pipe); for a body longer than the pipe, when the invocation asks for one
// (needsReader, after bodyReaderAfter), its writer waiting until then. The body is whole in every
// case.
func TestBodyFifoReader(t *testing.T) {
	tests := []struct {
		name         string
		size         int
		small        bool // the pipe could not be enlarged
		readerAtOnce bool // start starts the reader
	}{
		{"small body", 100, false, false},
		{"body filling the pipe", pipeSize, false, false},
		{"small pipe", 100, true, true},
		{"body longer than the pipe", 3 * pipeSize, false, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir, err := newBodyDir()
			if err != nil {
				t.Fatal(err)
			}
			defer dir.remove()
			b, err := dir.newFifo()
			if err != nil {
				t.Fatal(err)
			}
			defer b.retire()
			if !b.big {
				t.Fatalf("the FIFO's pipe was not enlarged to %d bytes", pipeSize)
			}
			b.big = !tt.small
			sink := newBodySink(nil, nil, false)
			if err := b.start(sink, make([]byte, pumpBufferSize)); err != nil {
				t.Fatal(err)
			}
			if atOnce := b.pump != nil; atOnce != tt.readerAtOnce {
				t.Errorf("start started a reader: %v, want %v", atOnce, tt.readerAtOnce)
			}
			want := bytes.Repeat([]byte("b"), tt.size)
			written := make(chan error, 1)
			go func() { written <- writeFifo(b.path, want) }() // as the adapter would
			if tt.size > pipeSize {
				// The writer waits for a reader: the invocation starts one, as exchange does
				// once it has run for bodyReaderAfter.
				if !b.needsReader() {
					t.Fatal("a body longer than the pipe, and no reader to be started")
				}
				if err := b.startReader(); err != nil {
					t.Fatal(err)
				}
			}
			select {
			case err := <-written: // with no reader, when the body fits the pipe
				if err != nil {
					t.Fatal(err)
				}
			case <-time.After(10 * time.Second):
				t.Fatal("the body's writer is still blocked after 10s")
			}
			if err := b.end(context.Background()); err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(sink.buf, want) {
				t.Errorf("body of %d bytes, want %d", len(sink.buf), len(want))
			}
		})
	}
}

// writeFifo opens the FIFO at path for writing, writes b and closes it.
func writeFifo(path string, b []byte) error {
	fd, err := unix.Open(path, unix.O_WRONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	for len(b) > 0 {
		n, err := unix.Write(fd, b)
		if err != nil {
			return err
		}
		b = b[n:]
	}
	return nil
}
