package main

import (
	"bytes"
	"errors"
	"fmt"
	"os/exec"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/polyboot/polyboot/internal/rietest"
)

// functionTimeout is the emulator's function timeout (AWS_LAMBDA_FUNCTION_TIMEOUT), in seconds.
const functionTimeout = 60

// result is everything measured for one row.
type result struct {
	row *row
	err error // the row could not be measured in full; the other fields may be partial

	cold, bareStart []time.Duration // RIE start → first response per fresh start; the interpreter alone
	coldFailure     string

	warm       []time.Duration // N warm invocations, sorted
	warmWall   time.Duration   // wall time of the N invocations
	warmErrors int             // failed or wrong responses in the warm loop
	cpu        cpuSample       // CPU of the warm loop, then per invocation

	big []bigResult // one per large event

	bootstrapPeak, workerPeak int64 // VmHWM in kB after the large events
	alone                     time.Duration
	aloneErr                  string
	profile                   *profileResult
}

// bigResult is the round trips of one large event.
type bigResult struct {
	times []time.Duration
	check string // "" or what went wrong
}

// measureAll measures every row. The machine is shared and its load changes during a run, so the
// rows are interleaved rather than measured one after the other: each cold-start round starts
// every row once, the warm loop runs in rounds of a block of invocations per row (one emulator per
// row stays up, and only one invocation is in flight at any time), and so do the large events.
// Each row thus sees the same mix of quiet and busy moments, and its ratio to the floor holds.
// Profiles, which count rather than time, run last, one row after the other.
func measureAll(c *config, rows []*row, ev events) []*result {
	var results, live []*result
	for _, r := range rows {
		res := &result{row: r, big: make([]bigResult, len(ev.big))}
		if r.missing != "" {
			res.err = errors.New(r.missing)
		} else {
			live = append(live, res)
		}
		results = append(results, res)
	}
	logf("cold starts: %d rounds over %d runtimes", c.cold, len(live))
	for k := range c.cold {
		for _, res := range rotate(k, live) {
			res.coldStart(c, ev.warm)
		}
	}
	sessions := startSessions(c, live, ev.warm)
	rounds := max(1, min(c.rounds, c.n))
	logf("warm loop: %d invocations per runtime in %d rounds over %d runtimes", c.n, rounds, len(sessions))
	for k := range rounds {
		block := c.n/rounds + btoi(k < c.n%rounds)
		for _, s := range rotate(k, sessions) {
			s.warmBlock(block, ev.warm)
		}
	}
	logf("large events: %d rounds", c.bigReps)
	for k := range c.bigReps {
		for i, big := range ev.big {
			for _, s := range rotate(k, sessions) {
				s.bigOne(i, big.body)
			}
		}
	}
	for _, s := range sessions {
		s.finish()
	}
	for _, res := range live {
		if res.row.worker {
			logf("%s: the worker alone, %d invoke lines through a pipe", res.row.name, aloneLines)
			var err error
			if res.alone, err = workerAlone(c, res.row, ev.warm); err != nil {
				res.aloneErr = err.Error()
			}
		}
		if c.profile {
			var err error
			if res.profile, err = profileRow(c, res.row, ev.warm); err != nil {
				logf("%s: profile: %v", res.row.name, err)
			}
		}
	}
	return results
}

// rotate returns xs starting at round k's offset.
func rotate[T any](k int, xs []T) []T {
	if len(xs) == 0 {
		return nil
	}
	k %= len(xs)
	return append(slices.Clone(xs[k:]), xs[:k]...)
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}

// rowEnv is the emulator's environment for a row.
func rowEnv(c *config, r *row) []string {
	env := append(rietest.CleanEnv(), "_HANDLER="+r.handler, "LAMBDA_TASK_ROOT="+r.taskDir,
		fmt.Sprintf("AWS_LAMBDA_FUNCTION_TIMEOUT=%d", functionTimeout),
		"TMPDIR="+c.tmp) // the curl baseline leaves a mktemp file per invocation
	return append(env, r.env...)
}

// launch starts an emulator for r with bootstrap and waits until it listens.
func launch(c *config, r *row, bootstrap string) (*rietest.Emulator, error) {
	e, err := rietest.Launch(rietest.Options{RIE: c.rie, Bootstrap: bootstrap, Dir: r.taskDir, Env: rowEnv(c, r)})
	if err != nil {
		return nil, err
	}
	if err := e.Listening(10 * time.Second); err != nil {
		e.Stop()
		return nil, err
	}
	return e, nil
}

// coldStart starts a fresh emulator, sends one event and records how long the first response
// took; and times the row's interpreter started to do nothing.
func (res *result) coldStart(c *config, event []byte) {
	r := res.row
	if res.coldFailure == "" {
		e, err := launch(c, r, r.bootstrap)
		if err == nil {
			err = check(r, event, e)
			e.Stop()
		}
		if err != nil {
			res.coldFailure = err.Error()
			logf("%s: cold start failed: %v", r.name, err)
		} else {
			res.cold = append(res.cold, time.Since(e.Started))
		}
	}
	if r.bareStart != nil {
		start := time.Now()
		if err := exec.Command(r.bareStart[0], r.bareStart[1:]...).Run(); err == nil {
			res.bareStart = append(res.bareStart, time.Since(start))
		}
	}
}

// check sends one event and says what is wrong with the answer, or nil.
func check(r *row, event []byte, e *rietest.Emulator) error {
	status, body, err := e.Post(event)
	switch want := r.expected(event); {
	case err != nil:
	case status != 200:
		err = fmt.Errorf("HTTP %d: %.300s", status, body)
	case !bytes.Equal(body, want):
		err = fmt.Errorf("response of %d bytes is not the expected %d bytes (starts %.120q)", len(body), len(want), body)
	default:
		return nil
	}
	return fmt.Errorf("%w\n%s", err, logTail(e, 10))
}

// logTail is the last n lines of an emulator's log, without the emulator's own (rapid) chatter.
func logTail(e *rietest.Emulator, n int) string {
	var keep []string
	for _, l := range strings.Split(strings.TrimSpace(e.Logs.String()), "\n") {
		if !strings.Contains(l, "(rapid)") {
			keep = append(keep, l)
		}
	}
	return strings.Join(keep[max(0, len(keep)-n):], "\n")
}

// session is one row's warm emulator during the interleaved measurements.
type session struct {
	res          *result
	e            *rietest.Emulator
	boot, worker int
	failed       bool // the warm loop gave up on this row
}

// startSessions starts one emulator per row and warms each up; a row that fails is reported in
// its result and left out.
func startSessions(c *config, live []*result, event []byte) []*session {
	var out []*session
	for _, res := range live {
		r := res.row
		logf("%s: warm-up (%d invocations)", r.name, c.warmup)
		e, err := launch(c, r, r.bootstrap)
		for i := 0; err == nil && i <= c.warmup; i++ {
			err = check(r, event, e)
		}
		s := &session{res: res, e: e}
		if err == nil {
			s.boot, s.worker, err = runtimeProcs(e.Cmd.Process.Pid, r.worker)
		}
		if err != nil {
			res.err = fmt.Errorf("warm-up: %w", err)
			logf("%s: %v", r.name, res.err)
			if e != nil {
				e.Stop()
			}
			continue
		}
		res.cpu.ok = true
		out = append(out, s)
	}
	return out
}

// warmBlock runs n timed invocations, adding their latencies, wall time and CPU to the row's.
func (s *session) warmBlock(n int, event []byte) {
	res := s.res
	if s.failed {
		return
	}
	before := readCPU(s.e.Cmd.Process.Pid, s.boot, s.worker)
	start := time.Now()
	for range n {
		t0 := time.Now()
		if err := check(res.row, event, s.e); err != nil {
			if res.warmErrors++; res.warmErrors > 10 {
				res.err, s.failed = fmt.Errorf("warm invocations: %w (and 10 before)", err), true
				return
			}
			continue
		}
		res.warm = append(res.warm, time.Since(t0))
	}
	res.warmWall += time.Since(start)
	res.cpu = res.cpu.plus(readCPU(s.e.Cmd.Process.Pid, s.boot, s.worker).minus(before))
}

// bigOne sends the i-th large event once, checks it and reads the peaks after it.
func (s *session) bigOne(i int, big []byte) {
	res := s.res
	br := &res.big[i]
	if br.check != "" || s.failed {
		return // it failed before: its runtime may be gone
	}
	s.readPeaks() // before too: a runtime that fails the event is gone after it
	t0 := time.Now()
	if err := check(res.row, big, s.e); err != nil {
		br.check = err.Error()
		logf("%s: %d-byte event: %v", res.row.name, len(big), err)
		return
	}
	br.times = append(br.times, time.Since(t0))
	s.readPeaks()
}

// readPeaks keeps the highest VmHWM seen of the runtime and of its worker.
func (s *session) readPeaks() {
	s.res.bootstrapPeak = max(s.res.bootstrapPeak, peakRSS(s.boot))
	if s.worker != 0 {
		s.res.workerPeak = max(s.res.workerPeak, peakRSS(s.worker))
	}
}

// finish sorts the latencies, turns the CPU into per-invocation figures and stops the emulator.
func (s *session) finish() {
	res := s.res
	slices.Sort(res.warm)
	res.cpu = res.cpu.per(len(res.warm) + res.warmErrors)
	s.e.Stop()
}

// cpuSample is CPU seconds used by the processes of one invocation's path.
type cpuSample struct {
	client, rie, bootstrap, worker float64
	ok                             bool
}

// readCPU samples the CPU time of this process, the emulator, the runtime (with its reaped
// children: the curl baseline's curl, grep, cut...) and the worker.
func readCPU(rie, bootstrap, worker int) cpuSample {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return cpuSample{}
	}
	tv := func(t syscall.Timeval) float64 { return float64(t.Sec) + float64(t.Usec)/1e6 }
	s := cpuSample{client: tv(ru.Utime) + tv(ru.Stime)}
	var err1, err2, err3 error
	s.rie, err1 = cpuSeconds(rie, false)
	s.bootstrap, err2 = cpuSeconds(bootstrap, true)
	if worker != 0 {
		s.worker, err3 = cpuSeconds(worker, true)
	}
	s.ok = err1 == nil && err2 == nil && err3 == nil
	return s
}

func (s cpuSample) total() float64 { return s.client + s.rie + s.bootstrap + s.worker }

func (s cpuSample) minus(b cpuSample) cpuSample {
	return cpuSample{s.client - b.client, s.rie - b.rie, s.bootstrap - b.bootstrap, s.worker - b.worker, s.ok && b.ok}
}

func (s cpuSample) plus(d cpuSample) cpuSample {
	return cpuSample{s.client + d.client, s.rie + d.rie, s.bootstrap + d.bootstrap, s.worker + d.worker, s.ok && d.ok}
}

func (s cpuSample) per(n int) cpuSample {
	if n == 0 {
		return cpuSample{}
	}
	f := float64(n)
	return cpuSample{s.client / f, s.rie / f, s.bootstrap / f, s.worker / f, s.ok}
}
