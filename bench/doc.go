// Package bench holds polyboot's benchmarks (see bench/bench.mk and bench/RESULTS.md):
//
//   - cmd/polybench, the end-to-end benchmark under AWS's Runtime Interface Emulator (make bench);
//   - cmd/echo-go, the floor: an echo function on AWS's own Go runtime library;
//   - cmd/echo-worker, an echo worker in Go that speaks docs/protocol.md itself, to isolate the
//     bootstrap's own cost from an interpreter's;
//   - baseline/bootstrap, the curl loop of AWS's custom-runtime tutorial;
//   - Go benchmarks of the channel codec and of the invoke loop (go test -bench . ./bench).
//
// This file's package offers what those share: the benchmark's events and the echo worker.
package bench
