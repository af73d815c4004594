package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// The concurrency row: the bash handler of bench/handlers/sleep10ms.sh (an I/O-bound 10 ms
// handler) under the emulator's Managed Instances mode with AWS_LAMBDA_MAX_CONCURRENCY=N, driven
// by N client loops, for each N of -concurrency.
const (
	// concRetryPause is how long a client loop waits before it sends again an invocation the
	// emulator answered with Runtime.Unavailable (more invocations in flight than workers polling
	// /next: a worker polls again only just after it posted its last result).
	concRetryPause = time.Millisecond
	// concBudget bounds each N's timed invocations: past it, a block starts no new invocation and
	// a pending retry gives up. The default run needs about a third of it at N=1.
	concBudget = 15 * time.Second
	// concWarmupPerLoop is how many invocations each client loop sends before the timed ones.
	concWarmupPerLoop = 5
	// concRounds is how many rounds the timed invocations are spread over, every N taking its turn.
	concRounds = 5
	// concEventSize is the size of each (unique) event.
	concEventSize = 256
	// concMaxFailures is how many failed invocations make an N give up.
	concMaxFailures = 10
)

// concResult is what was measured at one N.
type concResult struct {
	n             int
	err           error           // this N could not be measured (in full)
	lat           []time.Duration // one per answered timed invocation, sorted
	wall          time.Duration   // wall time of the timed blocks
	failed        int             // timed invocations that failed or got a wrong answer
	firstFailure  string
	retries       int // Runtime.Unavailable answers to timed invocations
	warmupRetries int
	cpu           float64 // CPU seconds of client, emulator, bootstrap and workers in the timed blocks
	cpuOK         bool
	boot          memory // the bootstrap, after the timed blocks
	workers       memory // summed over the workers
	nWorkers      int
	capped        bool // the budget ran out before every invocation was sent
}

// concurrencyReport is the concurrency row.
type concurrencyReport struct {
	skipped string // why it did not run; loud when it could not be measured
	quiet   bool   // skipped on request (-rows, -concurrency), not for want of something
	perN    int    // timed invocations per N
	rounds  int
	ncpu    int
	results []*concResult
	elapsed time.Duration
}

// parseConcurrency reads -concurrency ("1,2,4,8"); empty, "0" or "none" is none.
func parseConcurrency(s string) ([]int, error) {
	s = strings.TrimSpace(s)
	if s == "" || s == "0" || s == "none" {
		return nil, nil
	}
	var out []int
	seen := map[int]bool{}
	for _, f := range strings.Split(s, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < 1 || n > 64 {
			return nil, fmt.Errorf("-concurrency %q: want comma-separated whole numbers from 1 to 64", s)
		}
		if !seen[n] {
			seen[n] = true
			out = append(out, n)
		}
	}
	sort.Ints(out)
	return out, nil
}

// concPerN is the number of timed invocations per N: about 400 at the default -n 1000, scaled
// with -n like the other rows, and at least 10 per client loop of the largest N.
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

// measureConcurrency runs the concurrency row, unless it was not asked for or cannot run here.
func measureConcurrency(c *config, in interpreters) *concurrencyReport {
	rep := &concurrencyReport{ncpu: runtime.NumCPU(), perN: concPerN(c.n, c.concurrency)}
	rep.rounds = max(1, min(concRounds, rep.perN))
	switch {
	case !c.wants("concurrency"):
		rep.skipped, rep.quiet = "not run (-rows does not list concurrency)", true
		return rep
	case len(c.concurrency) == 0:
		rep.skipped, rep.quiet = "not run (-concurrency is empty)", true
		return rep
	}
	unshare, err := exec.LookPath("unshare")
	switch {
	case err != nil:
		rep.skipped = "unshare not found (util-linux): the emulator's Managed Instances mode needs a private mount namespace"
	case os.Geteuid() != 0:
		rep.skipped = "not root: the emulator's Managed Instances mode needs a private mount namespace (unshare -m) and mounts on /var and /opt"
	case in.bash == "":
		rep.skipped = "bash NOT FOUND"
	}
	if rep.skipped == "" {
		if fi, err := os.Stat("/opt"); err != nil || !fi.IsDir() {
			rep.skipped = "/opt does not exist to mount the layer on"
		}
	}
	if rep.skipped != "" {
		logf("*** concurrency row: %s: NOT MEASURED ***", rep.skipped)
		return rep
	}
	began := time.Now()
	defer func() { rep.elapsed = time.Since(began) }()
	taskDir, err := concTask(c)
	if err == nil {
		err = worldReadable(c.layerDir)
	}
	if err != nil {
		rep.skipped = err.Error()
		logf("*** concurrency row: %v: NOT MEASURED ***", err)
		return rep
	}

	logf("concurrency: bash 10 ms handler, N = %v, Managed Instances mode, %d invocations per N in %d rounds",
		c.concurrency, rep.perN, rep.rounds)
	var sessions []*concSession
	defer func() {
		for _, s := range sessions {
			s.e.stopTree()
		}
	}()
	for _, n := range c.concurrency {
		res := &concResult{n: n}
		rep.results = append(rep.results, res)
		s, err := startConcSession(c, unshare, in.bash, taskDir, res)
		if s != nil {
			sessions = append(sessions, s)
		}
		if err != nil {
			res.err = err
			logf("*** concurrency N=%d: %v: NOT MEASURED ***", n, err)
		}
	}
	var live []*concSession
	for _, s := range sessions {
		if s.res.err == nil {
			live = append(live, s)
		}
	}
	for k := 0; k < rep.rounds; k++ {
		block := rep.perN / rep.rounds
		if k < rep.perN%rep.rounds {
			block++
		}
		for i := range live {
			live[(i+k)%len(live)].timedBlock(block)
		}
	}
	for _, s := range live {
		s.finish()
	}
	return rep
}

// concTask lays out the row's task folder, readable by the emulator's runtime user (uid 993).
func concTask(c *config) (string, error) {
	dir := filepath.Join(c.work, "task-concurrency")
	if err := os.RemoveAll(dir); err != nil {
		return "", fmt.Errorf("clearing %s: %w", dir, err)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", fmt.Errorf("creating %s: %w", dir, err)
	}
	b, err := os.ReadFile(filepath.Join(c.handlers, "sleep10ms.sh"))
	if err != nil {
		return "", fmt.Errorf("the concurrency row's handler: %w", err)
	}
	if err := os.WriteFile(filepath.Join(dir, "function.sh"), b, 0o644); err != nil {
		return "", fmt.Errorf("writing the concurrency row's handler: %w", err)
	}
	return dir, os.Chmod(dir, 0o755) // whatever the umask
}

// worldReadable makes everything under dir readable (folders also searchable) by anyone: the
// emulator runs the runtime as uid 993.
func worldReadable(dir string) error {
	return filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		want := fi.Mode().Perm() | 0o444
		if d.IsDir() {
			want |= 0o111
		}
		if want != fi.Mode().Perm() {
			return os.Chmod(p, want)
		}
		return nil
	})
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

// startManaged starts the emulator in Managed Instances mode with n workers, inside a private
// mount namespace (unshare -m), in its own process group.
func startManaged(c *config, unshare, bash, taskDir string, n int) (*emulator, error) {
	env := append(cleanEnv(), "_HANDLER=function.handler", fmt.Sprintf("AWS_LAMBDA_MAX_CONCURRENCY=%d", n),
		"AWS_LAMBDA_FUNCTION_TIMEOUT=10", "POLYBOOT_BASH="+bash)
	head := []string{unshare, "-m", "--propagation", "private", bash, "-c", managedScript, "-", taskDir, c.layerDir, c.rie}
	return launchEmulator(head, nil, "", env, newConcClient())
}

// waitManaged waits until the emulator listens, and gives up as soon as it has exited (unshare
// or a mount failed, say).
func waitManaged(e *emulator, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		if err := e.waitListening(0); err == nil {
			return nil
		}
		if exited(e.pid()) {
			return fmt.Errorf("the emulator exited before it listened: %s", strings.TrimSpace(e.logs.lastLines(5)))
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("the emulator did not listen on %s within %s\n%s", e.addr, timeout, e.logs.lastLines(10))
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// exited reports whether pid, a child of this process, has exited (it is a zombie until waited
// for) or is gone.
func exited(pid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return true
	}
	if i := bytes.LastIndexByte(b, ')'); i >= 0 && i+2 < len(b) {
		return b[i+2] == 'Z' || b[i+2] == 'X'
	}
	return false
}

// newConcClient is a client loop's HTTP client: its own keep-alive connection.
func newConcClient() *http.Client {
	return &http.Client{
		Transport: &http.Transport{Proxy: nil, MaxIdleConnsPerHost: 1, DisableCompression: true},
		Timeout:   30 * time.Second,
	}
}

// stopTree kills the emulator's process group and, by their ids, the processes under it that
// left it (the emulator starts the runtime in a process group of its own, and the bootstrap its
// workers in theirs), then waits for the emulator.
func (e *emulator) stopTree() {
	e.client.CloseIdleConnections()
	below := descendants(e.pid())
	_ = syscall.Kill(-e.pid(), syscall.SIGKILL)
	for _, p := range below {
		_ = syscall.Kill(-p, syscall.SIGKILL) // its group, if it leads one
		_ = syscall.Kill(p, syscall.SIGKILL)
	}
	_ = e.cmd.Wait()
}

// descendants lists the processes under pid, children before grandchildren.
func descendants(pid int) []int {
	var out []int
	queue := []int{pid}
	for len(queue) > 0 && len(out) < 10000 {
		kids := children(queue[0])
		queue = append(queue[1:], kids...)
		out = append(out, kids...)
	}
	return out
}

// invokeConc sends one event through client and returns the status, the Error-Type header and
// the body.
func invokeConc(client *http.Client, url string, event []byte) (int, string, []byte, error) {
	req, err := http.NewRequestWithContext(context.Background(), http.MethodPost, url, bytes.NewReader(event))
	if err != nil {
		return 0, "", nil, err
	}
	resp, err := client.Do(req)
	if err != nil {
		return 0, "", nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header.Get("Error-Type"), body, err
}

// concSession is one N's emulator, up for the whole row.
type concSession struct {
	res     *concResult
	e       *emulator
	clients []*http.Client // one per client loop
	boot    int
	workers []int
	seq     atomic.Int64 // numbers the events
	spent   time.Duration
	failed  bool
}

// startConcSession starts N's emulator, warms it up (the first invocation starts the runtime and
// its N workers) and finds the bootstrap and its workers. The session is returned whenever its
// emulator was started, so that it is stopped.
func startConcSession(c *config, unshare, bash, taskDir string, res *concResult) (*concSession, error) {
	n := res.n
	e, err := startManaged(c, unshare, bash, taskDir, n)
	if err != nil {
		return nil, err
	}
	s := &concSession{res: res, e: e}
	for range n {
		s.clients = append(s.clients, newConcClient())
	}
	if err := waitManaged(e, 10*time.Second); err != nil {
		return s, err
	}
	// The first invocation alone: it initialises the runtime.
	if err := s.warmup(1); err != nil {
		return s, err
	}
	if err := s.warmup(concWarmupPerLoop * n); err != nil {
		return s, err
	}
	if err := s.findProcs(); err != nil {
		return s, err
	}
	return s, nil
}

// warmup sends total invocations through the client loops, untimed.
func (s *concSession) warmup(total int) error {
	st := s.run(total, time.Now().Add(concBudget), false)
	s.res.warmupRetries += st.retries
	if st.failed > 0 {
		return fmt.Errorf("warm-up: %d of %d invocations failed: %s\n%s", st.failed, total, st.firstFailure, s.e.logs.lastLines(10))
	}
	return nil
}

// findProcs finds the bootstrap (the emulator's child) and its N workers, waiting up to 2 s.
func (s *concSession) findProcs() error {
	deadline := time.Now().Add(2 * time.Second)
	for {
		if kids := children(s.e.pid()); len(kids) == 1 {
			s.boot = kids[0]
			if w := children(s.boot); len(w) == s.res.n {
				s.workers = w
				return nil
			}
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("no bootstrap with %d workers under the emulator (bootstrap %d, its children %v)",
				s.res.n, s.boot, children(s.boot))
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// runStats is what one run of the client loops gave.
type runStats struct {
	lat          []time.Duration
	failed       int
	firstFailure string
	retries      int
	capped       bool
}

// run sends total invocations through the N client loops: each loop sends its next invocation
// only after the answer to its previous one, resends one answered Runtime.Unavailable after
// concRetryPause, and checks every answer against its own event. No invocation is started after
// deadline, and a pending retry then gives up.
func (s *concSession) run(total int, deadline time.Time, timed bool) runStats {
	n := s.res.n
	var next atomic.Int64
	stats := make([]runStats, n)
	var wg sync.WaitGroup
	for loop := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			st := &stats[loop]
			client := s.clients[loop]
			for next.Add(1) <= int64(total) {
				if time.Now().After(deadline) {
					st.capped = true
					return
				}
				event := concEvent(n, loop, s.seq.Add(1))
				t0 := time.Now()
				var fail string
				for {
					status, errorType, body, err := invokeConc(client, s.e.url, event)
					switch {
					case err != nil:
						fail = err.Error()
					case isUnavailable(status, errorType, body):
						st.retries++
						if time.Now().After(deadline) {
							fail = "still Runtime.Unavailable at the time limit"
							break
						}
						time.Sleep(concRetryPause)
						continue
					case status != http.StatusOK:
						fail = fmt.Sprintf("HTTP %d: %.300s", status, body)
					case !bytes.Equal(body, event):
						fail = fmt.Sprintf("the answer (%d bytes, starts %.100q) is not its event (%d bytes, starts %.100q)",
							len(body), body, len(event), event)
					}
					break // answered, or failed for good
				}
				if fail != "" {
					st.failed++
					if st.firstFailure == "" {
						st.firstFailure = fail
					}
					if st.failed > concMaxFailures {
						return
					}
					continue
				}
				if timed {
					st.lat = append(st.lat, time.Since(t0))
				}
			}
		}()
	}
	wg.Wait()
	var out runStats
	for _, st := range stats {
		out.lat = append(out.lat, st.lat...)
		out.failed += st.failed
		out.retries += st.retries
		out.capped = out.capped || st.capped
		if out.firstFailure == "" {
			out.firstFailure = st.firstFailure
		}
	}
	return out
}

// timedBlock runs total timed invocations, adding their latencies, wall time, retries and CPU to
// the session's.
func (s *concSession) timedBlock(total int) {
	res := s.res
	if s.failed || total == 0 {
		return
	}
	left := concBudget - s.spent
	if left <= 0 {
		res.capped = true
		return
	}
	before := s.readCPU()
	start := time.Now()
	st := s.run(total, start.Add(left), true)
	wall := time.Since(start)
	after := s.readCPU()
	s.spent += wall
	res.wall += wall
	res.lat = append(res.lat, st.lat...)
	res.retries += st.retries
	res.failed += st.failed
	res.capped = res.capped || st.capped
	if res.firstFailure == "" {
		res.firstFailure = st.firstFailure
	}
	if before.ok && after.ok {
		res.cpu += after.sum - before.sum
		res.cpuOK = true
	} else {
		res.cpuOK = false
	}
	if res.failed > concMaxFailures {
		s.failed = true
		res.err = fmt.Errorf("%d invocations failed, the first: %s\n%s", res.failed, res.firstFailure, s.e.logs.lastLines(10))
		logf("concurrency N=%d: %v", res.n, res.err)
	}
}

// concCPU is the CPU time used so far by this process, the emulator, the bootstrap and the
// workers (with the children they waited for: the handler's sleep).
type concCPU struct {
	sum float64
	ok  bool
}

func (s *concSession) readCPU() concCPU {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return concCPU{}
	}
	sum := tv(ru.Utime) + tv(ru.Stime)
	rie, err1 := cpuSeconds(s.e.pid(), false)
	boot, err2 := cpuSeconds(s.boot, true)
	sum += rie + boot
	ok := err1 == nil && err2 == nil
	for _, w := range s.workers {
		v, err := cpuSeconds(w, true)
		ok = ok && err == nil
		sum += v
	}
	return concCPU{sum: sum, ok: ok}
}

// finish sorts the latencies and reads the memory of the bootstrap and of its workers.
func (s *concSession) finish() {
	res := s.res
	sort.Slice(res.lat, func(i, j int) bool { return res.lat[i] < res.lat[j] })
	res.boot, _ = readMemory(s.boot)
	for _, w := range children(s.boot) {
		if m, err := readMemory(w); err == nil {
			res.workers.hwmKB += m.hwmKB
			res.workers.rssKB += m.rssKB
			res.nWorkers++
		}
	}
	if res.err == nil && len(res.lat) == 0 {
		res.err = errors.New("no timed invocation was answered")
	}
}

// throughput is answered timed invocations per second of the timed blocks' wall time.
func (r *concResult) throughput() float64 {
	if r.wall <= 0 {
		return 0
	}
	return float64(len(r.lat)) / r.wall.Seconds()
}
