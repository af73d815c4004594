package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	"github.com/polyboot/polyboot/internal/rietest"
)

// row is one runtime the benchmark measures.
type row struct {
	name      string // as printed
	key       string // short name for -rows and file names
	bootstrap string // what the emulator runs
	taskDir   string
	handler   string   // _HANDLER
	env       []string // extra environment
	worker    bool     // polyboot: a worker process runs under the bootstrap
	floor     bool     // the aws-lambda-go row every figure is compared with
	baseline  bool     // the curl baseline
	compact   bool     // the runtime answers with the event in compact form (aws-lambda-go)
	version   string   // interpreter version, for the record
	bareStart []string // argv of the interpreter doing nothing, for the cold start's share; nil: none
	missing   string   // why the row cannot run; "" when it can
}

// interpreters found on this machine, as the tests find them (internal/rietest). Python paths are
// resolved to the real executable (sys.executable), so that a pyenv shim's start is not measured.
type interpreters struct {
	bash, bashVersion     string
	tclsh, tclVersion     string
	python27, python27Ver string
	python3, python3Ver   string
}

func findInterpreters(python3 string) interpreters {
	var in interpreters
	if p, err := exec.LookPath("bash"); err == nil {
		in.bash, in.bashVersion = p, output(p, "-c", "echo $BASH_VERSION")
	}
	if in.tclsh = rietest.Tclsh(); in.tclsh != "" {
		cmd := exec.Command(in.tclsh)
		cmd.Stdin = strings.NewReader("puts [info patchlevel]")
		out, _ := cmd.Output()
		in.tclVersion = strings.TrimSpace(string(out))
	}
	if p := rietest.Python27(); p != "" {
		in.python27, in.python27Ver = pythonInfo(p)
	}
	if python3 == "" {
		python3 = rietest.Python3()
	}
	if python3 != "" {
		if exe, ver := pythonInfo(python3); strings.HasPrefix(ver, "3.") {
			in.python3, in.python3Ver = exe, ver
		}
	}
	return in
}

// pythonInfo runs python and returns its real executable and its version, or "" when it fails.
func pythonInfo(python string) (exe, version string) {
	exe, version, _ = strings.Cut(output(python, "-c", "import sys, platform; print(sys.executable); print(platform.python_version())"), "\n")
	return exe, version
}

// output runs a command and returns its trimmed standard output, or "" when it fails.
func output(name string, args ...string) string {
	out, err := exec.Command(name, args...).Output()
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(out))
}

// buildRows lays out the task folders under work and returns the rows in table order.
func buildRows(c *config, in interpreters) ([]*row, error) {
	h := func(name string) string { return filepath.Join(c.handlers, name) }
	layer := filepath.Join(c.layerDir, "bootstrap")
	missing := func(what, path string) string {
		if path == "" {
			return what + " NOT FOUND"
		}
		return ""
	}
	python := func(name, key, exe, ver, miss string) (*row, map[string]string) {
		return &row{name: name, key: key, bootstrap: layer, handler: "function.handler", worker: true, version: ver,
			missing:   missing(miss, exe),
			env:       []string{"POLYBOOT_PYTHON=" + exe, "PYTHONDONTWRITEBYTECODE=1"},
			bareStart: []string{exe, "-u", "-c", "pass"}}, map[string]string{"function.py": h("function.py")}
	}
	py27, py27Files := python("polyboot Python 2.7", "pb-py27", in.python27, in.python27Ver, "Python 2.7 (python2.7/python2 on PATH, or pyenv's versions/2.7*)")
	py3, py3Files := python("polyboot python3", "pb-py3", in.python3, in.python3Ver, "python3")
	steps := []struct {
		r     *row
		files map[string]string
	}{
		{&row{name: "aws-lambda-go (floor)", key: "go", bootstrap: c.echoGo, handler: "bootstrap",
			floor: true, compact: true, version: "aws-lambda-go " + c.lambdaGoVersion}, nil},
		{&row{name: "polyboot + Go echo worker", key: "pb-native", bootstrap: layer,
			handler: "echo-worker.handler", worker: true, version: "no interpreter"},
			map[string]string{"echo-worker": c.echoWorker}},
		{&row{name: "polyboot bash", key: "pb-bash", bootstrap: layer, handler: "function.handler",
			worker: true, version: in.bashVersion, missing: missing("bash", in.bash),
			env:       []string{"POLYBOOT_BASH=" + in.bash},
			bareStart: []string{in.bash, "--noprofile", "--norc", "-c", ":"}},
			map[string]string{"function.sh": h("function.sh")}},
		{&row{name: "polyboot Tcl", key: "pb-tcl", bootstrap: layer, handler: "function.handler",
			worker: true, version: in.tclVersion, missing: missing("tclsh 8.6", in.tclsh),
			env:       []string{"POLYBOOT_TCLSH=" + in.tclsh},
			bareStart: []string{in.tclsh, "/dev/null"}},
			map[string]string{"function.tcl": h("function.tcl")}},
		{py27, py27Files},
		{py3, py3Files},
		{&row{name: "curl baseline (tutorial)", key: "curl", bootstrap: filepath.Join(c.baseline, "bootstrap"),
			handler: "function.handler", baseline: true, version: in.bashVersion, missing: missing("bash", in.bash)},
			map[string]string{"function.sh": h("function.sh")}},
	}
	var rows []*row
	for _, s := range steps {
		if !c.wants(s.r.key) && !s.r.floor {
			continue
		}
		rows = append(rows, s.r)
		if s.r.missing != "" {
			logf("*** %s: %s: THIS ROW IS NOT MEASURED ***", s.r.name, s.r.missing)
			continue
		}
		s.r.taskDir = filepath.Join(c.work, "task-"+s.r.key)
		if err := os.RemoveAll(s.r.taskDir); err != nil {
			return nil, fmt.Errorf("clearing %s: %w", s.r.taskDir, err)
		}
		if err := os.MkdirAll(s.r.taskDir, 0o755); err != nil {
			return nil, fmt.Errorf("creating %s: %w", s.r.taskDir, err)
		}
		for dst, src := range s.files {
			if err := copyFile(src, filepath.Join(s.r.taskDir, dst)); err != nil {
				return nil, err
			}
		}
	}
	return rows, nil
}

// copyFile copies src to dst with src's permission bits.
func copyFile(src, dst string) error {
	fi, err := os.Stat(src)
	if err == nil {
		var b []byte
		if b, err = os.ReadFile(src); err == nil {
			err = os.WriteFile(dst, b, fi.Mode().Perm())
		}
	}
	if err != nil {
		return fmt.Errorf("copying %s: %w", src, err)
	}
	return nil
}

// expected is the response a row's echo must give for event.
func (r *row) expected(event []byte) []byte {
	if !r.compact {
		return event
	}
	var b bytes.Buffer
	if err := json.Compact(&b, event); err != nil {
		return nil
	}
	return b.Bytes()
}

// machine describes where the benchmark ran.
type machine struct {
	date, cpus, cpu, kernel, goVersion, loadBefore, loadAfter string
	interpreters                                              string
}

func describeMachine(in interpreters) machine {
	found := func(name, version, path string) string {
		if version == "" {
			return name + " NOT FOUND"
		}
		return strings.TrimSpace(name + " " + version + " " + path)
	}
	return machine{
		date: time.Now().UTC().Format("2006-01-02 15:04 UTC"), cpus: fmt.Sprint(runtime.NumCPU()), cpu: cpuModel(),
		kernel: readTrimmed("/proc/sys/kernel/osrelease"), goVersion: runtime.Version(),
		loadBefore: loadAverage(),
		interpreters: strings.Join([]string{found("bash", in.bashVersion, ""), found("tclsh", in.tclVersion, in.tclsh),
			found("Python", in.python27Ver, in.python27), found("python3", in.python3Ver, in.python3)}, ", "),
	}
}
