// Package orphans finds, kills and reaps the processes a dead worker left behind: background jobs
// a handler put in a session or process group of their own (setsid, setpgid), double-forked
// daemons, and their descendants, which a kill of the worker's process group misses.
//
// A [Reaper] starts each worker process ([Reaper.Start]) with a tag of its own in its environment,
// EnvVar=<bootstrap pid>.<nonce>.<sequence>, which everything the worker starts inherits. When the
// worker has died and been waited for, [Group.Sweep] kills with SIGKILL every process that
//
//   - carries the tag of a worker of this Reaper that is not running any more;
//   - is still in the dead worker's process group;
//   - was a descendant of the worker when it was about to be killed ([Group.Snapshot], which the
//     supervisor calls before each signal to the group): this catches descendants whose
//     environment was replaced (env -i) as long as their parent chain led to the worker;
//   - with Options.SoleParent, when no worker of the Reaper is running any more: is a child of this
//     process (an orphan re-parented to it, with or without a tag);
//   - descends from any of the above;
//
// and never a process that carries the tag of a live worker, nor a live worker itself. A sweep
// that [Group.Sweep] has not run yet runs before the Reaper's next Start, and [Reaper.SweepDead]
// runs them all (before the process exits). It repeats
// this until a pass finds nothing new (a process that forks while it is being killed is caught by
// the next pass), then waits, up to Options.Settle, for each killed process to be gone, reaping
// (wait4 on its own pid) those that were re-parented to this process.
//
// What cannot be caught: a process whose tag was stripped and whose parent chain to the worker
// was already cut when the worker died (a double-forked `env -i` daemon) while another worker of
// the Reaper still runs, or without SoleParent; a process that rewrote the environment the kernel
// shows in /proc/<pid>/environ; a process of another user whose environment cannot be read; a
// process in uninterruptible sleep past Settle (it is left to die, and reaped later with
// SoleParent).
//
// Waits never steal os/exec's: the Reaper waits only for specific pids that are its process's
// children and not a process it started (registered under the same lock as the start, so a
// process being started cannot be mistaken for an orphan), and never calls wait4(-1). Orphans
// reach this process only if it is a child subreaper ([BecomeSubreaper]); otherwise they go to
// init, which reaps them, and only the killing applies. With SoleParent (the process starts
// children only through the Reaper) it also reaps, on SIGCHLD, every zombie child that it did not
// start: orphans that ended on their own between invocations.
package orphans

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// EnvVar is the environment variable that tags a worker process and everything it starts.
const EnvVar = "POLYBOOT_WORKER"

// maxPasses bounds a sweep's find-and-kill passes, against a process that forks faster than the
// sweep kills.
const maxPasses = 20

// Options configure a Reaper.
type Options struct {
	// SoleParent promises that this process starts child processes only through Reaper.Start,
	// so that every other child is an orphan re-parented to it: its zombies may be reaped at
	// any time and, when no worker runs, it may be killed. At most one Reaper of a process may
	// have it.
	SoleParent bool
	// Settle bounds how long a sweep waits for the processes it killed to be gone. Zero means 1 s.
	Settle time.Duration
}

// Reaper tracks the worker processes it started and cleans up after them. Its methods are safe
// for concurrent use.
type Reaper struct {
	opts   Options
	self   int
	prefix string // every tag of this Reaper starts with it
	off    bool   // /proc is another PID namespace's: its pids are not this process's

	mu   sync.Mutex     // held across starts, sweeps and reaps
	seq  uint64         // the last tag's sequence number
	live map[int]*Group // every process started that has not exited, by pid
	dead []*Group       // processes that exited and are not swept yet
}

// Group is one worker process and what it starts, known by its tag.
type Group struct {
	r     *Reaper
	tag   string
	pid   int
	start uint64
	swept bool // guarded by r.mu

	mu   sync.Mutex
	snap map[ident]bool // descendants seen by Snapshot
}

// Result says what a sweep did.
type Result struct {
	Killed int   // processes sent SIGKILL
	Reaped int   // of those and other orphans, zombies this process waited for
	Left   []int // killed processes still there after Settle
}

// New returns a Reaper. With SoleParent it handles SIGCHLD for the life of the process.
func New(o Options) *Reaper {
	if o.Settle == 0 {
		o.Settle = time.Second
	}
	nonce := make([]byte, 4)
	_, _ = rand.Read(nonce) // crypto/rand.Read never fails (it would crash the program first)
	r := &Reaper{
		opts:   o,
		self:   os.Getpid(),
		prefix: fmt.Sprintf("%d.%s.", os.Getpid(), hex.EncodeToString(nonce)),
		live:   make(map[int]*Group),
		off:    !procIsOurs(),
	}
	if o.SoleParent && !r.off {
		sigs := make(chan os.Signal, 1)
		signal.Notify(sigs, syscall.SIGCHLD)
		go func() {
			for range sigs {
				r.ReapZombies()
			}
		}()
	}
	return r
}

// Enabled reports whether the Reaper can find processes: /proc shows this process's PID
// namespace. When it does not (a PID namespace without its own /proc mount), tags are still set
// but nothing is killed or reaped, and the process should not become a subreaper.
func (r *Reaper) Enabled() bool { return !r.off }

// procIsOurs reports whether /proc numbers processes as this process's PID namespace does.
func procIsOurs() bool {
	self, err := os.Readlink("/proc/self")
	return err == nil && self == strconv.Itoa(os.Getpid())
}

// BecomeSubreaper makes this process the child subreaper of its descendants
// (prctl(PR_SET_CHILD_SUBREAPER)): orphans among them are re-parented to it, not to init.
func BecomeSubreaper() error {
	if err := unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0); err != nil {
		return fmt.Errorf("prctl(PR_SET_CHILD_SUBREAPER): %w", err)
	}
	return nil
}

// Start starts cmd with a new tag appended to its environment (cmd.Env, or this process's when
// nil) and returns its Group. The process counts as a live worker until Exited or Sweep is called
// or it is gone; dead workers not swept yet are swept first.
func (r *Reaper) Start(cmd *exec.Cmd) (*Group, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.seq++
	g := &Group{r: r, tag: fmt.Sprintf("%s%d", r.prefix, r.seq), snap: make(map[ident]bool)}
	env := cmd.Env
	if env == nil {
		env = os.Environ()
	}
	cmd.Env = append(env[:len(env):len(env)], EnvVar+"="+g.tag)
	// A new worker is not started beside the leftovers of a dead one, nor counted live while they
	// are swept.
	r.prune()
	for len(r.dead) > 0 {
		d := r.dead[0]
		r.dead = r.dead[1:]
		r.sweepOnce(d)
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	g.pid = cmd.Process.Pid
	if p, ok := readProc(g.pid); ok {
		g.start = p.start
	}
	r.live[g.pid] = g
	return g, nil
}

// Tag returns the group's tag, the value of EnvVar in its processes' environment.
func (g *Group) Tag() string { return g.tag }

// Snapshot remembers the worker's current descendants, so that a sweep kills them even if they
// lose the tag and their parent chain. Call it before signalling the worker (or its group) to
// end; it does nothing once the worker has exited. It is safe on a nil Group.
func (g *Group) Snapshot() {
	if g == nil || g.r.off {
		return
	}
	root, ok := readProc(g.pid)
	if !ok || root.start != g.start || root.zombie() {
		return
	}
	procs, err := scan()
	if err != nil {
		return
	}
	found := descendants(procs, map[int]bool{g.pid: true}, func(p proc) bool { return p.pid != g.pid })
	g.mu.Lock()
	defer g.mu.Unlock()
	for _, p := range found {
		g.snap[p.id()] = true
	}
}

// snapshotted reports whether Snapshot saw p.
func (g *Group) snapshotted(p proc) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.snap[p.id()]
}

// Exited records that the worker process has been waited for: it is no longer live, and the
// Reaper's next Start sweeps its group first unless Sweep did. It is safe on a nil Group.
func (g *Group) Exited() {
	if g == nil {
		return
	}
	r := g.r
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.live[g.pid] == g {
		delete(r.live, g.pid)
		r.dead = append(r.dead, g)
	}
}

// Sweep kills what the worker left behind and reaps it (see the package doc), if that was not
// done yet. Call it once the worker process has been waited for; like Exited, it ends the
// process's registration as live. It is safe on a nil Group.
func (g *Group) Sweep() Result {
	if g == nil {
		return Result{}
	}
	r := g.r
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.live[g.pid] == g {
		delete(r.live, g.pid)
	}
	return r.sweepOnce(g)
}

// SweepDead sweeps every worker that exited and was not swept yet, and returns once every sweep
// under way has ended: call it before the process exits, so that nothing a worker left behind
// outlives it.
func (r *Reaper) SweepDead() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.prune()
	for len(r.dead) > 0 {
		d := r.dead[0]
		r.dead = r.dead[1:]
		r.sweepOnce(d)
	}
}

// sweepOnce kills and reaps what g left behind, unless that was done. r.mu is held.
func (r *Reaper) sweepOnce(g *Group) Result {
	var res Result
	if g.swept || r.off {
		return res
	}
	g.swept = true
	killed := make(map[ident]bool)
	for pass := 0; pass < maxPasses; pass++ {
		procs, err := scan()
		if err != nil {
			break
		}
		fresh := 0
		for _, p := range r.victims(g, procs) {
			if !killed[p.id()] && kill(p) {
				killed[p.id()] = true
				fresh++
			}
		}
		if fresh == 0 {
			break
		}
		res.Killed += fresh
	}
	res.Reaped, res.Left = r.settle(killed)
	res.Reaped += r.reapZombies(g)
	return res
}

// isLive reports whether p is a process the Reaper started that has not exited (or exited and
// waits for os/exec's Wait). r.mu is held.
func (r *Reaper) isLive(p proc) bool {
	g := r.live[p.pid]
	return g != nil && g.start == p.start
}

// prune moves the processes that are gone but were not reported Exited (yet) from live to dead,
// so that a reused pid is not taken for one of them. r.mu is held.
func (r *Reaper) prune() {
	for pid, g := range r.live {
		if cur, ok := readProc(pid); !ok || cur.start != g.start {
			delete(r.live, pid)
			r.dead = append(r.dead, g)
		}
	}
}

// victims lists the live processes a sweep of g kills.
func (r *Reaper) victims(g *Group, procs []proc) []proc {
	r.prune()
	protected := make(map[int]bool)
	roots := make(map[int]bool)
	allChildren := r.opts.SoleParent && len(r.live) == 0
	for _, p := range procs {
		if p.pid == r.self || p.zombie() || r.isLive(p) {
			protected[p.pid] = true
			continue
		}
		tags := readTags(p.pid)
		switch {
		case r.anyLive(tags):
			protected[p.pid] = true
		case r.anyOurs(tags),
			p.pgid == g.pid && p.pid != g.pid,
			g.snapshotted(p),
			allChildren && p.ppid == r.self:
			roots[p.pid] = true
		}
	}
	return descendants(procs, roots, func(p proc) bool { return !protected[p.pid] })
}

// anyLive reports whether a tag is a live worker's.
func (r *Reaper) anyLive(tags []string) bool {
	for _, t := range tags {
		for _, g := range r.live {
			if t == g.tag {
				return true
			}
		}
	}
	return false
}

// anyOurs reports whether a tag is one of this Reaper's.
func (r *Reaper) anyOurs(tags []string) bool {
	for _, t := range tags {
		if strings.HasPrefix(t, r.prefix) {
			return true
		}
	}
	return false
}

// descendants returns the processes of procs in roots, when keep accepts them, and their
// descendants that keep accepts, roots that are not in procs (a dead worker) included as
// ancestors only.
func descendants(procs []proc, roots map[int]bool, keep func(proc) bool) []proc {
	children := make(map[int][]proc)
	for _, p := range procs {
		children[p.ppid] = append(children[p.ppid], p)
	}
	var out []proc
	seen := make(map[int]bool)
	var queue []int
	for _, p := range procs {
		if roots[p.pid] && keep(p) {
			out, seen[p.pid] = append(out, p), true
		}
	}
	for pid := range roots {
		queue = append(queue, pid)
	}
	for len(queue) > 0 {
		pid := queue[0]
		queue = queue[1:]
		for _, c := range children[pid] {
			if seen[c.pid] || !keep(c) {
				continue
			}
			out, seen[c.pid] = append(out, c), true
			queue = append(queue, c.pid)
		}
	}
	return out
}

// kill sends SIGKILL to p if it is still the process the scan saw. A pidfd pins the process
// between that check and the signal, so a reused pid is never signalled.
func kill(p proc) bool {
	fd, err := unix.PidfdOpen(p.pid, 0)
	if errors.Is(err, unix.ENOSYS) {
		cur, ok := readProc(p.pid)
		return ok && cur.start == p.start && unix.Kill(p.pid, unix.SIGKILL) == nil
	}
	if err != nil {
		return false
	}
	defer unix.Close(fd)
	if cur, ok := readProc(p.pid); !ok || cur.start != p.start {
		return false
	}
	return unix.PidfdSendSignal(fd, unix.SIGKILL, nil, 0) == nil
}

// settle waits, up to Settle, until every killed process is gone, reaping those that became this
// process's zombies. A zombie with another parent is that parent's to reap, unless the parent
// was killed too (the zombie then comes to this process when the parent dies).
func (r *Reaper) settle(killed map[ident]bool) (reaped int, left []int) {
	deadline := time.Now().Add(r.opts.Settle)
	for {
		pending := make(map[int]bool, len(killed))
		for id := range killed {
			pending[id.pid] = true
		}
		for id := range killed {
			cur, ok := readProc(id.pid)
			switch {
			case !ok || cur.start != id.start:
				delete(killed, id)
			case cur.zombie() && cur.ppid == r.self:
				if reap(id.pid) {
					reaped++
					delete(killed, id)
				}
			case cur.zombie() && !pending[cur.ppid]:
				delete(killed, id)
			}
		}
		if len(killed) == 0 || time.Now().After(deadline) {
			break
		}
		// Nothing tells this process of another process's death: poll, briefly.
		time.Sleep(time.Millisecond)
	}
	for id := range killed {
		left = append(left, id.pid)
	}
	return reaped, left
}

// ReapZombies waits for every zombie child of this process that it may reap: with SoleParent,
// every one it did not start. It returns how many it reaped.
func (r *Reaper) ReapZombies() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.reapZombies(nil)
}

// reapZombies reaps the zombie children that are orphans: with SoleParent, all those not started
// by the Reaper; else, when g is set, the members of g's process group (its leader, the worker,
// is os/exec's to wait for). r.mu is held.
func (r *Reaper) reapZombies(g *Group) int {
	if r.off {
		return 0
	}
	procs, err := scan()
	if err != nil {
		return 0
	}
	n := 0
	for _, p := range procs {
		if !p.zombie() || p.ppid != r.self || r.isLive(p) {
			continue
		}
		if r.opts.SoleParent || (g != nil && p.pgid == g.pid && p.pid != g.pid) {
			if reap(p.pid) {
				n++
			}
		}
	}
	return n
}

// reap waits for the child pid without blocking, and reports whether it was reaped.
func reap(pid int) bool {
	var ws unix.WaitStatus
	for {
		got, err := unix.Wait4(pid, &ws, unix.WNOHANG, nil)
		if errors.Is(err, unix.EINTR) {
			continue
		}
		return err == nil && got == pid
	}
}
