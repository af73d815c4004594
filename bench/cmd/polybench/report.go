package main

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// report turns results into RESULTS.md and the README's table.
type report struct {
	c       *config
	m       machine
	results []*result
	conc    *concurrencyReport
	sizes   []string
	elapsed time.Duration
}

// floor is the aws-lambda-go row's result (empty when it failed: no ratios then).
func (rep *report) floor() *result {
	for _, r := range rep.results {
		if r.row.floor && r.err == nil {
			return r
		}
	}
	return &result{}
}

func median(ds []time.Duration) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[len(s)/2]
}

// percentile of sorted durations (nearest rank).
func percentile(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := int(float64(len(sorted))*p/100+0.999999) - 1
	return sorted[max(0, min(i, len(sorted)-1))]
}

func minOf(ds []time.Duration) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	return slices.Min(ds)
}

// throughput is warm invocations per second.
func (r *result) throughput() float64 {
	if r.warmWall <= 0 {
		return 0
	}
	return float64(len(r.warm)) / r.warmWall.Seconds()
}

// coldShare is cold − floor − interpreter, with minimums, which the machine's load disturbs
// least; 0 when it does not apply.
func (r *result) coldShare(f *result) time.Duration {
	if len(r.cold) == 0 || len(f.cold) == 0 || r.row.floor {
		return 0
	}
	return minOf(r.cold) - minOf(f.cold) - minOf(r.bareStart)
}

func fmtMs(d time.Duration) string {
	ms := float64(d) / float64(time.Millisecond)
	switch {
	case ms < 10:
		return fmt.Sprintf("%.2f ms", ms)
	case ms < 100:
		return fmt.Sprintf("%.1f ms", ms)
	}
	return fmt.Sprintf("%.0f ms", ms)
}

func fmtRatio(x float64) string {
	switch {
	case x <= 0:
		return "–"
	case x < 10:
		return fmt.Sprintf("%.2f×", x)
	}
	return fmt.Sprintf("%.1f×", x)
}

// ratio is "1.50×", d over the floor's f, or "–".
func ratio(d, f time.Duration) string {
	if d <= 0 || f <= 0 {
		return "–"
	}
	return fmtRatio(float64(d) / float64(f))
}

// msCell is "1.23 ms (1.50×)": a time and its ratio to the floor's.
func msCell(d, f time.Duration) string {
	if d <= 0 {
		return "–"
	}
	if f <= 0 {
		return fmtMs(d)
	}
	return fmt.Sprintf("%s (%s)", fmtMs(d), ratio(d, f))
}

func mb(kb int64) string { return fmt.Sprintf("%.1f MB", float64(kb)/1024) }

// table renders a Markdown table.
func table(header []string, rows [][]string) string {
	var b strings.Builder
	b.WriteString("| " + strings.Join(header, " | ") + " |\n|" + strings.Repeat("---|", len(header)) + "\n")
	for _, r := range rows {
		b.WriteString("| " + strings.Join(r, " | ") + " |\n")
	}
	return b.String()
}

// bigCell is a large event's median round trip and its ratio, or FAILS.
func (r *result) bigCell(i int, f *result) string {
	if i >= len(r.big) || r.big[i].check != "" {
		return "FAILS"
	}
	var fd time.Duration
	if i < len(f.big) {
		fd = median(f.big[i].times)
	}
	return msCell(median(r.big[i].times), fd)
}

// mainTable is the benchmark's table: one row per runtime, every figure with its ratio to the floor.
func (rep *report) mainTable() string {
	f := rep.floor()
	header := append([]string{"runtime", "warm p50, 1 KB", "warm p99", "throughput"}, bigNames()...)
	header = append(header, "cold start", "cold − floor − interpreter", "CPU per invocation (worker)", "peak RSS: bootstrap, worker")
	var rows [][]string
	for _, r := range rep.results {
		if r.row.missing != "" {
			rows = append(rows, append([]string{r.row.name, "*** " + r.row.missing + ": NOT MEASURED ***"}, make([]string, len(header)-2)...))
			continue
		}
		row := []string{r.row.name, msCell(percentile(r.warm, 50), percentile(f.warm, 50)),
			msCell(percentile(r.warm, 99), percentile(f.warm, 99)), "–"}
		if t := r.throughput(); t > 0 {
			row[3] = fmt.Sprintf("%.0f/s", t)
		}
		for i := range bigNames() {
			row = append(row, r.bigCell(i, f))
		}
		cold := msCell(median(r.cold), median(f.cold))
		if r.coldFailure != "" {
			cold = "FAILS"
		}
		share := "–"
		if d := r.coldShare(f); d != 0 && r.bareStart != nil {
			share = fmtMs(d)
		}
		cpu := "–"
		if r.cpu.ok && f.cpu.ok {
			cpu = fmt.Sprintf("%.3f ms (%s)", r.cpu.total()*1000, fmtRatio(r.cpu.total()/f.cpu.total()))
			if r.row.worker {
				cpu = strings.TrimSuffix(cpu, ")") + fmt.Sprintf("; %.3f)", r.cpu.worker*1000)
			}
		}
		rss := mb(r.bootstrapPeak)
		if r.row.worker {
			rss += ", " + mb(r.workerPeak)
		}
		rows = append(rows, append(row, cold, share, cpu, rss))
	}
	return table(header, rows)
}

// bigNames are the large events' column names.
func bigNames() []string {
	var out []string
	for _, sh := range shapes() {
		out = append(out, sh.name)
	}
	return out
}

// failures lists what went wrong, row by row.
func (rep *report) failures() string {
	var b strings.Builder
	for _, r := range rep.results {
		var what []string
		if r.err != nil && r.row.missing == "" {
			what = append(what, r.err.Error())
		}
		if r.coldFailure != "" {
			what = append(what, "cold start: "+r.coldFailure)
		}
		for i, name := range bigNames() {
			if i < len(r.big) && r.big[i].check != "" {
				what = append(what, name+": "+r.big[i].check)
			}
		}
		if r.warmErrors > 0 {
			what = append(what, fmt.Sprintf("%d warm invocations failed", r.warmErrors))
		}
		for _, w := range what {
			first, _, _ := strings.Cut(w, "\n") // not the log tail
			fmt.Fprintf(&b, "- %s: %s\n", r.row.name, oneLine(first))
		}
	}
	return b.String()
}

func oneLine(s string) string {
	s = strings.Join(strings.Fields(strings.ReplaceAll(s, "|", "\\|")), " ")
	if len(s) > 300 {
		s = s[:300] + "…"
	}
	return s
}

// write writes RESULTS.md and the README's table.
func (rep *report) write() error {
	if rep.c.out != "-" {
		if err := os.WriteFile(rep.c.out, []byte(rep.markdown()), 0o644); err != nil {
			return fmt.Errorf("writing the report: %w", err)
		}
		logf("wrote %s (%s)", rep.c.out, rep.elapsed.Round(time.Second))
	}
	if rep.c.readme == "" {
		return nil
	}
	b, err := os.ReadFile(rep.c.readme)
	if err != nil {
		return fmt.Errorf("the README: %w", err)
	}
	const begin, end = "<!-- bench:begin -->\n", "<!-- bench:end -->"
	head, rest, ok1 := bytes.Cut(b, []byte(begin))
	_, tail, ok2 := bytes.Cut(rest, []byte(end))
	if !ok1 || !ok2 {
		return errors.New("the README has no <!-- bench:begin --> … <!-- bench:end --> to write the table between")
	}
	out := slices.Concat(head, []byte(begin), []byte(rep.readmeTable()), []byte(end), tail)
	if err := os.WriteFile(rep.c.readme, out, 0o644); err != nil {
		return fmt.Errorf("writing the README: %w", err)
	}
	logf("wrote the table of %s", rep.c.readme)
	return nil
}

// readmeTable is the README's summary: the ratios per language.
func (rep *report) readmeTable() string {
	f := rep.floor()
	var langs []*result
	for _, r := range rep.results {
		if r.row.worker && r.row.bareStart != nil {
			langs = append(langs, r)
		}
	}
	header := []string{fmt.Sprintf("%s, %s CPUs, × aws-lambda-go", rep.m.date[:10], rep.m.cpus)}
	for _, r := range langs {
		header = append(header, strings.TrimPrefix(r.row.name, "polyboot "))
	}
	header = append(header, "aws-lambda-go")
	line := func(what, floor string, cell func(*result) string) []string {
		row := []string{what}
		for _, r := range langs {
			row = append(row, cell(r))
		}
		return append(row, floor)
	}
	rows := [][]string{line("warm p50, 1 KB event", fmtMs(percentile(f.warm, 50)), func(r *result) string {
		return ratio(percentile(r.warm, 50), percentile(f.warm, 50))
	})}
	for i, name := range bigNames() {
		fd := time.Duration(0)
		if i < len(f.big) {
			fd = median(f.big[i].times)
		}
		rows = append(rows, line(name, fmtMs(fd), func(r *result) string {
			if r.big[i].check != "" {
				return "fails"
			}
			return ratio(median(r.big[i].times), fd)
		}))
	}
	rows = append(rows, line("cold start", fmtMs(median(f.cold)), func(r *result) string { return ratio(median(r.cold), median(f.cold)) }),
		line("cold − (floor + interpreter's own start)", "–", func(r *result) string { return fmtMs(r.coldShare(f)) }))
	return "\n" + table(header, rows) + "\n"
}

// markdown is the whole report: the table, the method, the profile.
func (rep *report) markdown() string {
	c, m := rep.c, rep.m
	var b strings.Builder
	p := func(format string, args ...any) { fmt.Fprintf(&b, format, args...) }
	total := rep.elapsed
	if c.started > 0 {
		total = time.Since(time.Unix(c.started, 0))
	}
	p("# polyboot benchmark results\n\n")
	p("Written by `%s` (bench/cmd/polybench) in %s; do not edit by hand (the reading of the profile is\n", c.command, total.Round(10*time.Second))
	p("bench/profile-notes.md). %s, %s CPUs (%s), kernel %s, load average %s before and %s after;\n", m.date, m.cpus, m.cpu, m.kernel, m.loadBefore, m.loadAfter)
	p("%s; %s; aws-lambda-go %s; emulator %s.\n\n", m.goVersion, m.interpreters, c.lambdaGoVersion, c.rieVersion)
	p("## Results\n\nEvery figure is followed by its ratio to the **aws-lambda-go floor**. The machine is shared and\n")
	p("noisy: read the ratios, which hold within one run, rather than the milliseconds.\n\n%s\n", rep.mainTable())
	if f := rep.failures(); f != "" {
		p("**Failures:**\n\n%s\n", f)
	}
	p("Sizes: %s.\n\n", strings.Join(rep.sizes, "; "))
	p("## Method\n\n")
	p("Every runtime runs under AWS's Runtime Interface Emulator on loopback and echoes its event; every\n")
	p("answer is checked byte for byte (aws-lambda-go's against the event's compact form). The rows are\n")
	p("interleaved so that each sees the same mix of quiet and busy moments: each of %d cold-start rounds\n", c.cold)
	p("starts every runtime once; one emulator per runtime then stays up for %d warm invocations of a 1 KB\n", c.n)
	p("event (after %d warm-up ones) in %d rounds of a block per runtime, one invocation in flight at a\n", c.warmup, max(1, min(c.rounds, c.n)))
	p("time; then %d rounds of the large events. The events are written as Python's json.dumps writes them\n", c.bigReps)
	p("(bench/event.go), so that an adapter that decodes and encodes them again gives the same bytes:\n")
	p("50k small records; one string of `café \\\"quoted\\\" back\\\\slash, naïve résumé; ` repeated; and\n")
	p("%d levels of objects each holding a hundred records and the next level (deep for any real event,\n", 500)
	p("and within every adapter's limits: Python's json recurses per level under a recursion limit of\n")
	p("1000, Tcl's json.tcl accepts 10000 levels).\n\n")
	p("- **warm**: client → emulator → runtime → handler → back; throughput is invocations per second of the\n")
	p("  runtime's own blocks. **Large events**: the median round trip.\n")
	p("- **cold start**: emulator start → first response, median. **cold − floor − interpreter**: the\n")
	p("  minimum cold start less the floor's minimum and the interpreter's own start doing nothing (`bash -c :`,\n")
	p("  `tclsh /dev/null`, `python -u -c pass`): polyboot's own share (bootstrap start, adapter load,\n")
	p("  handshake). The Python rows run with PYTHONDONTWRITEBYTECODE=1, as on Lambda's read-only /opt.\n")
	p("- **CPU per invocation**: during the warm loop, of the client, the emulator, the runtime (with the\n")
	p("  children it reaped) and the worker (/proc/PID/task/*/schedstat, getrusage); the worker's share in\n")
	p("  brackets. **Peak RSS**: VmHWM after the large events.\n")
	p("- **polyboot + Go echo worker** serves bench/cmd/echo-worker, a worker in Go that speaks\n")
	p("  docs/protocol.md itself: the bootstrap's own cost. The curl baseline is the bootstrap of AWS's\n")
	p("  custom-runtime tutorial (bench/baseline).\n\n")
	if rep.conc != nil {
		rep.conc.section(&b)
	}
	rep.profileSection(&b)
	if out, err := os.ReadFile(c.goBench); err == nil {
		p("## Go benchmarks\n\n`make bench-go`: the channel codec (bench/codec_bench_test.go) and the invoke loop against a fake\n")
		p("Runtime API (bench/loop_bench_test.go; allocations include the fake API's side).\n\n```\n%s```\n", out)
	}
	return b.String()
}

// measureSizes weighs the runtime layer and the interpreter layers there are.
func measureSizes(c *config) []string {
	var out []string
	for i, z := range append([]string{c.layerZip}, c.interpLayers...) {
		zipped, err := sizeOf(z)
		if err != nil {
			continue
		}
		s := fmt.Sprintf("%s %s zipped", filepath.Base(z), mb(zipped/1024))
		if unpacked, err := sizeOf(c.layerDir); i == 0 && err == nil {
			s += fmt.Sprintf(" (%s unpacked)", mb(unpacked/1024))
		}
		out = append(out, s)
	}
	return out
}

func (rep *report) profileSection(b *strings.Builder) {
	p := func(format string, args ...any) { fmt.Fprintf(b, format, args...) }
	p("## Profile\n\n")
	if !rep.c.profile {
		p("Not run (-profile=false).\n\n")
		return
	}
	p("Per warm 1 KB invocation, each runtime once more under a fresh emulator: %d invocations under\n", rep.c.profileN)
	p("`strace -f -c` (system calls of the runtime and of its worker), as many under `perf record -e\n")
	p("cpu-clock` (polyboot's bootstrap built with symbols). *Worker alone* is the worker fed %d invoke\n", aloneLines)
	p("lines through a pipe, without bootstrap or emulator: the adapter's own wall time per invocation.\n\n")
	var rows [][]string
	for _, r := range rep.results {
		if r.profile == nil {
			continue
		}
		pr, alone := r.profile, "–"
		if r.alone > 0 {
			alone = fmt.Sprintf("%.0f µs", float64(r.alone)/float64(time.Microsecond))
		} else if r.aloneErr != "" {
			alone = "failed: " + oneLine(r.aloneErr)
		}
		boot, worker := fmt.Sprintf("%.1f: %s", pr.bootstrapTotal, topCalls(pr.bootstrapCalls, 6)), "–"
		if r.row.worker {
			worker = fmt.Sprintf("%.1f: %s", pr.workerTotal, topCalls(pr.workerCalls, 6))
		}
		if pr.straceNote != "" {
			boot, worker = pr.straceNote, pr.straceNote
		}
		rows = append(rows, []string{r.row.name, alone, boot, worker, perfLine(pr)})
	}
	p("%s\n", table([]string{"runtime", "worker alone", "runtime's system calls", "worker's system calls",
		"CPU samples (perf): the biggest groups"}, rows))
	p("Busiest symbols outside the kernel:\n\n")
	for _, r := range rep.results {
		if r.profile != nil && len(r.profile.perfTopSyms) > 0 {
			p("- %s: %s\n", r.row.name, strings.Join(r.profile.perfTopSyms[:min(6, len(r.profile.perfTopSyms))], ", "))
		}
	}
	p("\n")
	p("### Reading\n\n")
	if notes, err := os.ReadFile(rep.c.notes); err == nil {
		b.Write(notes)
		b.WriteString("\n")
	} else {
		p("(no %s)\n\n", rep.c.notes)
	}
}

// perfLine is a row's perf samples by process and place, biggest first.
func perfLine(pr *profileResult) string {
	if pr.perfNote != "" {
		return pr.perfNote
	}
	var parts []string
	for _, g := range pr.perfGroups[:min(6, len(pr.perfGroups))] {
		if g.pct >= 3 {
			parts = append(parts, fmt.Sprintf("%s %s %.0f%%", g.comm, g.where, g.pct))
		}
	}
	return strings.Join(parts, ", ")
}

// topCalls formats the n most frequent system calls.
func topCalls(cs []syscallCount, n int) string {
	var parts []string
	for _, c := range cs[:min(n, len(cs))] {
		parts = append(parts, fmt.Sprintf("%s %.1f", c.name, c.calls))
	}
	return strings.Join(parts, ", ")
}
