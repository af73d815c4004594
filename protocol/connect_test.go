package protocol_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/polyboot/polyboot/protocol"
)

// TestClientErrorAfterConnecting: a request the Runtime API received (it read the whole body, then
// the connection broke before an answer) fails with an error that is not a *ConnectError, on
// every call: sending it again could double or skip an invocation. The emulator cannot break a
// connection like this, hence the fake.
func TestClientErrorAfterConnecting(t *testing.T) {
	var got atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		got.Add(1)
		conn, _, err := w.(http.Hijacker).Hijack()
		if err == nil {
			conn.Close()
		}
	}))
	defer srv.Close()
	client := protocol.NewClient(srv.Listener.Addr().String())
	ctx := context.Background()
	calls := map[string]func() error{
		"Next":      func() error { _, err := client.Next(ctx); return err },
		"Respond":   func() error { return client.Respond(ctx, "r", []byte("{}")) },
		"Fail":      func() error { return client.Fail(ctx, "r", &protocol.ErrorReport{Type: "E"}) },
		"InitError": func() error { return client.InitError(ctx, &protocol.ErrorReport{Type: "E"}) },
		"RespondStream": func() error {
			return client.RespondStream(ctx, "r", strings.NewReader("body"), protocol.StreamTrailer())
		},
	}
	for name, call := range calls {
		before := got.Load()
		err := call()
		var ce *protocol.ConnectError
		if err == nil || errors.As(err, &ce) || protocol.StatusOf(err) != 0 {
			t.Errorf("%s = %v, want an error that is neither a *ConnectError nor a status", name, err)
		}
		if n := got.Load() - before; n != 1 {
			t.Errorf("%s reached the Runtime API %d times, want once", name, n)
		}
	}
}
