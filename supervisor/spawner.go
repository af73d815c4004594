package supervisor

import (
	"os/exec"
	"runtime"

	"github.com/polyboot/polyboot/internal/orphans"
)

// Spawner starts processes from one goroutine locked to an OS thread that never exits. Linux sends
// a child's parent-death signal when the thread that created it exits, not the process
// (golang/go#27505); starting every worker from a thread that lives as long as the bootstrap makes
// Pdeathsig mean "when the bootstrap dies". One Spawner serves any number of workers.
//
// Every process it starts is tagged by its reaper (internal/orphans), which kills and reaps what a
// worker leaves behind once the worker is gone (docs/processes.md).
type Spawner struct {
	reqs   chan spawnRequest
	reaper *orphans.Reaper
}

type spawnRequest struct {
	cmd  *exec.Cmd
	done chan spawnResult
}

type spawnResult struct {
	group *orphans.Group
	err   error
}

// NewSpawner starts the spawner's thread, with a reaper that kills what workers leave behind but
// reaps only what it killed (this process may start other children). It runs until the process
// exits.
func NewSpawner() *Spawner {
	return NewSpawnerWithReaper(orphans.New(orphans.Options{}))
}

// NewSpawnerWithReaper starts the spawner's thread with r as the reaper of its workers' leftovers.
// It runs until the process exits.
func NewSpawnerWithReaper(r *orphans.Reaper) *Spawner {
	s := &Spawner{reqs: make(chan spawnRequest), reaper: r}
	started := make(chan struct{})
	go s.run(started)
	<-started
	return s
}

func (s *Spawner) run(started chan<- struct{}) {
	// Never unlocked: a goroutine that exits while locked takes its thread with it, and with it
	// every child's parent-death signal would fire.
	runtime.LockOSThread()
	close(started)
	for req := range s.reqs {
		g, err := s.reaper.Start(req.cmd)
		req.done <- spawnResult{g, err}
	}
}

// Start starts cmd on the spawner's thread. Its process counts as a live worker of the reaper for
// good (nothing it leaves behind is swept): use it for processes that are not workers.
func (s *Spawner) Start(cmd *exec.Cmd) error {
	_, err := s.startWorker(cmd)
	return err
}

// startWorker starts cmd on the spawner's thread as a worker, tagged; sweep its Group once the
// process has been waited for.
func (s *Spawner) startWorker(cmd *exec.Cmd) (*orphans.Group, error) {
	done := make(chan spawnResult, 1)
	s.reqs <- spawnRequest{cmd: cmd, done: done}
	r := <-done
	return r.group, r.err
}

// sweepDead returns once what every dead worker left behind is gone (internal/orphans).
func (s *Spawner) sweepDead() {
	if s != nil {
		s.reaper.SweepDead()
	}
}
