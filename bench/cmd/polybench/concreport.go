package main

import (
	"fmt"
	"strings"
	"time"
)

// concBase is the result the speed-ups are relative to: the smallest N measured (N=1 by default).
func (cr *concurrencyReport) base() *concResult {
	for _, r := range cr.results {
		if r.err == nil && r.throughput() > 0 {
			return r
		}
	}
	return nil
}

// table renders the concurrency row's table, or its NOT MEASURED line.
func (cr *concurrencyReport) table() string {
	if cr.skipped != "" {
		if cr.quiet {
			return cr.skipped + "\n"
		}
		return "*** " + cr.skipped + ": NOT MEASURED ***\n"
	}
	base := cr.base()
	var rows [][]string
	for _, r := range cr.results {
		if r.err != nil && len(r.lat) == 0 {
			rows = append(rows, []string{fmt.Sprint(r.n), "*** NOT MEASURED: " + mdEscape(strings.Join(strings.Fields(r.err.Error()), " ")) + " ***", "", "", "", "", "", "", "", "", ""})
			continue
		}
		speedup := "–"
		if base != nil {
			speedup = fmtRatio(r.throughput() / base.throughput())
		}
		cpuPer, busy := "–", "–"
		if r.cpuOK && len(r.lat) > 0 && r.wall > 0 {
			cpuPer = cpuMs(r.cpu / float64(len(r.lat)+r.failed))
			busy = fmt.Sprintf("%.2f of %d", r.cpu/r.wall.Seconds(), cr.ncpu)
		}
		retries := fmt.Sprint(r.retries)
		if n := len(r.lat) + r.failed; n > 0 {
			retries += fmt.Sprintf(" (%.2f per invocation)", float64(r.retries)/float64(n))
		}
		workers := "–"
		if r.nWorkers > 0 {
			workers = fmt.Sprintf("%s (%d)", mb(r.workers.hwmKB), r.nWorkers)
		}
		rows = append(rows, []string{
			fmt.Sprint(r.n), fmt.Sprintf("%.0f/s", r.throughput()), speedup,
			fmtMs(percentile(r.lat, 50)), fmtMs(percentile(r.lat, 99)), retries,
			cpuPer, busy, mb(r.boot.hwmKB), workers, mb(r.boot.hwmKB + r.workers.hwmKB),
		})
	}
	baseN := "N=1"
	if base != nil {
		baseN = fmt.Sprintf("N=%d", base.n)
	}
	return table([]string{"N (workers, client loops)", "throughput", "speed-up over " + baseN, "p50", "p99",
		"Unavailable retries", "CPU per invocation", "cores busy", "bootstrap peak RSS", "workers' peak RSS (workers)",
		"total RSS"}, rows)
}

// reading is the one-line reading of the concurrency row, from its figures.
func (cr *concurrencyReport) reading() string {
	base := cr.base()
	if cr.skipped != "" || base == nil {
		return ""
	}
	var parts []string
	var top *concResult
	knee, scaling := 0, true // the last N up to which throughput kept at least 70% of linear
	for _, r := range cr.results {
		if r.err != nil || r.throughput() <= 0 {
			continue
		}
		eff := r.throughput() / base.throughput() / (float64(r.n) / float64(base.n))
		if r != base {
			parts = append(parts, fmt.Sprintf("%s at N=%d", fmtRatio(r.throughput()/base.throughput()), r.n))
		}
		if scaling = scaling && eff >= 0.7; scaling {
			knee = r.n
		}
		top = r
	}
	if top == nil || top == base {
		return ""
	}
	topEff := top.throughput() / base.throughput() / (float64(top.n) / float64(base.n))
	var s string
	switch {
	case topEff >= 0.8:
		s = fmt.Sprintf("throughput scales nearly linearly with N (%s; %.0f%% of linear at N=%d)", strings.Join(parts, ", "), topEff*100, top.n)
	case knee > base.n:
		s = fmt.Sprintf("throughput scales with N up to N=%d, then less (%s; %.0f%% of linear at N=%d)", knee, strings.Join(parts, ", "), topEff*100, top.n)
	default:
		s = fmt.Sprintf("throughput hardly scales with N (%s; %.0f%% of linear at N=%d)", strings.Join(parts, ", "), topEff*100, top.n)
	}
	s += fmt.Sprintf(" on %d cores", cr.ncpu)
	if top.n > cr.ncpu && topEff >= 0.5 {
		s += ": the 10 ms handler waits rather than computes, so its workers overlap well beyond the core count"
	}
	if top.cpuOK && top.wall > 0 {
		busy := top.cpu / top.wall.Seconds()
		if busy >= 0.75*float64(cr.ncpu) {
			s += fmt.Sprintf("; at N=%d the cores are busy (%.2f of %d: %s of CPU per invocation), so CPU is what limits it", top.n, busy, cr.ncpu, cpuMs(top.cpu/float64(len(top.lat)+top.failed)))
		} else {
			s += fmt.Sprintf("; at N=%d the cores were %.0f%% busy (%s of CPU per invocation)", top.n, 100*busy/float64(cr.ncpu), cpuMs(top.cpu/float64(len(top.lat)+top.failed)))
		}
	}
	return s + "."
}

// checks is a line on the answers: every one checked against its own event.
func (cr *concurrencyReport) checks() string {
	var parts []string
	for _, r := range cr.results {
		p := fmt.Sprintf("N=%d: %d ok, %d failed", r.n, len(r.lat), r.failed)
		if r.warmupRetries > 0 {
			p += fmt.Sprintf(" (warm-up retries %d)", r.warmupRetries)
		}
		if r.capped {
			p += " (STOPPED AT THE TIME LIMIT)"
		}
		if r.firstFailure != "" {
			p += "; first failure: " + mdEscape(r.firstFailure)
		}
		parts = append(parts, p)
	}
	return strings.Join(parts, "; ")
}

// section is the concurrency row's part of the report.
func (cr *concurrencyReport) section(b *strings.Builder) {
	p := func(format string, args ...any) { fmt.Fprintf(b, format, args...) }
	p("## Concurrency (Lambda Managed Instances)\n\n")
	if cr.skipped != "" {
		p("%s\n", cr.table())
		return
	}
	p("polyboot bash serving an I/O-bound 10 ms handler (`handler() { sleep 0.01; printf '%%s' \"$1\"; }`,\n")
	p("bench/handlers/sleep10ms.sh) under the emulator's Managed Instances mode with\n")
	p("`AWS_LAMBDA_MAX_CONCURRENCY=N`: the bootstrap runs N workers, each polling `/next`.\n\n")
	p("%s\n", cr.table())
	if r := cr.reading(); r != "" {
		p("**Reading:** %s\n\n", r)
	}
	p("- N client loops drive each emulator; a loop sends its next invocation only after the answer to its\n")
	p("  previous one. The emulator answers `Runtime.Unavailable` to an invocation that arrives while fewer\n")
	p("  workers poll `/next` than invocations are in flight (a worker polls again only just after it posted\n")
	p("  its result); the loop then sends it again after %s, and *Unavailable retries* counts those answers.\n", fmtMs(concRetryPause))
	p("- %d timed invocations per N, in %d rounds in which every N takes its turn (the emulators stay up;\n", cr.perN, cr.rounds)
	p("  only one N runs at a time), after %d warm-up invocations per client loop. Every event is unique\n", concWarmupPerLoop)
	p("  (%d bytes) and every answer was checked byte for byte against its own event. Throughput is answered\n", concEventSize)
	p("  invocations per second of the timed blocks' wall time; latency is the client's, from the first send\n")
	p("  to the answer, retries included.\n")
	p("- *cores busy* is the CPU used in the timed blocks (client, emulator, bootstrap, workers and the\n")
	p("  `sleep` they fork) over their wall time; *CPU per invocation* is the same CPU per invocation.\n")
	p("- Peak RSS is VmHWM after the timed blocks: the bootstrap's, and the sum of its workers' (their count\n")
	p("  in brackets).\n")
	p("- The emulator's Managed Instances mode runs `/opt/bootstrap` in `/var/task` as uid 993, so each\n")
	p("  emulator runs in a private mount namespace (`unshare -m`): a tmpfs on /var, the layer bound on /opt\n")
	p("  and the task on /var/task. It needs root; without it this section says NOT MEASURED.\n")
	p("- Answers: %s. This row took %s.\n\n", cr.checks(), cr.elapsed.Round(time.Second))
}
