//go:build !race

package supervisor

// rssBoundKB is the peak RSS TestBootstrapRSSBounded allows.
func rssBoundKB() int { return 100 << 10 }
