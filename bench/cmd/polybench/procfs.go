package main

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// clockTicks is Linux's USER_HZ, the unit of the CPU times in /proc/PID/stat.
const clockTicks = 100

// children returns the processes whose parent is pid, by reading /proc.
func children(pid int) []int {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return nil
	}
	var out []int
	for _, e := range entries {
		if child, err := strconv.Atoi(e.Name()); err == nil {
			if st, err := readStat(child); err == nil && st[4-3] == int64(pid) {
				out = append(out, child)
			}
		}
	}
	return out
}

// descendants lists the processes under pid, children before grandchildren.
func descendants(pid int) []int {
	var out []int
	for queue := []int{pid}; len(queue) > 0 && len(out) < 10000; queue = queue[1:] {
		kids := children(queue[0])
		queue = append(queue, kids...)
		out = append(out, kids...)
	}
	return out
}

// runtimeProcs finds the runtime an emulator started (its child) and that runtime's own child
// (polyboot's worker) when wantWorker, waiting up to a second for them to appear.
func runtimeProcs(rie int, wantWorker bool) (bootstrap, worker int, err error) {
	for deadline := time.Now().Add(time.Second); ; time.Sleep(5 * time.Millisecond) {
		if kids := children(rie); len(kids) == 1 {
			bootstrap = kids[0]
			if !wantWorker {
				return bootstrap, 0, nil
			}
			if w := children(bootstrap); len(w) == 1 {
				return bootstrap, w[0], nil
			}
		}
		if time.Now().After(deadline) {
			return 0, 0, errors.New("no single runtime process under the emulator with a single worker")
		}
	}
}

// readStat returns the numeric fields of /proc/PID/stat from field 3 (state, as 0) on: field N
// is at N-3.
func readStat(pid int) ([]int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return nil, fmt.Errorf("reading stat of %d: %w", pid, err)
	}
	i := bytes.LastIndexByte(b, ')')
	f := strings.Fields(string(b[i+1:]))
	if i < 0 || len(f) < 15 {
		return nil, fmt.Errorf("stat of %d: %q", pid, b)
	}
	out := make([]int64, len(f))
	for k, v := range f {
		out[k], _ = strconv.ParseInt(v, 10, 64)
	}
	return out, nil
}

// cpuSeconds returns the CPU time pid's live threads have used (the first field of each
// /proc/PID/task/TID/schedstat, in nanoseconds), plus, withChildren, that of the children it has
// waited for (cutime and cstime of /proc/PID/stat, in clock ticks).
func cpuSeconds(pid int, withChildren bool) (float64, error) {
	tasks, err := os.ReadDir(fmt.Sprintf("/proc/%d/task", pid))
	if err != nil {
		return 0, fmt.Errorf("listing threads of %d: %w", pid, err)
	}
	var ns int64
	for _, t := range tasks {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/task/%s/schedstat", pid, t.Name()))
		if f := strings.Fields(string(b)); err == nil && len(f) > 0 {
			v, _ := strconv.ParseInt(f[0], 10, 64)
			ns += v
		}
	}
	s := float64(ns) / 1e9
	if withChildren {
		st, err := readStat(pid)
		if err != nil {
			return 0, err
		}
		s += float64(st[16-3]+st[17-3]) / clockTicks
	}
	return s, nil
}

// peakRSS is pid's VmHWM in kB, from /proc/PID/status, or 0.
func peakRSS(pid int) int64 {
	b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			n, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			return n
		}
	}
	return 0
}

// cpuModel is the model name of the first CPU in /proc/cpuinfo.
func cpuModel() string {
	b, _ := os.ReadFile("/proc/cpuinfo")
	for _, line := range strings.Split(string(b), "\n") {
		if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
			return strings.TrimSpace(v)
		}
	}
	return "unknown"
}

// loadAverage is the 1, 5 and 15 minute load averages.
func loadAverage() string {
	f := strings.Fields(readTrimmed("/proc/loadavg"))
	return strings.Join(f[:min(3, len(f))], " ")
}

// readTrimmed returns a small file's content without surrounding space, or "unknown".
func readTrimmed(path string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return "unknown"
	}
	return strings.TrimSpace(string(b))
}

// sizeOf is the size of a file, or the total size of the regular files under a folder.
func sizeOf(path string) (int64, error) {
	var total int64
	err := filepath.WalkDir(path, func(_ string, d os.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() {
			var fi os.FileInfo
			if fi, err = d.Info(); err == nil {
				total += fi.Size()
			}
		}
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("sizing %s: %w", path, err)
	}
	return total, nil
}
