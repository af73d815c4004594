// Command bootstrap is polyboot's Lambda custom runtime: it serves the Lambda Runtime API with
// warm interpreter workers that run handlers written in bash, Tcl, Python or any language with an
// adapter folder. Lambda runs it as /opt/bootstrap from the polyboot layer.
package main

import (
	"context"
	"os"

	"golang.org/x/sys/unix"
)

func main() {
	keepInheritedFDsFromWorkers()
	if os.Getpid() == 1 && os.Getenv(initChildEnv) == "" {
		os.Exit(runAsInit(os.Args[1:], os.Environ(), os.Stderr))
	}
	args := os.Args[1:]
	if len(args) > 0 && args[0] == "invoke" {
		os.Exit(runLocal(context.Background(), args[1:], newEnv(os.Environ()), os.Stdin, os.Stdout, os.Stderr))
	}
	os.Exit(run(context.Background(), args, os.Environ(), os.Stdout, os.Stderr))
}

// keepInheritedFDsFromWorkers marks every descriptor above 2 that the bootstrap inherited
// close-on-exec, so that workers get only the descriptors docs/protocol.md gives them (a
// descriptor a test shell or a wrapper leaked to the bootstrap would otherwise reach every worker
// and every program a handler runs). The Go runtime opens its own descriptors close-on-exec
// already. Kernels before 5.11 lack the flag; then nothing changes.
func keepInheritedFDsFromWorkers() {
	_ = unix.CloseRange(3, ^uint(0), unix.CLOSE_RANGE_CLOEXEC)
}

// env is a snapshot of the process environment.
type env map[string]string

func newEnv(environ []string) env {
	e := env{}
	for _, kv := range environ {
		for i := 0; i < len(kv); i++ {
			if kv[i] == '=' {
				e[kv[:i]] = kv[i+1:]
				break
			}
		}
	}
	return e
}

func (e env) get(k string) string { return e[k] }

// list returns the environment as KEY=VALUE pairs.
func (e env) list() []string {
	out := make([]string, 0, len(e))
	for k, v := range e {
		out = append(out, k+"="+v)
	}
	return out
}
