package invoke_test

import (
	"errors"
	"fmt"
	"reflect"
	"testing"

	"github.com/polyboot/polyboot/invoke"
	"github.com/polyboot/polyboot/protocol"
	"github.com/polyboot/polyboot/supervisor"
)

// TestReport: every kind of the supervisor's errors gets its Lambda error type and keeps its
// message; a handler's error is posted as the adapter sent it; errors are found through wrapping;
// an error of no known kind is Runtime.Unknown.
func TestReport(t *testing.T) {
	handlerReport := &protocol.ErrorReport{Type: "ValueError", Message: "bad\nlast line", StackTrace: []string{"f.py:1"}}
	registryReport := protocol.Errorf("Runtime.HandlerNotFound", "no handler")
	kindErr := func(k supervisor.Kind, msg string) error { return &supervisor.Error{Kind: k, Msg: msg} }
	tooLarge := &supervisor.Error{Kind: supervisor.KindTooLarge, Msg: protocol.ResponseTooLargeMessage(7 << 20), Size: 7 << 20}
	type test struct {
		name     string
		err      error
		want     *protocol.ErrorReport // nil: wantType and wantMsg
		same     bool                  // want is returned itself
		wantType string
		wantMsg  string
	}
	// kind is the test of an error of kind k, whose message the report keeps.
	kind := func(name string, k supervisor.Kind, wantType, msg string) test {
		return test{name: name, err: kindErr(k, msg), wantType: wantType, wantMsg: msg}
	}
	tests := []test{
		kind("exit", supervisor.KindExit, "Runtime.ExitError", "the worker exited after 3ms: exit status 1"),
		kind("timeout", supervisor.KindTimeout, "Sandbox.Timedout", "Task timed out after 1.00 seconds"),
		kind("protocol", supervisor.KindProtocol, "Runtime.InvalidReply", "the worker sent \"ready\" instead of a reply"),
		kind("event", supervisor.KindEvent, "Runtime.UnmarshalError", "Unable to unmarshal input: bad"),
		kind("start", supervisor.KindStart, "Runtime.InvalidEntrypoint", "cannot start x: no such file"),
		kind("init timeout", supervisor.KindInitTimeout, "Runtime.InitTimeout", "the worker did not load the handler within 10s"),
		kind("body", supervisor.KindBody, "Runtime.BodyStreamError", "creating the body FIFO: no space"),
		kind("no kind", 0, "Runtime.Unknown", "what"),
		{name: "too large", err: tooLarge, want: protocol.ResponseTooLarge(7 << 20)},
		{name: "handler", err: &supervisor.HandlerError{Report: handlerReport}, want: handlerReport, same: true},
		{name: "wrapped handler", err: fmt.Errorf("invoking: %w", &supervisor.HandlerError{Report: handlerReport}),
			want: handlerReport, same: true},
		{
			name:     "wrapped kind",
			err:      fmt.Errorf("starting: %w", kindErr(supervisor.KindExit, "the worker exited during init: exit status 3")),
			wantType: "Runtime.ExitError", wantMsg: "the worker exited during init: exit status 3",
		},
		{name: "wrapped too large", err: fmt.Errorf("invoking: %w", tooLarge), want: protocol.ResponseTooLarge(7 << 20)},
		{name: "report", err: registryReport, want: registryReport, same: true},
		{name: "wrapped report", err: fmt.Errorf("resolving: %w", registryReport), want: registryReport, same: true},
		{name: "unknown", err: errors.New("starting worker: context canceled"),
			wantType: "Runtime.Unknown", wantMsg: "starting worker: context canceled"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := invoke.Report(tt.err)
			want := tt.want
			if want == nil {
				want = &protocol.ErrorReport{Type: tt.wantType, Message: tt.wantMsg, StackTrace: []string{}}
			}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("Report = %#v, want %#v", got, want)
			}
			if tt.same && got != tt.want {
				t.Errorf("Report made a new report, want the error's own")
			}
		})
	}
	if r := invoke.Report(nil); r != nil {
		t.Errorf("Report(nil) = %#v, want nil", r)
	}
}
