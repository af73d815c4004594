package protocol_test

import (
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
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
	for name, call := range everyCall(protocol.NewClient(srv.Listener.Addr().String())) {
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
