package main

import (
	"os"
	"path/filepath"
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
	if got := countCalls(calls, "read", "write"); got != 3 {
		t.Errorf("countCalls(read, write) = %v, want 3", got)
	}
}

func TestSampleCount(t *testing.T) {
	for text, want := range map[string]int{
		"# Total Lost Samples: 0\n#\n# Samples: 248  of event 'cpu-clock'\n": 248,
		"# Samples: 3K of event 'cpu-clock'\n":                               3000,
		"nothing\n":                                                          0,
	} {
		if got := sampleCount(text); got != want {
			t.Errorf("sampleCount(%q) = %d, want %d", text, got, want)
		}
	}
}

func TestTailBuffer(t *testing.T) {
	b := &tailBuffer{max: 10}
	_, _ = b.Write([]byte("0123456789abc"))
	if got := b.String(); got != "3456789abc" {
		t.Errorf("kept %q, want the last 10 bytes", got)
	}
}
