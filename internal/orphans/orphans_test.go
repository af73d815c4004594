package orphans

import (
	"bytes"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// soleEnv names the helper-process mode: the test binary re-run as a process that starts children
// only through a SoleParent Reaper, as the bootstrap does, runs one scenario and prints PASS or
// what went wrong.
const soleEnv = "ORPHANS_TEST_SOLE"

func TestMain(m *testing.M) {
	if mode := os.Getenv(soleEnv); mode != "" {
		os.Exit(runSole(mode))
	}
	// Orphans come to this process, as they come to the bootstrap, so that Sweep has to reap them.
	if err := BecomeSubreaper(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	os.Exit(m.Run())
}

// newMarker returns a sleep time unique to this run, to tell its sleep from any other on the
// machine (GNU sleep takes fractions).
func newMarker() string { return fmt.Sprintf("1000.%d%09d", os.Getpid(), rand.IntN(1e9)) }

// sleepers lists the live processes running `sleep marker`.
func sleepers(marker string) []proc {
	procs, _ := scan()
	var out []proc
	for _, p := range procs {
		b, err := os.ReadFile("/proc/" + strconv.Itoa(p.pid) + "/cmdline")
		if err == nil && bytes.HasSuffix(b, []byte("\x00"+marker+"\x00")) && !p.zombie() {
			out = append(out, p)
		}
	}
	return out
}

// cleanUp kills, when the test ends, whatever still carries marker in its environment as M:
// a failed test must not leave its jobs running on the machine.
func cleanUp(t *testing.T, marker string) {
	t.Cleanup(func() {
		for range 3 {
			procs, _ := scan()
			for _, p := range procs {
				b, _ := os.ReadFile("/proc/" + strconv.Itoa(p.pid) + "/environ")
				if bytes.Contains(b, []byte("\x00M="+marker+"\x00")) || bytes.HasPrefix(b, []byte("M="+marker+"\x00")) {
					_ = syscall.Kill(p.pid, syscall.SIGKILL)
				}
			}
			for _, p := range sleepers(marker) {
				_ = syscall.Kill(p.pid, syscall.SIGKILL)
			}
		}
	})
}

// gone reports whether the process p no longer exists, not even as a zombie.
func gone(p proc) bool {
	cur, ok := readProc(p.pid)
	return !ok || cur.start != p.start
}

// poll waits up to 10 s for cond.
func poll(cond func() bool) bool {
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
		if cond() {
			return true
		}
	}
	return cond()
}

// worker is a shell started through a Reaper in its own process group, as the supervisor starts
// workers; it runs script, then waits for its standard input to close and exits 7.
type worker struct {
	cmd   *exec.Cmd
	group *Group
	stdin io.WriteCloser
}

func startWorker(r *Reaper, script string, env ...string) (*worker, error) {
	cmd := exec.Command("sh", "-c", script+"\nread -r line\nexit 7\n")
	cmd.Env = append(os.Environ(), env...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	g, err := r.Start(cmd)
	if err != nil {
		return nil, err
	}
	return &worker{cmd: cmd, group: g, stdin: stdin}, nil
}

// end ends the worker as the supervisor does: by a crash of its own (exit), or killed with its
// process group after a snapshot (kill); then it is waited for and swept.
func (w *worker) end(how string) Result {
	switch how {
	case "exit":
		w.stdin.Close()
	case "kill":
		w.group.Snapshot()
		_ = syscall.Kill(-w.cmd.Process.Pid, syscall.SIGKILL)
	}
	_ = w.cmd.Wait()
	_ = syscall.Kill(-w.cmd.Process.Pid, syscall.SIGKILL)
	return w.group.Sweep()
}

// The ways a handler's job escapes its worker's process group. $M is the sleep's marker.
var escapes = map[string]string{
	"setsid":           `setsid sleep "$M" &`,
	"double-fork":      `( ( sleep "$M" & ) & )`,
	"setsid-daemon":    `( setsid sh -c 'sleep "$M" & wait' & )`,
	"in-group":         `sleep "$M" &`,
	"env-i-setsid":     `env -i setsid sleep "$M" &`,
	"env-i-doublefork": `( ( env -i setsid sleep "$M" & ) & )`,
}

// TestSweep: what a dead worker left behind is gone, not even a zombie, once Sweep returns;
// except what cannot be found (a double-forked job without its tag, when the Reaper is not its
// process's sole parent), which survives as the package doc says.
func TestSweep(t *testing.T) {
	cases := []struct {
		escape, end string
		survives    bool
	}{
		{"setsid", "kill", false},
		{"setsid", "exit", false},
		{"double-fork", "kill", false},
		{"double-fork", "exit", false},
		{"setsid-daemon", "exit", false},
		{"in-group", "exit", false},
		{"env-i-setsid", "kill", false}, // found by the snapshot
		{"env-i-doublefork", "exit", true},
	}
	r := New(Options{})
	for _, c := range cases {
		t.Run(c.escape+"/"+c.end, func(t *testing.T) {
			m := newMarker()
			cleanUp(t, m)
			w, err := startWorker(r, escapes[c.escape], "M="+m)
			if err != nil {
				t.Fatal(err)
			}
			if !poll(func() bool { return len(sleepers(m)) == 1 }) {
				w.end("kill")
				t.Fatalf("the job did not start: %v", sleepers(m))
			}
			job := sleepers(m)[0]
			res := w.end(c.end)
			if c.survives {
				defer func() {
					_ = syscall.Kill(job.pid, syscall.SIGKILL)
					poll(func() bool { return gone(job) || reap(job.pid) })
				}()
				if gone(job) {
					t.Errorf("the untagged orphan was killed: a sole-parent rule applied without SoleParent")
				}
				return
			}
			if !gone(job) {
				cur, _ := readProc(job.pid)
				t.Errorf("job %d is still there after Sweep (state %c, parent %d); sweep %+v", job.pid, cur.state, cur.ppid, res)
			}
			if res.Killed+res.Reaped == 0 || len(res.Left) > 0 {
				t.Errorf("sweep %+v", res)
			}
		})
	}
}

// TestSweepSparesLiveWorkers: under Managed Instances, a worker's sweep leaves another worker
// and its escaped jobs alone; that worker's own sweep then takes them.
func TestSweepSparesLiveWorkers(t *testing.T) {
	r := New(Options{})
	ma, mb := newMarker(), newMarker()
	cleanUp(t, ma)
	cleanUp(t, mb)
	a, err := startWorker(r, escapes["double-fork"]+"\n"+escapes["setsid"], "M="+ma)
	if err != nil {
		t.Fatal(err)
	}
	b, err := startWorker(r, escapes["double-fork"]+"\n"+escapes["setsid"], "M="+mb)
	if err != nil {
		t.Fatal(err)
	}
	if !poll(func() bool { return len(sleepers(ma)) == 2 && len(sleepers(mb)) == 2 }) {
		a.end("kill")
		b.end("kill")
		t.Fatalf("the jobs did not start: %v %v", sleepers(ma), sleepers(mb))
	}
	jobsA, jobsB := sleepers(ma), sleepers(mb)
	a.end("kill")
	for _, j := range jobsA {
		if !gone(j) {
			t.Errorf("worker A's job %d survived A's sweep", j.pid)
		}
	}
	for _, j := range jobsB {
		if gone(j) {
			t.Errorf("worker B's job %d was killed by A's sweep", j.pid)
		}
	}
	if _, err := os.Stat(fmt.Sprintf("/proc/%d", b.cmd.Process.Pid)); err != nil {
		t.Errorf("worker B is gone after A's sweep: %v", err)
	}
	b.end("exit")
	for _, j := range jobsB {
		if !gone(j) {
			t.Errorf("worker B's job %d survived B's sweep", j.pid)
		}
	}
}

// TestSweepForkingJob: a job that keeps forking while it is killed is caught by a later pass.
func TestSweepForkingJob(t *testing.T) {
	r := New(Options{})
	m := newMarker()
	cleanUp(t, m)
	w, err := startWorker(r, `setsid sh -c 'while :; do sleep "$M" & sleep 0.001; done' &`, "M="+m)
	if err != nil {
		t.Fatal(err)
	}
	if !poll(func() bool { return len(sleepers(m)) >= 5 }) {
		w.end("kill")
		t.Fatal("the forking job did not start")
	}
	res := w.end("exit")
	if n := len(sleepers(m)); n > 0 || len(res.Left) > 0 {
		t.Errorf("%d of the forking job's sleeps survived; sweep %+v", n, res)
	}
}

// TestSole runs the SoleParent scenarios in a process of their own (runSole).
func TestSole(t *testing.T) {
	for _, mode := range []string{"untagged-orphan", "zombies"} {
		t.Run(mode, func(t *testing.T) {
			exe, err := os.Executable()
			if err != nil {
				t.Fatal(err)
			}
			cmd := exec.Command(exe)
			cmd.Env = append(os.Environ(), soleEnv+"="+mode)
			out, err := cmd.CombinedOutput()
			if err != nil || strings.TrimSpace(string(out)) != "PASS" {
				t.Errorf("%s: %v\n%s", mode, err, out)
			}
		})
	}
}

// runSole is a process that starts children only through its SoleParent Reaper, as the bootstrap
// does. It runs mode and prints PASS, or what went wrong.
func runSole(mode string) int {
	if err := BecomeSubreaper(); err != nil {
		fmt.Println(err)
		return 1
	}
	r := New(Options{SoleParent: true})
	var msg string
	switch mode {
	case "untagged-orphan":
		msg = soleUntaggedOrphan(r)
	case "zombies":
		msg = soleZombies(r)
	default:
		msg = "unknown mode " + mode
	}
	if msg == "" {
		msg = "PASS"
	}
	fmt.Println(msg)
	return 0
}

// soleUntaggedOrphan: a double-forked job without its tag, re-parented to this process, is killed
// and reaped when its worker dies and no other worker runs.
func soleUntaggedOrphan(r *Reaper) string {
	m := newMarker()
	w, err := startWorker(r, escapes["env-i-doublefork"], "M="+m)
	if err != nil {
		return err.Error()
	}
	if !poll(func() bool { return len(sleepers(m)) == 1 }) {
		w.end("kill")
		return "the job did not start"
	}
	job := sleepers(m)[0]
	res := w.end("exit")
	if !gone(job) {
		_ = syscall.Kill(job.pid, syscall.SIGKILL)
		return fmt.Sprintf("the untagged orphan %d survived; sweep %+v", job.pid, res)
	}
	return ""
}

// soleZombies: orphans that end on their own while their worker runs are reaped (SIGCHLD), and the
// live worker is not: os/exec's Wait still gets its status.
func soleZombies(r *Reaper) string {
	f, err := os.CreateTemp("", "orphans-test-")
	if err != nil {
		return err.Error()
	}
	defer os.Remove(f.Name())
	f.Close()
	w, err := startWorker(r, `for i in 1 2 3 4 5; do ( ( sh -c 'echo ran >>"$F"' & ) & ); done`, "F="+f.Name())
	if err != nil {
		return err.Error()
	}
	children := func() []proc {
		procs, _ := scan()
		var out []proc
		for _, p := range procs {
			if p.ppid == os.Getpid() && p.pid != w.cmd.Process.Pid {
				out = append(out, p)
			}
		}
		return out
	}
	ran := poll(func() bool { b, _ := os.ReadFile(f.Name()); return bytes.Count(b, []byte("ran")) == 5 })
	// Once they ran, each ends on its own; none may stay a zombie of this process.
	none := poll(func() bool { return len(children()) == 0 })
	w.stdin.Close()
	err = w.cmd.Wait()
	w.group.Sweep()
	switch {
	case !ran:
		return "the orphans did not run"
	case !none:
		return fmt.Sprintf("children left (zombies?): %+v", children())
	case w.cmd.ProcessState.ExitCode() != 7:
		return fmt.Sprintf("the worker's own status was lost: %v", err)
	}
	return ""
}

// TestStartSweepsFirst: a worker that exited and was not swept yet is swept before the next one
// starts, never beside it; its own Sweep then has nothing left to do.
func TestStartSweepsFirst(t *testing.T) {
	r := New(Options{})
	m := newMarker()
	cleanUp(t, m)
	w, err := startWorker(r, escapes["setsid"], "M="+m)
	if err != nil {
		t.Fatal(err)
	}
	if !poll(func() bool { return len(sleepers(m)) == 1 }) {
		w.end("kill")
		t.Fatal("the job did not start")
	}
	job := sleepers(m)[0]
	w.stdin.Close()
	_ = w.cmd.Wait()
	w.group.Exited()
	next, err := startWorker(r, "")
	if err != nil {
		t.Fatal(err)
	}
	if !gone(job) {
		t.Errorf("the dead worker's job %d is still there when the next worker started", job.pid)
	}
	if res := w.group.Sweep(); res.Killed != 0 {
		t.Errorf("the second sweep killed %d processes", res.Killed)
	}
	next.end("exit")
}
