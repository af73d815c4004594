// Package adapters_test runs each language adapter's own test suite (written in its language) as
// part of `go test ./...`, so one command covers them all.
package adapters_test

import (
	"os"
	"os/exec"
	"strings"
	"testing"
)

// runSuite runs a test suite command and fails with its output when it fails.
func runSuite(t *testing.T, name string, args ...string) {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Env = withoutPythonEnv(os.Environ())
	out, err := cmd.CombinedOutput()
	t.Logf("%s %s:\n%s", name, strings.Join(args, " "), out)
	if err != nil {
		t.Fatalf("%s %s: %v", name, strings.Join(args, " "), err)
	}
}

func withoutPythonEnv(environ []string) []string {
	var out []string
	for _, kv := range environ {
		switch strings.SplitN(kv, "=", 2)[0] {
		case "PYTHONUNBUFFERED", "PYTHONPATH", "PYTHONHOME":
			continue
		}
		out = append(out, kv)
	}
	return out
}

// TestTclSuite runs adapters/tcl/tests/all.tcl (the JSON library and the adapter process).
func TestTclSuite(t *testing.T) {
	tclsh, err := exec.LookPath("tclsh8.6")
	if err != nil {
		tclsh, err = exec.LookPath("tclsh")
	}
	if err != nil {
		t.Fatal("*** tclsh 8.6 NOT FOUND: the Tcl adapter suite cannot run (install tcl8.6) ***")
	}
	runSuite(t, tclsh, "tcl/tests/all.tcl")
}

// TestPythonSuite runs adapters/python2/tests/run.py, which runs the adapter under every Python
// 2.7 and python3 it finds and says which; it fails when no Python 2.7 is found.
func TestPythonSuite(t *testing.T) {
	python3, err := exec.LookPath("python3")
	if err != nil {
		t.Fatal("*** python3 NOT FOUND: the Python adapter suite cannot run ***")
	}
	args := []string{"python2/tests/run.py"}
	if os.Getenv("POLYBOOT_ALLOW_MISSING") != "" && strings.Contains(os.Getenv("POLYBOOT_ALLOW_MISSING"), "python2.7") {
		args = append(args, "--allow-missing-python27")
	}
	runSuite(t, python3, args...)
}
