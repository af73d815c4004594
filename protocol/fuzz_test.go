package protocol_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"reflect"
	"testing"
	"unicode/utf8"

	"github.com/polyboot/polyboot/protocol"
)

// FuzzParseReply checks that ParseReply never panics, that a reply it accepts has a known type and
// the members its type needs, and that the reply survives encoding and parsing again.
// Seeds: testdata/fuzz/FuzzParseReply.
func FuzzParseReply(f *testing.F) {
	f.Fuzz(func(t *testing.T, line []byte) {
		r, err := protocol.ParseReply(line)
		if err != nil {
			if r != nil {
				t.Fatalf("a reply with the error %v", err)
			}
			return
		}
		switch r.Type {
		case protocol.ReplyReady:
		case protocol.ReplyResponse:
			if r.ID == "" {
				t.Fatalf("response without id: %+v", r)
			}
		case protocol.ReplyError, protocol.ReplyInitError:
			if r.Type == protocol.ReplyError && r.ID == "" || r.ErrorType == "" || r.LogTail < 0 {
				t.Fatalf("error reply accepted without what it needs: %+v", r)
			}
			if rep := r.Report(); rep.StackTrace == nil || rep.Type != r.ErrorType {
				t.Fatalf("Report() = %#v", rep)
			}
		default:
			t.Fatalf("accepted a reply of type %q", r.Type)
		}
		again, err := json.Marshal(r)
		if err != nil {
			t.Fatal(err)
		}
		r2, err := protocol.ParseReply(again)
		if err != nil || !reflect.DeepEqual(r, r2) {
			t.Fatalf("reply %+v encoded as %s parses as %+v, %v", r, again, r2, err)
		}
	})
}

// FuzzInvokeLine checks PrepareEvent and AppendInvokeLine together for any strings and any event:
// an event that is not JSON in UTF-8 is refused; a JSON event keeps its value and loses its line breaks, and
// the invoke line keeps every promise of docs/protocol.md (checkInvokeLine).
// Seeds: testdata/fuzz/FuzzInvokeLine.
func FuzzInvokeLine(f *testing.F) {
	f.Fuzz(func(t *testing.T, id, arn, trace, clientContext, identity, tenant string, deadline int64, payload []byte) {
		event, err := protocol.PrepareEvent(payload)
		if !json.Valid(payload) || !utf8.Valid(payload) {
			if !errors.Is(err, protocol.ErrNotJSON) {
				t.Fatalf("PrepareEvent(%q) = %q, %v; want ErrNotJSON", payload, event, err)
			}
			return
		}
		if err != nil {
			t.Fatalf("PrepareEvent(%q): %v", payload, err)
		}
		if bytes.ContainsAny(event, "\r\n") {
			t.Fatalf("PrepareEvent(%q) = %q holds a line break", payload, event)
		}
		if !bytes.ContainsAny(payload, "\r\n") && !bytes.Equal(event, payload) {
			t.Fatalf("PrepareEvent(%q) = %q, want the payload itself", payload, event)
		}
		var want, got bytes.Buffer
		if json.Compact(&want, payload) != nil || json.Compact(&got, event) != nil || !bytes.Equal(want.Bytes(), got.Bytes()) {
			t.Fatalf("PrepareEvent(%q) = %q changed the value", payload, event)
		}
		inv := &protocol.Invocation{
			RequestID: id, DeadlineMs: deadline, FunctionARN: arn, TraceID: trace,
			ClientContext: clientContext, CognitoIdentity: identity, TenantID: tenant,
		}
		checkInvokeLine(t, protocol.AppendInvokeLine(nil, inv, testBody, event), inv, event)
	})
}
