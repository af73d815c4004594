package protocol_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/polyboot/polyboot/protocol"
)

// request is what the fake Runtime API saw of one request.
type request struct {
	Method, Path string
	Header       http.Header
	Body         []byte
}

// fakeAPI is a fake Lambda Runtime API: it records every request and answers with handle.
type fakeAPI struct {
	mu       sync.Mutex
	requests []request
	handle   func(w http.ResponseWriter, r *http.Request, body []byte)
}

// startFakeAPI serves handle on an httptest.Server and returns a Client for it. Both are shut down
// when the test ends.
func startFakeAPI(t *testing.T, handle func(w http.ResponseWriter, r *http.Request, body []byte)) (*fakeAPI, *protocol.Client) {
	t.Helper()
	f := &fakeAPI{handle: handle}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(r.Body)
		if err != nil {
			t.Errorf("fake runtime api: reading the request: %v", err)
		}
		f.mu.Lock()
		f.requests = append(f.requests, request{r.Method, r.URL.Path, r.Header.Clone(), body})
		f.mu.Unlock()
		f.handle(w, r, body)
	}))
	t.Cleanup(srv.Close)
	return f, protocol.NewClient(srv.Listener.Addr().String())
}

// only returns the one request the fake API got, failing the test when it got another number.
func (f *fakeAPI) only(t *testing.T) request {
	t.Helper()
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.requests) != 1 {
		t.Fatalf("fake runtime api got %d requests, want 1: %+v", len(f.requests), f.requests)
	}
	return f.requests[0]
}

// answer returns a handler that replies with status and body.
func answer(status int, body string) func(http.ResponseWriter, *http.Request, []byte) {
	return func(w http.ResponseWriter, _ *http.Request, _ []byte) {
		w.WriteHeader(status)
		_, _ = io.WriteString(w, body)
	}
}

// nextAnswer returns a handler that serves an invocation with the given headers and event.
func nextAnswer(headers map[string]string, event string) func(http.ResponseWriter, *http.Request, []byte) {
	return func(w http.ResponseWriter, _ *http.Request, _ []byte) {
		for k, v := range headers {
			w.Header().Set(k, v)
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, event)
	}
}

func TestClientNext(t *testing.T) {
	headers := map[string]string{
		"Lambda-Runtime-Aws-Request-Id":       "8476a536-e9f4-11e8-9739-2dfe598c3fcd",
		"Lambda-Runtime-Deadline-Ms":          "1732640000123",
		"Lambda-Runtime-Invoked-Function-Arn": "arn:aws:lambda:us-east-1:012345678912:function:test_function",
		"Lambda-Runtime-Trace-Id":             "Root=1-5bef4de7-ad49b0e87f6ef6c87fc2e700;Parent=9a9197af755a6419;Sampled=1",
		"Lambda-Runtime-Client-Context":       `{"client":{"app_title":"x"},"custom":{"k":"v"}}`,
		"Lambda-Runtime-Cognito-Identity":     `{"cognitoIdentityId":"id","cognitoIdentityPoolId":"pool"}`,
		"Lambda-Runtime-Aws-Tenant-Id":        "tenant-7",
	}
	event := "{\n  \"key\": \"value é\"\n}"
	api, client := startFakeAPI(t, nextAnswer(headers, event))
	inv, err := client.Next(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	want := &protocol.Invocation{
		RequestID:       "8476a536-e9f4-11e8-9739-2dfe598c3fcd",
		DeadlineMs:      1732640000123,
		FunctionARN:     "arn:aws:lambda:us-east-1:012345678912:function:test_function",
		TraceID:         "Root=1-5bef4de7-ad49b0e87f6ef6c87fc2e700;Parent=9a9197af755a6419;Sampled=1",
		ClientContext:   `{"client":{"app_title":"x"},"custom":{"k":"v"}}`,
		CognitoIdentity: `{"cognitoIdentityId":"id","cognitoIdentityPoolId":"pool"}`,
		TenantID:        "tenant-7",
		Payload:         []byte(event),
	}
	if !reflect.DeepEqual(inv, want) {
		t.Errorf("Next\n got %+v\nwant %+v", inv, want)
	}
	if got := inv.Deadline(); !got.Equal(time.UnixMilli(1732640000123)) {
		t.Errorf("Deadline() = %v", got)
	}
	req := api.only(t)
	if req.Method != http.MethodGet || req.Path != "/2018-06-01/runtime/invocation/next" {
		t.Errorf("request %s %s, want GET /2018-06-01/runtime/invocation/next", req.Method, req.Path)
	}
}

func TestClientNextOnlyRequestID(t *testing.T) {
	_, client := startFakeAPI(t, nextAnswer(map[string]string{"Lambda-Runtime-Aws-Request-Id": "r1"}, ``))
	inv, err := client.Next(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	want := &protocol.Invocation{RequestID: "r1", Payload: []byte{}}
	if !reflect.DeepEqual(inv, want) {
		t.Errorf("Next\n got %+v\nwant %+v", inv, want)
	}
	if !inv.Deadline().IsZero() {
		t.Errorf("Deadline() = %v, want the zero time", inv.Deadline())
	}
}

// TestClientNextChunkedBody checks an event sent without Content-Length.
func TestClientNextChunkedBody(t *testing.T) {
	event := `{"big":"` + strings.Repeat("x", 100000) + `"}`
	_, client := startFakeAPI(t, func(w http.ResponseWriter, _ *http.Request, _ []byte) {
		w.Header().Set("Lambda-Runtime-Aws-Request-Id", "r1")
		_, _ = io.WriteString(w, event[:10])
		w.(http.Flusher).Flush()
		_, _ = io.WriteString(w, event[10:])
	})
	inv, err := client.Next(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if string(inv.Payload) != event {
		t.Errorf("payload of %d bytes, want %d", len(inv.Payload), len(event))
	}
}

func TestClientNextErrors(t *testing.T) {
	tests := []struct {
		name       string
		handle     func(http.ResponseWriter, *http.Request, []byte)
		wantStatus int
		wantErr    string
	}{
		{
			name:    "no request id",
			handle:  nextAnswer(map[string]string{"Lambda-Runtime-Deadline-Ms": "1"}, `{}`),
			wantErr: "no Lambda-Runtime-Aws-Request-Id header",
		},
		{
			name:       "500",
			handle:     answer(http.StatusInternalServerError, "{\"errorMessage\":\"container error\"}\n"),
			wantStatus: 500,
			wantErr:    `runtime api next: HTTP 500: {"errorMessage":"container error"}`,
		},
		{
			name:       "403",
			handle:     answer(http.StatusForbidden, ""),
			wantStatus: 403,
			wantErr:    "runtime api next: HTTP 403",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, client := startFakeAPI(t, tt.handle)
			inv, err := client.Next(context.Background())
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("Next = %+v, %v; want an error with %q", inv, err, tt.wantErr)
			}
			if inv != nil {
				t.Errorf("Next returned an invocation with its error: %+v", inv)
			}
			if got := protocol.StatusOf(err); got != tt.wantStatus {
				t.Errorf("StatusOf = %d, want %d", got, tt.wantStatus)
			}
			var se *protocol.StatusError
			if tt.wantStatus != 0 && (!errors.As(err, &se) || se.Op != "next") {
				t.Errorf("error %#v is not a *StatusError of op next", err)
			}
		})
	}
}

// TestClientNextWaits checks that Next has no client timeout: Lambda freezes the environment while
// it waits, and a next invocation may come much later.
func TestClientNextWaits(t *testing.T) {
	t.Parallel()
	const wait = 300 * time.Millisecond
	_, client := startFakeAPI(t, func(w http.ResponseWriter, r *http.Request, body []byte) {
		time.Sleep(wait)
		nextAnswer(map[string]string{"Lambda-Runtime-Aws-Request-Id": "late"}, `1`)(w, r, body)
	})
	start := time.Now()
	inv, err := client.Next(context.Background())
	if err != nil {
		t.Fatalf("Next after %v: %v", time.Since(start), err)
	}
	if inv.RequestID != "late" || time.Since(start) < wait {
		t.Errorf("Next = %+v after %v", inv, time.Since(start))
	}
}

func TestClientNextCanceled(t *testing.T) {
	_, client := startFakeAPI(t, func(w http.ResponseWriter, r *http.Request, _ []byte) {
		<-r.Context().Done()
	})
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(20*time.Millisecond, cancel)
	_, err := client.Next(ctx)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("Next = %v, want context.Canceled", err)
	}
}

func TestClientRespond(t *testing.T) {
	tests := []struct {
		name       string
		status     int
		wantStatus int // 0: no error
	}{
		{name: "202", status: 202},
		{name: "200", status: 200},
		{name: "400", status: 400, wantStatus: 400},
		{name: "403 already answered", status: 403, wantStatus: 403},
		{name: "413 too large", status: 413, wantStatus: 413},
		{name: "500", status: 500, wantStatus: 500},
	}
	body := []byte("raw \x00\xff body, not JSON\n")
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			api, client := startFakeAPI(t, answer(tt.status, `{"errorMessage":"x"}`))
			err := client.Respond(context.Background(), "req-1", body)
			if got := protocol.StatusOf(err); got != tt.wantStatus || (err == nil) != (tt.wantStatus == 0) {
				t.Errorf("Respond = %v (status %d), want status %d", err, got, tt.wantStatus)
			}
			req := api.only(t)
			if req.Method != http.MethodPost || req.Path != "/2018-06-01/runtime/invocation/req-1/response" {
				t.Errorf("request %s %s", req.Method, req.Path)
			}
			if string(req.Body) != string(body) {
				t.Errorf("body %q, want %q", req.Body, body)
			}
			if got := req.Header.Get("Lambda-Runtime-Function-Error-Type"); got != "" {
				t.Errorf("a response carries Lambda-Runtime-Function-Error-Type %q", got)
			}
		})
	}
}

func TestClientFailAndInitError(t *testing.T) {
	tests := []struct {
		name       string
		report     protocol.ErrorReport
		wantHeader string
		wantStack  []any
	}{
		{name: "Function type kept", report: protocol.ErrorReport{Type: "Function.ResponseSizeTooLarge", Message: "too big"}, wantHeader: "Function.ResponseSizeTooLarge"},
		{name: "Runtime type kept", report: protocol.ErrorReport{Type: "Runtime.HandlerNotFound", Message: "m", StackTrace: []string{"a", "b"}}, wantHeader: "Runtime.HandlerNotFound", wantStack: []any{"a", "b"}},
		{name: "language type is Unhandled", report: protocol.ErrorReport{Type: "ValueError", Message: "m"}, wantHeader: "Unhandled"},
		{name: "empty type", report: protocol.ErrorReport{}, wantHeader: "Unhandled"},
		{name: "one letter after the dot", report: protocol.ErrorReport{Type: "Runtime.X"}, wantHeader: "Unhandled"},
		{name: "lower case after the dot", report: protocol.ErrorReport{Type: "Runtime.exitError"}, wantHeader: "Unhandled"},
		{name: "digit", report: protocol.ErrorReport{Type: "Function.Error2"}, wantHeader: "Unhandled"},
		{name: "two dots", report: protocol.ErrorReport{Type: "Runtime.Exit.Error"}, wantHeader: "Unhandled"},
		{name: "prefix", report: protocol.ErrorReport{Type: "MyRuntime.ExitError"}, wantHeader: "Unhandled"},
		{name: "suffix", report: protocol.ErrorReport{Type: "Runtime.ExitError "}, wantHeader: "Unhandled"},
		{name: "other namespace", report: protocol.ErrorReport{Type: "Sandbox.Timedout"}, wantHeader: "Unhandled"},
		{name: "Tcl error code", report: protocol.ErrorReport{Type: "POSIX ENOENT {no such file}"}, wantHeader: "Unhandled"},
	}
	calls := []struct {
		name string
		path string
		post func(c *protocol.Client, r *protocol.ErrorReport) error
	}{
		{
			name: "Fail", path: "/2018-06-01/runtime/invocation/req-9/error",
			post: func(c *protocol.Client, r *protocol.ErrorReport) error {
				return c.Fail(context.Background(), "req-9", r)
			},
		},
		{
			name: "InitError", path: "/2018-06-01/runtime/init/error",
			post: func(c *protocol.Client, r *protocol.ErrorReport) error { return c.InitError(context.Background(), r) },
		},
	}
	for _, call := range calls {
		for _, tt := range tests {
			t.Run(call.name+"/"+tt.name, func(t *testing.T) {
				api, client := startFakeAPI(t, answer(http.StatusAccepted, `{"status":"OK"}`))
				report := tt.report
				if err := call.post(client, &report); err != nil {
					t.Fatal(err)
				}
				if report.StackTrace == nil && tt.report.StackTrace != nil || !reflect.DeepEqual(report, tt.report) {
					t.Errorf("the report changed: %#v", report)
				}
				req := api.only(t)
				if req.Method != http.MethodPost || req.Path != call.path {
					t.Errorf("request %s %s, want POST %s", req.Method, req.Path, call.path)
				}
				if got := req.Header.Get("Lambda-Runtime-Function-Error-Type"); got != tt.wantHeader {
					t.Errorf("Lambda-Runtime-Function-Error-Type = %q, want %q", got, tt.wantHeader)
				}
				if got := req.Header.Get("Content-Type"); got != "application/vnd.aws.lambda.error+json" {
					t.Errorf("Content-Type = %q", got)
				}
				var body map[string]any
				if err := json.Unmarshal(req.Body, &body); err != nil {
					t.Fatalf("body %q: %v", req.Body, err)
				}
				wantStack := tt.wantStack
				if wantStack == nil {
					wantStack = []any{}
				}
				want := map[string]any{"errorMessage": tt.report.Message, "errorType": tt.report.Type, "stackTrace": wantStack}
				if !reflect.DeepEqual(body, want) {
					t.Errorf("body %s, want %v", req.Body, want)
				}
			})
		}
	}
}

func TestClientErrorStatus(t *testing.T) {
	tests := []struct {
		status int
		post   func(c *protocol.Client) error
	}{
		{403, func(c *protocol.Client) error {
			return c.Fail(context.Background(), "r", &protocol.ErrorReport{Type: "E"})
		}},
		{500, func(c *protocol.Client) error {
			return c.InitError(context.Background(), &protocol.ErrorReport{Type: "E"})
		}},
	}
	for _, tt := range tests {
		_, client := startFakeAPI(t, answer(tt.status, "no\n"))
		err := tt.post(client)
		if got := protocol.StatusOf(err); got != tt.status {
			t.Errorf("StatusOf(%v) = %d, want %d", err, got, tt.status)
		}
	}
}

// TestClientConnectionRefused checks every call against an address nothing listens on: an error
// that carries no HTTP status.
func TestClientConnectionRefused(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	for name, call := range everyCall(protocol.NewClient(addr)) {
		err := call()
		if err == nil || protocol.StatusOf(err) != 0 {
			t.Errorf("%s = %v (status %d), want an error without status", name, err, protocol.StatusOf(err))
		}
		var opErr *net.OpError
		if !errors.As(err, &opErr) {
			t.Errorf("%s = %v, want a wrapped *net.OpError", name, err)
		}
		var ce *protocol.ConnectError
		if !errors.As(err, &ce) {
			t.Errorf("%s = %v, want a *protocol.ConnectError: nothing was sent, it may be retried", name, err)
		}
	}
}

// everyCall returns each Runtime API call of client, by name, with a made-up request.
func everyCall(client *protocol.Client) map[string]func() error {
	ctx := context.Background()
	return map[string]func() error{
		"Next":      func() error { _, err := client.Next(ctx); return err },
		"Respond":   func() error { return client.Respond(ctx, "r", []byte("{}")) },
		"Fail":      func() error { return client.Fail(ctx, "r", &protocol.ErrorReport{Type: "E"}) },
		"InitError": func() error { return client.InitError(ctx, &protocol.ErrorReport{Type: "E"}) },
		"RespondStream": func() error {
			return client.RespondStream(ctx, "r", strings.NewReader("body"), protocol.StreamTrailer())
		},
	}
}

func TestStatusOf(t *testing.T) {
	se := &protocol.StatusError{Op: "response", Status: 413, Body: "too large"}
	tests := []struct {
		err  error
		want int
	}{
		{nil, 0},
		{errors.New("x"), 0},
		{se, 413},
		{errors.Join(errors.New("a"), se), 413},
		{&wrapped{se}, 413},
	}
	for _, tt := range tests {
		if got := protocol.StatusOf(tt.err); got != tt.want {
			t.Errorf("StatusOf(%v) = %d, want %d", tt.err, got, tt.want)
		}
	}
	if got, want := se.Error(), "runtime api response: HTTP 413: too large"; got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
}

type wrapped struct{ err error }

func (w *wrapped) Error() string { return "wrapped: " + w.err.Error() }
func (w *wrapped) Unwrap() error { return w.err }
