package main

import (
	"go.uber.org/zap"

	"github.com/polyboot/polyboot/internal/orphans"
	"github.com/polyboot/polyboot/supervisor"
)

// newSpawner makes the bootstrap the child subreaper of everything its workers start, and returns
// the Spawner of its workers, whose reaper may reap every orphan: the bootstrap starts no child
// other than workers (docs/processes.md). Call it once per process.
func newSpawner(log *zap.Logger) *supervisor.Spawner {
	r := orphans.New(orphans.Options{SoleParent: true})
	if !r.Enabled() {
		// Orphans go to init, which reaps them, as they did before subreapers.
		log.Warn("/proc is not this PID namespace's: the processes workers leave behind are not killed")
	} else if err := orphans.BecomeSubreaper(); err != nil {
		// Orphans then go to init, which reaps them; they are still killed.
		log.Warn("cannot collect the processes workers leave behind", zap.Error(err))
	}
	return supervisor.NewSpawnerWithReaper(r)
}
