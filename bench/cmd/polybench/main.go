// Command polybench is polyboot's end-to-end benchmark (make bench). It runs each runtime under
// AWS's Runtime Interface Emulator on loopback, one invocation at a time, and measures cold start,
// warm latency and throughput, large events of three shapes, CPU and memory, with the
// aws-lambda-go echo function as the floor every figure is compared with; then it profiles each
// runtime with strace and perf. Its concurrency row runs polyboot bash with a 10 ms handler under
// the emulator's Managed Instances mode (concurrency.go). It writes bench/RESULTS.md and the
// README's benchmark table.
//
// It measures and never fails on a time: it exits non-zero only when it could not measure at all.
package main

import (
	"debug/buildinfo"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/polyboot/polyboot/bench"
	"github.com/polyboot/polyboot/internal/layerzip"
)

// config is the benchmark's set-up, from flags.
type config struct {
	layerZip, layerDir, rie, echoGo, echoWorker, baseline, handlers string
	profileBootstrap, profileLayer, profileEchoGo                   string
	work, tmp, out, readme, notes, goBench, python3, command        string
	interpLayers                                                    []string
	concurrency                                                     []int // the concurrency row's N values

	n, cold, warmup, bigReps, profileN, rounds int
	profile                                    bool
	rows                                       map[string]bool

	lambdaGoVersion, rieVersion string
	started                     int64
}

// wants reports whether the row with key is to be measured.
func (c *config) wants(key string) bool { return len(c.rows) == 0 || c.rows[key] }

func main() {
	if err := run(); err != nil {
		fmt.Fprintf(os.Stderr, "polybench: %v\n", err)
		os.Exit(1)
	}
}

func run() error {
	c, err := parseFlags()
	if err != nil {
		return err
	}
	began := time.Now()
	if err := prepare(c); err != nil {
		return err
	}
	defer os.RemoveAll(c.tmp)
	in := findInterpreters(c.python3)
	rs, err := buildRows(c, in)
	if err != nil {
		return err
	}
	ev, err := makeEvents()
	if err != nil {
		return err
	}
	rep := &report{c: c, m: describeMachine(in)}
	rep.results = measureAll(c, rs, ev)
	rep.conc = measureConcurrency(c, in)
	rep.m.loadAfter = loadAverage()
	rep.sizes = measureSizes(c)
	rep.elapsed = time.Since(began)
	fmt.Print("\n" + rep.mainTable())
	return rep.write()
}

func parseFlags() (*config, error) {
	c := &config{}
	var rows, interpLayers, concurrency string
	flag.StringVar(&c.layerZip, "layer", "dist/polyboot-amd64.zip", "the runtime layer zip (make layer)")
	flag.StringVar(&c.rie, "rie", "", "the Runtime Interface Emulator binary (go tool -n aws-lambda-rie)")
	flag.StringVar(&c.echoGo, "echo-go", "", "the aws-lambda-go echo function, built (bench/cmd/echo-go)")
	flag.StringVar(&c.echoWorker, "echo-worker", "", "the Go echo worker, built (bench/cmd/echo-worker)")
	flag.StringVar(&c.baseline, "baseline", "bench/baseline", "folder of the curl baseline's bootstrap")
	flag.StringVar(&c.handlers, "handlers", "bench/handlers", "folder of the echo handlers")
	flag.StringVar(&c.work, "work", "build/bench", "scratch folder (task folders, unpacked layer, temp files)")
	flag.StringVar(&c.out, "out", "bench/RESULTS.md", "the report to write; - for none")
	flag.StringVar(&c.readme, "readme", "", "a README whose benchmark table (between <!-- bench:begin --> and <!-- bench:end -->) to rewrite")
	flag.StringVar(&c.notes, "notes", "bench/profile-notes.md", "hand-written reading of the profile, included in the report")
	flag.StringVar(&c.goBench, "gobench", "", "output of go test -bench for ./bench, included in the report")
	flag.StringVar(&c.python3, "python3", os.Getenv("POLYBOOT_PYTHON"), "the python3 of the python3 row (default: POLYBOOT_PYTHON, else python3 on PATH)")
	flag.StringVar(&interpLayers, "interp-layers", "", "comma-separated interpreter layer zips to list in the sizes, when they exist")
	flag.IntVar(&c.n, "n", 1000, "warm invocations per runtime (BENCH_N)")
	flag.IntVar(&c.cold, "cold", 11, "fresh starts per runtime for the cold start")
	flag.IntVar(&c.warmup, "warmup", 100, "warm-up invocations before the timed ones")
	flag.IntVar(&c.bigReps, "big-reps", 5, "round trips of each large event")
	flag.IntVar(&c.rounds, "rounds", 20, "rounds the warm invocations are spread over, every runtime taking its turn in each")
	flag.BoolVar(&c.profile, "profile", true, "profile each runtime with strace and perf")
	flag.IntVar(&c.profileN, "profile-n", 1000, "invocations under strace, and again under perf")
	flag.StringVar(&c.profileBootstrap, "profile-bootstrap", "", "a polyboot bootstrap with symbols, used under perf instead of the layer's")
	flag.StringVar(&c.profileEchoGo, "profile-echo-go", "", "the aws-lambda-go echo function with symbols, used under perf")
	flag.StringVar(&rows, "rows", "", "comma-separated rows to run (go, pb-native, pb-bash, pb-tcl, pb-py27, pb-py3, curl, concurrency); the floor always runs")
	flag.StringVar(&concurrency, "concurrency", "1,2,4,8", "the concurrency row's AWS_LAMBDA_MAX_CONCURRENCY values (BENCH_CONCURRENCY); empty: no concurrency row")
	flag.StringVar(&c.command, "command", "make bench", "how this run was started, for the report")
	flag.Int64Var(&c.started, "started", 0, "Unix time the whole run (make bench: builds, Go benchmarks) started, for the report")
	flag.Parse()
	if c.rie == "" || c.echoGo == "" || c.echoWorker == "" {
		return nil, errors.New("-rie, -echo-go and -echo-worker are required (make bench sets them)")
	}
	if c.n < 1 || c.cold < 1 || c.bigReps < 1 {
		return nil, errors.New("-n, -cold and -big-reps must be at least 1")
	}
	var err error
	if c.concurrency, err = parseConcurrency(concurrency); err != nil {
		return nil, err
	}
	if rows != "" {
		c.rows = map[string]bool{}
		for _, r := range strings.Split(rows, ",") {
			c.rows[strings.TrimSpace(r)] = true
		}
	}
	for _, z := range strings.Split(interpLayers, ",") {
		if z = strings.TrimSpace(z); z != "" {
			c.interpLayers = append(c.interpLayers, z)
		}
	}
	return c, nil
}

// prepare lays out the work folder: the unpacked layer, its copy with a symbol-carrying bootstrap
// for perf, a temp folder; and reads the versions of the emulator and of aws-lambda-go.
func prepare(c *config) error {
	var err error
	if c.work, err = filepath.Abs(c.work); err != nil {
		return fmt.Errorf("work folder: %w", err)
	}
	for _, p := range []*string{&c.rie, &c.echoGo, &c.echoWorker, &c.baseline, &c.handlers, &c.profileBootstrap, &c.profileEchoGo} {
		if *p == "" {
			continue
		}
		if *p, err = filepath.Abs(*p); err != nil {
			return fmt.Errorf("path %s: %w", *p, err)
		}
		if _, err := os.Stat(*p); err != nil {
			return fmt.Errorf("missing input: %w", err)
		}
	}
	c.layerDir, c.tmp = filepath.Join(c.work, "opt"), filepath.Join(c.work, "tmp")
	for _, d := range []string{c.layerDir, c.tmp, filepath.Join(c.work, "opt-profile")} {
		if err := os.RemoveAll(d); err != nil {
			return fmt.Errorf("clearing %s: %w", d, err)
		}
	}
	if err := os.MkdirAll(c.tmp, 0o755); err != nil {
		return fmt.Errorf("creating %s: %w", c.tmp, err)
	}
	if err := layerzip.Unzip(c.layerZip, c.layerDir); err != nil {
		return fmt.Errorf("unpacking the layer (make layer): %w", err)
	}
	if c.profileBootstrap != "" {
		c.profileLayer = filepath.Join(c.work, "opt-profile")
		if err := layerzip.Unzip(c.layerZip, c.profileLayer); err != nil {
			return err
		}
		if err := copyFile(c.profileBootstrap, filepath.Join(c.profileLayer, "bootstrap")); err != nil {
			return err
		}
	}
	c.lambdaGoVersion = moduleVersion(c.echoGo, "github.com/aws/aws-lambda-go")
	c.rieVersion = moduleVersion(c.rie, "github.com/aws/aws-lambda-runtime-interface-emulator")
	return nil
}

// moduleVersion is the version of module in a Go binary's build information, or "unknown".
func moduleVersion(binary, module string) string {
	bi, err := buildinfo.ReadFile(binary)
	if err != nil {
		return "unknown"
	}
	if bi.Main.Path == module {
		return bi.Main.Version
	}
	for _, d := range bi.Deps {
		if d.Path == module {
			return d.Version
		}
	}
	return "unknown"
}

// events are what every row gets: the 1 KB warm event and the large ones, in the table's order.
type events struct {
	warm []byte
	big  []event
}

// event is one large event.
type event struct {
	name string // as in the table
	body []byte
}

// shape is one large event's kind.
type shape struct {
	name string // as in the tables
	make func(int) ([]byte, error)
	size int
}

// shapes are the large events, in the tables' order.
func shapes() []shape {
	return []shape{
		{"6 MB, 50k records", bench.Event, bench.EventSize6MB},
		{"5 MB string of `é` `\\\"` `\\\\`", bench.StringEvent, bench.EventSize5MB},
		{fmt.Sprintf("5 MB nested %d deep", bench.NestedDepth), bench.NestedEvent, bench.EventSize5MB},
	}
}

func makeEvents() (ev events, err error) {
	if ev.warm, err = bench.Event(1024); err != nil {
		return ev, err
	}
	for _, sh := range shapes() {
		b, err := sh.make(sh.size)
		if err != nil {
			return ev, err
		}
		ev.big = append(ev.big, event{name: sh.name, body: b})
	}
	return ev, nil
}

// logf writes a progress line to stderr.
func logf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "polybench: "+format+"\n", args...)
}
