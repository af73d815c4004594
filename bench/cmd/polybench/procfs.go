package main

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
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
		child, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if st, err := readStat(child); err == nil && st.ppid == pid {
			out = append(out, child)
		}
	}
	return out
}

// procStat is what the benchmark reads of /proc/PID/stat.
type procStat struct {
	comm           string
	ppid           int
	cutime, cstime int64 // clock ticks of waited-for children
}

// readStat parses /proc/PID/stat.
func readStat(pid int) (procStat, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return procStat{}, fmt.Errorf("reading stat of %d: %w", pid, err)
	}
	open, closing := bytes.IndexByte(b, '('), bytes.LastIndexByte(b, ')')
	if open < 0 || closing < open {
		return procStat{}, fmt.Errorf("stat of %d: no command name", pid)
	}
	f := strings.Fields(string(b[closing+1:]))
	// f[0] is field 3 (state); field N is f[N-3].
	if len(f) < 15 {
		return procStat{}, fmt.Errorf("stat of %d: %d fields", pid, len(f))
	}
	num := func(field int) int64 {
		v, _ := strconv.ParseInt(f[field-3], 10, 64)
		return v
	}
	return procStat{
		comm: string(b[open+1 : closing]), ppid: int(num(4)),
		cutime: num(16), cstime: num(17),
	}, nil
}

// cpuSeconds returns the CPU time pid's live threads have used (the first field of each
// /proc/PID/task/TID/schedstat, in nanoseconds), plus, withChildren, that of the children it has
// waited for (in clock ticks, from /proc/PID/stat).
func cpuSeconds(pid int, withChildren bool) (float64, error) {
	tasks, err := os.ReadDir(fmt.Sprintf("/proc/%d/task", pid))
	if err != nil {
		return 0, fmt.Errorf("listing threads of %d: %w", pid, err)
	}
	var ns int64
	for _, t := range tasks {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/task/%s/schedstat", pid, t.Name()))
		if err != nil {
			continue // the thread is gone
		}
		f := strings.Fields(string(b))
		if len(f) == 0 {
			continue
		}
		v, _ := strconv.ParseInt(f[0], 10, 64)
		ns += v
	}
	t := float64(ns) / 1e9
	if withChildren {
		st, err := readStat(pid)
		if err != nil {
			return 0, err
		}
		t += float64(st.cutime+st.cstime) / clockTicks
	}
	return t, nil
}

// memory is a process's resident set, from /proc/PID/status.
type memory struct {
	hwmKB, rssKB int64 // VmHWM (peak) and VmRSS
}

// readMemory reads VmHWM and VmRSS of pid.
func readMemory(pid int) (memory, error) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return memory{}, fmt.Errorf("reading status of %d: %w", pid, err)
	}
	defer f.Close()
	var m memory
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if !ok {
			continue
		}
		n, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
		switch k {
		case "VmHWM":
			m.hwmKB = n
		case "VmRSS":
			m.rssKB = n
		}
	}
	if err := sc.Err(); err != nil {
		return memory{}, fmt.Errorf("reading status of %d: %w", pid, err)
	}
	return m, nil
}

// cpuModel is the model name of the first CPU in /proc/cpuinfo.
func cpuModel() string {
	b, err := os.ReadFile("/proc/cpuinfo")
	if err != nil {
		return "unknown"
	}
	for _, line := range strings.Split(string(b), "\n") {
		if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
			return strings.TrimSpace(v)
		}
	}
	return "unknown"
}

// readTrimmed returns a small file's content without surrounding space, or "unknown".
func readTrimmed(path string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return "unknown"
	}
	return strings.TrimSpace(string(b))
}

// dirSize is the total size of the regular files under dir.
func dirSize(dir string) (int64, error) {
	var total int64
	err := filepath.WalkDir(dir, func(_ string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.Type().IsRegular() {
			fi, err := d.Info()
			if err != nil {
				return err
			}
			total += fi.Size()
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("sizing %s: %w", dir, err)
	}
	return total, nil
}
