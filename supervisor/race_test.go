//go:build race

package supervisor

// rssBoundKB is the peak RSS TestBootstrapRSSBounded allows: the race detector's shadow memory
// comes on top of what the bootstrap itself uses.
func rssBoundKB() int { return 400 << 10 }
