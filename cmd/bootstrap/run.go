package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/pflag"
	"go.uber.org/zap"

	"github.com/polyboot/polyboot/invoke"
	"github.com/polyboot/polyboot/protocol"
	"github.com/polyboot/polyboot/registry"
	"github.com/polyboot/polyboot/supervisor"
)

// options are the bootstrap's settings, from flags with environment defaults.
type options struct {
	handler  string
	taskRoot string
	api      string
	margin   time.Duration
	initWait time.Duration // the worker's init timeout
	adapters []string
	logFmt   string
	sigterm  bool
	logPTY   bool
	stream   bool
}

func parseFlags(args []string, e env, stderr io.Writer) (*options, error) {
	fs := pflag.NewFlagSet("bootstrap", pflag.ContinueOnError)
	fs.SetOutput(stderr)
	o := &options{}
	fs.StringVar(&o.handler, "handler", e.get("_HANDLER"), "handler as FILE.FUNCTION, e.g. function.handler (env _HANDLER)")
	fs.StringVar(&o.taskRoot, "task-root", e.get("LAMBDA_TASK_ROOT"), "folder holding the handler file (env LAMBDA_TASK_ROOT; default: the working directory)")
	fs.StringVar(&o.api, "runtime-api", e.get("AWS_LAMBDA_RUNTIME_API"), "host:port of the Lambda Runtime API (env AWS_LAMBDA_RUNTIME_API)")
	if err := timeFlags(fs, o, e); err != nil {
		return nil, err
	}
	fs.StringSliceVar(&o.adapters, "adapters", filepath.SplitList(e.get("POLYBOOT_ADAPTER_PATH")), "more folders of adapters, searched after the layer's own (env POLYBOOT_ADAPTER_PATH, colon-separated)")
	fs.StringVar(&o.logFmt, "log-format", e.get("AWS_LAMBDA_LOG_FORMAT"), "Text or JSON: the format of every log line, handlers' and the bootstrap's own (env AWS_LAMBDA_LOG_FORMAT; the level filter is AWS_LAMBDA_LOG_LEVEL)")
	fs.BoolVar(&o.logPTY, "log-pty", isTrue(e.get("POLYBOOT_LOG_PTY")), "give workers a pseudo-terminal as their log stream, so programs they run line-buffer their output (env POLYBOOT_LOG_PTY=1)")
	fs.BoolVar(&o.stream, "stream-response", isTrue(e.get("POLYBOOT_STREAM_RESPONSE")), "stream every response as the handler writes it (Lambda response streaming; env POLYBOOT_STREAM_RESPONSE=1)")
	fs.BoolVar(&o.sigterm, "enable-sigterm", isTrue(e.get("POLYBOOT_ENABLE_SIGTERM")), "register a no-op internal extension so Lambda sends SIGTERM before shutdown; an invocation in progress gets 200 ms more, workers get SIGTERM, then SIGKILL 300 ms later (env POLYBOOT_ENABLE_SIGTERM=1)")
	fs.Usage = func() {
		fmt.Fprint(stderr, "Usage: bootstrap [flags]          serve the Lambda Runtime API (what Lambda runs)\n"+
			"       bootstrap invoke --help    run events through a handler locally, no Runtime API needed\n\nFlags:\n")
		fs.PrintDefaults()
		fmt.Fprint(stderr, envHelp)
	}
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	return o, nil
}

func run(ctx context.Context, args, environ []string, stdout, stderr io.Writer) int {
	e := newEnv(environ)
	o, err := parseFlags(args, e, stderr)
	if errors.Is(err, pflag.ErrHelp) {
		return 0
	}
	if err != nil {
		fmt.Fprintf(stderr, "bootstrap: %v\n", err)
		return 2
	}
	logs := newLogSettings(o.logFmt, e.get("AWS_LAMBDA_LOG_LEVEL"))
	log := newLogger(stderr, logs)
	defer func() { _ = log.Sync() }()
	if o.api == "" {
		log.Error("AWS_LAMBDA_RUNTIME_API is not set: the bootstrap runs under Lambda or its Runtime Interface Emulator")
		return 2
	}
	n, err := concurrency(e.get("AWS_LAMBDA_MAX_CONCURRENCY"))
	if err != nil {
		log.Error("bad setting", zap.Error(err))
		return 2
	}
	limitProcs(e, n)
	ctx, stop := signal.NotifyContext(ctx, syscall.SIGTERM, syscall.SIGINT)
	defer stop()

	api := protocol.NewClient(o.api)
	workers, report := startWorkers(ctx, o, e, log, newHandlerLogSink(stdout, logs), n)
	if report != nil {
		log.Error("init failed", zap.String("errorType", report.Type), zap.String("errorMessage", report.Message))
		if err := api.InitError(ctx, report); err != nil {
			log.Error("reporting the init error failed", zap.Error(err))
		}
		return 1
	}
	defer closeAll(workers)
	if o.sigterm {
		enableSIGTERM(ctx, api, log)
	}
	var stream invoke.Streamer
	if o.stream {
		stream = api
	}
	if err := serve(ctx, api, stream, workers, log, o.margin); err != nil {
		log.Error("invoke loop stopped", zap.Error(err))
		return 1
	}
	return 0
}

// limitProcs lets at most as many threads run Go code at once (GOMAXPROCS) as invocations are
// served at once, n, unless GOMAXPROCS is set. Each invoke loop does one thing at a time (its
// goroutines hand work to each other and wait on pipes and sockets), so more Ps only spin looking
// for work and hand goroutines across threads; on Lambda's one or two vCPUs that CPU time is taken
// from the handler and from the Runtime API. Measured under the emulator (bench/profile-notes.md):
// a warm invocation 0.07× of aws-lambda-go's time faster with one P than with two.
func limitProcs(e env, n int) {
	if e.get("GOMAXPROCS") == "" && n < runtime.GOMAXPROCS(0) {
		runtime.GOMAXPROCS(n)
	}
}

// concurrency reads AWS_LAMBDA_MAX_CONCURRENCY (set on Lambda Managed Instances): how many
// invocations the environment serves at once. Unset means 1.
func concurrency(v string) (int, error) {
	if v == "" {
		return 1, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 || n > 1024 {
		return 0, fmt.Errorf("AWS_LAMBDA_MAX_CONCURRENCY=%q: want a whole number from 1 to 1024", v)
	}
	return n, nil
}

// serve runs one invoke loop per worker until ctx ends or one loop fails for good, which stops the
// others.
func serve(ctx context.Context, api invoke.RuntimeAPI, stream invoke.Streamer, workers []*supervisor.Worker, log *zap.Logger, margin time.Duration) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	errs := make(chan error, len(workers))
	for i, w := range workers {
		loop := &invoke.Loop{
			API: api, Stream: stream, Worker: w, Log: log.With(zap.Int("worker", i)),
			Margin: margin, Retries: 5, Backoff: 20 * time.Millisecond, Grace: shutdownGrace,
		}
		go func() {
			err := loop.Run(ctx)
			cancel()
			errs <- err
		}()
	}
	var first error
	for range workers {
		if err := <-errs; err != nil && first == nil {
			first = err
		}
	}
	return first
}

// workerConfig resolves the handler to the command line of its worker.
func workerConfig(o *options, e env, log *zap.Logger, sink supervisor.LogSink) (supervisor.Config, *protocol.ErrorReport) {
	taskRoot, err := taskRoot(o.taskRoot)
	if err != nil {
		return supervisor.Config{}, protocol.Errorf("Runtime.InvalidTaskRoot", "%v", err)
	}
	layerDir := executableDir()
	reg, err := registry.Load(append([]string{filepath.Join(layerDir, "adapters")}, o.adapters...)...)
	if err != nil {
		return supervisor.Config{}, protocol.Errorf("Runtime.InvalidAdapter", "%v", err)
	}
	h, err := reg.Resolve(o.handler, taskRoot)
	if err != nil {
		return supervisor.Config{}, invoke.Report(err)
	}
	argv, err := reg.Argv(h, registry.Env{Getenv: e.get, BinDirs: []string{filepath.Join(layerDir, "bin")}})
	if err != nil {
		return supervisor.Config{}, invoke.Report(err)
	}
	log.Debug("worker command", zap.Strings("argv", argv))
	return supervisor.Config{
		Argv:                 argv,
		Dir:                  taskRoot,
		Env:                  workerEnv(e, taskRoot),
		Logs:                 sink,
		Warn:                 log.Sugar().Warnw,
		LogPTY:               o.logPTY,
		TrimTrailingNewlines: h.Adapter != nil && h.Adapter.TrimTrailingNewlines,
		InitTimeout:          o.initWait,
	}, nil
}

// startWorkers starts n workers in parallel and waits until all have loaded the handler. The
// first failure is the init error, reported as invoke.Report makes it; the workers already started
// are stopped.
func startWorkers(ctx context.Context, o *options, e env, log *zap.Logger, sink supervisor.LogSink, n int) ([]*supervisor.Worker, *protocol.ErrorReport) {
	cfg, report := workerConfig(o, e, log, sink)
	if report != nil {
		return nil, report
	}
	sp := newSpawner(log)
	workers := make([]*supervisor.Worker, n)
	errs := make(chan error, n)
	for i := range workers {
		workers[i] = supervisor.NewWorker(sp, cfg)
		go func(w *supervisor.Worker) { errs <- w.Start(ctx) }(workers[i])
	}
	var first error
	for range workers {
		if err := <-errs; err != nil && first == nil {
			first = err
		}
	}
	if first != nil {
		closeAll(workers)
		return nil, invoke.Report(first)
	}
	return workers, nil
}

// closeAll stops every worker at once.
func closeAll(workers []*supervisor.Worker) {
	done := make(chan struct{}, len(workers))
	for _, w := range workers {
		go func(w *supervisor.Worker) {
			_ = w.Close()
			done <- struct{}{}
		}(w)
	}
	for range workers {
		<-done
	}
}

// taskRoot returns the absolute task root: the given folder, or the working directory.
func taskRoot(dir string) (string, error) {
	if dir == "" {
		return os.Getwd()
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return "", fmt.Errorf("task root %q: %w", dir, err)
	}
	if fi, err := os.Stat(abs); err != nil || !fi.IsDir() {
		return "", fmt.Errorf("task root %q is not a folder", dir)
	}
	return abs, nil
}

// executableDir is the folder of the running bootstrap, links resolved: the layer's root.
func executableDir() string {
	exe, err := os.Executable()
	if err != nil {
		return "."
	}
	if r, err := filepath.EvalSymlinks(exe); err == nil {
		exe = r
	}
	return filepath.Dir(exe)
}

// workerEnv is the bootstrap's environment plus what docs/protocol.md promises workers.
func workerEnv(e env, taskRoot string) []string {
	w := env{}
	for k, v := range e {
		w[k] = v
	}
	w["POLYBOOT_PROTOCOL"] = fmt.Sprint(protocol.Version)
	w["LAMBDA_TASK_ROOT"] = taskRoot
	if w["HOME"] == "" {
		w["HOME"] = "/tmp"
	}
	return w.list()
}

// enableSIGTERM registers the no-op extension during init (before the first /next), and parks
// it on its event stream for the life of the process.
func enableSIGTERM(ctx context.Context, api *protocol.Client, log *zap.Logger) {
	id, err := api.RegisterExtension(ctx, "polyboot")
	if err != nil {
		log.Warn("could not register the SIGTERM extension; shutdown will be a SIGKILL", zap.Error(err))
		return
	}
	go func() {
		if err := api.ParkExtension(ctx, id); err != nil && ctx.Err() == nil {
			log.Warn("the SIGTERM extension's event stream ended", zap.Error(err))
		}
	}()
}

// isTrue reports whether an environment value switches something on.
func isTrue(v string) bool {
	switch strings.ToLower(v) {
	case "1", "true", "yes", "on":
		return true
	}
	return false
}
