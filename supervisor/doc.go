// Package supervisor starts, feeds, watches and restarts the long-lived interpreter processes
// ("workers") that run user handlers, speaking the channel protocol of docs/protocol.md.
//
// Each worker runs in its own process group with a parent-death signal, so nothing it starts
// outlives the bootstrap; what leaves the group (setsid, double forks) is tagged and swept by the
// Spawner's reaper when the worker ends (internal/orphans, docs/processes.md).
// Its pipes are owned by the supervisor ([Pump]), never by os/exec, so a
// grandchild that inherits them cannot block Wait, and a full pipe never stalls the child.
package supervisor
