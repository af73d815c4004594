package e2e

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/polyboot/polyboot/internal/rietest"
)

// fakeInvocation is one event the fake Runtime API hands out, with its /next headers.
type fakeInvocation struct {
	id      string
	headers map[string]string
	body    string
}

// fakeResult is what the bootstrap posted for an invocation.
type fakeResult struct {
	id        string
	kind      string // "response" or "error"
	errorType string // Lambda-Runtime-Function-Error-Type
	body      string
	streamed  bool         // Lambda-Runtime-Function-Response-Mode: streaming, chunked
	chunks    []timedChunk // a streamed body as it arrived
	trailer   http.Header  // a streamed body's trailers
}

// timedChunk is one read of a streamed body and when it arrived.
type timedChunk struct {
	data string
	at   time.Time
}

// fakeAPI is a Runtime API on httptest: it serves queued invocations and records results.
type fakeAPI struct {
	srv     *httptest.Server
	queue   chan fakeInvocation
	results chan fakeResult
	mu      sync.Mutex
	initErr string
	// Faults the test switches on (guarded by mu).
	nextStatus     int // answer /next with this status instead of an invocation
	responseStatus int // answer /response with this status instead of 202
	extensions     []string
}

// set changes the fake's behaviour under its lock.
func (f *fakeAPI) set(fn func(f *fakeAPI)) {
	f.mu.Lock()
	defer f.mu.Unlock()
	fn(f)
}

func (f *fakeAPI) get(fn func(f *fakeAPI)) { f.set(fn) }

func newFakeAPI(t *testing.T) *fakeAPI {
	t.Helper()
	f := &fakeAPI{queue: make(chan fakeInvocation, 100), results: make(chan fakeResult, 100)}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /2018-06-01/runtime/invocation/next", func(w http.ResponseWriter, r *http.Request) {
		var status int
		f.get(func(f *fakeAPI) { status = f.nextStatus })
		if status != 0 {
			w.WriteHeader(status)
			_, _ = io.WriteString(w, `{"errorMessage":"injected","errorType":"Injected"}`)
			return
		}
		select {
		case inv := <-f.queue:
			w.Header().Set("Lambda-Runtime-Aws-Request-Id", inv.id)
			w.Header().Set("Lambda-Runtime-Deadline-Ms", "9999999999999")
			for k, v := range inv.headers {
				w.Header().Set(k, v)
			}
			_, _ = io.WriteString(w, inv.body)
		case <-r.Context().Done():
		}
	})
	post := func(kind string) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			res := fakeResult{id: r.PathValue("id"), kind: kind, errorType: r.Header.Get("Lambda-Runtime-Function-Error-Type")}
			if r.Header.Get("Lambda-Runtime-Function-Response-Mode") == "streaming" {
				res.streamed = len(r.TransferEncoding) > 0 && r.TransferEncoding[0] == "chunked"
				buf := make([]byte, 64*1024)
				for {
					n, err := r.Body.Read(buf)
					if n > 0 {
						res.chunks = append(res.chunks, timedChunk{string(buf[:n]), time.Now()})
						res.body += string(buf[:n])
					}
					if err != nil {
						break
					}
				}
				res.trailer = r.Trailer.Clone()
			} else {
				b, _ := io.ReadAll(r.Body)
				res.body = string(b)
			}
			f.results <- res
			status := http.StatusAccepted
			f.get(func(f *fakeAPI) {
				if kind == "response" && f.responseStatus != 0 {
					status = f.responseStatus
				}
			})
			w.WriteHeader(status)
		}
	}
	mux.HandleFunc("POST /2018-06-01/runtime/invocation/{id}/response", post("response"))
	mux.HandleFunc("POST /2018-06-01/runtime/invocation/{id}/error", post("error"))
	mux.HandleFunc("POST /2018-06-01/runtime/init/error", func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		f.mu.Lock()
		f.initErr = string(b)
		f.mu.Unlock()
		w.WriteHeader(http.StatusAccepted)
	})
	mux.HandleFunc("POST /2020-01-01/extension/register", func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		f.set(func(f *fakeAPI) {
			f.extensions = append(f.extensions, r.Header.Get("Lambda-Extension-Name")+" "+string(b))
		})
		w.Header().Set("Lambda-Extension-Identifier", "ext-id-1")
		w.WriteHeader(http.StatusOK)
	})
	mux.HandleFunc("GET /2020-01-01/extension/event/next", func(w http.ResponseWriter, r *http.Request) {
		f.set(func(f *fakeAPI) {
			f.extensions = append(f.extensions, "next "+r.Header.Get("Lambda-Extension-Identifier"))
		})
		<-r.Context().Done()
	})
	f.srv = httptest.NewServer(mux)
	t.Cleanup(f.srv.Close)
	return f
}

// result waits for the next posted result.
func (f *fakeAPI) result(t *testing.T) fakeResult {
	t.Helper()
	select {
	case r := <-f.results:
		return r
	case <-time.After(20 * time.Second):
		t.Fatal("no result posted within 20 s")
		return fakeResult{}
	}
}

// runBootstrap runs the layer's bootstrap against the fake API until the test ends.
func runBootstrap(t *testing.T, f *fakeAPI, fn function) *rietest.SyncBuffer {
	t.Helper()
	logs, _ := startBootstrap(t, f.srv.URL, fn)
	return logs
}

// startBootstrap starts the layer's bootstrap against the Runtime API at url; it is stopped (with
// SIGTERM) when the test ends, if it has not exited by then.
func startBootstrap(t *testing.T, url string, fn function) (*rietest.SyncBuffer, *exec.Cmd) {
	t.Helper()
	logs := &rietest.SyncBuffer{}
	ctx, cancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(ctx, env.layerDir+"/bootstrap")
	cmd.Dir = fn.taskDir
	cmd.Env = append(rietest.CleanEnv(), "_HANDLER="+fn.handler, "AWS_LAMBDA_RUNTIME_API="+strings.TrimPrefix(url, "http://"))
	cmd.Env = append(cmd.Env, fn.env...)
	cmd.Stdout, cmd.Stderr = logs, logs
	cmd.Cancel = func() error { return cmd.Process.Signal(syscall.SIGTERM) }
	cmd.WaitDelay = 2 * time.Second
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting bootstrap: %v", err)
	}
	t.Cleanup(func() {
		cancel()
		_ = cmd.Wait()
		if t.Failed() {
			t.Logf("bootstrap log:\n%s", logs.String())
		}
	})
	return logs, cmd
}
