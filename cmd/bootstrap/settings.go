package main

import (
	"fmt"
	"strconv"
	"time"

	"github.com/spf13/pflag"
)

// shutdownGrace is what an invocation in progress at SIGTERM still gets (its worker gets SIGTERM,
// then SIGKILL), and then again for its result to be posted. Lambda sends SIGKILL 500 ms after
// SIGTERM (docs: "Shutdown phase"); 2 × 200 ms leaves the rest for stopping the workers.
const shutdownGrace = 200 * time.Millisecond

// Init timeouts (POLYBOOT_INIT_TIMEOUT_MS), from Lambda's limits
// (https://docs.aws.amazon.com/lambda/latest/dg/lambda-runtime-environment.html, "Init phase"):
// the Init phase is limited to 10 s; when it does not complete in time, Lambda retries it at the
// first invocation within the function's configured timeout (at most 900 s). With provisioned
// concurrency or SnapStart the 10 s limit does not apply: init may run up to 15 minutes (130 s or
// the function timeout, whichever is higher). The runtime is told neither which case it is in nor
// the function timeout, and Lambda enforces its limit itself: under Lambda
// (AWS_LAMBDA_INITIALIZATION_TYPE set) the bootstrap's own bound is the longest of them, so that
// it never cuts short an init Lambda would let finish. Elsewhere (the emulator, bootstrap invoke)
// nothing else bounds init, and the bound is Lambda's on-demand 10 s.
const (
	initTimeoutLocal  = 10 * time.Second
	initTimeoutLambda = 15 * time.Minute
)

// timeFlags defines the flags of the bootstrap's time settings, with defaults from e.
func timeFlags(fs *pflag.FlagSet, o *options, e env) error {
	margin, err := millis(e, "POLYBOOT_TIMEOUT_MARGIN_MS", 50*time.Millisecond, 0)
	if err != nil {
		return err
	}
	initDefault := initTimeoutLocal
	if e.get("AWS_LAMBDA_INITIALIZATION_TYPE") != "" {
		initDefault = initTimeoutLambda
	}
	initWait, err := millis(e, "POLYBOOT_INIT_TIMEOUT_MS", initDefault, 1)
	if err != nil {
		return err
	}
	fs.DurationVar(&o.margin, "timeout-margin", margin, "stop a handler this long before its deadline and report a timeout; handlers are told the deadline less this (env POLYBOOT_TIMEOUT_MARGIN_MS)")
	fs.DurationVar(&o.initWait, "init-timeout", initWait, "time a worker may take to load the handler (env POLYBOOT_INIT_TIMEOUT_MS; default 10s, or 15m under Lambda, which enforces its own limits)")
	return nil
}

// millis reads the environment variable name as a whole number of milliseconds, at least least;
// unset gives def.
func millis(e env, name string, def time.Duration, least int) (time.Duration, error) {
	v := e.get(name)
	if v == "" {
		return def, nil
	}
	ms, err := strconv.Atoi(v)
	if err != nil || ms < least {
		return 0, fmt.Errorf("%s=%q: want a whole number of milliseconds, at least %d", name, v, least)
	}
	return time.Duration(ms) * time.Millisecond, nil
}
