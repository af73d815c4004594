package main

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/polyboot/polyboot/invoke"
	"github.com/polyboot/polyboot/protocol"
)

// errNoMoreEvents is what localAPI's Next answers once every event was handed out: it ends the
// invoke loop.
var errNoMoreEvents = errors.New("no more events")

// localAPI is an in-memory Runtime API for `bootstrap invoke`: it hands out its events one at a
// time, each with a deadline timeout from when it is handed out, and prints every result on its
// own line of out. It serves one invoke.Loop (its methods are not called concurrently).
type localAPI struct {
	events  [][]byte
	timeout time.Duration
	arn     string
	out     io.Writer
	served  int
	failed  bool // an invocation failed
}

var (
	_ invoke.RuntimeAPI = (*localAPI)(nil)
	_ invoke.Streamer   = (*localAPI)(nil)
)

// Next hands out the next event, or errNoMoreEvents.
func (a *localAPI) Next(ctx context.Context) (*protocol.Invocation, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if a.served == len(a.events) {
		return nil, errNoMoreEvents
	}
	a.served++
	return &protocol.Invocation{
		RequestID:   newRequestID(),
		DeadlineMs:  time.Now().Add(a.timeout).UnixMilli(),
		FunctionARN: a.arn,
		Payload:     a.events[a.served-1],
	}, nil
}

// Respond prints a response body.
func (a *localAPI) Respond(_ context.Context, _ string, body []byte) error {
	printResult(a.out, body, nil)
	return nil
}

// Fail prints an error as Lambda's error JSON.
func (a *localAPI) Fail(_ context.Context, _ string, report *protocol.ErrorReport) error {
	a.failed = true
	printResult(a.out, nil, report)
	return nil
}

// RespondStream prints a streamed body as it comes; an error reported after the body began (in the
// trailers) follows on a line of its own.
func (a *localAPI) RespondStream(_ context.Context, _ string, body io.Reader, trailer http.Header) error {
	if _, err := io.Copy(a.out, body); err != nil {
		return fmt.Errorf("printing the streamed response: %w", err)
	}
	_, _ = io.WriteString(a.out, "\n")
	if encoded := trailer.Get(protocol.HeaderErrorBody); encoded != "" {
		a.failed = true
		report, err := base64.StdEncoding.DecodeString(encoded)
		if err != nil {
			return fmt.Errorf("decoding the streamed error: %w", err)
		}
		_, _ = a.out.Write(append(report, '\n'))
	}
	return nil
}
