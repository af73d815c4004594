package rietest

import (
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
)

// Python27 finds a working Python 2.7 at run time: python2.7 or python2 on PATH, else one
// installed by pyenv. It returns "" when there is none. Nothing is assumed about where it lives.
func Python27() string {
	var candidates []string
	for _, name := range []string{"python2.7", "python2"} {
		if p, err := exec.LookPath(name); err == nil {
			candidates = append(candidates, p)
		}
	}
	if root, err := exec.Command("pyenv", "root").Output(); err == nil {
		found, _ := filepath.Glob(filepath.Join(strings.TrimSpace(string(root)), "versions", "2.7*", "bin", "python2.7"))
		sort.Sort(sort.Reverse(sort.StringSlice(found)))
		candidates = append(candidates, found...)
	}
	for _, c := range candidates {
		out, err := exec.Command(c, "-c", "import sys; print('%d.%d' % sys.version_info[:2])").Output()
		if err == nil && strings.TrimSpace(string(out)) == "2.7" {
			return c
		}
	}
	return ""
}

// Python3 finds a working python3 on PATH, or "".
func Python3() string {
	p, err := exec.LookPath("python3")
	if err != nil || exec.Command(p, "-c", "pass").Run() != nil {
		return ""
	}
	return p
}

// Tclsh finds tclsh 8.6 on PATH, or "".
func Tclsh() string {
	for _, name := range []string{"tclsh8.6", "tclsh"} {
		p, err := exec.LookPath(name)
		if err != nil {
			continue
		}
		cmd := exec.Command(p)
		cmd.Stdin = strings.NewReader("puts [info tclversion]")
		if out, err := cmd.Output(); err == nil && strings.TrimSpace(string(out)) == "8.6" {
			return p
		}
	}
	return ""
}

// RequireInterpreter fails the test loudly when an interpreter the tests promise to cover is
// missing, unless POLYBOOT_ALLOW_MISSING names it (comma-separated, e.g. python2.7): then the
// test is skipped, loudly.
func RequireInterpreter(t testing.TB, name, path string) bool {
	t.Helper()
	if path != "" {
		t.Logf("%s: %s", name, path)
		return true
	}
	for _, allowed := range strings.Split(os.Getenv("POLYBOOT_ALLOW_MISSING"), ",") {
		if strings.TrimSpace(allowed) == name {
			t.Skipf("*** %s NOT FOUND: these tests did NOT run (allowed by POLYBOOT_ALLOW_MISSING) ***", name)
		}
	}
	t.Fatalf("*** %s NOT FOUND on PATH or through pyenv: cannot run these tests (set POLYBOOT_ALLOW_MISSING=%s to skip them loudly) ***", name, name)
	return false
}
