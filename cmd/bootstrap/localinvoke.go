package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/spf13/pflag"
	"go.uber.org/zap"

	"github.com/polyboot/polyboot/invoke"
	"github.com/polyboot/polyboot/protocol"
	"github.com/polyboot/polyboot/supervisor"
)

// Exit codes of `bootstrap invoke`.
const (
	exitInvokeError = 1 // an invocation returned an error
	exitUsage       = 2 // bad flags or event files
	exitInitError   = 3 // the handler could not be loaded
)

// runLocal is `bootstrap invoke`: it runs events through the real invoke loop, supervisor and
// adapter, with an in-memory Runtime API (localAPI), and prints each result — the quickest way to
// try a handler, with the margin, the size limit and streaming as under Lambda.
func runLocal(ctx context.Context, args []string, e env, stdin io.Reader, stdout, stderr io.Writer) int {
	fs := pflag.NewFlagSet("bootstrap invoke", pflag.ContinueOnError)
	fs.SetOutput(stderr)
	o := &options{}
	fs.StringVar(&o.handler, "handler", e.get("_HANDLER"), "handler as FILE.FUNCTION (env _HANDLER)")
	fs.StringVar(&o.taskRoot, "task-root", e.get("LAMBDA_TASK_ROOT"), "folder holding the handler file (env LAMBDA_TASK_ROOT; default: the working directory)")
	fs.StringSliceVar(&o.adapters, "adapters", filepath.SplitList(e.get("POLYBOOT_ADAPTER_PATH")), "more folders of adapters (env POLYBOOT_ADAPTER_PATH)")
	fs.BoolVar(&o.logPTY, "log-pty", isTrue(e.get("POLYBOOT_LOG_PTY")), "give the worker a pseudo-terminal as its log stream (env POLYBOOT_LOG_PTY=1)")
	fs.BoolVar(&o.stream, "stream-response", isTrue(e.get("POLYBOOT_STREAM_RESPONSE")), "print each response as the handler writes it, as Lambda streams it (env POLYBOOT_STREAM_RESPONSE=1)")
	if err := timeFlags(fs, o, e); err != nil {
		fmt.Fprintf(stderr, "bootstrap invoke: %v\n", err)
		return exitUsage
	}
	events := fs.StringArray("event", nil, "event file, or - for standard input; repeat to send several events to the same warm worker (default: {})")
	timeout := fs.Duration("timeout", 30*time.Second, "time each invocation may take, as a function's timeout (the handler is stopped --timeout-margin before)")
	fs.Usage = func() {
		fmt.Fprintf(stderr, "Usage: bootstrap invoke --handler FILE.FUNCTION [--task-root DIR] [--event FILE|-]...\n\n"+
			"Runs events through the handler's real adapter and prints each result on its own line:\n"+
			"the response body, or the error as Lambda's error JSON. Handler log lines go to stderr.\n"+
			"Exit status: 0 all succeeded, %d an invocation failed, %d usage, %d the handler could not be loaded.\n\nFlags:\n",
			exitInvokeError, exitUsage, exitInitError)
		fs.PrintDefaults()
		fmt.Fprint(stderr, envHelp)
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, pflag.ErrHelp) {
			return 0
		}
		fmt.Fprintf(stderr, "bootstrap invoke: %v (see bootstrap invoke --help)\n", err)
		return exitUsage
	}
	limitProcs(e, 1)
	if len(*events) == 0 {
		*events = []string{""}
	}
	payloads := make([][]byte, len(*events))
	for i, name := range *events {
		b, err := readEvent(name, stdin)
		if err != nil {
			fmt.Fprintf(stderr, "bootstrap invoke: %v\n", err)
			return exitUsage
		}
		payloads[i] = b
	}
	settings := newLogSettings(e.get("AWS_LAMBDA_LOG_FORMAT"), e.get("AWS_LAMBDA_LOG_LEVEL"))
	log := newLogger(stderr, settings)
	cfg, report := workerConfig(o, e, log, newHandlerLogSink(stderr, settings))
	if report != nil {
		printResult(stdout, nil, report)
		return exitInitError
	}
	w := supervisor.NewWorker(newSpawner(log), cfg)
	defer w.Close()
	if err := w.Start(ctx); err != nil {
		printResult(stdout, nil, invoke.Report(err))
		return exitInitError
	}
	api := &localAPI{events: payloads, timeout: *timeout, out: stdout,
		arn: "arn:aws:lambda:local:000000000000:function:" + functionName(e)}
	return serveLocal(ctx, api, w, o, log, stderr)
}

// serveLocal runs the invoke loop over api's events and returns the exit status.
func serveLocal(ctx context.Context, api *localAPI, w invoke.Worker, o *options, log *zap.Logger, stderr io.Writer) int {
	loop := &invoke.Loop{API: api, Worker: w, Log: log, Margin: o.margin, Retries: 1}
	if o.stream {
		loop.Stream = api
	}
	if err := loop.Run(ctx); err != nil && !errors.Is(err, errNoMoreEvents) {
		fmt.Fprintf(stderr, "bootstrap invoke: %v\n", err)
		return exitInvokeError
	}
	if api.failed {
		return exitInvokeError
	}
	return 0
}

// envHelp documents the environment the bootstrap reads, for --help.
const envHelp = `
Environment:
  _HANDLER                     FILE.FUNCTION, as --handler
  LAMBDA_TASK_ROOT             the handler's folder, as --task-root
  AWS_LAMBDA_RUNTIME_API       the Runtime API address (set by Lambda)
  AWS_LAMBDA_MAX_CONCURRENCY   workers serving invocations at once (Lambda Managed Instances; default 1)
  AWS_LAMBDA_LOG_FORMAT        Text (default) or JSON, for every log line
  AWS_LAMBDA_LOG_LEVEL         TRACE, DEBUG, INFO, WARN, ERROR or FATAL: drop records below it (unset: INFO for JSON logs, none for text)
  POLYBOOT_TIMEOUT_MARGIN_MS   stop a handler this long before its deadline, and tell it that deadline (default 50)
  POLYBOOT_INIT_TIMEOUT_MS     time a worker may take to load the handler (default 10000; 900000 under Lambda)
  POLYBOOT_ENABLE_SIGTERM      1: register a no-op extension so Lambda sends SIGTERM at shutdown
  POLYBOOT_LOG_PTY             1: workers' log stream is a pseudo-terminal (programs line-buffer)
  POLYBOOT_STREAM_RESPONSE     1: stream responses as handlers write them (Lambda response streaming)
  POLYBOOT_ADAPTER_PATH        more adapter folders, colon-separated
  POLYBOOT_BASH, POLYBOOT_TCLSH, POLYBOOT_PYTHON
                               the interpreter of an adapter (a path or a command name); otherwise the
                               layer's bin/ next to bootstrap is searched, then PATH
`

func readEvent(name string, stdin io.Reader) ([]byte, error) {
	switch name {
	case "":
		return []byte("{}"), nil
	case "-":
		b, err := io.ReadAll(stdin)
		if err != nil {
			return nil, fmt.Errorf("reading the event from standard input: %w", err)
		}
		return b, nil
	}
	b, err := os.ReadFile(name)
	if err != nil {
		return nil, fmt.Errorf("reading the event: %w", err)
	}
	return b, nil
}

func printResult(w io.Writer, body []byte, report *protocol.ErrorReport) {
	if report != nil {
		body, _ = json.Marshal(report)
	}
	_, _ = w.Write(append(body, '\n'))
}

func newRequestID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	h := hex.EncodeToString(b[:])
	return h[:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}

func functionName(e env) string {
	if n := e.get("AWS_LAMBDA_FUNCTION_NAME"); n != "" {
		return n
	}
	return "local"
}
