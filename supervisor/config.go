package supervisor

import (
	"sync/atomic"
	"time"
)

// Config describes the worker process to run.
type Config struct {
	Argv []string                    // interpreter, its arguments, adapter script, handler file, function, module
	Dir  string                      // working directory (LAMBDA_TASK_ROOT)
	Env  []string                    // complete environment
	Logs LogSink                     // receives the worker's log lines
	Warn func(msg string, kv ...any) // bootstrap-level warnings; may be nil

	// StopGrace is how long Close waits after SIGTERM before SIGKILL. Zero means 300 ms.
	StopGrace time.Duration
	// ReapWait bounds how long the supervisor waits for a dead worker's last reply and log bytes.
	// Zero means 500 ms.
	ReapWait time.Duration
	// LogPTY makes the worker's log stream (fd 2) a pseudo-terminal instead of a pipe.
	LogPTY bool
	// InitTimeout bounds how long a worker may take to load the handler and say it is ready, as
	// Lambda bounds its init phase. Zero means 10 s.
	InitTimeout time.Duration
	// TrimTrailingNewlines drops the "\n" bytes that end a response body, as bash's command
	// substitution does (the adapter manifest's "trimTrailingNewlines"). Streamed bodies too:
	// newlines are held back until a byte that is not a newline follows.
	TrimTrailingNewlines bool
}

// withDefaults returns cfg with its zero settings replaced by their defaults.
func (cfg Config) withDefaults() Config {
	if cfg.StopGrace == 0 {
		cfg.StopGrace = 300 * time.Millisecond
	}
	if cfg.ReapWait == 0 {
		cfg.ReapWait = 500 * time.Millisecond
	}
	if cfg.InitTimeout == 0 {
		cfg.InitTimeout = 10 * time.Second
	}
	if cfg.Warn == nil {
		cfg.Warn = func(string, ...any) {}
	}
	return cfg
}

// Worker is one warm interpreter process, restarted when it dies. A Worker serves one invocation
// at a time; run several Workers for concurrency. Its methods must not be called concurrently.
// Its pieces are kept apart as hashicorp/go-plugin keeps its process runner from its protocol
// client (see the package documentation).
type Worker struct {
	cfg     Config
	spawner *Spawner
	proc    *process
	line    []byte                  // reused invoke line buffer
	busy    atomic.Pointer[process] // the process running an invocation, for Terminate
}

// NewWorker returns a worker that is not yet running; Start or Invoke starts it.
func NewWorker(sp *Spawner, cfg Config) *Worker {
	return &Worker{cfg: cfg.withDefaults(), spawner: sp}
}
