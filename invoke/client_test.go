package invoke_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strconv"
	"sync"
	"testing"
	"time"

	"go.uber.org/zap/zaptest"

	"github.com/polyboot/polyboot/invoke"
	"github.com/polyboot/polyboot/protocol"
)

// apiRequest is what the fake Runtime API saw of one request.
type apiRequest struct {
	method, path, errorType string
	body                    []byte
}

// TestRunWithRuntimeAPIClient drives invocations through the loop and the real protocol.Client
// against a fake Runtime API on an httptest.Server: a response, a worker error, a response over
// 6 MB, a response the API refuses with 413, then a 500 on /next that ends the loop.
func TestRunWithRuntimeAPIClient(t *testing.T) {
	deadline := time.Now().Add(time.Hour).UnixMilli()
	events := []string{`{"n":1}`, `{"n":2}`, `{"n":3}`, `{"n":4}`}
	var (
		mu       sync.Mutex
		requests []apiRequest
		served   int
	)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		mu.Lock()
		defer mu.Unlock()
		requests = append(requests, apiRequest{r.Method, r.URL.Path, r.Header.Get(protocol.HeaderErrorType), body})
		switch {
		case r.URL.Path == "/2018-06-01/runtime/invocation/next" && served < len(events):
			served++
			w.Header().Set(protocol.HeaderRequestID, "r"+strconv.Itoa(served))
			w.Header().Set(protocol.HeaderDeadlineMs, strconv.FormatInt(deadline, 10))
			_, _ = io.WriteString(w, events[served-1])
		case r.URL.Path == "/2018-06-01/runtime/invocation/next":
			http.Error(w, `{"errorType":"Runtime.Unavailable"}`, http.StatusInternalServerError)
		case r.URL.Path == "/2018-06-01/runtime/invocation/r4/response":
			http.Error(w, "payload too large", http.StatusRequestEntityTooLarge)
		default:
			w.WriteHeader(http.StatusAccepted)
		}
	}))
	defer srv.Close()

	rec := &recorder{}
	worker := &fakeWorker{rec: rec}
	worker.invoke = func(ctx context.Context, inv *protocol.Invocation) ([]byte, error) {
		if d, ok := ctx.Deadline(); !ok || !d.Equal(time.UnixMilli(deadline).Add(-100*time.Millisecond)) {
			t.Errorf("%s: invocation deadline %v, want %v", inv.RequestID, d, time.UnixMilli(deadline).Add(-100*time.Millisecond))
		}
		switch inv.RequestID {
		case "r2":
			return nil, handlerErr(&protocol.ErrorReport{Type: "Function.NonZeroExit", Message: "exit 3", StackTrace: []string{"line 1"}})
		case "r3":
			return bytes.Repeat([]byte("x"), protocol.MaxResponseSize+1), nil
		}
		return append([]byte("echo "), inv.Payload...), nil
	}
	loop := &invoke.Loop{
		API: protocol.NewClient(srv.Listener.Addr().String()), Worker: worker, Log: zaptest.NewLogger(t),
		Margin: 100 * time.Millisecond, Retries: 3, Backoff: time.Millisecond,
	}
	err := loop.Run(context.Background())
	if protocol.StatusOf(err) != http.StatusInternalServerError {
		t.Fatalf("Run = %v, want the 500 of /next", err)
	}

	mu.Lock()
	defer mu.Unlock()
	var got []string
	for _, r := range requests {
		got = append(got, r.method+" "+r.path)
	}
	want := []string{
		"GET /2018-06-01/runtime/invocation/next", "POST /2018-06-01/runtime/invocation/r1/response",
		"GET /2018-06-01/runtime/invocation/next", "POST /2018-06-01/runtime/invocation/r2/error",
		"GET /2018-06-01/runtime/invocation/next", "POST /2018-06-01/runtime/invocation/r3/error",
		"GET /2018-06-01/runtime/invocation/next", "POST /2018-06-01/runtime/invocation/r4/response",
		"GET /2018-06-01/runtime/invocation/next",
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("requests\n got %q\nwant %q", got, want)
	}
	if b := string(requests[1].body); b != `echo {"n":1}` {
		t.Errorf("r1 response %q", b)
	}
	if b := string(requests[7].body); b != `echo {"n":4}` {
		t.Errorf("r4 response %q", b)
	}
	for i, want := range map[int]protocol.ErrorReport{
		3: {Type: "Function.NonZeroExit", Message: "exit 3", StackTrace: []string{"line 1"}},
		5: {Type: invoke.ErrTypeResponseTooLarge, StackTrace: []string{}},
	} {
		var report protocol.ErrorReport
		if err := json.Unmarshal(requests[i].body, &report); err != nil {
			t.Fatalf("%s: %v", requests[i].path, err)
		}
		if report.Type != want.Type || want.Message != "" && report.Message != want.Message || !reflect.DeepEqual(report.StackTrace, want.StackTrace) {
			t.Errorf("%s: report %+v, want %+v", requests[i].path, report, want)
		}
		if requests[i].errorType != want.Type {
			t.Errorf("%s: error type header %q, want %q", requests[i].path, requests[i].errorType, want.Type)
		}
	}
}
