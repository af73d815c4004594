// Package invoke is the bootstrap's invoke loop: it takes invocations from the Lambda Runtime API,
// hands each to a worker, and posts exactly one response or error for it.
package invoke

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"go.uber.org/zap"

	"github.com/polyboot/polyboot/protocol"
)

// ErrTypeResponseTooLarge is reported for a response over the Runtime API's 6 MB limit.
const ErrTypeResponseTooLarge = "Function.ResponseSizeTooLarge"

// RuntimeAPI is what the loop needs of the Runtime API; *protocol.Client implements it.
type RuntimeAPI interface {
	Next(ctx context.Context) (*protocol.Invocation, error)
	Respond(ctx context.Context, requestID string, body []byte) error
	Fail(ctx context.Context, requestID string, report *protocol.ErrorReport) error
}

// Worker runs invocations; *supervisor.Worker implements it.
type Worker interface {
	// Invoke runs one invocation until ctx expires and returns its body or its error.
	Invoke(ctx context.Context, inv *protocol.Invocation) ([]byte, *protocol.ErrorReport)
	// Start makes sure the worker is warm again after a failure; it is a no-op when it is.
	Start(ctx context.Context) error
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
	Margin time.Duration
	// Retries bounds the attempts of one Runtime API call that fails to connect; Backoff is the
	// first pause between them, doubled each time.
	Retries int
	Backoff time.Duration
	// Stream, when set and the Worker is a StreamWorker, makes every response streamed.
	Stream Streamer
}

// Run serves invocations until ctx ends (it returns nil) or the Runtime API fails for good.
func (l *Loop) Run(ctx context.Context) error {
	for {
		inv, err := l.nextWhileWarming(ctx)
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return err
		}
		if err := l.serve(ctx, inv); err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return err
		}
	}
}

// nextWhileWarming asks for the next invocation while the worker makes sure it is warm: a worker
// replaced after a crash or timeout restarts while the loop already waits on /next, so the
// restart is not added to the invocation that failed (the Runtime API counts it done only when
// the runtime asks for the next one). A worker that cannot start is left for Invoke to report.
func (l *Loop) nextWhileWarming(ctx context.Context) (*protocol.Invocation, error) {
	warm := make(chan error, 1)
	go func() { warm <- l.Worker.Start(ctx) }()
	inv, err := l.next(ctx)
	if werr := <-warm; werr != nil && ctx.Err() == nil {
		l.Log.Warn("worker could not be restarted; the next invocation will try again", zap.Error(werr))
	}
	return inv, err
}

// next waits for the next invocation, retrying connection failures a bounded number of times.
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

// serve runs one invocation and posts its result.
func (l *Loop) serve(ctx context.Context, inv *protocol.Invocation) error {
	ictx := ctx
	if d := inv.Deadline(); !d.IsZero() {
		var cancel context.CancelFunc
		ictx, cancel = context.WithDeadline(ctx, d.Add(-l.Margin))
		defer cancel()
	}
	if sw, ok := l.Worker.(StreamWorker); ok && l.Stream != nil {
		return l.serveStream(ctx, ictx, sw, inv)
	}
	body, report := l.Worker.Invoke(ictx, inv)
	if report == nil && len(body) > protocol.MaxResponseSize {
		report = protocol.Errorf(ErrTypeResponseTooLarge,
			"Response payload size (%d bytes) exceeded maximum allowed payload size (%d bytes).",
			len(body), protocol.MaxResponseSize)
	}
	if report != nil {
		return l.post(ctx, inv, "error", func() error { return l.API.Fail(ctx, inv.RequestID, report) })
	}
	return l.post(ctx, inv, "response", func() error { return l.API.Respond(ctx, inv.RequestID, body) })
}

// post sends a result. The Runtime API refusing it (4xx: too large, already answered, unknown
// request) is logged and the loop goes on; it never leads to a second post for the invocation.
func (l *Loop) post(ctx context.Context, inv *protocol.Invocation, what string, send func() error) error {
	err := l.retry(ctx, what, send)
	if status := protocol.StatusOf(err); status >= 400 && status < 500 {
		msg := "runtime api refused the " + what
		if status == http.StatusRequestEntityTooLarge {
			msg = "runtime api refused the response as too large; the invocation has failed"
		}
		l.Log.Error(msg, zap.String("requestId", inv.RequestID), zap.Error(err))
		return nil
	}
	return err
}

// retry calls f until it succeeds, fails with an HTTP status, or fails to connect l.Retries times.
func (l *Loop) retry(ctx context.Context, what string, f func() error) error {
	pause := l.Backoff
	for attempt := 1; ; attempt++ {
		err := f()
		if err == nil || protocol.StatusOf(err) != 0 || ctx.Err() != nil || attempt >= l.Retries {
			if err != nil && protocol.StatusOf(err) == 0 && attempt > 1 {
				err = fmt.Errorf("%s: gave up after %d attempts: %w", what, attempt, err)
			}
			return err
		}
		l.Log.Warn("runtime api call failed; retrying", zap.String("call", what),
			zap.Int("attempt", attempt), zap.Duration("pause", pause), zap.Error(err))
		select {
		case <-time.After(pause):
		case <-ctx.Done():
			return errors.Join(err, ctx.Err())
		}
		pause *= 2
	}
}
