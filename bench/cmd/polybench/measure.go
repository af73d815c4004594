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

// measure runs every measurement of one row.
func measure(c *config, r *row, ev events) *result {
	res := &result{row: r}
	if r.missing != "" {
		res.err = errors.New(r.missing)
		return res
	}
	env := rowEnv(c, r)
	logf("%s: %d cold starts", r.name, c.cold)
	for i := 0; i < c.cold; i++ {
		if err := coldStart(c, r, env, ev.warm, res); err != nil {
			res.coldFailure = err.Error()
			logf("%s: cold start failed: %v", r.name, err)
			break
		}
	}
	if r.bareStart != nil {
		for i := 0; i < c.cold; i++ {
			start := time.Now()
			if err := exec.Command(r.bareStart[0], r.bareStart[1:]...).Run(); err != nil {
				break
			}
			res.bareStart = append(res.bareStart, time.Since(start))
		}
	}
	if err := session(c, r, env, ev, res); err != nil {
		res.err = err
		logf("%s: %v", r.name, err)
	}
	if c.profile {
		p, err := profileRow(c, r, env, ev.warm)
		if err != nil {
			logf("%s: profile: %v", r.name, err)
		}
		res.profile = p
	}
	return res
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

// session measures a warm runtime: warm-up, the timed loop with CPU shares, memory, large events.
func session(c *config, r *row, env []string, ev events, res *result) error {
	e, err := startEmulator(c.rie, r.bootstrap, r.taskDir, env)
	if err != nil {
		return err
	}
	defer e.stop()
	if err := e.waitListening(10 * time.Second); err != nil {
		return err
	}
	logf("%s: warm-up (%d), then %d invocations of %d bytes", r.name, c.warmup, c.n, len(ev.warm))
	for i := 0; i < c.warmup+1; i++ {
		status, body, err := e.invoke(ev.warm)
		if err := checkResponse(r, ev.warm, status, body, err); err != nil {
			return fmt.Errorf("warm-up invocation %d: %w\n%s", i, err, e.logs.lastLines(10))
		}
	}
	boot, worker, err := e.runtimeProcs(r.worker)
	if err != nil {
		return fmt.Errorf("finding the runtime's processes: %w", err)
	}

	before := readCPU(e.pid(), boot, worker)
	res.warm = make([]time.Duration, 0, c.n)
	start := time.Now()
	for i := 0; i < c.n; i++ {
		t0 := time.Now()
		status, body, err := e.invoke(ev.warm)
		d := time.Since(t0)
		if err := checkResponse(r, ev.warm, status, body, err); err != nil {
			res.warmErrors++
			if res.warmErrors > 10 {
				return fmt.Errorf("warm invocation %d: %w (and 10 before)\n%s", i, err, e.logs.lastLines(10))
			}
			continue
		}
		res.warm = append(res.warm, d)
	}
	res.warmWall = time.Since(start)
	after := readCPU(e.pid(), boot, worker)
	res.cpu = after.minus(before, len(res.warm)+res.warmErrors)
	sort.Slice(res.warm, func(i, j int) bool { return res.warm[i] < res.warm[j] })

	res.bootstrapWarm, _ = readMemory(boot)
	res.bootstrapPeak = res.bootstrapWarm
	if worker != 0 {
		res.workerWarm, _ = readMemory(worker)
		res.workerPeak = res.workerWarm
	}

	for _, big := range ev.big {
		br := bigResult{size: len(big), check: "ok"}
		for i := 0; i < c.bigReps; i++ {
			t0 := time.Now()
			status, body, err := e.invoke(big)
			d := time.Since(t0)
			if err := checkResponse(r, big, status, body, err); err != nil {
				br.check = err.Error()
				logf("%s: %d-byte event: %v", r.name, len(big), err)
				break
			}
			br.times = append(br.times, d)
			// Peaks are read after each large event: a runtime that fails later is gone by then.
			if m, err := readMemory(boot); err == nil && m.hwmKB > res.bootstrapPeak.hwmKB {
				res.bootstrapPeak = m
			}
			if worker != 0 {
				if m, err := readMemory(worker); err == nil && m.hwmKB > res.workerPeak.hwmKB {
					res.workerPeak = m
				}
			}
		}
		res.big = append(res.big, br)
	}
	return nil
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

// minus is the CPU per invocation between two samples.
func (s cpuSample) minus(before cpuSample, n int) cpuShare {
	if !s.ok || !before.ok || n == 0 {
		return cpuShare{}
	}
	per := func(a, b float64) float64 { return (a - b) / float64(n) }
	return cpuShare{
		client: per(s.client, before.client), rie: per(s.rie, before.rie),
		bootstrap: per(s.bootstrap, before.bootstrap), worker: per(s.worker, before.worker), ok: true,
	}
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
