package main

import (
	"fmt"
	"os"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/polyboot/polyboot/bench"
)

// report turns results into text.
type report struct {
	c       *config
	m       machine
	results []*result
	conc    *concurrencyReport
	sizes   []sizeRow
	elapsed time.Duration
}

// floor is the aws-lambda-go row's result, or nil when it failed.
func (rep *report) floor() *result {
	for _, r := range rep.results {
		if r.row.floor && r.err == nil {
			return r
		}
	}
	return nil
}

// curl is the curl baseline's result, or nil.
func (rep *report) curl() *result {
	for _, r := range rep.results {
		if r.row.baseline && len(r.warm) > 0 {
			return r
		}
	}
	return nil
}

// Statistics of one row.
func median(ds []time.Duration) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := append([]time.Duration(nil), ds...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
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

func (r *result) p50() time.Duration { return percentile(r.warm, 50) }
func (r *result) p99() time.Duration { return percentile(r.warm, 99) }

// throughput is warm invocations per second.
func (r *result) throughput() float64 {
	if r.warmWall <= 0 {
		return 0
	}
	return float64(len(r.warm)) / r.warmWall.Seconds()
}

// bigMedian is the median round trip of the i-th large event, or 0 when it failed.
func (r *result) bigMedian(i int) (time.Duration, string) {
	if i >= len(r.big) {
		return 0, "not run"
	}
	b := r.big[i]
	if b.check != "ok" || len(b.times) == 0 {
		return 0, b.check
	}
	return median(b.times), ""
}

// Formatting.
func fmtMs(d time.Duration) string {
	ms := float64(d) / float64(time.Millisecond)
	switch {
	case ms < 10:
		return fmt.Sprintf("%.2f ms", ms)
	case ms < 100:
		return fmt.Sprintf("%.1f ms", ms)
	default:
		return fmt.Sprintf("%.0f ms", ms)
	}
}

func fmtRatio(x float64) string {
	switch {
	case x <= 0:
		return "–"
	case x < 10:
		return fmt.Sprintf("%.2f×", x)
	case x < 100:
		return fmt.Sprintf("%.1f×", x)
	default:
		return fmt.Sprintf("%.0f×", x)
	}
}

// msCell is "1.23 ms (1.50×)": a time and its ratio to the floor's.
func msCell(d, floor time.Duration) string {
	if d <= 0 {
		return "–"
	}
	if floor <= 0 {
		return fmtMs(d)
	}
	return fmt.Sprintf("%s (%s)", fmtMs(d), fmtRatio(float64(d)/float64(floor)))
}

func mb(kb int64) string { return fmt.Sprintf("%.1f MB", float64(kb)/1024) }

// rssCell is "9.4 → 56.4 MB (1.14×)": VmHWM after the warm loop, after the large events, and the
// latter's ratio to the floor's.
func rssCell(warm, peak, floor int64) string {
	if peak <= 0 {
		return "–"
	}
	s := fmt.Sprintf("%.1f → %s", float64(warm)/1024, mb(peak))
	if floor > 0 {
		s += fmt.Sprintf(" (%s)", fmtRatio(float64(peak)/float64(floor)))
	}
	return s
}

func bytesMB(n int64) string {
	if n < 100<<10 {
		return fmt.Sprintf("%.1f KB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%.2f MB", float64(n)/(1<<20))
}

// cpuMs is CPU seconds per invocation as milliseconds.
func cpuMs(s float64) string { return fmt.Sprintf("%.3f ms", s*1000) }

// table renders a Markdown table.
func table(header []string, rows [][]string) string {
	var b strings.Builder
	b.WriteString("| " + strings.Join(header, " | ") + " |\n|")
	for range header {
		b.WriteString("---|")
	}
	b.WriteString("\n")
	for _, r := range rows {
		b.WriteString("| " + strings.Join(r, " | ") + " |\n")
	}
	return b.String()
}

// mainTable is the table of the benchmark: one row per runtime, every time with its ratio to the
// floor.
func (rep *report) mainTable() string {
	f := rep.floor()
	var fr result
	if f != nil {
		fr = *f
	}
	curl := rep.curl()
	var rows [][]string
	for _, r := range rep.results {
		if r.row.missing != "" {
			rows = append(rows, []string{r.row.name, "*** " + r.row.missing + ": NOT MEASURED ***", "", "", "", "", "", "", "", ""})
			continue
		}
		fb1, _ := fr.bigMedian(0)
		fb6, _ := fr.bigMedian(1)
		b1, e1 := r.bigMedian(0)
		b6, e6 := r.bigMedian(1)
		big := func(d, floor time.Duration, failure string) string {
			if failure != "" {
				return "FAILS (see Checks)"
			}
			return msCell(d, floor)
		}
		tp := "–"
		if t := r.throughput(); t > 0 {
			tp = fmt.Sprintf("%.0f/s", t)
			if ft := fr.throughput(); ft > 0 {
				tp += fmt.Sprintf(" (%s)", fmtRatio(t/ft))
			}
		}
		vsCurl := "–"
		if curl != nil && r.p50() > 0 {
			vsCurl = fmtRatio(float64(curl.p50()) / float64(r.p50()))
		}
		worker := "–"
		if r.row.worker {
			worker = rssCell(r.workerWarm.hwmKB, r.workerPeak.hwmKB, 0)
		}
		cold := msCell(median(r.cold), median(fr.cold))
		if r.coldFailure != "" && len(r.cold) == 0 {
			cold = "FAILS"
		}
		rows = append(rows, []string{
			r.row.name, cold, msCell(r.p50(), fr.p50()), msCell(r.p99(), fr.p99()), tp,
			big(b1, fb1, e1), big(b6, fb6, e6),
			rssCell(r.bootstrapWarm.hwmKB, r.bootstrapPeak.hwmKB, fr.bootstrapPeak.hwmKB), worker, vsCurl,
		})
	}
	return table([]string{"runtime", "cold start", "warm p50", "warm p99", "throughput",
		"1 MB round trip", "6 MB round trip", "bootstrap peak RSS: warm → 6 MB", "worker peak RSS: warm → 6 MB", "p50: × faster than curl"}, rows)
}

// summary is what the benchmark prints at the end.
func (rep *report) summary() string {
	s := fmt.Sprintf("polyboot benchmark, %s, %s CPUs (%s), N=%d\n(ratios: × the aws-lambda-go floor; throughput: its fraction of the floor's)\n\n%s\nlayer: %s\n",
		rep.m.date, rep.m.cpus, rep.m.cpu, rep.c.n, rep.mainTable(), rep.layerLine())
	if rep.conc != nil {
		s += "\nconcurrency: polyboot bash, 10 ms handler (sleep 0.01), emulator's Managed Instances mode, AWS_LAMBDA_MAX_CONCURRENCY=N\n\n" + rep.conc.table()
		if r := rep.conc.reading(); r != "" {
			s += "\n" + r + "\n"
		}
	}
	return s
}

func (rep *report) layerLine() string {
	for _, s := range rep.sizes {
		if strings.HasPrefix(s.what, "polyboot runtime layer") && s.err == nil {
			return fmt.Sprintf("%s zipped, %s unpacked", bytesMB(s.sizes.zipped), bytesMB(s.sizes.unpacked))
		}
	}
	return "unknown"
}

// markdown is the whole report.
func (rep *report) markdown() string {
	c, m := rep.c, rep.m
	var b strings.Builder
	p := func(format string, args ...any) { fmt.Fprintf(&b, format, args...) }
	p("# polyboot benchmark results\n\n")
	p("Written by `%s` (bench/cmd/polybench); do not edit by hand: the reading of the profile comes from\n", c.command)
	p("`bench/profile-notes.md`. Every runtime ran under AWS's Runtime Interface Emulator on loopback,\n")
	p("one invocation at a time (but for the concurrency row), on this machine, in one run of %s.\n\n", rep.elapsed.Round(time.Second))
	p("| machine | |\n|---|---|\n")
	p("| date | %s |\n| CPUs (nproc) | %s |\n| CPU | %s |\n| kernel | %s |\n", m.date, m.cpus, m.cpu, m.kernel)
	p("| load average before / after | %s / %s |\n", m.loadBefore, m.loadAfter)
	p("| Go | %s |\n| bash | %s |\n| tclsh | %s |\n| Python 2.7 | %s |\n| python3 | %s |\n", m.goVersion, m.bash, m.tcl, m.python27, m.python3)
	p("| aws-lambda-go | %s |\n| emulator (aws-lambda-runtime-interface-emulator) | %s |\n\n", c.lambdaGoVersion, c.rieVersion)

	p("## Results\n\n")
	p("Every time is followed by its ratio to the **aws-lambda-go floor** (× the floor's time; the floor's row is\n")
	p("1.00×), throughput by its fraction of the floor's. The machine is shared and noisy: read the ratios,\n")
	p("which hold within one run, rather than the milliseconds.\n\n")
	p("%s\n", rep.mainTable())
	p("The rows are interleaved, not run one after the other, so that each sees the same mix of quiet\n")
	p("and busy moments on the shared machine: each cold-start round starts every runtime once; one\n")
	p("emulator per runtime stays up for the warm loop, which runs in %d rounds of a block of invocations\n", max(1, min(c.rounds, c.n)))
	p("per runtime (only one invocation is ever in flight); the large events go round the same way.\n\n")
	p("- **cold start**: emulator process start → first response (1 KB event), median of %d fresh starts.\n", c.cold)
	p("- **warm**: %d invocations of a 1 KB event per runtime after %d warm-up invocations, one at a time\n", c.n, c.warmup)
	p("  through one keep-alive connection: client → emulator → runtime → handler → back. Throughput is\n")
	p("  invocations per second of the wall time of the runtime's own blocks.\n")
	p("- **1 MB / 6 MB round trip**: one invocation with an event of 1,048,576 and %s bytes (just under the\n", bench6MB())
	p("  emulator's 6,291,456-byte request limit), median of %d; every response was checked byte for byte.\n", c.bigReps)
	p("  The events are JSON objects written the way Python's json.dumps writes them (`\", \"`, `\": \"`), so the\n")
	p("  Python echo is exact; aws-lambda-go re-encodes a json.RawMessage, so its answer is checked against the\n")
	p("  compact form of the event.\n")
	p("- **peak RSS**: VmHWM from /proc after the warm loop → after the large events (the ratio is the\n")
	p("  latter's), of the runtime the emulator runs (for polyboot, the Go bootstrap alone) and, separately,\n")
	p("  of polyboot's interpreter worker.\n")
	p("- **polyboot + Go echo worker**: the bootstrap serving `bench/cmd/echo-worker`, an executable handler\n")
	p("  in Go that speaks docs/protocol.md itself: the bootstrap's own cost without an interpreter's.\n")
	p("- The Python rows run with PYTHONDONTWRITEBYTECODE=1: on Lambda /opt and /var/task are read-only, so\n")
	p("  no .pyc of the adapter or the handler can be cached there and every cold start compiles them.\n")
	p("- The curl baseline is the tutorial's bootstrap (bench/baseline/bootstrap) with bash as /bin/sh.\n\n")

	if rep.conc != nil {
		rep.conc.section(&b)
	}
	rep.coldSection(&b)
	rep.bigSection(&b)
	rep.cpuSection(&b)
	rep.memorySection(&b)
	rep.sizeSection(&b)
	rep.checkSection(&b)
	rep.profileSection(&b)
	if c.goBench != "" {
		if out, err := os.ReadFile(c.goBench); err == nil {
			p("## Go benchmarks\n\n`go test -run '^$' -bench . -benchmem ./bench` (codec: bench/codec_bench_test.go; invoke loop\n")
			p("against a fake Runtime API on httptest: bench/loop_bench_test.go). Allocations of the loop benchmarks\n")
			p("include the fake API's server side; BenchmarkRuntimeAPIClient is that HTTP floor alone.\n\n```\n%s```\n\n", out)
		}
	}
	total := rep.elapsed
	if c.started > 0 {
		total = time.Since(time.Unix(c.started, 0))
	}
	p("## How to run\n\n    make bench             # everything above: %s here (the end-to-end part %s)\n",
		total.Round(10*time.Second), rep.elapsed.Round(10*time.Second))
	p("    make bench BENCH_N=200 # fewer warm invocations (and concurrency invocations per N)\n")
	p("    make bench BENCH_CONCURRENCY=1,2,4,8,16 # the concurrency row's N values (empty: no concurrency row)\n")
	p("    make bench-go          # the Go benchmarks alone\n\n")
	p("Python 2.7 is looked for as python2.7/python2 on PATH (one that really runs), else pyenv's\n")
	p("versions/2.7*; python3 is POLYBOOT_PYTHON when set, else python3 on PATH. A missing interpreter is\n")
	p("reported loudly and its row is not measured.\n")
	return b.String()
}

// bench6MB is the size of the large event, with thousands separators.
func bench6MB() string {
	s := strconv.Itoa(bench.EventSize6MB)
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}

func (rep *report) coldSection(b *strings.Builder) {
	f := rep.floor()
	var floorMed, floorMin time.Duration
	if f != nil && len(f.cold) > 0 {
		floorMed, floorMin = median(f.cold), minDur(f.cold)
	}
	var rows [][]string
	for _, r := range rep.results {
		if r.row.missing != "" || len(r.cold) == 0 {
			continue
		}
		low := minDur(r.cold)
		bare, over, rest := "–", "–", "–"
		if floorMin > 0 && !r.row.floor {
			over = fmtMs(low - floorMin)
		}
		if len(r.bareStart) > 0 {
			bare = fmtMs(minDur(r.bareStart))
			if floorMin > 0 {
				rest = fmtMs(low - floorMin - minDur(r.bareStart))
			}
		}
		rows = append(rows, []string{r.row.name, msCell(median(r.cold), floorMed), msCell(low, floorMin),
			fmtMs(maxDur(r.cold)), fmtMs(median(r.coldListen)), fmtMs(median(r.coldFirst)), bare, over, rest})
	}
	fmt.Fprintf(b, "## Cold start\n\n%s\n", table([]string{"runtime", "median", "min", "max",
		"emulator listening", "first invocation", "interpreter alone (min)", "cold − floor (min)",
		"cold − floor − interpreter (min)"}, rows))
	b.WriteString("*emulator listening* and *first invocation* (medians) split the cold start: the emulator starts the\n")
	b.WriteString("runtime lazily, so the first invocation holds the runtime's start, its init and the invocation.\n")
	b.WriteString("*interpreter alone* is the interpreter started to do nothing (`bash -c :`, `tclsh /dev/null`,\n")
	b.WriteString("`python -u -c pass`), as many times. The last three columns use minimums, which the machine's load\n")
	b.WriteString("disturbs least: *cold − floor* is what the runtime adds to the aws-lambda-go function's cold start\n")
	b.WriteString("(the emulator's own start-up cancels out); *cold − floor − interpreter* is what remains for\n")
	b.WriteString("polyboot: the Go bootstrap's start beyond aws-lambda-go's, the adapter loading the handler, and the\n")
	b.WriteString("ready handshake. For *polyboot + Go echo worker* the *cold − floor* is the bootstrap's own share\n")
	b.WriteString("(plus a Go process start of about 1 ms for the worker).\n\n")
}

func (rep *report) bigSection(b *strings.Builder) {
	var rows [][]string
	for _, r := range rep.results {
		if r.row.missing != "" || len(r.big) == 0 {
			continue
		}
		row := []string{r.row.name}
		for _, br := range r.big {
			if len(br.times) == 0 {
				row = append(row, "fails", "", "")
				continue
			}
			row = append(row, fmtMs(median(br.times)), fmtMs(minDur(br.times)), fmtMs(maxDur(br.times)))
		}
		rows = append(rows, row)
	}
	fmt.Fprintf(b, "## Large events\n\n%s\n", table([]string{"runtime", "1 MB median", "min", "max",
		"6 MB median", "min", "max"}, rows))
	fmt.Fprintf(b, "Round trips of %d rounds (each round: the 1 MB event to every runtime, then the 6 MB one).\n\n", rep.c.bigReps)
}

func (rep *report) cpuSection(b *strings.Builder) {
	f := rep.floor()
	var floorTotal float64
	if f != nil && f.cpu.ok {
		floorTotal = f.cpu.client + f.cpu.rie + f.cpu.bootstrap
	}
	var rows [][]string
	for _, r := range rep.results {
		if r.row.missing != "" || !r.cpu.ok {
			continue
		}
		total := r.cpu.client + r.cpu.rie + r.cpu.bootstrap + r.cpu.worker
		worker := "–"
		if r.row.worker {
			worker = cpuMs(r.cpu.worker)
		}
		ratio := "–"
		if floorTotal > 0 {
			ratio = fmtRatio(total / floorTotal)
		}
		alone, rest := "–", "–"
		if r.alone > 0 {
			alone = fmt.Sprintf("%.0f µs", float64(r.alone)/float64(time.Microsecond))
			rest = fmtMs(r.p50() - r.alone)
		} else if r.aloneErr != "" {
			alone = "failed: " + mdEscape(r.aloneErr)
		}
		rows = append(rows, []string{r.row.name, cpuMs(r.cpu.client), cpuMs(r.cpu.rie), cpuMs(r.cpu.bootstrap), worker,
			fmt.Sprintf("%s (%s)", cpuMs(total), ratio), fmtMs(r.p50()), alone, rest})
	}
	fmt.Fprintf(b, "## CPU per warm invocation\n\n%s\n", table([]string{"runtime", "client (polybench)", "emulator",
		"runtime (bootstrap)", "worker", "sum", "wall p50", "worker alone", "p50 − worker alone"}, rows))
	b.WriteString("CPU time used during the timed warm loop divided by the invocations: the sum over each process's\n")
	b.WriteString("threads of /proc/PID/task/TID/schedstat (nanoseconds on CPU), getrusage for the client. The\n")
	b.WriteString("runtime's figure adds the children it waited for (/proc/PID/stat, 10 ms ticks): the curl baseline's\n")
	b.WriteString("curl, grep, tr, cut and subshells. Wall time above the CPU sum is time spent waiting: wake-ups and\n")
	b.WriteString("scheduling across the processes of one invocation's path, on 2 shared cores.\n\n")
	fmt.Fprintf(b, "*worker alone* is the wall time per invocation of the worker by itself: started as the bootstrap\n")
	fmt.Fprintf(b, "starts it (same argv, environment and descriptors) and fed %d invoke lines of the 1 KB event through a\n", aloneLines)
	b.WriteString("pipe, its replies and bodies read and checked, minus a run with no lines (start-up and exit); the\n")
	b.WriteString("fastest of three runs of each. The worker alone finds its next line already waiting, so it leaves\n")
	b.WriteString("out the wake-up of a worker that sleeps between invocations; *p50 − worker alone* is what the rest\n")
	b.WriteString("of the path costs: client, emulator, bootstrap, and the wake-ups and hand-offs between them.\n\n")
}

func (rep *report) memorySection(b *strings.Builder) {
	var rows [][]string
	for _, r := range rep.results {
		if r.row.missing != "" || r.bootstrapPeak.hwmKB == 0 {
			continue
		}
		w1, w2 := "–", "–"
		if r.row.worker {
			w1, w2 = mb(r.workerWarm.hwmKB), mb(r.workerPeak.hwmKB)
		}
		rows = append(rows, []string{r.row.name, mb(r.bootstrapWarm.hwmKB), mb(r.bootstrapPeak.hwmKB), w1, w2})
	}
	fmt.Fprintf(b, "## Memory\n\n%s\n", table([]string{"runtime", "bootstrap VmHWM after warm loop",
		"after large events", "worker VmHWM after warm loop", "after large events"}, rows))
	b.WriteString("The peak after the large events is what a 6 MB event costs; a row whose large events fail keeps the\n")
	b.WriteString("last peak read before its runtime died.\n\n")
}

func (rep *report) sizeSection(b *strings.Builder) {
	var rows [][]string
	for _, s := range rep.sizes {
		if s.err != nil {
			rows = append(rows, []string{s.what, "error: " + s.err.Error(), ""})
			continue
		}
		rows = append(rows, []string{s.what, bytesMB(s.sizes.zipped), bytesMB(s.sizes.unpacked)})
	}
	fmt.Fprintf(b, "## Sizes\n\n%s\n", table([]string{"what ships", "zipped", "unpacked"}, rows))
	b.WriteString("On Lambda, bash handlers need the runtime layer only; Tcl and Python 2.7 handlers need their\n")
	b.WriteString("interpreter layer too (listed when `make layers` has built it). The aws-lambda-go and curl rows are\n")
	b.WriteString("deflated here in the same way for comparison.\n\n")
}

func (rep *report) checkSection(b *strings.Builder) {
	var rows [][]string
	for _, r := range rep.results {
		if r.row.missing != "" {
			rows = append(rows, []string{r.row.name, "NOT MEASURED: " + r.row.missing, "", "", ""})
			continue
		}
		warm := fmt.Sprintf("%d ok, %d failed", len(r.warm), r.warmErrors)
		cold := "ok"
		if r.coldFailure != "" {
			cold = mdEscape(r.coldFailure)
		}
		bigs := []string{"not run", "not run"}
		for i := range r.big {
			if i < 2 {
				bigs[i] = mdEscape(r.big[i].check)
			}
		}
		if r.err != nil {
			warm += "; " + mdEscape(r.err.Error())
		}
		rows = append(rows, []string{r.row.name, cold, warm, bigs[0], bigs[1]})
	}
	fmt.Fprintf(b, "## Checks\n\n%s\n", table([]string{"runtime", "cold starts", "warm invocations", "1 MB echo", "6 MB echo"}, rows))
}

func (rep *report) profileSection(b *strings.Builder) {
	p := func(format string, args ...any) { fmt.Fprintf(b, format, args...) }
	p("## Profile\n\n")
	if !rep.c.profile {
		p("Not run (-profile=false).\n\n")
		return
	}
	p("Each runtime ran once more under a fresh emulator: %d warm 1 KB invocations under `strace -f -c`\n", rep.c.profileN)
	p("attached to the runtime and (separately) to the worker, then as many under `perf record -e cpu-clock`\n")
	p("attached to both (polyboot's bootstrap built with symbols for this; same code as the layer's). System\n")
	p("calls are per invocation, all threads (and, for the curl baseline, all the processes it forks).\n\n")
	var rows [][]string
	for _, r := range rep.results {
		if r.profile == nil {
			continue
		}
		pr := r.profile
		worker := "–"
		if r.row.worker {
			worker = fmt.Sprintf("**%.1f**: %s", pr.workerTotal, topCalls(pr.workerCalls, 6))
		}
		boot := fmt.Sprintf("**%.1f**: %s", pr.bootstrapTotal, topCalls(pr.bootstrapCalls, 8))
		if pr.straceNote != "" {
			boot, worker = pr.straceNote, pr.straceNote
		}
		forks, execs := countCalls(pr.bootstrapCalls, "clone", "clone3", "fork", "vfork"), countCalls(pr.bootstrapCalls, "execve")
		rows = append(rows, []string{r.row.name, boot, worker, fmt.Sprintf("%.1f / %.1f", forks, execs)})
	}
	p("### System calls per invocation\n\n%s\n", table([]string{"runtime", "runtime (bootstrap)", "worker",
		"runtime's clones / execs"}, rows))
	p("### Where the CPU time goes\n\n")
	p("perf samples of the runtime and its worker, grouped by process and by place: a Go package, a\n")
	p("library, or the kernel (split into context switches and wake-ups versus the rest). *≈ per\n")
	p("invocation* applies the share to the runtime's and worker's CPU per warm invocation measured above.\n")
	p("Only groups of at least 2%% are listed.\n\n")
	for _, r := range rep.results {
		if r.profile == nil {
			continue
		}
		pr := r.profile
		p("**%s**", r.row.name)
		if pr.perfNote != "" {
			p(": %s\n\n", pr.perfNote)
			continue
		}
		cpu := r.cpu.bootstrap + r.cpu.worker
		p(" (about %d samples; runtime + worker CPU %s per invocation)\n\n", pr.perfSamples, cpuMs(cpu))
		var rows [][]string
		for _, g := range pr.perfGroups {
			if g.pct < 2 {
				continue
			}
			per := "–"
			if r.cpu.ok {
				per = fmt.Sprintf("%.0f µs", g.pct/100*cpu*1e6)
			}
			rows = append(rows, []string{g.comm, g.where, fmt.Sprintf("%.1f%%", g.pct), per})
		}
		p("%s\n", table([]string{"process", "where", "share", "≈ per invocation"}, rows))
		if len(pr.perfTopSyms) > 0 {
			p("Busiest symbols outside the kernel:\n\n```\n%s\n```\n\n", strings.Join(pr.perfTopSyms, "\n"))
		}
	}
	p("### Reading\n\n")
	if notes, err := os.ReadFile(rep.c.notes); err == nil {
		b.Write(notes)
		b.WriteString("\n")
	} else {
		p("(no %s)\n\n", rep.c.notes)
	}
}

// countCalls adds up the calls per invocation of the named system calls.
func countCalls(cs []syscallCount, names ...string) float64 {
	var n float64
	for _, c := range cs {
		for _, name := range names {
			if c.name == name {
				n += c.calls
			}
		}
	}
	return n
}

// topCalls formats the n most frequent system calls.
func topCalls(cs []syscallCount, n int) string {
	var parts []string
	for i, c := range cs {
		if i == n {
			break
		}
		parts = append(parts, fmt.Sprintf("%s %.1f", c.name, c.calls))
	}
	return strings.Join(parts, ", ")
}

func mdEscape(s string) string {
	s = strings.ReplaceAll(s, "|", "\\|")
	s = strings.ReplaceAll(s, "\n", " ")
	if len(s) > 300 {
		s = s[:300] + "…"
	}
	return s
}

func minDur(ds []time.Duration) time.Duration {
	m := ds[0]
	for _, d := range ds {
		m = min(m, d)
	}
	return m
}

func maxDur(ds []time.Duration) time.Duration {
	m := ds[0]
	for _, d := range ds {
		m = max(m, d)
	}
	return m
}
