package supervisor

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"slices"
	"sync"
	"syscall"
	"testing"
	"time"
	"unsafe"
)

// pipe returns both ends of a new pipe, closed when the test ends.
func pipe(t *testing.T) (r, w *os.File) {
	t.Helper()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close(); w.Close() })
	return r, w
}

// testPump starts a pump on f that is closed when the test ends.
func testPump(t *testing.T, f *os.File, sink func([]byte)) *Pump {
	t.Helper()
	p, err := NewPump(f, sink)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = p.Close() })
	return p
}

// syncCtx bounds one Sync in a test.
func syncCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func TestPumpSyncSeesEveryByteWrittenBefore(t *testing.T) {
	r, w := pipe(t)
	var got int // owned by the pump's goroutine
	p := testPump(t, r, func(b []byte) { got += len(b) })
	rng := rand.New(rand.NewPCG(1, 2))
	written := 0
	for round := range 500 {
		// Chunks from one byte to several times the pipe's capacity, so some writes block until
		// the pump reads and others sit in the pipe when Sync is called.
		for range rng.IntN(4) {
			n := 1 + rng.IntN(1<<rng.IntN(19))
			if _, err := w.Write(make([]byte, n)); err != nil {
				t.Fatal(err)
			}
			written += n
		}
		var seen int
		if err := p.Sync(syncCtx(t), func() { seen = got }); err != nil {
			t.Fatalf("round %d: Sync: %v", round, err)
		}
		if seen != written {
			t.Fatalf("round %d: the sink had %d bytes when Sync's function ran, %d were written before", round, seen, written)
		}
	}
}

func TestPumpSyncConcurrentWriters(t *testing.T) {
	r, w := pipe(t)
	counts := make(map[byte]int) // owned by the pump's goroutine
	p := testPump(t, r, func(b []byte) {
		for _, c := range b {
			counts[c]++
		}
	})
	const writers = 4
	var wg sync.WaitGroup
	errs := make(chan error, writers)
	for k := range writers {
		wg.Go(func() {
			c := byte('a' + k)
			written := 0
			for round := range 200 {
				n := 1 + (round*97+k*13)%20000
				if _, err := w.Write(slices.Repeat([]byte{c}, n)); err != nil {
					errs <- err
					return
				}
				written += n
				var seen int
				if err := p.Sync(context.Background(), func() { seen = counts[c] }); err != nil {
					errs <- err
					return
				}
				if seen != written {
					errs <- fmt.Errorf("writer %c round %d: sink saw %d of the %d bytes written before Sync", c, round, seen, written)
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

func TestPumpSyncAfterEOF(t *testing.T) {
	r, w := pipe(t)
	var got []byte
	p := testPump(t, r, func(b []byte) { got = append(got, b...) })
	if _, err := w.Write([]byte("last words")); err != nil {
		t.Fatal(err)
	}
	w.Close()
	for i := range 3 {
		ran := false
		var seen string
		if err := p.Sync(syncCtx(t), func() { ran, seen = true, string(got) }); err != nil {
			t.Fatalf("Sync %d after EOF: %v", i, err)
		}
		if !ran || seen != "last words" {
			t.Fatalf("Sync %d after EOF: ran %v, sink had %q", i, ran, seen)
		}
	}
}

func TestPumpSyncContext(t *testing.T) {
	r, _ := pipe(t)
	p := testPump(t, r, func([]byte) {})
	// Occupy the pump's goroutine, so that the next Sync can only end by its context.
	busy, block := make(chan struct{}), make(chan struct{})
	defer close(block)
	go func() { _ = p.Sync(context.Background(), func() { close(busy); <-block }) }()
	<-busy
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	// The function may still run once the pump is free: a Sync that gave up does not withdraw it.
	if err := p.Sync(ctx, func() {}); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Sync = %v, want a context.DeadlineExceeded", err)
	}
}

func TestPumpClose(t *testing.T) {
	r, w := pipe(t)
	p, err := NewPump(r, func([]byte) {})
	if err != nil {
		t.Fatal(err)
	}
	// The pump is blocked reading an idle pipe whose write end is open: only Close ends it.
	closed := make(chan error, 1)
	go func() { closed <- p.Close() }()
	select {
	case err := <-closed:
		if err != nil {
			t.Errorf("Close: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Close did not unblock the pump's read")
	}
	if err := p.Sync(syncCtx(t), func() { t.Errorf("function ran on a closed pump") }); err == nil {
		t.Errorf("Sync on a closed pump succeeded")
	}
	if _, err := w.Write([]byte("x")); !errors.Is(err, syscall.EPIPE) {
		t.Errorf("write after Close = %v, want EPIPE: the pump did not close its file", err)
	}
}

// openPty returns a new pseudo-terminal's master and slave.
func openPty(t *testing.T) (master, slave *os.File) {
	t.Helper()
	master, err := os.OpenFile("/dev/ptmx", os.O_RDWR|syscall.O_NOCTTY|syscall.O_CLOEXEC, 0)
	if err != nil {
		t.Skipf("no pseudo-terminals here: %v", err)
	}
	t.Cleanup(func() { master.Close() })
	var unlock int32
	var n uint32
	if err := ioctl(master, syscall.TIOCSPTLCK, unsafe.Pointer(&unlock)); err != nil {
		t.Fatalf("unlockpt: %v", err)
	}
	if err := ioctl(master, syscall.TIOCGPTN, unsafe.Pointer(&n)); err != nil {
		t.Fatalf("ptsname: %v", err)
	}
	slave, err = os.OpenFile(fmt.Sprintf("/dev/pts/%d", n), os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		t.Skipf("opening the pty slave: %v", err)
	}
	t.Cleanup(func() { slave.Close() })
	return master, slave
}

// ioctl runs one ioctl with a pointer argument on f.
func ioctl(f *os.File, req uint, arg unsafe.Pointer) error {
	raw, err := f.SyscallConn()
	if err != nil {
		return fmt.Errorf("ioctl: %w", err)
	}
	var errno syscall.Errno
	if err := raw.Control(func(fd uintptr) {
		_, _, errno = syscall.Syscall(syscall.SYS_IOCTL, fd, uintptr(req), uintptr(arg))
	}); err != nil {
		return fmt.Errorf("ioctl: %w", err)
	}
	if errno != 0 {
		return fmt.Errorf("ioctl %#x: %w", req, errno)
	}
	return nil
}

func TestPumpPty(t *testing.T) {
	master, slave := openPty(t)
	sink := &splitterLog{}
	split := &lineSplitter{sink: sink}
	p := testPump(t, master, split.write)
	if _, err := slave.Write([]byte("through a terminal\nsecond\n")); err != nil {
		t.Fatal(err)
	}
	// The terminal turns "\n" into "\r\n"; the splitter takes that as a line end.
	var got []string
	for deadline := time.Now().Add(10 * time.Second); len(got) < 2 && time.Now().Before(deadline); {
		if err := p.Sync(syncCtx(t), func() { got = sink.texts() }); err != nil {
			t.Fatal(err)
		}
	}
	if want := []string{"through a terminal", "second"}; !slices.Equal(got, want) {
		t.Errorf("lines = %q, want %q", got, want)
	}
	// With the slave closed, the master reads EIO: the end of the stream, after which Sync
	// still runs its function.
	slave.Close()
	ran := false
	if err := p.Sync(syncCtx(t), func() { ran = true }); err != nil || !ran {
		t.Errorf("Sync after the slave closed: %v, ran %v", err, ran)
	}
}

func TestPumpPtyClose(t *testing.T) {
	master, _ := openPty(t)
	p, err := NewPump(master, func([]byte) {})
	if err != nil {
		t.Fatal(err)
	}
	closed := make(chan error, 1)
	go func() { closed <- p.Close() }()
	select {
	case <-closed:
	case <-time.After(10 * time.Second):
		t.Fatal("Close did not unblock a read on a pty master")
	}
}
