package main

import (
	"errors"
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

func TestConcurrencySection(t *testing.T) {
	mk := func(n int, perSec float64) *concResult {
		r := &concResult{n: n, wall: time.Second, cpuOK: true, cpu: 0.5 * float64(n), nWorkers: n, rssKB: 10240 + 3072*int64(n)}
		for range int(perSec) {
			r.lat = append(r.lat, 12*time.Millisecond)
		}
		return r
	}
	cr := &concurrencyReport{ncpu: 2, perN: 400,
		results: []*concResult{mk(1, 80), mk(2, 158), mk(4, 300), mk(8, 560)}}
	cr.results[1].err = errors.New("the emulator\nexited")
	cr.results[1].lat = nil
	var b strings.Builder
	cr.section(&b)
	for _, want := range []string{"| 8 | 560/s | 7.00× | 12.0 ms | 12.0 ms | 7.143 ms (4.00 of 2 cores) | 34.0 MB (8 workers) | 560 ok, 0 failed, 0 Unavailable retries |",
		"| 2 | *** NOT MEASURED: the emulator exited *** |"} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("section lacks %q:\n%s", want, b.String())
		}
	}
	b.Reset()
	(&concurrencyReport{skipped: "not root"}).section(&b)
	if !strings.Contains(b.String(), "*** not root: NOT MEASURED ***") {
		t.Errorf("skipped section: %q", b.String())
	}
}
