package protocol

import (
	"net/http"
	"net/http/httptrace"
	"sync/atomic"
)

// ConnectError is the error of a Runtime API request that failed before it had a connection to the
// Runtime API: nothing of it was sent, so sending it again is safe. Every other failure (the
// connection broke while the request was written, or after: the Runtime API may have read it,
// even acted on it) is not a ConnectError, and repeating the request could skip or double an
// invocation.
type ConnectError struct {
	Err error
}

func (e *ConnectError) Error() string { return "connecting to the runtime api: " + e.Err.Error() }

// Unwrap returns the HTTP client's error.
func (e *ConnectError) Unwrap() error { return e.Err }

// do sends req, telling a failure to connect (a *ConnectError) from any later one. The test is
// whether the transport got a connection for the request at all (httptrace's GotConn): a request
// only ever written to a connection that failed is retried by net/http itself when nothing of it
// was written, and is not ours to repeat otherwise.
func (c *Client) do(req *http.Request) (*http.Response, error) {
	var connected atomic.Bool
	trace := &httptrace.ClientTrace{GotConn: func(httptrace.GotConnInfo) { connected.Store(true) }}
	req = req.WithContext(httptrace.WithClientTrace(req.Context(), trace))
	resp, err := c.http.Do(req)
	if err != nil && !connected.Load() {
		return nil, &ConnectError{Err: err}
	}
	return resp, err
}
