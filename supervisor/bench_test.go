package supervisor

import (
	"context"
	"slices"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/polyboot/polyboot/protocol"
)

// BenchmarkWorkerInvoke measures a warm invocation through the fake worker: the supervisor's
// whole round trip (body FIFO included) plus the fake worker's own work, which is the same under
// every protocol version (run it on an older tree to compare). The median is reported as p50-ns,
// as make bench reports a warm invocation's p50.
func BenchmarkWorkerInvoke(b *testing.B) {
	w := NewWorker(testSpawner, Config{
		Argv: []string{testExe, "fake-worker"},
		Dir:  b.TempDir(),
		Env:  append(helperEnv(), workerEnv+"=ready"),
		Logs: LogSinkFunc(func(string, []byte) {}),
	})
	defer w.Close()
	inv := &protocol.Invocation{RequestID: "bench", Payload: []byte(`{"k":"v"}`)}
	ctx := context.Background()
	if _, err := w.Invoke(ctx, inv); err != nil {
		b.Fatal(err)
	}
	took := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		start := time.Now()
		ictx, cancel := context.WithTimeout(ctx, 10*time.Second)
		body, err := w.Invoke(ictx, inv)
		cancel()
		took = append(took, time.Since(start))
		if err != nil || string(body) != `{"k":"v"}` {
			b.Fatalf("body %q, error %v", body, err)
		}
	}
	slices.Sort(took)
	b.ReportMetric(float64(took[len(took)/2].Nanoseconds()), "p50-ns")
}

// BenchmarkBodyFIFO measures what protocol 2 adds to an invocation in the bootstrap: take the
// FIFO made ahead and take a small body from it at the reply (a body that fits the pipe needs no
// reader goroutine), then close and unlink it and make the next one, which Invoke does while the
// worker runs the handler.
func BenchmarkBodyFIFO(b *testing.B) {
	dir, err := newBodyDir()
	if err != nil {
		b.Fatal(err)
	}
	p := &process{dir: dir}
	defer func() {
		p.retired.retire()
		p.next.retire()
		dir.remove()
	}()
	buf, readBuf := make([]byte, 0, 1024), make([]byte, pumpBufferSize)
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		f, err := p.takeFifo()
		if err != nil {
			b.Fatal(err)
		}
		p.prepareBody()
		sink := newBodySink(buf, nil, false)
		if err := f.start(sink, readBuf); err != nil {
			b.Fatal(err)
		}
		if _, err := unix.Write(f.fd, []byte(`{"k":"v"}`)); err != nil { // as the adapter would
			b.Fatal(err)
		}
		if err := f.end(ctx); err != nil || string(sink.buf) != `{"k":"v"}` {
			b.Fatalf("body %q, %v", sink.buf, err)
		}
		buf, p.retired = sink.buf[:0], f
	}
}
