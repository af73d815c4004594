package supervisor

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/polyboot/polyboot/protocol"
)

// BenchmarkWorkerInvoke measures a warm invocation through the fake worker: the supervisor's
// whole round trip (body FIFO included) plus the fake worker's own work, which is the same under
// every protocol version (run it on an older tree to compare). "back-to-back" starts each
// invocation as soon as the last one returned; "idle" first lets the worker prepare the next body
// FIFO, as the time between invocations on Lambda does.
func BenchmarkWorkerInvoke(b *testing.B) {
	b.Run("back-to-back", func(b *testing.B) { benchmarkWorkerInvoke(b, false) })
	b.Run("idle", func(b *testing.B) { benchmarkWorkerInvoke(b, true) })
}

// waitBodyReady waits until the worker's next body FIFO is made.
func waitBodyReady(w *Worker) {
	if p := w.proc; p != nil && p.pending {
		r := <-p.next
		p.next <- r
	}
}

func benchmarkWorkerInvoke(b *testing.B, idle bool) {
	w := NewWorker(testSpawner, Config{
		Argv: []string{testExe, "fake-worker"},
		Dir:  b.TempDir(),
		Env:  append(helperEnv(), workerEnv+"=ready"),
		Logs: LogSinkFunc(func(string, []byte) {}),
	})
	defer w.Close()
	inv := &protocol.Invocation{RequestID: "bench", Payload: []byte(`{"k":"v"}`)}
	ctx := context.Background()
	if _, report := w.Invoke(ctx, inv); report != nil {
		b.Fatal(report)
	}
	// Each invocation is timed on its own (the time between them is not counted), and the
	// median is reported as p50-ns, as make bench reports a warm invocation's p50.
	took := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if idle {
			// As between two invocations on Lambda (the result's POST, the next GET): the next
			// body FIFO is ready before the invocation begins.
			waitBodyReady(w)
		}
		start := time.Now()
		ictx, cancel := context.WithTimeout(ctx, 10*time.Second)
		body, report := w.Invoke(ictx, inv)
		cancel()
		took = append(took, time.Since(start))
		if report != nil || string(body) != `{"k":"v"}` {
			b.Fatalf("body %q, report %v", body, report)
		}
	}
	slices.Sort(took)
	b.ReportMetric(float64(took[len(took)/2].Nanoseconds()), "p50-ns")
}

// BenchmarkBodyFIFO measures what protocol 2 adds to an invocation in the bootstrap: take the
// FIFO made ahead, start its pump, take a small body at the reply and close it. Unlinking it and
// making the next one happen while the worker is idle, outside the timed part.
func BenchmarkBodyFIFO(b *testing.B) {
	dir, err := newBodyDir()
	if err != nil {
		b.Fatal(err)
	}
	p := &process{dir: dir, next: make(chan preparedFifo, 1)}
	defer func() {
		if p.pending {
			if r := <-p.next; r.f != nil {
				r.f.close()
			}
		}
		dir.remove()
	}()
	buf, readBuf := make([]byte, 0, 1024), make([]byte, pumpBufferSize)
	retired := ""
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		p.prepareBody(retired)
		r := <-p.next // made while the worker is idle: not part of an invocation
		p.next <- r
		b.StartTimer()
		f, err := p.takeFifo()
		if err != nil {
			b.Fatal(err)
		}
		sink := newBodySink(buf, nil, false)
		if err := f.start(sink, readBuf); err != nil {
			b.Fatal(err)
		}
		if _, err := f.f.Write([]byte(`{"k":"v"}`)); err != nil { // as the adapter would
			b.Fatal(err)
		}
		if err := f.end(ctx); err != nil || string(sink.buf) != `{"k":"v"}` {
			b.Fatalf("body %q, %v", sink.buf, err)
		}
		buf, retired = sink.buf[:0], f.path
	}
}
