package bench

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/zap"

	"github.com/polyboot/polyboot/invoke"
	"github.com/polyboot/polyboot/protocol"
	"github.com/polyboot/polyboot/supervisor"
)

// echoWorkerEnv makes the test binary, run again, the echo worker (see TestMain).
const echoWorkerEnv = "POLYBOOT_BENCH_ECHO_WORKER"

func TestMain(m *testing.M) {
	if os.Getenv(echoWorkerEnv) == "1" {
		if err := ServeEcho(os.Stdin, os.Stdout, OpenFIFO); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// Sizes the loop benchmarks run at.
var loopSizes = []struct {
	name string
	size int
}{
	{"1KB", 1024},
	{"1MB", 1024 * 1024},
}

// fakeAPI is a Runtime API on httptest that hands out one queued event per GET /next and reports
// each posted response. Driven by one goroutine, one invocation at a time, like Lambda.
type fakeAPI struct {
	srv     *httptest.Server
	queue   chan []byte // events to hand out
	results chan int    // length of each posted response body; -1 for an error post
	seq     int         // request ids, only touched by the /next handler (one at a time)
	mu      sync.Mutex
}

func newFakeAPI(tb testing.TB) *fakeAPI {
	tb.Helper()
	f := &fakeAPI{queue: make(chan []byte, 1), results: make(chan int, 1)}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /2018-06-01/runtime/invocation/next", func(w http.ResponseWriter, r *http.Request) {
		select {
		case ev := <-f.queue:
			f.mu.Lock()
			f.seq++
			id := "req-" + strconv.Itoa(f.seq)
			f.mu.Unlock()
			h := w.Header()
			h.Set(protocol.HeaderRequestID, id)
			h.Set(protocol.HeaderDeadlineMs, "9999999999999")
			h.Set(protocol.HeaderFunctionARN, "arn:aws:lambda:us-east-1:012345678912:function:test_function")
			h.Set("Content-Length", strconv.Itoa(len(ev)))
			_, _ = w.Write(ev)
		case <-r.Context().Done():
		}
	})
	mux.HandleFunc("POST /2018-06-01/runtime/invocation/{id}/response", func(w http.ResponseWriter, r *http.Request) {
		n, _ := io.Copy(io.Discard, r.Body)
		w.WriteHeader(http.StatusAccepted)
		f.results <- int(n)
	})
	mux.HandleFunc("POST /2018-06-01/runtime/invocation/{id}/error", func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		w.WriteHeader(http.StatusAccepted)
		f.results <- -1
	})
	f.srv = httptest.NewServer(mux)
	tb.Cleanup(f.srv.Close)
	return f
}

// addr is the fake API's host:port, as AWS_LAMBDA_RUNTIME_API.
func (f *fakeAPI) addr() string { return strings.TrimPrefix(f.srv.URL, "http://") }

// roundTrip queues ev and waits for the loop to post its result.
func (f *fakeAPI) roundTrip(tb testing.TB, ev []byte) {
	f.queue <- ev
	select {
	case n := <-f.results:
		if n != len(ev) {
			tb.Fatalf("posted a response of %d bytes for an event of %d (-1: an error)", n, len(ev))
		}
	case <-time.After(20 * time.Second):
		tb.Fatal("no result within 20 s")
	}
}

// inProcessEcho is an invoke.Worker that answers with the event, without a process.
type inProcessEcho struct{}

func (inProcessEcho) Invoke(_ context.Context, inv *protocol.Invocation) ([]byte, error) {
	ev, err := protocol.PrepareEvent(inv.Payload)
	if err != nil {
		return nil, &supervisor.Error{Kind: supervisor.KindEvent, Msg: err.Error()}
	}
	return ev, nil
}

func (inProcessEcho) Start(context.Context) error { return nil }

func (inProcessEcho) Warm() bool { return true }

// newEchoWorker returns a supervisor.Worker running this test binary as the echo worker, started.
func newEchoWorker(tb testing.TB) *supervisor.Worker {
	tb.Helper()
	exe, err := os.Executable()
	if err != nil {
		tb.Fatal(err)
	}
	w := supervisor.NewWorker(supervisor.NewSpawner(), supervisor.Config{
		Argv: []string{exe},
		Dir:  tb.TempDir(),
		Env:  append(os.Environ(), echoWorkerEnv+"=1", "POLYBOOT_PROTOCOL=2"),
		Logs: supervisor.LogSinkFunc(func(string, []byte) {}),
	})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := w.Start(ctx); err != nil {
		tb.Fatalf("starting the echo worker: %v", err)
	}
	tb.Cleanup(func() { _ = w.Close() })
	return w
}

// runLoop runs an invoke.Loop for worker against api until the test ends.
func runLoop(tb testing.TB, api *fakeAPI, worker invoke.Worker) {
	tb.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	loop := &invoke.Loop{
		API: protocol.NewClient(api.addr()), Worker: worker, Log: zap.NewNop(),
		Margin: 50 * time.Millisecond, Retries: 3, Backoff: 10 * time.Millisecond,
	}
	go func() { done <- loop.Run(ctx) }()
	tb.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				tb.Errorf("loop: %v", err)
			}
		case <-time.After(10 * time.Second):
			tb.Error("the loop did not stop within 10 s of its context's end")
		}
	})
}

// BenchmarkRuntimeAPIClient is the HTTP floor of the loop benchmarks: GET /next and POST /response
// with protocol.Client against the fake API, nothing in between. Allocations here and below
// include the fake API's (net/http server) side.
func BenchmarkRuntimeAPIClient(b *testing.B) {
	for _, s := range loopSizes {
		b.Run(s.name, func(b *testing.B) {
			ev := mustEvent(b, s.size)
			api := newFakeAPI(b)
			c := protocol.NewClient(api.addr())
			ctx := context.Background()
			b.SetBytes(int64(len(ev)))
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				api.queue <- ev
				inv, err := c.Next(ctx)
				if err != nil {
					b.Fatal(err)
				}
				if err := c.Respond(ctx, inv.RequestID, inv.Payload); err != nil {
					b.Fatal(err)
				}
				if n := <-api.results; n != len(ev) {
					b.Fatalf("posted %d bytes, want %d", n, len(ev))
				}
			}
		})
	}
}

// BenchmarkLoop measures one invocation through invoke.Loop and the Runtime API client: with an
// in-process echo worker (the loop's own cost over BenchmarkRuntimeAPIClient), and with
// supervisor.Worker running a Go echo worker process over the channel of docs/protocol.md (the
// bootstrap's whole cost per invocation, without an interpreter).
func BenchmarkLoop(b *testing.B) {
	workers := []struct {
		name string
		new  func(testing.TB) invoke.Worker
	}{
		{"inprocess", func(testing.TB) invoke.Worker { return inProcessEcho{} }},
		{"process", func(tb testing.TB) invoke.Worker { return newEchoWorker(tb) }},
	}
	for _, w := range workers {
		for _, s := range loopSizes {
			b.Run(w.name+"/"+s.name, func(b *testing.B) {
				ev := mustEvent(b, s.size)
				api := newFakeAPI(b)
				runLoop(b, api, w.new(b))
				api.roundTrip(b, ev) // warm: connections open, buffers grown
				b.SetBytes(int64(len(ev)))
				b.ReportAllocs()
				b.ResetTimer()
				for i := 0; i < b.N; i++ {
					api.roundTrip(b, ev)
				}
			})
		}
	}
}

// BenchmarkWorkerInvoke measures supervisor.Worker.Invoke alone with the Go echo worker process:
// invoke line out, body and reply back, at 1 KB and 6 MB.
func BenchmarkWorkerInvoke(b *testing.B) {
	for _, s := range codecSizes {
		b.Run(s.name, func(b *testing.B) {
			inv := benchInvocation(mustEvent(b, s.size))
			w := newEchoWorker(b)
			ctx := context.Background()
			b.SetBytes(int64(len(inv.Payload)))
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				body, err := w.Invoke(ctx, inv)
				if err != nil {
					b.Fatal(err)
				}
				if len(body) != len(inv.Payload) {
					b.Fatalf("body of %d bytes, want %d", len(body), len(inv.Payload))
				}
			}
		})
	}
}

// TestLoopEcho checks the set-up the loop benchmarks measure: events of every size go through
// the loop, the supervisor and the echo worker process and come back whole.
func TestLoopEcho(t *testing.T) {
	api := newFakeAPI(t)
	runLoop(t, api, newEchoWorker(t))
	for _, size := range []int{64, 1024, 1024 * 1024} {
		ev := mustEvent(t, size)
		api.roundTrip(t, ev)
	}
}

// TestServeEcho checks the echo worker on an in-memory channel.
func TestServeEcho(t *testing.T) {
	var in bytes.Buffer
	events := [][]byte{mustEvent(t, 64), mustEvent(t, 70000)}
	for i, ev := range events {
		inv := benchInvocation(ev)
		inv.RequestID = "id-" + strconv.Itoa(i)
		in.Write(protocol.AppendInvokeLine(nil, inv, "/memory", ev))
	}
	var out, body bytes.Buffer
	open := func(path string) (io.WriteCloser, error) {
		if path != "/memory" {
			return nil, fmt.Errorf("body %q, want /memory", path)
		}
		return nopCloser{&body}, nil
	}
	if err := ServeEcho(&in, &out, open); err != nil {
		t.Fatal(err)
	}
	want := `{"type":"ready","protocol":2}` + "\n" + `{"type":"response","id":"id-0"}` + "\n" + `{"type":"response","id":"id-1"}` + "\n"
	if out.String() != want {
		t.Errorf("replies %q, want %q", out.String(), want)
	}
	if !bytes.Equal(body.Bytes(), append(append([]byte{}, events[0]...), events[1]...)) {
		t.Errorf("body of %d bytes is not the two events (%d bytes)", body.Len(), len(events[0])+len(events[1]))
	}
	if err := ServeEcho(strings.NewReader(`{"len":"0000000030","ty`), io.Discard, open); err == nil || errors.Is(err, io.EOF) {
		t.Errorf("a cut invoke line gave %v, want an error", err)
	}
}

// nopCloser is a WriteCloser over a Writer.
type nopCloser struct{ io.Writer }

func (nopCloser) Close() error { return nil }
