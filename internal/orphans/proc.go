package orphans

import (
	"bytes"
	"fmt"
	"os"
	"strconv"
	"strings"
)

// proc is one process as /proc describes it.
type proc struct {
	pid, ppid, pgid int
	state           byte   // R, S, D, Z, T, ...
	start           uint64 // start time in clock ticks after boot: with pid, it names a process
}

// ident names a process across pid reuse.
type ident struct {
	pid   int
	start uint64
}

func (p proc) id() ident { return ident{p.pid, p.start} }

func (p proc) zombie() bool { return p.state == 'Z' || p.state == 'X' }

// readProc reads /proc/<pid>/stat. ok is false when the process is gone.
func readProc(pid int) (p proc, ok bool) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return proc{}, false
	}
	p, err = parseStat(pid, b)
	return p, err == nil
}

// parseStat parses a /proc/<pid>/stat line (proc(5)). The command name, in parentheses, may hold
// anything, ") " included: the fields start after the last ") ".
func parseStat(pid int, b []byte) (proc, error) {
	i := bytes.LastIndex(b, []byte(") "))
	if i < 0 {
		return proc{}, fmt.Errorf("/proc/%d/stat: no command name", pid)
	}
	f := strings.Fields(string(b[i+2:]))
	if len(f) < 20 {
		return proc{}, fmt.Errorf("/proc/%d/stat: %d fields", pid, len(f))
	}
	p := proc{pid: pid, state: f[0][0]}
	var err1, err2, err3 error
	p.ppid, err1 = strconv.Atoi(f[1])
	p.pgid, err2 = strconv.Atoi(f[2])
	p.start, err3 = strconv.ParseUint(f[19], 10, 64)
	for _, err := range []error{err1, err2, err3} {
		if err != nil {
			return proc{}, fmt.Errorf("/proc/%d/stat: %w", pid, err)
		}
	}
	return p, nil
}

// scan lists every process of the PID namespace. Processes that end while it reads are left out.
func scan() ([]proc, error) {
	d, err := os.Open("/proc")
	if err != nil {
		return nil, fmt.Errorf("listing processes: %w", err)
	}
	defer d.Close()
	names, err := d.Readdirnames(-1)
	if err != nil {
		return nil, fmt.Errorf("listing processes: %w", err)
	}
	procs := make([]proc, 0, len(names))
	for _, name := range names {
		pid, err := strconv.Atoi(name)
		if err != nil {
			continue
		}
		if p, ok := readProc(pid); ok {
			procs = append(procs, p)
		}
	}
	return procs, nil
}

// readTags returns the values of EnvVar in the environment pid was started with. It is empty
// when the variable is not there or the environment cannot be read (another user's process, a
// zombie, a process that ended).
func readTags(pid int) []string {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/environ")
	if err != nil {
		return nil
	}
	var tags []string
	prefix := []byte(EnvVar + "=")
	for _, kv := range bytes.Split(b, []byte{0}) {
		if v, ok := bytes.CutPrefix(kv, prefix); ok {
			tags = append(tags, string(v))
		}
	}
	return tags
}
