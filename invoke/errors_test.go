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
	tests := []struct {
		name     string
		err      error
		want     *protocol.ErrorReport // nil: wantType and wantMsg
		same     bool                  // want is returned itself
		wantType string
		wantMsg  string
	}{
		{name: "exit", err: kindErr(supervisor.KindExit, "the worker exited after 3ms: exit status 1"),
			wantType: "Runtime.ExitError", wantMsg: "the worker exited after 3ms: exit status 1"},
		{name: "timeout", err: kindErr(supervisor.KindTimeout, "Task timed out after 1.00 seconds"),
			wantType: "Sandbox.Timedout", wantMsg: "Task timed out after 1.00 seconds"},
		{name: "protocol", err: kindErr(supervisor.KindProtocol, "the worker sent \"ready\" instead of a reply"),
			wantType: "Runtime.InvalidReply", wantMsg: "the worker sent \"ready\" instead of a reply"},
		{name: "event", err: kindErr(supervisor.KindEvent, "Unable to unmarshal input: bad"),
			wantType: "Runtime.UnmarshalError", wantMsg: "Unable to unmarshal input: bad"},
		{name: "start", err: kindErr(supervisor.KindStart, "cannot start x: no such file"),
			wantType: "Runtime.InvalidEntrypoint", wantMsg: "cannot start x: no such file"},
		{name: "init timeout", err: kindErr(supervisor.KindInitTimeout, "the worker did not load the handler within 10s"),
			wantType: "Runtime.InitTimeout", wantMsg: "the worker did not load the handler within 10s"},
		{name: "body", err: kindErr(supervisor.KindBody, "creating the body FIFO: no space"),
			wantType: "Runtime.BodyStreamError", wantMsg: "creating the body FIFO: no space"},
		{name: "too large", err: tooLarge, want: protocol.ResponseTooLarge(7 << 20)},
		{name: "no kind", err: kindErr(0, "what"), wantType: "Runtime.Unknown", wantMsg: "what"},
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
