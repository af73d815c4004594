package main

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"syscall"
	"time"
)

// result is everything measured for one row.
type result struct {
	row *row
	err error // the row could not be measured; the other fields may be partial

	cold        []time.Duration // RIE start → first response, one per fresh start
	coldListen  []time.Duration // RIE start → accepting connections
	coldFirst   []time.Duration // first invocation (runtime start, init and invoke)
	bareStart   []time.Duration // the interpreter alone doing nothing
	coldFailure string

	warm       []time.Duration // N warm invocations, sorted
	warmWall   time.Duration   // wall time of the N invocations
	warmErrors int             // failed or wrong responses in the warm loop

	big []bigResult

	cpu cpuShare // CPU per warm invocation

	bootstrapWarm, bootstrapPeak memory // after the warm loop, after the large events
	workerWarm, workerPeak       memory

	alone    time.Duration // the worker alone, per invocation (workerAlone)
	aloneErr string

	profile *profileResult
}

// bigResult is the round trip of one large event.
type bigResult struct {
	size  int
	times []time.Duration // one per repetition that succeeded
	check string          // "ok", or what went wrong
}

// cpuShare is CPU seconds per invocation by process during the warm loop.
type cpuShare struct {
	client, rie, bootstrap, worker float64
	ok                             bool
}

// events are the events every row gets.
type events struct {
	warm []byte // 1 KB
	big  [][]byte
}

// measureAll measures every row. The machine is shared and its load changes during a run, so
// the rows are interleaved rather than measured one after the other: each cold-start round starts
// every row once, the warm loop runs in rounds of a block of invocations per row (one emulator
// per row stays up, and only one invocation is in flight at any time), and so do the large
// events. Each row thus sees the same mix of quiet and busy moments, and its ratio to the floor
// holds. Profiles, which count rather than time, run last, one row after the other.
func measureAll(c *config, rows []*row, ev events) []*result {
	results := make([]*result, len(rows))
	var live []*result
	for i, r := range rows {
		results[i] = &result{row: r}
		if r.missing != "" {
			results[i].err = errors.New(r.missing)
			continue
		}
		live = append(live, results[i])
	}
	// rotated returns the live rows starting at round k's offset.
	rotated := func(k int, of []*result) []*result {
		out := make([]*result, 0, len(of))
		for i := range of {
			out = append(out, of[(i+k)%len(of)])
		}
		return out
	}

	logf("cold starts: %d rounds over %d runtimes", c.cold, len(live))
	for k := 0; k < c.cold; k++ {
		for _, res := range rotated(k, live) {
			r := res.row
			if res.coldFailure == "" {
				if err := coldStart(c, r, rowEnv(c, r), ev.warm, res); err != nil {
					res.coldFailure = err.Error()
					logf("%s: cold start failed: %v", r.name, err)
				}
			}
			if r.bareStart != nil {
				start := time.Now()
				if err := exec.Command(r.bareStart[0], r.bareStart[1:]...).Run(); err == nil {
					res.bareStart = append(res.bareStart, time.Since(start))
				}
			}
		}
	}

	sessions := startSessions(c, live, ev.warm)
	defer func() {
		for _, s := range sessions {
			s.e.stop()
		}
	}()
	rounds := max(1, min(c.rounds, c.n))
	logf("warm loop: %d invocations per runtime in %d rounds over %d runtimes", c.n, rounds, len(sessions))
	for k := 0; k < rounds; k++ {
		block := c.n / rounds
		if k < c.n%rounds {
			block++
		}
		for _, s := range rotatedSessions(k, sessions) {
			s.warmBlock(block, ev.warm)
		}
	}
	for _, s := range sessions {
		s.finishWarm()
	}
	logf("large events: %d rounds", c.bigReps)
	for _, s := range sessions {
		s.res.big = make([]bigResult, len(ev.big))
		for i, b := range ev.big {
			s.res.big[i] = bigResult{size: len(b), check: "ok"}
		}
	}
	for k := 0; k < c.bigReps; k++ {
		for i, big := range ev.big {
			for _, s := range rotatedSessions(k, sessions) {
				s.bigOne(i, big)
			}
		}
	}
	for _, s := range sessions {
		s.e.stop()
	}
	sessions = nil

	logf("workers alone: %d invoke lines through a pipe, no bootstrap", aloneLines)
	for _, res := range live {
		if !res.row.worker {
			continue
		}
		d, err := workerAlone(c, res.row, ev.warm)
		if err != nil {
			res.aloneErr = err.Error()
			logf("%s: worker alone: %v", res.row.name, err)
			continue
		}
		res.alone = d
	}

	if c.profile {
		for _, res := range live {
			p, err := profileRow(c, res.row, rowEnv(c, res.row), ev.warm)
			if err != nil {
				logf("%s: profile: %v", res.row.name, err)
			}
			res.profile = p
		}
	}
	return results
}

// rowEnv is the emulator's environment for a row.
func rowEnv(c *config, r *row) []string {
	env := append(cleanEnv(),
		"_HANDLER="+r.handler,
		"LAMBDA_TASK_ROOT="+r.taskDir,
		fmt.Sprintf("AWS_LAMBDA_FUNCTION_TIMEOUT=%d", functionTimeout),
		"TMPDIR="+c.tmp, // the curl baseline leaves a mktemp file per invocation
	)
	return append(env, r.env...)
}

// coldStart starts a fresh emulator, sends one event and records how long the first response took.
func coldStart(c *config, r *row, env []string, event []byte, res *result) error {
	e, err := startEmulator(c.rie, r.bootstrap, r.taskDir, env)
	if err != nil {
		return err
	}
	defer e.stop()
	if err := e.waitListening(10 * time.Second); err != nil {
		return err
	}
	listening := time.Since(e.started)
	status, body, err := e.invoke(event)
	done := time.Since(e.started)
	if err := checkResponse(r, event, status, body, err); err != nil {
		return fmt.Errorf("%w\n%s", err, e.logs.lastLines(10))
	}
	res.cold = append(res.cold, done)
	res.coldListen = append(res.coldListen, listening)
	res.coldFirst = append(res.coldFirst, done-listening)
	return nil
}

// checkResponse says what is wrong with an invocation's outcome, or nil.
func checkResponse(r *row, event []byte, status int, body []byte, err error) error {
	if err != nil {
		return err
	}
	if status != 200 {
		return fmt.Errorf("HTTP %d: %.300s", status, body)
	}
	if want := r.expected(event); !bytes.Equal(body, want) {
		return fmt.Errorf("response of %d bytes is not the expected %d bytes (starts %.120q)", len(body), len(want), body)
	}
	return nil
}

// session is one row's warm emulator during the interleaved measurements.
type session struct {
	res          *result
	e            *emulator
	boot, worker int
	cpu          cpuSample // accumulated over the warm blocks; starts as an ok zero
	failed       bool      // the warm loop gave up on this row
}

// startSessions starts one emulator per row and warms each up; a row that fails is reported in
// its result and left out.
func startSessions(c *config, live []*result, event []byte) []*session {
	var out []*session
	for _, res := range live {
		r := res.row
		logf("%s: warm-up (%d invocations)", r.name, c.warmup)
		e, err := startEmulator(c.rie, r.bootstrap, r.taskDir, rowEnv(c, r))
		if err == nil {
			err = e.waitListening(10 * time.Second)
		}
		for i := 0; err == nil && i < c.warmup+1; i++ {
			status, body, ierr := e.invoke(event)
			if ierr := checkResponse(r, event, status, body, ierr); ierr != nil {
				err = fmt.Errorf("warm-up invocation %d: %w\n%s", i, ierr, e.logs.lastLines(10))
			}
		}
		s := &session{res: res, e: e, cpu: cpuSample{ok: true}}
		if err == nil {
			s.boot, s.worker, err = e.runtimeProcs(r.worker)
			if err != nil {
				err = fmt.Errorf("finding the runtime's processes: %w", err)
			}
		}
		if err != nil {
			res.err = err
			logf("%s: %v", r.name, err)
			if e != nil {
				e.stop()
			}
			continue
		}
		res.warm = make([]time.Duration, 0, c.n)
		out = append(out, s)
	}
	return out
}

// rotatedSessions returns the sessions starting at round k's offset.
func rotatedSessions(k int, ss []*session) []*session {
	out := make([]*session, 0, len(ss))
	for i := range ss {
		out = append(out, ss[(i+k)%len(ss)])
	}
	return out
}

// warmBlock runs n timed invocations, adding their latencies, wall time and CPU to the row's.
func (s *session) warmBlock(n int, event []byte) {
	if s.failed {
		return
	}
	res, r := s.res, s.res.row
	before := readCPU(s.e.pid(), s.boot, s.worker)
	start := time.Now()
	for i := 0; i < n; i++ {
		t0 := time.Now()
		status, body, err := s.e.invoke(event)
		d := time.Since(t0)
		if err := checkResponse(r, event, status, body, err); err != nil {
			res.warmErrors++
			if res.warmErrors > 10 {
				res.err = fmt.Errorf("warm invocations: %w (and 10 before)\n%s", err, s.e.logs.lastLines(10))
				s.failed = true
				return
			}
			continue
		}
		res.warm = append(res.warm, d)
	}
	res.warmWall += time.Since(start)
	after := readCPU(s.e.pid(), s.boot, s.worker)
	s.cpu = s.cpu.plus(after.minusSample(before))
}

// finishWarm sorts the latencies, turns the CPU into per-invocation shares and reads the memory
// after the warm loop.
func (s *session) finishWarm() {
	res := s.res
	sort.Slice(res.warm, func(i, j int) bool { return res.warm[i] < res.warm[j] })
	res.cpu = s.cpu.perInvocation(len(res.warm) + res.warmErrors)
	res.bootstrapWarm, _ = readMemory(s.boot)
	res.bootstrapPeak = res.bootstrapWarm
	if s.worker != 0 {
		res.workerWarm, _ = readMemory(s.worker)
		res.workerPeak = res.workerWarm
	}
}

// bigOne sends the i-th large event once, checks it and reads the peaks after it.
func (s *session) bigOne(i int, big []byte) {
	res, r := s.res, s.res.row
	br := &res.big[i]
	if br.check != "ok" {
		return // it failed before: its runtime may be gone
	}
	t0 := time.Now()
	status, body, err := s.e.invoke(big)
	d := time.Since(t0)
	if err := checkResponse(r, big, status, body, err); err != nil {
		br.check = err.Error()
		logf("%s: %d-byte event: %v", r.name, len(big), err)
		return
	}
	br.times = append(br.times, d)
	// Peaks are read after each large event: a runtime that fails later is gone by then.
	if m, err := readMemory(s.boot); err == nil && m.hwmKB > res.bootstrapPeak.hwmKB {
		res.bootstrapPeak = m
	}
	if s.worker != 0 {
		if m, err := readMemory(s.worker); err == nil && m.hwmKB > res.workerPeak.hwmKB {
			res.workerPeak = m
		}
	}
}

// cpuSample is the CPU time used so far by the processes of a session.
type cpuSample struct {
	client, rie, bootstrap, worker float64
	ok                             bool
}

// readCPU samples the CPU time of this process, the emulator, the runtime (with its reaped
// children: the curl baseline's curl, grep, cut...) and the worker.
func readCPU(rie, bootstrap, worker int) cpuSample {
	var s cpuSample
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return s
	}
	s.client = tv(ru.Utime) + tv(ru.Stime)
	var err1, err2, err3 error
	s.rie, err1 = cpuSeconds(rie, false)
	s.bootstrap, err2 = cpuSeconds(bootstrap, true)
	if worker != 0 {
		s.worker, err3 = cpuSeconds(worker, true)
	}
	s.ok = err1 == nil && err2 == nil && err3 == nil
	return s
}

func tv(t syscall.Timeval) float64 { return float64(t.Sec) + float64(t.Usec)/1e6 }

// minusSample is the CPU used between before and s; not ok when either sample failed.
func (s cpuSample) minusSample(before cpuSample) cpuSample {
	if !s.ok || !before.ok {
		return cpuSample{}
	}
	return cpuSample{client: s.client - before.client, rie: s.rie - before.rie,
		bootstrap: s.bootstrap - before.bootstrap, worker: s.worker - before.worker, ok: true}
}

// plus adds two CPU amounts; the sum is ok when both are.
func (s cpuSample) plus(d cpuSample) cpuSample {
	if !s.ok || !d.ok {
		return cpuSample{}
	}
	return cpuSample{client: s.client + d.client, rie: s.rie + d.rie,
		bootstrap: s.bootstrap + d.bootstrap, worker: s.worker + d.worker, ok: true}
}

// perInvocation is the CPU per invocation of an amount used by n invocations.
func (s cpuSample) perInvocation(n int) cpuShare {
	if !s.ok || n == 0 {
		return cpuShare{}
	}
	per := func(v float64) float64 { return v / float64(n) }
	return cpuShare{client: per(s.client), rie: per(s.rie), bootstrap: per(s.bootstrap), worker: per(s.worker), ok: true}
}

// layerSizes is the runtime layer's size, zipped and unpacked.
type layerSizes struct {
	zipped, unpacked int64
}

// zipSizes returns the size of a zip file and the total size of what it unpacked to.
func zipSizes(zipPath, dir string) (layerSizes, error) {
	fi, err := os.Stat(zipPath)
	if err != nil {
		return layerSizes{}, fmt.Errorf("layer zip: %w", err)
	}
	n, err := dirSize(dir)
	if err != nil {
		return layerSizes{}, err
	}
	return layerSizes{zipped: fi.Size(), unpacked: n}, nil
}

// filesSizes returns the size of files zipped (deflate, as a deployment would be) and unpacked.
func filesSizes(files []string) (layerSizes, error) {
	var s layerSizes
	for _, f := range files {
		fi, err := os.Stat(f)
		if err != nil {
			return s, fmt.Errorf("sizing %s: %w", f, err)
		}
		s.unpacked += fi.Size()
	}
	z, err := zippedSize(files)
	if err != nil {
		return s, err
	}
	s.zipped = z
	return s, nil
}

// siblings returns the paths of names in dir.
func siblings(dir string, names ...string) []string {
	out := make([]string, len(names))
	for i, n := range names {
		out[i] = filepath.Join(dir, n)
	}
	return out
}
