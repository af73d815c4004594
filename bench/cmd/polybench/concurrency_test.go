package main

import (
	"strings"
	"testing"
	"time"
)

func TestParseConcurrency(t *testing.T) {
	got, err := parseConcurrency(" 8,1, 2,4,2")
	if err != nil || len(got) != 4 || got[0] != 1 || got[3] != 8 {
		t.Errorf("parseConcurrency = %v, %v; want [1 2 4 8]", got, err)
	}
	for _, none := range []string{"", "0", "none"} {
		if got, err := parseConcurrency(none); err != nil || got != nil {
			t.Errorf("parseConcurrency(%q) = %v, %v; want none", none, got, err)
		}
	}
	for _, bad := range []string{"x", "1,,2", "-1", "65"} {
		if _, err := parseConcurrency(bad); err == nil {
			t.Errorf("parseConcurrency(%q): no error", bad)
		}
	}
	if got := concPerN(1000, []int{1, 2, 4, 8}); got != 400 {
		t.Errorf("concPerN(1000) = %d, want 400", got)
	}
	if got := concPerN(100, []int{1, 8}); got != 80 {
		t.Errorf("concPerN(100, up to 8) = %d, want 80", got)
	}
}

func TestConcEvent(t *testing.T) {
	a, b := concEvent(4, 1, 7), concEvent(4, 1, 8)
	if len(a) != concEventSize || len(b) != concEventSize || string(a) == string(b) {
		t.Errorf("events %q, %q: want distinct and %d bytes", a, b, concEventSize)
	}
	if !strings.HasPrefix(string(a), `{"source": "polybench-concurrency", "n": 4, "loop": 1, "seq": 7, "pad": "x`) || !strings.HasSuffix(string(a), `x"}`) {
		t.Errorf("event %q", a)
	}
	body := []byte(`{"errorType":"Runtime.Unavailable","errorMessage":"no runtime"}`)
	if !isUnavailable(400, "", body) || !isUnavailable(502, "Runtime.Unavailable", nil) {
		t.Error("Runtime.Unavailable not recognised")
	}
	if isUnavailable(200, "", body) || isUnavailable(502, "Runtime.ExitError", []byte(`{"errorType":"Runtime.ExitError"}`)) {
		t.Error("not Runtime.Unavailable, but taken for it")
	}
}

func TestConcurrencyReport(t *testing.T) {
	mk := func(n int, perSec float64) *concResult {
		r := &concResult{n: n, wall: time.Second, cpuOK: true, cpu: 0.5 * float64(n), nWorkers: n,
			boot: memory{hwmKB: 10240}, workers: memory{hwmKB: 3072 * int64(n)}}
		for i := 0; i < int(perSec); i++ {
			r.lat = append(r.lat, 12*time.Millisecond)
		}
		return r
	}
	cr := &concurrencyReport{ncpu: 2, perN: 400, rounds: 5,
		results: []*concResult{mk(1, 80), mk(2, 158), mk(4, 300), mk(8, 560)}}
	tab := cr.table()
	for _, want := range []string{"| 8 | 560/s | 7.00× | 12.0 ms | 12.0 ms |", "24.0 MB (8)", "34.0 MB"} {
		if !strings.Contains(tab, want) {
			t.Errorf("table lacks %q:\n%s", want, tab)
		}
	}
	if r := cr.reading(); !strings.Contains(r, "nearly linearly") || !strings.Contains(r, "beyond the core count") {
		t.Errorf("reading: %s", r)
	}
	cr.results = []*concResult{mk(1, 80), mk(2, 150), mk(4, 170), mk(8, 175)}
	cr.results[3].cpu = 1.9 * 1 // 1.9 cores busy at N=8
	if r := cr.reading(); !strings.Contains(r, "up to N=2") || !strings.Contains(r, "CPU is what limits it") {
		t.Errorf("reading: %s", r)
	}
	cr = &concurrencyReport{skipped: "not root"}
	if got := cr.table(); !strings.Contains(got, "*** not root: NOT MEASURED ***") {
		t.Errorf("skipped table: %q", got)
	}
}
