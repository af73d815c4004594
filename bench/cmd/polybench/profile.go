package main

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/polyboot/polyboot/internal/rietest"
)

// profileResult is what strace and perf saw during a row's profiled invocations.
type profileResult struct {
	bootstrapCalls, workerCalls []syscallCount // per invocation, most frequent first
	bootstrapTotal, workerTotal float64        // system calls per invocation
	perfGroups                  []perfGroup    // samples by process and package or library
	perfTopSyms                 []string       // the busiest symbols outside the kernel
	straceNote, perfNote        string         // why a part is missing
}

// syscallCount is one system call's calls per invocation.
type syscallCount struct {
	name  string
	calls float64
}

// profileRow runs a fresh emulator for r (with the symbol-carrying bootstrap when there is one) and
// profiles c.profileN warm invocations twice: once under strace -c (system calls per invocation
// of the runtime and of its worker), once under perf record (where the CPU time goes).
func profileRow(c *config, r *row, event []byte) (*profileResult, error) {
	bootstrap := r.bootstrap
	switch {
	case r.worker && c.profileLayer != "":
		bootstrap = filepath.Join(c.profileLayer, "bootstrap")
	case r.floor && c.profileEchoGo != "":
		bootstrap = c.profileEchoGo
	}
	e, err := launch(c, r, bootstrap)
	if err != nil {
		return nil, err
	}
	defer e.Stop()
	n := c.profileN
	if r.baseline {
		n = min(n, 100) // every invocation forks a dozen processes under strace -f
	}
	p := &profileResult{}
	invokeN := func(k int) error {
		for i := range k {
			if err := check(r, event, e); err != nil {
				return fmt.Errorf("profiled invocation %d: %w", i, err)
			}
		}
		return nil
	}
	logf("%s: profile (%d invocations under strace, %d under perf)", r.name, n, n)
	if err := invokeN(20); err != nil {
		return p, err
	}
	boot, worker, err := runtimeProcs(e.Cmd.Process.Pid, r.worker)
	if err != nil {
		return p, err
	}

	if p.straceNote, err = p.strace(c, n, invokeN, boot, worker); err != nil {
		return p, err
	}
	if _, err := exec.LookPath("perf"); err != nil {
		p.perfNote = "perf not installed (apt-get install linux-perf)"
		return p, nil
	}
	pids := strconv.Itoa(boot)
	if worker != 0 {
		pids += "," + strconv.Itoa(worker)
	}
	data := filepath.Join(c.tmp, "perf-"+r.key+".data")
	t, err := startTracer("perf", "record", "-e", "cpu-clock", "-F", "4999", "-o", data, "-p", pids)
	if err != nil {
		p.perfNote = err.Error()
		return p, nil
	}
	err = invokeN(n)
	stopTracers([]*tracer{t})
	if err != nil {
		return p, err
	}
	p.perfGroups, p.perfTopSyms, err = perfProfile(data)
	if err != nil {
		p.perfNote = err.Error()
	}
	_ = os.Remove(data)
	return p, nil
}

// strace counts the system calls of the runtime and of its worker during n invocations, and
// returns why it could not when strace is missing.
func (p *profileResult) strace(c *config, n int, invokeN func(int) error, boot, worker int) (string, error) {
	if _, err := exec.LookPath("strace"); err != nil {
		return "strace not installed", nil
	}
	var tracers []*tracer
	for i, pid := range []int{boot, worker} {
		if pid == 0 {
			continue
		}
		t, err := startTracer("strace", "-f", "-c", "-o", filepath.Join(c.tmp, fmt.Sprintf("strace-%d.txt", i)), "-p", strconv.Itoa(pid))
		if err != nil {
			stopTracers(tracers)
			return "", err
		}
		tracers = append(tracers, t)
	}
	err := invokeN(n)
	stopTracers(tracers)
	p.bootstrapCalls, p.bootstrapTotal = readStraceSummary(filepath.Join(c.tmp, "strace-0.txt"), n)
	if worker != 0 {
		p.workerCalls, p.workerTotal = readStraceSummary(filepath.Join(c.tmp, "strace-1.txt"), n)
	}
	return "", err
}

// tracer is a running strace or perf attached to processes.
type tracer struct {
	cmd    *exec.Cmd
	stderr *rietest.SyncBuffer
}

// startTracer starts a tracer in its own process group and waits until it says it attached.
func startTracer(name string, args ...string) (*tracer, error) {
	cmd := exec.Command(name, args...)
	buf := &rietest.SyncBuffer{}
	cmd.Stdout, cmd.Stderr = buf, buf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting %s: %w", name, err)
	}
	t := &tracer{cmd: cmd, stderr: buf}
	if name == "strace" {
		deadline := time.Now().Add(5 * time.Second)
		for !strings.Contains(buf.String(), "attached") {
			if time.Now().After(deadline) {
				stopTracers([]*tracer{t})
				return nil, fmt.Errorf("strace did not attach: %s", buf.String())
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
	time.Sleep(200 * time.Millisecond) // perf says nothing when it is ready
	return t, nil
}

// stopTracers interrupts tracers (they detach and write their reports) and waits for them,
// killing a tracer that has not finished after ten seconds.
func stopTracers(ts []*tracer) {
	for _, t := range ts {
		_ = t.cmd.Process.Signal(syscall.SIGINT)
	}
	for _, t := range ts {
		done := make(chan struct{})
		go func() {
			_ = t.cmd.Wait()
			close(done)
		}()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			_ = syscall.Kill(-t.cmd.Process.Pid, syscall.SIGKILL)
			<-done
		}
	}
}

// readStraceSummary parses strace -c output into calls per invocation, most frequent first, and
// the total per invocation.
func readStraceSummary(path string, n int) ([]syscallCount, float64) {
	f, err := os.Open(path)
	if err != nil {
		return nil, 0
	}
	defer f.Close()
	var out []syscallCount
	var total float64
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) < 5 || strings.HasPrefix(fields[0], "-") || fields[0] == "%" {
			continue
		}
		calls, err := strconv.ParseFloat(fields[3], 64)
		if err != nil {
			continue
		}
		name := fields[len(fields)-1]
		if name == "total" {
			total = calls / float64(n)
			continue
		}
		out = append(out, syscallCount{name: name, calls: calls / float64(n)})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].calls > out[j].calls })
	return out, total
}

// perfGroup is a share of perf samples: a process (comm) and a place in it.
type perfGroup struct {
	comm, where string
	pct         float64
}

// schedSymbols are the kernel functions where samples land after a context switch or a wake-up:
// on this virtual machine perf's cpu-clock samples taken with interrupts off are charged to them.
var schedSymbols = map[string]bool{
	"finish_task_switch.isra.0": true, "finish_task_switch": true, "_raw_spin_unlock_irqrestore": true,
	"_raw_spin_unlock_irq": true, "__schedule": true, "schedule": true, "try_to_wake_up": true,
}

// goBinaries are the Go programs whose symbols are grouped by package.
var goBinaries = map[string]bool{"bootstrap": true, "echo-worker": true}

// perfProfile reads a perf.data file and returns its samples grouped by process and by place (Go
// package, shared library, or kernel scheduling versus the rest of the kernel) and the busiest
// symbols outside the kernel.
func perfProfile(data string) ([]perfGroup, []string, error) {
	out, err := exec.Command("perf", "report", "-i", data, "--stdio", "--no-children",
		"--sort", "comm,dso,sym", "--percent-limit", "0").Output()
	if err != nil {
		return nil, nil, fmt.Errorf("perf report: %w", err)
	}
	groups := map[[2]string]float64{}
	var syms []string
	for _, line := range strings.Split(string(out), "\n") {
		f := strings.Fields(line)
		if len(f) < 5 || !strings.HasSuffix(f[0], "%") {
			continue
		}
		pct, err := strconv.ParseFloat(strings.TrimSuffix(f[0], "%"), 64)
		if err != nil {
			continue
		}
		comm, dso, sym := f[1], f[2], strings.Join(f[4:], " ")
		where := dso
		switch {
		case dso == "[kernel.kallsyms]" && schedSymbols[sym]:
			where = "kernel (switches, wake-ups)"
		case dso == "[kernel.kallsyms]":
			where = "kernel (the rest)"
		case goBinaries[dso]:
			where = "Go " + goPackage(sym)
		}
		groups[[2]string{comm, where}] += pct
		if dso != "[kernel.kallsyms]" && len(syms) < 12 && pct >= 0.5 {
			syms = append(syms, fmt.Sprintf("%s `%s` %.1f%%", comm, sym, pct))
		}
	}
	var gs []perfGroup
	for k, v := range groups {
		gs = append(gs, perfGroup{comm: k[0], where: k[1], pct: v})
	}
	sort.Slice(gs, func(i, j int) bool { return gs[i].pct > gs[j].pct })
	return gs, syms, nil
}

// goPackage is the package of a Go symbol: "net/http" for "net/http.(*Transport).roundTrip",
// "polyboot/supervisor" for github.com/polyboot/polyboot/supervisor's.
func goPackage(sym string) string {
	slash := strings.LastIndex(sym, "/")
	dot := strings.Index(sym[slash+1:], ".")
	if dot < 0 {
		return sym
	}
	pkg := sym[:slash+1+dot]
	return strings.TrimPrefix(pkg, "github.com/polyboot/")
}
