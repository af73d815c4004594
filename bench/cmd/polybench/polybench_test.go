package main

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestPercentile(t *testing.T) {
	var ds []time.Duration
	for i := 1; i <= 100; i++ {
		ds = append(ds, time.Duration(i)*time.Millisecond)
	}
	for _, tt := range []struct {
		p    float64
		want time.Duration
	}{{50, 50 * time.Millisecond}, {99, 99 * time.Millisecond}, {100, 100 * time.Millisecond}, {1, time.Millisecond}} {
		if got := percentile(ds, tt.p); got != tt.want {
			t.Errorf("percentile(1..100 ms, %v) = %v, want %v", tt.p, got, tt.want)
		}
	}
	if got := percentile(nil, 50); got != 0 {
		t.Errorf("percentile(nil) = %v", got)
	}
	if got := median([]time.Duration{3, 1, 2}); got != 2 {
		t.Errorf("median = %v, want 2", got)
	}
}

func TestGoPackage(t *testing.T) {
	for sym, want := range map[string]string{
		"net/http.(*persistConn).readLoop":                               "net/http",
		"runtime.futex.abi0":                                             "runtime",
		"github.com/polyboot/polyboot/supervisor.(*Worker).Invoke.func1": "polyboot/supervisor",
		"internal/runtime/syscall/linux.Syscall6":                        "internal/runtime/syscall/linux",
		"encoding/json.(*decodeState).object":                            "encoding/json",
		"github.com/aws/aws-lambda-go/lambda.(*Function).Invoke":         "github.com/aws/aws-lambda-go/lambda",
		"0x00000000000ba5e1":                                             "0x00000000000ba5e1",
	} {
		if got := goPackage(sym); got != want {
			t.Errorf("goPackage(%q) = %q, want %q", sym, got, want)
		}
	}
}

func TestReadStraceSummary(t *testing.T) {
	const summary = `% time     seconds  usecs/call     calls    errors syscall
------ ----------- ----------- --------- --------- ----------------
 40.00    0.004000           2      2000       100 read
 30.00    0.003000           1      3000           futex
 30.00    0.003000           3      1000           write
------ ----------- ----------- --------- --------- ----------------
100.00    0.010000           1      6000       100 total
`
	path := filepath.Join(t.TempDir(), "strace.txt")
	if err := os.WriteFile(path, []byte(summary), 0o644); err != nil {
		t.Fatal(err)
	}
	calls, total := readStraceSummary(path, 1000)
	if total != 6 {
		t.Errorf("total = %v, want 6", total)
	}
	want := []syscallCount{{"futex", 3}, {"read", 2}, {"write", 1}}
	if len(calls) != len(want) {
		t.Fatalf("calls = %v, want %v", calls, want)
	}
	for i := range want {
		if calls[i] != want[i] {
			t.Errorf("calls[%d] = %v, want %v", i, calls[i], want[i])
		}
	}
	if got := topCalls(calls, 2); got != "futex 3.0, read 2.0" {
		t.Errorf("topCalls(2) = %q", got)
	}
}

func TestRotate(t *testing.T) {
	xs := []int{1, 2, 3}
	for k, want := range [][]int{{1, 2, 3}, {2, 3, 1}, {3, 1, 2}, {1, 2, 3}} {
		if got := rotate(k, xs); !slices.Equal(got, want) {
			t.Errorf("rotate(%d) = %v, want %v", k, got, want)
		}
	}
	if rotate(2, []int(nil)) != nil {
		t.Error("rotate of nothing")
	}
}

// TestTables checks the figures the main table and the README's table are made of, on made-up
// results: ratios to the floor, a failed large event, polyboot's share of a cold start.
func TestTables(t *testing.T) {
	ms := func(v ...float64) []time.Duration {
		var out []time.Duration
		for _, x := range v {
			out = append(out, time.Duration(x*float64(time.Millisecond)))
		}
		return out
	}
	floor := &result{row: &row{name: "aws-lambda-go (floor)", floor: true}, warm: ms(0.5, 0.5, 0.6),
		cold: ms(10, 11, 12), big: []bigResult{{times: ms(90)}, {times: ms(40)}, {times: ms(50)}}}
	bash := &result{row: &row{name: "polyboot bash", worker: true, bareStart: []string{"bash"}}, warm: ms(0.75, 0.75, 0.8),
		cold: ms(14, 15, 16), bareStart: ms(1.5, 2), big: []bigResult{{times: ms(180)}, {check: "HTTP 502"}, {times: ms(100)}}}
	rep := &report{c: &config{}, m: machine{date: "2026-12-03 13:40 UTC", cpus: "2"}, results: []*result{floor, bash}}
	main := rep.mainTable()
	for _, want := range []string{"| polyboot bash | 0.75 ms (1.50×) | 0.80 ms (1.33×) | – | 180 ms (2.00×) | FAILS | 100 ms (2.00×) | 15.0 ms (1.36×) | 2.50 ms |"} {
		if !strings.Contains(main, want) {
			t.Errorf("main table lacks %q:\n%s", want, main)
		}
	}
	readme := rep.readmeTable()
	for _, want := range []string{"| 2026-12-03, 2 CPUs, × aws-lambda-go | bash | aws-lambda-go |", "| warm p50, 1 KB event | 1.50× | 0.50 ms |",
		"| 5 MB string of `é` `\\\"` `\\\\` | fails | 40.0 ms |", "| cold − (floor + interpreter's own start) | 2.50 ms | – |"} {
		if !strings.Contains(readme, want) {
			t.Errorf("README table lacks %q:\n%s", want, readme)
		}
	}
	if f := rep.failures(); !strings.Contains(f, "- polyboot bash: 5 MB string") || !strings.Contains(f, "HTTP 502") {
		t.Errorf("failures: %q", f)
	}
}
