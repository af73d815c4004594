package main

import (
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

// initChildEnv marks the bootstrap that the PID 1 init started, so it does not start another.
const initChildEnv = "POLYBOOT_INIT_CHILD"

// runAsInit is what the bootstrap does when it is process 1 (a container's init): it starts
// itself as a child that does the real work, forwards termination signals to it, and reaps every
// process that ends up re-parented to it (a handler's orphaned background jobs), so none stays a
// zombie. Reaping everything is safe here because this process runs nothing else: no os/exec
// Wait can have its status stolen. The child is a child subreaper (newSpawner), so orphans reach
// it first and it kills and reaps them with targeted waits (docs/processes.md); what reaches
// PID 1 is what is left when the child is gone. It returns the child's exit code.
func runAsInit(args, environ []string, stderr io.Writer) int {
	exe, err := os.Executable()
	if err != nil {
		fmt.Fprintf(stderr, "bootstrap (init): %v\n", err)
		return 1
	}
	sigs := make(chan os.Signal, 4)
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT, syscall.SIGHUP, syscall.SIGQUIT)
	child, err := os.StartProcess(exe, append([]string{exe}, args...), &os.ProcAttr{
		Env:   append(environ, initChildEnv+"=1"),
		Files: []*os.File{os.Stdin, os.Stdout, os.Stderr},
	})
	if err != nil {
		fmt.Fprintf(stderr, "bootstrap (init): starting the runtime: %v\n", err)
		return 1
	}
	go func() {
		for sig := range sigs {
			_ = child.Signal(sig)
		}
	}()
	for {
		var ws syscall.WaitStatus
		pid, err := syscall.Wait4(-1, &ws, 0, nil)
		if err == syscall.EINTR {
			continue
		}
		if err != nil {
			fmt.Fprintf(stderr, "bootstrap (init): wait: %v\n", err)
			return 1
		}
		if pid != child.Pid {
			continue // an orphan, reaped
		}
		if ws.Signaled() {
			return 128 + int(ws.Signal())
		}
		return ws.ExitStatus()
	}
}
