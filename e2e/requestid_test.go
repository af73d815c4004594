package e2e

import (
	"strings"
	"testing"
)

// TestRequestIDsWithAnyBytes: invocations whose request ids hold bytes that mean something in a
// URL (or in JSON) are answered on their own /response path, through the whole bootstrap. The
// emulator only hands out UUIDs, hence the fake Runtime API.
func TestRequestIDsWithAnyBytes(t *testing.T) {
	api := newFakeAPI(t)
	task := writeTask(t, map[string]string{"function.sh": `handler() { printf '{"ok":true}'; }` + "\n"})
	runBootstrap(t, api, function{taskDir: task, handler: "function.handler"})
	// Not non-UTF-8 ids: the channel's JSON turns their bytes into U+FFFD, and the worker's reply
	// no longer matches (the channel's encoding is not the Runtime API client's; the client's
	// part is protocol.TestRequestIDRoundTrip).
	ids := []string{"a#b", "a?b=c&d", "%zz", "100%", "a\tb", `q"b\c`, "é/ü", "a b+c;d"}
	for _, id := range ids {
		api.queue <- fakeInvocation{id: id, body: `{}`}
		res := api.result(t)
		if res.id != id || res.kind != "response" || res.body != `{"ok":true}` {
			t.Errorf("id %q: posted %s for %q: %s", id, res.kind, res.id, res.body)
		}
	}
	if t.Failed() {
		t.Log("ids sent:", strings.Join(ids, " | "))
	}
}
