package protocol_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/polyboot/polyboot/protocol"
)

// hostileIDs are request ids with bytes that mean something in a URL, or in nothing at all. The
// emulator only ever hands out UUIDs, so these are tried against a fake Runtime API.
var hostileIDs = []string{
	"a#b", "a?b=c&d", "%zz", "100%", "a\tb", "\xff\xfe", "a/b", "..", ".", "q\"b\\c", "é ü", "a+b;c=d",
}

// rawURIs serves a fake Runtime API that hands out id on /next and records the raw request URI
// (as the client wrote it on the wire) of every other request.
func rawURIs(t *testing.T, id string) (*protocol.Client, func() []string) {
	t.Helper()
	var mu sync.Mutex
	var uris []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		if r.Method == http.MethodGet {
			w.Header()[protocol.HeaderRequestID] = []string{id}
			_, _ = io.WriteString(w, "{}")
			return
		}
		mu.Lock()
		uris = append(uris, r.RequestURI)
		mu.Unlock()
		w.WriteHeader(http.StatusAccepted)
	}))
	t.Cleanup(srv.Close)
	return protocol.NewClient(srv.Listener.Addr().String()), func() []string {
		mu.Lock()
		defer mu.Unlock()
		return append([]string(nil), uris...)
	}
}

// idOf returns the request id that a Runtime API would route rawURI to: the path segment between
// /runtime/invocation/ and /what, unescaped.
func idOf(t *testing.T, rawURI, what string) string {
	t.Helper()
	const prefix = "/2018-06-01/runtime/invocation/"
	if !strings.HasPrefix(rawURI, prefix) || !strings.HasSuffix(rawURI, "/"+what) {
		t.Fatalf("request URI %q is not %s<id>/%s", rawURI, prefix, what)
	}
	seg := strings.TrimSuffix(strings.TrimPrefix(rawURI, prefix), "/"+what)
	if strings.ContainsAny(seg, "/?#") {
		t.Fatalf("request URI %q: the id is not one path segment", rawURI)
	}
	id, err := url.PathUnescape(seg)
	if err != nil {
		t.Fatalf("request URI %q: %v", rawURI, err)
	}
	return id
}

// TestRequestIDRoundTrip: an id with any bytes comes out of Next as it was sent, and its
// /response, streamed /response and /error are posted to the path of that id and no other.
func TestRequestIDRoundTrip(t *testing.T) {
	for _, id := range hostileIDs {
		t.Run(url.PathEscape(id), func(t *testing.T) {
			client, uris := rawURIs(t, id)
			ctx := context.Background()
			inv, err := client.Next(ctx)
			if err != nil {
				t.Fatalf("Next: %v", err)
			}
			if inv.RequestID != id {
				t.Fatalf("Next gave the id %q, want %q", inv.RequestID, id)
			}
			if err := client.Respond(ctx, inv.RequestID, []byte("ok")); err != nil {
				t.Fatalf("Respond: %v", err)
			}
			if err := client.RespondStream(ctx, inv.RequestID, strings.NewReader("ok"), protocol.StreamTrailer()); err != nil {
				t.Fatalf("RespondStream: %v", err)
			}
			if err := client.Fail(ctx, inv.RequestID, protocol.Errorf("E", "x")); err != nil {
				t.Fatalf("Fail: %v", err)
			}
			got := uris()
			if len(got) != 3 {
				t.Fatalf("requests %q, want 3", got)
			}
			for i, what := range []string{"response", "response", "error"} {
				if posted := idOf(t, got[i], what); posted != id {
					t.Errorf("%s posted for the id %q (URI %q), want %q", what, posted, got[i], id)
				}
			}
		})
	}
}

// TestClientNextInvalidDeadline: a Lambda-Runtime-Deadline-Ms that is not a whole number of
// milliseconds gives the invocation with an *InvalidDeadlineError, so that it can be answered; an
// absent header means no deadline.
func TestClientNextInvalidDeadline(t *testing.T) {
	for _, value := range []string{"soon", "1.5", "", "99999999999999999999", "-"} {
		t.Run(value, func(t *testing.T) {
			_, client := startFakeAPI(t, func(w http.ResponseWriter, _ *http.Request, _ []byte) {
				w.Header()[protocol.HeaderRequestID] = []string{"r1"}
				w.Header()[protocol.HeaderDeadlineMs] = []string{value}
				w.Header().Set(protocol.HeaderFunctionARN, "arn")
				_, _ = io.WriteString(w, `{"k":1}`)
			})
			inv, err := client.Next(context.Background())
			var bad *protocol.InvalidDeadlineError
			if !errors.As(err, &bad) {
				t.Fatalf("Next = %+v, %v; want an *InvalidDeadlineError", inv, err)
			}
			if bad.Value != value || bad.Invocation == nil || bad.Invocation.RequestID != "r1" ||
				bad.Invocation.FunctionARN != "arn" || string(bad.Invocation.Payload) != `{"k":1}` {
				t.Errorf("error %+v (invocation %+v), want the value %q and the invocation r1", bad, bad.Invocation, value)
			}
			if !strings.Contains(err.Error(), `"r1"`) || !strings.Contains(err.Error(), protocol.HeaderDeadlineMs) {
				t.Errorf("message %q does not name the invocation and the header", err)
			}
		})
	}
}
