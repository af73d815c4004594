// Package bench holds polyboot's benchmarks (see bench/bench.mk and bench/RESULTS.md):
//
//   - cmd/polybench, the end-to-end benchmark under AWS's Runtime Interface Emulator (make bench);
//   - cmd/echo-go, the floor: an echo function on AWS's own Go runtime library;
//   - cmd/echo-worker, an echo worker in Go that speaks docs/protocol.md itself, to isolate the
//     bootstrap's own cost from an interpreter's;
//   - baseline/bootstrap, the curl loop of AWS's custom-runtime tutorial;
//   - Go benchmarks of the channel codec and of the invoke loop (make bench-go).
//
// bench/ is a Go module of its own (bench/go.mod, polyboot replaced by ../), so that aws-lambda-go, the
// floor, stays out of polyboot's requirements. This package offers what the commands share: the
// benchmark's events (event.go) and the echo worker.
package bench
