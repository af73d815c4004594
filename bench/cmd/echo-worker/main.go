// Command echo-worker is an executable handler that speaks docs/protocol.md itself and echoes each
// event (bench.ServeEcho). Served by polyboot's bootstrap (_HANDLER=echo-worker.handler with this
// binary in the task root), it shows what the bootstrap costs without an interpreter.
package main

import (
	"fmt"
	"os"

	"github.com/polyboot/polyboot/bench"
)

func main() {
	if err := bench.ServeEcho(os.Stdin, os.Stdout, bench.OpenFIFO); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}
