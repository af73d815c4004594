package protocol

import (
	"net/http"
	"testing"
)

// TestNewClientHasNoTimeouts guards the promise of NewClient: no request timeout of any kind, since
// GET /next waits while the execution environment is frozen, for as long as the next invocation
// takes to come. (TestClientNextWaits checks the behaviour; this catches a long timeout too.)
func TestNewClientHasNoTimeouts(t *testing.T) {
	c := NewClient("127.0.0.1:9001")
	if c.http.Timeout != 0 {
		t.Errorf("http.Client.Timeout = %v", c.http.Timeout)
	}
	tr, ok := c.http.Transport.(*http.Transport)
	if !ok {
		t.Fatalf("transport is a %T", c.http.Transport)
	}
	if tr.ResponseHeaderTimeout != 0 {
		t.Errorf("transport ResponseHeaderTimeout = %v", tr.ResponseHeaderTimeout)
	}
	if want := "http://127.0.0.1:9001/2018-06-01"; c.base != want {
		t.Errorf("base %q, want %q", c.base, want)
	}
}
