package main

import (
	"bytes"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/polyboot/polyboot/internal/rietest"
)

// The concurrency row: the bash handler of bench/handlers/sleep10ms.sh (an I/O-bound 10 ms
// handler) under the emulator's Managed Instances mode with AWS_LAMBDA_MAX_CONCURRENCY=N, driven
// by N client loops, for each N of -concurrency.
const (
	concRetryPause    = time.Millisecond // before sending again an invocation answered Runtime.Unavailable
	concBudget        = 15 * time.Second // per N: past it no invocation starts (the default run needs a third)
	concWarmupPerLoop = 5
	concEventSize     = 256
	concMaxFailures   = 10
)

// concResult is what was measured at one N.
type concResult struct {
	n               int
	err             error           // this N could not be measured (in full)
	lat             []time.Duration // one per answered timed invocation, sorted
	wall            time.Duration   // wall time of the timed blocks
	failed, retries int             // failed timed invocations; Runtime.Unavailable answers
	firstFailure    string
	cpu             float64 // CPU seconds of client, emulator, bootstrap and workers in the timed blocks
	cpuOK, capped   bool    // capped: the budget ran out before every invocation was sent
	rssKB           int64   // VmHWM of the bootstrap and its workers, summed
	nWorkers        int
}

// concurrencyReport is the concurrency row.
type concurrencyReport struct {
	skipped    string // why it did not run; loud when it could not be measured
	quiet      bool   // skipped on request (-rows, -concurrency), not for want of something
	perN, ncpu int
	results    []*concResult
}

// parseConcurrency reads -concurrency ("1,2,4,8"); empty, "0" or "none" is none.
func parseConcurrency(s string) ([]int, error) {
	if s = strings.TrimSpace(s); s == "" || s == "0" || s == "none" {
		return nil, nil
	}
	var out []int
	for _, f := range strings.Split(s, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < 1 || n > 64 {
			return nil, fmt.Errorf("-concurrency %q: want comma-separated whole numbers from 1 to 64", s)
		}
		out = append(out, n)
	}
	slices.Sort(out)
	return slices.Compact(out), nil
}

// concPerN is the number of timed invocations per N: 2/5 of -n, and at least 10 per client loop
// of the largest N.
func concPerN(n int, ns []int) int {
	per := n * 2 / 5
	if len(ns) > 0 {
		per = max(per, 10*ns[len(ns)-1])
	}
	return max(per, 10)
}

// concEvent is the event of one invocation: unique to it, so that every answer can be matched
// with its request byte for byte.
func concEvent(n, loop int, seq int64) []byte {
	b := fmt.Appendf(nil, `{"source": "polybench-concurrency", "n": %d, "loop": %d, "seq": %d, "pad": "`, n, loop, seq)
	for len(b) < concEventSize-2 {
		b = append(b, 'x')
	}
	return append(b, `"}`...)
}

// isUnavailable reports whether an answer is the emulator's Runtime.Unavailable.
func isUnavailable(status int, errorType string, body []byte) bool {
	return status != http.StatusOK &&
		(errorType == "Runtime.Unavailable" || bytes.Contains(body, []byte(`"errorType":"Runtime.Unavailable"`)))
}

// concSkip says why the concurrency row cannot run here, or "".
func concSkip(c *config, in interpreters) (reason string, quiet bool) {
	_, errUnshare := exec.LookPath("unshare")
	fi, errOpt := os.Stat("/opt")
	switch {
	case !c.wants("concurrency"):
		return "not run (-rows does not list concurrency)", true
	case len(c.concurrency) == 0:
		return "not run (-concurrency is empty)", true
	case errUnshare != nil:
		return "unshare not found (util-linux): the emulator's Managed Instances mode needs a private mount namespace", false
	case os.Geteuid() != 0:
		return "not root: the emulator's Managed Instances mode needs a private mount namespace (unshare -m) and mounts on /var and /opt", false
	case in.bash == "":
		return "bash NOT FOUND", false
	case errOpt != nil || !fi.IsDir():
		return "/opt does not exist to mount the layer on", false
	}
	return "", false
}

// measureConcurrency runs the concurrency row, unless it was not asked for or cannot run here:
// for each N, an emulator, a warm-up, perN timed invocations, then the emulator is stopped.
func measureConcurrency(c *config, in interpreters) *concurrencyReport {
	rep := &concurrencyReport{ncpu: runtime.NumCPU(), perN: concPerN(c.n, c.concurrency)}
	taskDir, err := "", error(nil)
	if rep.skipped, rep.quiet = concSkip(c, in); rep.skipped == "" {
		if taskDir, err = concTask(c); err != nil {
			rep.skipped = err.Error()
		}
	}
	if rep.skipped != "" {
		if !rep.quiet {
			logf("*** concurrency row: %s: NOT MEASURED ***", rep.skipped)
		}
		return rep
	}
	logf("concurrency: bash 10 ms handler, N = %v, %d invocations per N", c.concurrency, rep.perN)
	for _, n := range c.concurrency {
		res := &concResult{n: n}
		rep.results = append(rep.results, res)
		if res.err = measureN(c, in.bash, taskDir, res, rep.perN); res.err != nil {
			logf("*** concurrency N=%d: %v: NOT MEASURED ***", n, res.err)
		}
	}
	return rep
}

// measureN measures one N.
func measureN(c *config, bash, taskDir string, res *concResult, perN int) error {
	s, err := startConcSession(c, bash, taskDir, res)
	if s == nil {
		return err
	}
	defer stopTree(s.e)
	if err != nil {
		return err
	}
	before, start := s.readCPU(), time.Now()
	st := s.run(perN, start.Add(concBudget), true)
	res.wall = time.Since(start)
	after := s.readCPU()
	res.lat, res.retries, res.failed, res.firstFailure, res.capped = st.lat, st.retries, st.failed, st.firstFailure, st.capped
	res.cpu, res.cpuOK = after.total()-before.total(), after.ok && before.ok
	slices.Sort(res.lat)
	res.rssKB = peakRSS(s.boot)
	for _, w := range children(s.boot) {
		res.rssKB += peakRSS(w)
		res.nWorkers++
	}
	if len(res.lat) == 0 || res.failed > concMaxFailures {
		return fmt.Errorf("%d invocations failed, the first: %s\n%s", res.failed, res.firstFailure, logTail(s.e, 10))
	}
	return nil
}

// concTask lays out the row's task folder, and makes it and the layer readable by the emulator's
// runtime user (uid 993).
func concTask(c *config) (string, error) {
	dir := filepath.Join(c.work, "task-concurrency")
	if err := os.RemoveAll(dir); err != nil {
		return "", fmt.Errorf("clearing %s: %w", dir, err)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", fmt.Errorf("creating %s: %w", dir, err)
	}
	if err := copyFile(filepath.Join(c.handlers, "sleep10ms.sh"), filepath.Join(dir, "function.sh")); err != nil {
		return "", err
	}
	for _, d := range []string{dir, c.layerDir} {
		err := filepath.WalkDir(d, func(p string, e fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			fi, err := e.Info()
			if err != nil {
				return err
			}
			return os.Chmod(p, fi.Mode().Perm()|0o444|fs.FileMode(btoi(e.IsDir())*0o111))
		})
		if err != nil {
			return "", fmt.Errorf("making %s readable: %w", d, err)
		}
	}
	return dir, nil
}

// managedScript gives the emulator, in its private mount namespace, the layout its Managed
// Instances mode wants: the layer on /opt and the task on /var/task (on a tmpfs over /var, so
// nothing is written to the real /var), with /var/task as the working folder.
const managedScript = `set -e
mount -t tmpfs tmpfs /var
mkdir -p /var/task
mount --bind "$1" /var/task
mount --bind "$2" /opt
cd /var/task
shift 2
exec "$@"`

// concSession is one N's emulator.
type concSession struct {
	res     *concResult
	e       *rietest.Emulator
	clients []*http.Client // one per client loop, each its own keep-alive connection
	boot    int
	workers []int
	seq     atomic.Int64 // numbers the events
}

// startConcSession starts N's emulator in Managed Instances mode inside a private mount
// namespace, warms it up (the first invocation starts the runtime and its N workers) and finds the
// bootstrap and its workers. The session is returned whenever its emulator was started, so that it
// is stopped.
func startConcSession(c *config, bash, taskDir string, res *concResult) (*concSession, error) {
	env := append(rietest.CleanEnv(), "_HANDLER=function.handler", fmt.Sprintf("AWS_LAMBDA_MAX_CONCURRENCY=%d", res.n),
		"AWS_LAMBDA_FUNCTION_TIMEOUT=10", "POLYBOOT_BASH="+bash)
	e, err := rietest.Launch(rietest.Options{RIE: c.rie, Env: env,
		Wrap: []string{"unshare", "-m", "--propagation", "private", bash, "-c", managedScript, "-", taskDir, c.layerDir}})
	if err != nil {
		return nil, err
	}
	s := &concSession{res: res, e: e}
	for range res.n {
		s.clients = append(s.clients, &http.Client{Timeout: 30 * time.Second,
			Transport: &http.Transport{Proxy: nil, MaxIdleConnsPerHost: 1, DisableCompression: true}})
	}
	if err := e.Listening(10 * time.Second); err != nil {
		return s, err
	}
	for _, total := range []int{1, concWarmupPerLoop * res.n} { // the first alone: it starts the runtime
		if st := s.run(total, time.Now().Add(concBudget), false); st.failed > 0 {
			return s, fmt.Errorf("warm-up: %d of %d invocations failed: %s\n%s", st.failed, total, st.firstFailure, logTail(e, 10))
		}
	}
	for deadline := time.Now().Add(2 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		if kids := children(e.Cmd.Process.Pid); len(kids) == 1 {
			if s.boot, s.workers = kids[0], children(kids[0]); len(s.workers) == res.n {
				return s, nil
			}
		}
		if time.Now().After(deadline) {
			return s, fmt.Errorf("no bootstrap with %d workers under the emulator (bootstrap %d, workers %v)", res.n, s.boot, s.workers)
		}
	}
}

// stopTree kills the emulator's process group and, by their ids, the processes under it that left
// it (the emulator starts the runtime in a process group of its own, and the bootstrap its workers
// in theirs).
func stopTree(e *rietest.Emulator) {
	below := descendants(e.Cmd.Process.Pid)
	e.Stop()
	for _, p := range below {
		_ = syscall.Kill(-p, syscall.SIGKILL)
		_ = syscall.Kill(p, syscall.SIGKILL)
	}
}

// post sends one event through client and returns the status, the Error-Type header and the body.
func post(client *http.Client, url string, event []byte) (int, string, []byte, error) {
	resp, err := client.Post(url, "application/json", bytes.NewReader(event))
	if err != nil {
		return 0, "", nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header.Get("Error-Type"), body, err
}

// runStats is what one run of the client loops gave.
type runStats struct {
	lat             []time.Duration
	failed, retries int
	firstFailure    string
	capped          bool
}

// run sends total invocations through the N client loops: each loop sends its next invocation
// only after the answer to its previous one, sends again after concRetryPause one answered
// Runtime.Unavailable, and checks every answer against its own event. No invocation is started
// after deadline, and a pending retry then gives up.
func (s *concSession) run(total int, deadline time.Time, timed bool) runStats {
	var next, failures atomic.Int64
	var mu sync.Mutex
	var out runStats
	var wg sync.WaitGroup
	for loop, client := range s.clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for next.Add(1) <= int64(total) && failures.Load() <= concMaxFailures {
				if time.Now().After(deadline) {
					mu.Lock()
					out.capped = true
					mu.Unlock()
					return
				}
				event := concEvent(s.res.n, loop, s.seq.Add(1))
				t0 := time.Now()
				fail, retries := "", 0
				for {
					status, errorType, body, err := post(client, s.e.URL, event)
					switch {
					case err != nil:
						fail = err.Error()
					case isUnavailable(status, errorType, body) && time.Now().Before(deadline):
						retries++
						time.Sleep(concRetryPause)
						continue
					case status != http.StatusOK:
						fail = fmt.Sprintf("HTTP %d: %.300s", status, body)
					case !bytes.Equal(body, event):
						fail = fmt.Sprintf("the answer (%d bytes, starts %.100q) is not its event (%.100q)", len(body), body, event)
					}
					break
				}
				d := time.Since(t0)
				mu.Lock()
				out.retries += retries
				if fail != "" {
					failures.Add(1)
					out.failed++
					out.firstFailure = cmp(out.firstFailure, fail)
				} else if timed {
					out.lat = append(out.lat, d)
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	return out
}

// cmp is a, or b when a is empty.
func cmp(a, b string) string {
	if a == "" {
		return b
	}
	return a
}

// readCPU is the CPU time used so far by this process, the emulator, the bootstrap and the
// workers (with the children they waited for: the handler's sleep).
func (s *concSession) readCPU() cpuSample {
	sum := readCPU(s.e.Cmd.Process.Pid, s.boot, 0)
	for _, w := range s.workers {
		v, err := cpuSeconds(w, true)
		sum.worker += v
		sum.ok = sum.ok && err == nil
	}
	return sum
}

// throughput is answered timed invocations per second of the timed blocks' wall time.
func (r *concResult) throughput() float64 {
	if r.wall <= 0 {
		return 0
	}
	return float64(len(r.lat)) / r.wall.Seconds()
}

// section is the concurrency row's part of the report: its table and how it was measured.
func (cr *concurrencyReport) section(b *strings.Builder) {
	p := func(format string, args ...any) { fmt.Fprintf(b, format, args...) }
	p("## Concurrency (Lambda Managed Instances)\n\n")
	if cr.skipped != "" {
		if cr.quiet {
			p("%s\n\n", cr.skipped)
		} else {
			p("*** %s: NOT MEASURED ***\n\n", cr.skipped)
		}
		return
	}
	var base *concResult
	var rows [][]string
	for _, r := range cr.results {
		if r.err != nil && len(r.lat) == 0 {
			rows = append(rows, []string{fmt.Sprint(r.n), "*** NOT MEASURED: " + oneLine(r.err.Error()) + " ***", "", "", "", "", "", ""})
			continue
		}
		if base == nil {
			base = r
		}
		n := len(r.lat) + r.failed
		cpu := "–"
		if r.cpuOK && n > 0 && r.wall > 0 {
			cpu = fmt.Sprintf("%.3f ms (%.2f of %d cores)", r.cpu/float64(n)*1000, r.cpu/r.wall.Seconds(), cr.ncpu)
		}
		answers := fmt.Sprintf("%d ok, %d failed, %d Unavailable retries", len(r.lat), r.failed, r.retries)
		if r.capped {
			answers += ", STOPPED AT THE TIME LIMIT"
		}
		rows = append(rows, []string{fmt.Sprint(r.n), fmt.Sprintf("%.0f/s", r.throughput()),
			fmtRatio(r.throughput() / base.throughput()), fmtMs(percentile(r.lat, 50)), fmtMs(percentile(r.lat, 99)),
			cpu, fmt.Sprintf("%s (%d workers)", mb(r.rssKB), r.nWorkers), answers})
	}
	p("polyboot bash with an I/O-bound 10 ms handler (bench/handlers/sleep10ms.sh) under the emulator's\n")
	p("Managed Instances mode, `AWS_LAMBDA_MAX_CONCURRENCY=N`, driven by N client loops that each send their\n")
	p("next invocation after the answer to the last (and send again, after %s, one the emulator answered\n", fmtMs(concRetryPause))
	p("`Runtime.Unavailable`: more in flight than workers polling). %d timed invocations per N after %d warm-up\n", cr.perN, concWarmupPerLoop)
	p("ones per loop, every event unique and checked; CPU of client, emulator, bootstrap, workers and `sleep`; RSS is\n")
	p("the summed VmHWM of the bootstrap and its workers. The emulator runs in a private mount namespace\n")
	p("(`unshare -m`, the layer on /opt, the task on /var/task), which needs root.\n\n")
	p("%s\n", table([]string{"N", "throughput", "× N=" + fmt.Sprint(cr.results[0].n), "p50", "p99", "CPU per invocation",
		"peak RSS", "answers"}, rows))
}
