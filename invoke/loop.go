// Package invoke is the bootstrap's invoke loop: it takes invocations from the Lambda Runtime API,
// hands each to a worker, and posts exactly one response or error for it.
//
// One concern per file: loop.go serves invocations, warm.go restarts the worker between them,
// shutdown.go gives the invocation in progress its grace on SIGTERM, retry.go decides what is sent
// again, stream.go streams responses, errors.go turns the worker's errors into the error reports
// posted (Report, the one place where their Lambda error types are chosen), reports.go builds the
// errors the loop itself reports.
package invoke

import (
	"context"
	"errors"
	"time"

	"go.uber.org/zap"

	"github.com/polyboot/polyboot/protocol"
)

// RuntimeAPI is what the loop needs of the Runtime API; *protocol.Client implements it.
type RuntimeAPI interface {
	// Next waits for the next invocation. An invocation handed out with a header the runtime
	// cannot use comes with a *protocol.InvalidDeadlineError, and is answered with an error.
	Next(ctx context.Context) (*protocol.Invocation, error)
	Respond(ctx context.Context, requestID string, body []byte) error
	Fail(ctx context.Context, requestID string, report *protocol.ErrorReport) error
}

// Worker runs invocations; *supervisor.Worker implements it. Its errors are posted as Report
// makes them.
type Worker interface {
	// Invoke runs one invocation until ctx expires and returns its body or its error.
	Invoke(ctx context.Context, inv *protocol.Invocation) ([]byte, error)
	// Start makes sure the worker is warm again after a failure; it is a no-op when it is.
	Start(ctx context.Context) error
	// Warm reports whether Start would have nothing to do (the worker is running), so that a warm
	// worker costs the loop no goroutine per invocation.
	Warm() bool
}

var _ RuntimeAPI = (*protocol.Client)(nil)

// Loop serves invocations one at a time. Run several Loops, each with its own Worker, for
// concurrency (Lambda Managed Instances).
type Loop struct {
	API    RuntimeAPI
	Worker Worker
	Log    *zap.Logger
	// Margin is how long before an invocation's deadline the loop gives up waiting for the worker,
	// kills it and reports a timeout, so the report reaches Lambda before Lambda's own timeout.
	// The worker is told the deadline less Margin: the one enforced.
	Margin time.Duration
	// Retries bounds the attempts of one Runtime API call that fails to connect; Backoff is the
	// first pause between them, doubled each time.
	Retries int
	Backoff time.Duration
	// Stream, when set and the Worker is a StreamWorker, makes every response streamed.
	Stream Streamer
	// Grace is what an invocation in progress when Run's context ends (the bootstrap got SIGTERM)
	// still gets: its worker gets SIGTERM (when it is a Terminator) and is killed Grace later; its
	// result is posted within another Grace.
	Grace time.Duration

	starting *warming // a Worker.Start in progress; Run's goroutine only
}

// Run serves invocations until ctx ends (it returns nil) or the Runtime API fails for good.
func (l *Loop) Run(ctx context.Context) error {
	defer l.stopWarming()
	for {
		l.warm(ctx)
		inv, err := l.next(ctx)
		if err == nil {
			err = l.serve(ctx, inv)
		} else {
			err = l.rejectInvalid(ctx, err)
		}
		if ctx.Err() != nil {
			return nil
		}
		if err != nil {
			return err
		}
	}
}

// next waits for the next invocation, retrying failures to connect a bounded number of times.
// An HTTP error status (500: the platform wants the runtime to exit) is final.
func (l *Loop) next(ctx context.Context) (*protocol.Invocation, error) {
	var inv *protocol.Invocation
	err := l.retry(ctx, "next", func() error {
		var err error
		inv, err = l.API.Next(ctx)
		return err
	})
	return inv, err
}

// rejectInvalid answers an invocation that Next handed out with an invalid deadline: it gets its
// one post, an error, and the loop goes on (as aws-lambda-go does). Any other error of Next is
// returned as it is.
func (l *Loop) rejectInvalid(ctx context.Context, err error) error {
	var bad *protocol.InvalidDeadlineError
	if !errors.As(err, &bad) {
		return err
	}
	l.Log.Error("the runtime api sent an invalid deadline; the invocation is answered with an error",
		zap.String("requestId", bad.Invocation.RequestID), zap.Error(err))
	return l.fail(ctx, bad.Invocation, invalidDeadlineReport(bad))
}

// serve runs one invocation and posts its result.
func (l *Loop) serve(ctx context.Context, inv *protocol.Invocation) error {
	received := time.Now()
	ictx, pctx, cancel := l.contexts(ctx, inv)
	defer cancel()
	if !l.awaitWarm(ctx, ictx) {
		return l.fail(pctx, inv, l.ended(ctx, restartTimeoutReport(received)))
	}
	if sw, ok := l.Worker.(StreamWorker); ok && l.Stream != nil {
		return l.serveStream(ctx, pctx, ictx, sw, inv)
	}
	body, err := l.Worker.Invoke(ictx, l.enforced(inv))
	if report := failure(body, err); report != nil {
		return l.fail(pctx, inv, l.ended(ctx, report))
	}
	return l.post(pctx, inv, "response", func() error { return l.API.Respond(pctx, inv.RequestID, body) })
}

// failure is the report of an invocation whose worker answered body and err, or nil when body is
// its response.
func failure(body []byte, err error) *protocol.ErrorReport {
	switch {
	case err != nil:
		return Report(err)
	case len(body) > protocol.MaxResponseSize:
		return protocol.ResponseTooLarge(int64(len(body)))
	}
	return nil
}

// enforced returns the invocation as the worker is to see it: with the deadline the loop enforces
// (the Runtime API's less Margin), so that handlers are told the time they really have.
func (l *Loop) enforced(inv *protocol.Invocation) *protocol.Invocation {
	if inv.DeadlineMs <= 0 || l.Margin <= 0 {
		return inv
	}
	cp := *inv
	cp.DeadlineMs = max(inv.Deadline().Add(-l.Margin).UnixMilli(), 1)
	return &cp
}

// fail posts an error for inv.
func (l *Loop) fail(ctx context.Context, inv *protocol.Invocation, report *protocol.ErrorReport) error {
	return l.post(ctx, inv, "error", func() error { return l.API.Fail(ctx, inv.RequestID, report) })
}
