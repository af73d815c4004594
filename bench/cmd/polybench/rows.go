package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
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
	interp    string   // interpreter path, for the record
	version   string   // interpreter version, for the record
	bareStart []string // argv of the interpreter doing nothing, for the cold start's share; nil: none
	missing   string   // why the row cannot run; "" when it can
}

// interpreters found on this machine.
type interpreters struct {
	bash, bashVersion       string
	tclsh, tclVersion       string
	python27, python27Ver   string
	python3, python3Version string
}

// findInterpreters looks the interpreters up as the brief says: bash and tclsh on PATH; Python
// 2.7 as python2.7 or python2 on PATH that really runs, else pyenv's versions/2.7*; python3 as
// given, else on PATH. Python paths are resolved to the real executable (sys.executable), so that
// a pyenv shim's start-up is not measured.
func findInterpreters(python3 string) interpreters {
	var in interpreters
	if p, err := exec.LookPath("bash"); err == nil {
		in.bash = p
		in.bashVersion = output(p, "-c", "echo $BASH_VERSION")
	}
	for _, name := range []string{"tclsh8.6", "tclsh"} {
		p, err := exec.LookPath(name)
		if err != nil {
			continue
		}
		cmd := exec.Command(p)
		cmd.Stdin = strings.NewReader("puts [info patchlevel]")
		if out, err := cmd.Output(); err == nil && strings.HasPrefix(strings.TrimSpace(string(out)), "8.6") {
			in.tclsh, in.tclVersion = p, strings.TrimSpace(string(out))
			break
		}
	}
	var py2 []string
	for _, name := range []string{"python2.7", "python2"} {
		if p, err := exec.LookPath(name); err == nil {
			py2 = append(py2, p)
		}
	}
	if root := output("pyenv", "root"); root != "" {
		found, _ := filepath.Glob(filepath.Join(root, "versions", "2.7*", "bin", "python2.7"))
		sort.Sort(sort.Reverse(sort.StringSlice(found)))
		py2 = append(py2, found...)
	}
	for _, c := range py2 {
		if exe, ver := pythonInfo(c); strings.HasPrefix(ver, "2.7") {
			in.python27, in.python27Ver = exe, ver
			break
		}
	}
	if python3 == "" {
		python3, _ = exec.LookPath("python3")
	}
	if python3 != "" {
		if exe, ver := pythonInfo(python3); strings.HasPrefix(ver, "3.") {
			in.python3, in.python3Version = exe, ver
		}
	}
	return in
}

// pythonInfo runs python and returns its real executable and its version, or "" when it fails.
func pythonInfo(python string) (exe, version string) {
	out := output(python, "-c", "import sys, platform; print(sys.executable); print(platform.python_version())")
	lines := strings.Split(out, "\n")
	if len(lines) != 2 {
		return "", ""
	}
	return strings.TrimSpace(lines[0]), strings.TrimSpace(lines[1])
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
	task := func(name string, files map[string]string) (string, error) {
		dir := filepath.Join(c.work, "task-"+name)
		if err := os.RemoveAll(dir); err != nil {
			return "", fmt.Errorf("clearing %s: %w", dir, err)
		}
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return "", fmt.Errorf("creating %s: %w", dir, err)
		}
		for dst, src := range files {
			if err := copyFile(src, filepath.Join(dir, dst)); err != nil {
				return "", err
			}
		}
		return dir, nil
	}
	h := func(name string) string { return filepath.Join(c.handlers, name) }
	layerBootstrap := filepath.Join(c.layerDir, "bootstrap")
	missing := func(what, path string) string {
		if path == "" {
			return what + " NOT FOUND"
		}
		return ""
	}

	var rows []*row
	add := func(r *row, files map[string]string) error {
		if r.missing != "" {
			rows = append(rows, r)
			return nil
		}
		dir, err := task(r.key, files)
		if err != nil {
			return err
		}
		r.taskDir = dir
		rows = append(rows, r)
		return nil
	}
	steps := []struct {
		r     *row
		files map[string]string
	}{
		{&row{name: "aws-lambda-go (floor)", key: "go", bootstrap: c.echoGo, handler: "bootstrap",
			floor: true, compact: true, interp: "-", version: "aws-lambda-go " + c.lambdaGoVersion}, map[string]string{}},
		{&row{name: "polyboot + Go echo worker", key: "pb-native", bootstrap: layerBootstrap,
			handler: "echo-worker.handler", worker: true, interp: c.echoWorker, version: "no interpreter"},
			map[string]string{"echo-worker": c.echoWorker}},
		{&row{name: "polyboot bash", key: "pb-bash", bootstrap: layerBootstrap, handler: "function.handler",
			worker: true, interp: in.bash, version: in.bashVersion, missing: missing("bash", in.bash),
			env:       []string{"POLYBOOT_BASH=" + in.bash},
			bareStart: []string{in.bash, "--noprofile", "--norc", "-c", ":"}},
			map[string]string{"function.sh": h("function.sh")}},
		{&row{name: "polyboot Tcl", key: "pb-tcl", bootstrap: layerBootstrap, handler: "function.handler",
			worker: true, interp: in.tclsh, version: in.tclVersion, missing: missing("tclsh 8.6", in.tclsh),
			env:       []string{"POLYBOOT_TCLSH=" + in.tclsh},
			bareStart: []string{in.tclsh, "/dev/null"}},
			map[string]string{"function.tcl": h("function.tcl")}},
		{&row{name: "polyboot Python 2.7", key: "pb-py27", bootstrap: layerBootstrap, handler: "function.handler",
			worker: true, interp: in.python27, version: in.python27Ver,
			missing:   missing("Python 2.7 (python2.7/python2 on PATH, or pyenv's versions/2.7*)", in.python27),
			env:       []string{"POLYBOOT_PYTHON=" + in.python27, "PYTHONDONTWRITEBYTECODE=1"},
			bareStart: []string{in.python27, "-u", "-c", "pass"}},
			map[string]string{"function.py": h("function.py")}},
		{&row{name: "polyboot python3", key: "pb-py3", bootstrap: layerBootstrap, handler: "function.handler",
			worker: true, interp: in.python3, version: in.python3Version, missing: missing("python3", in.python3),
			env:       []string{"POLYBOOT_PYTHON=" + in.python3, "PYTHONDONTWRITEBYTECODE=1"},
			bareStart: []string{in.python3, "-u", "-c", "pass"}},
			map[string]string{"function.py": h("function.py")}},
		{&row{name: "curl baseline (tutorial)", key: "curl", bootstrap: filepath.Join(c.baseline, "bootstrap"),
			handler: "function.handler", baseline: true, interp: in.bash, version: in.bashVersion,
			missing: missing("bash", in.bash)},
			map[string]string{"function.sh": h("function.sh")}},
	}
	for _, s := range steps {
		if !c.wants(s.r.key) && !s.r.floor {
			continue
		}
		if err := add(s.r, s.files); err != nil {
			return nil, err
		}
	}
	return rows, nil
}

// copyFile copies src to dst with src's permission bits.
func copyFile(src, dst string) error {
	fi, err := os.Stat(src)
	if err != nil {
		return fmt.Errorf("copying %s: %w", src, err)
	}
	b, err := os.ReadFile(src)
	if err != nil {
		return fmt.Errorf("copying %s: %w", src, err)
	}
	if err := os.WriteFile(dst, b, fi.Mode().Perm()); err != nil {
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
