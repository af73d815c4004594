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

// post sends a result, retrying failures to connect, and settles what its failure means.
func (l *Loop) post(ctx context.Context, inv *protocol.Invocation, what string, send func() error) error {
	return l.settle(ctx, inv, what, l.retry(ctx, what, send))
}

// settle decides what a failed post means for the loop. The Runtime API refusing it (4xx: too
// large, already answered, unknown request) is logged and the loop goes on; so is a connection that
// broke once the post was sent (the Runtime API may have taken it: it is never sent twice). An
// error status (5xx), a Runtime API that could not be reached, or a context that ended stop the loop.
func (l *Loop) settle(ctx context.Context, inv *protocol.Invocation, what string, err error) error {
	if err == nil {
		return nil
	}
	status := protocol.StatusOf(err)
	switch {
	case status >= 400 && status < 500:
		msg := "runtime api refused the " + what
		if status == http.StatusRequestEntityTooLarge {
			msg = "runtime api refused the response as too large; the invocation has failed"
		}
		l.Log.Error(msg, zap.String("requestId", inv.RequestID), zap.Error(err))
		return nil
	case status != 0, isConnectError(err), ctx.Err() != nil:
		return err
	}
	l.Log.Error("the connection to the runtime api failed after the "+what+" was sent; it is not sent again",
		zap.String("requestId", inv.RequestID), zap.Error(err))
	return nil
}

// retry calls f until it succeeds, or fails other than by failing to connect, or has failed to
// connect l.Retries times. Only a failure to connect is retried: a request that reached the
// Runtime API may have been acted on (a /next that handed out an invocation, a /response that
// was read), and an error computed once is the same error the next time.
func (l *Loop) retry(ctx context.Context, what string, f func() error) error {
	pause := l.Backoff
	for attempt := 1; ; attempt++ {
		err := f()
		if err == nil || !isConnectError(err) || ctx.Err() != nil || attempt >= l.Retries {
			if err != nil && attempt > 1 {
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

// isConnectError reports whether err is a failure to connect: nothing of the request was sent.
func isConnectError(err error) bool {
	var ce *protocol.ConnectError
	return errors.As(err, &ce)
}
