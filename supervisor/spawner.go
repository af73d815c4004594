package supervisor

import (
	"os/exec"
	"runtime"
)

// Spawner starts processes from one goroutine locked to an OS thread that never exits. Linux sends
// a child's parent-death signal when the thread that created it exits, not the process
// (golang/go#27505); starting every worker from a thread that lives as long as the bootstrap makes
// Pdeathsig mean "when the bootstrap dies". One Spawner serves any number of workers.
type Spawner struct {
	reqs chan spawnRequest
}

type spawnRequest struct {
	cmd  *exec.Cmd
	done chan error
}

// NewSpawner starts the spawner's thread. It runs until the process exits.
func NewSpawner() *Spawner {
	s := &Spawner{reqs: make(chan spawnRequest)}
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
		req.done <- req.cmd.Start()
	}
}

// Start starts cmd on the spawner's thread.
func (s *Spawner) Start(cmd *exec.Cmd) error {
	done := make(chan error, 1)
	s.reqs <- spawnRequest{cmd: cmd, done: done}
	return <-done
}
