package invoke_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/polyboot/polyboot/invoke"
	"github.com/polyboot/polyboot/protocol"
	"github.com/polyboot/polyboot/supervisor"
)

// TestMain fails the package's tests when any of them leaves a goroutine running.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// errRefused is a failure to connect: nothing was sent, the call may be made again.
var errRefused = &protocol.ConnectError{Err: &net.OpError{Op: "dial", Net: "tcp", Err: errors.New("connect: connection refused")}}

// errBroken is a connection that failed after the request was sent: it must not be sent again.
var errBroken = &net.OpError{Op: "read", Net: "tcp", Err: errors.New("read: connection reset by peer")}

// recorder is the ordered record of the calls the fakes got, shared by fakeAPI and fakeWorker.
type recorder struct {
	mu     sync.Mutex
	events []string
}

func (r *recorder) add(format string, args ...any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.events = append(r.events, fmt.Sprintf(format, args...))
}

// without returns the events that do not start with prefix.
func (r *recorder) without(prefix string) []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []string
	for _, e := range r.events {
		if !strings.HasPrefix(e, prefix) {
			out = append(out, e)
		}
	}
	return out
}

// answer is one scripted answer of Next.
type answer struct {
	inv *protocol.Invocation
	err error
}

// invocation returns a scripted answer with an invocation of request id, no deadline and event {}.
func invocation(id string) answer {
	return answer{inv: &protocol.Invocation{RequestID: id, Payload: []byte("{}")}}
}

// post is one Respond or Fail call that reached the fake Runtime API.
type post struct {
	kind   string // "respond" or "fail"
	id     string
	body   []byte
	report *protocol.ErrorReport
	ctxErr error // the context's error at the time of the call
}

// fakeAPI is a scripted RuntimeAPI. Next returns the answers of script in order; once they are
// used up it calls end (which cancels the loop's context) and waits for the context to end, the
// way the real Next waits for an invocation. respond and fail, when set, give the result of the
// calls of the same name (nil: success). Like the real client, every call fails with the
// context's error once the context is done.
type fakeAPI struct {
	rec     *recorder
	script  []answer
	end     func()
	respond func(id string, attempt int) error
	fail    func(id string, attempt int) error

	mu        sync.Mutex
	nextCalls []time.Time
	attempts  map[string]int // calls of Respond and Fail, by kind and id
	posts     []post
}

var _ invoke.RuntimeAPI = (*fakeAPI)(nil)

func (a *fakeAPI) Next(ctx context.Context) (*protocol.Invocation, error) {
	a.rec.add("next")
	a.mu.Lock()
	i := len(a.nextCalls)
	a.nextCalls = append(a.nextCalls, time.Now())
	a.mu.Unlock()
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if i < len(a.script) {
		return a.script[i].inv, a.script[i].err
	}
	a.end()
	<-ctx.Done()
	return nil, ctx.Err()
}

func (a *fakeAPI) Respond(ctx context.Context, id string, body []byte) error {
	return a.record(ctx, post{kind: "respond", id: id, body: body}, a.respond)
}

func (a *fakeAPI) Fail(ctx context.Context, id string, report *protocol.ErrorReport) error {
	return a.record(ctx, post{kind: "fail", id: id, report: report}, a.fail)
}

// record counts an attempt to post p and keeps p when it succeeds.
func (a *fakeAPI) record(ctx context.Context, p post, result func(string, int) error) error {
	a.rec.add("%s %s", p.kind, p.id)
	p.ctxErr = ctx.Err()
	if p.ctxErr != nil {
		return p.ctxErr
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.attempts == nil {
		a.attempts = map[string]int{}
	}
	a.attempts[p.kind+" "+p.id]++
	if result != nil {
		if err := result(p.id, a.attempts[p.kind+" "+p.id]); err != nil {
			return err
		}
	}
	a.posts = append(a.posts, p)
	return nil
}

// handlerErr is the error of a handler that failed with report, as a worker returns it.
func handlerErr(report *protocol.ErrorReport) error {
	return &supervisor.HandlerError{Report: report}
}

// timeoutErr is the error of an invocation that ran out of time, as a worker returns it.
func timeoutErr(msg string) error {
	return &supervisor.Error{Kind: supervisor.KindTimeout, Msg: msg}
}

// fakeWorker is a Worker whose Invoke answers with invoke (by default the body "ok <id>") and whose
// Start returns what start returns (by default nil).
type fakeWorker struct {
	rec    *recorder
	invoke func(ctx context.Context, inv *protocol.Invocation) ([]byte, error)
	start  func(call int) error
	// startCtx, when set, is called instead of start, with Start's context.
	startCtx func(ctx context.Context, call int) error
	// warm, when set, is what Warm reports (by default false: Start is called before every Next).
	warm func() bool

	mu     sync.Mutex
	starts int
}

var _ invoke.Worker = (*fakeWorker)(nil)

func (w *fakeWorker) Invoke(ctx context.Context, inv *protocol.Invocation) ([]byte, error) {
	w.rec.add("invoke %s", inv.RequestID)
	if w.invoke == nil {
		return []byte("ok " + inv.RequestID), nil
	}
	return w.invoke(ctx, inv)
}

func (w *fakeWorker) Warm() bool {
	return w.warm != nil && w.warm()
}

func (w *fakeWorker) Start(ctx context.Context) error {
	w.rec.add("start")
	w.mu.Lock()
	w.starts++
	call := w.starts
	w.mu.Unlock()
	if w.startCtx != nil {
		return w.startCtx(ctx, call)
	}
	if w.start == nil {
		return nil
	}
	return w.start(call)
}

// harness is a Loop with fakes and an observed logger.
type harness struct {
	loop   *invoke.Loop
	api    *fakeAPI
	worker *fakeWorker
	rec    *recorder
	logs   *observer.ObservedLogs
}

// newHarness returns a Loop serving script with a fake worker; Retries 3, Backoff 1 ms, no Margin.
func newHarness(script ...answer) *harness {
	rec := &recorder{}
	core, logs := observer.New(zapcore.DebugLevel)
	h := &harness{
		api:    &fakeAPI{rec: rec, script: script},
		worker: &fakeWorker{rec: rec},
		rec:    rec,
		logs:   logs,
	}
	h.loop = &invoke.Loop{API: h.api, Worker: h.worker, Log: zap.New(core), Retries: 3, Backoff: time.Millisecond}
	return h
}

// run runs the loop until the fake API has served its script, and returns Run's result. A loop
// that runs for more than 10 s fails the test. (The context has no deadline of its own, so that
// the invocations' deadlines are the loop's alone.)
func (h *harness) run(t *testing.T) error {
	t.Helper()
	ctx, cancel := context.WithCancelCause(context.Background())
	defer cancel(nil)
	errStuck := errors.New("stuck")
	watchdog := time.AfterFunc(10*time.Second, func() { cancel(errStuck) })
	defer watchdog.Stop()
	h.api.end = func() { cancel(nil) }
	err := h.loop.Run(ctx)
	if errors.Is(context.Cause(ctx), errStuck) {
		t.Fatalf("Run did not end: %v", h.rec.without(""))
	}
	return err
}

// messages returns the messages logged at level.
func (h *harness) messages(level zapcore.Level) []string {
	var out []string
	for _, e := range h.logs.All() {
		if e.Level == level {
			out = append(out, e.Message)
		}
	}
	return out
}

// pauses returns the pauses the loop logged between attempts of call.
func (h *harness) pauses(call string) []time.Duration {
	var out []time.Duration
	for _, e := range h.logs.FilterMessage("runtime api call failed; retrying").All() {
		if e.ContextMap()["call"] == call {
			out = append(out, e.ContextMap()["pause"].(time.Duration))
		}
	}
	return out
}
