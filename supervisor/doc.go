// Package supervisor starts, feeds, watches and restarts the long-lived interpreter processes
// ("workers") that run user handlers, speaking the channel protocol (version 2) of
// docs/protocol.md.
//
// Each worker runs in its own process group with a parent-death signal, so nothing it starts
// outlives the bootstrap; what leaves the group (setsid, double forks) is tagged and swept by the
// Spawner's reaper when the worker ends (internal/orphans, docs/processes.md).
// Its pipes are owned by the supervisor ([Pump]), never by os/exec, so a grandchild that inherits them cannot block Wait, and a full pipe never stalls the child. Each
// invocation's body arrives on a FIFO of its own, closed at the reply, so that nothing a handler
// leaves behind can write into another invocation's body; at most protocol.MaxResponseSize+1 bytes
// of a body are kept.
//
// Files: process.go runs a worker process and its pipes; start.go loads the handler (ready) and
// stops the worker; session.go runs one invocation on the channel; body.go, trim.go and stream.go
// carry the body; replies.go reads the channel out; errors.go defines the errors it returns and
// reports.go composes them.
//
// Its errors are plain Go errors: an *Error of a Kind (the worker exited, the deadline passed, the
// worker broke the protocol, ...), or a *HandlerError with the report the handler's adapter sent.
// The supervisor names no Lambda error type: invoke.Report chooses them (docs/errors.md).
package supervisor
