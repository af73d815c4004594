package e2e

import (
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
)

// python27 finds a working Python 2.7 at run time: python2.7 or python2 on PATH, else one
// installed by pyenv. It returns "" when there is none. Nothing is assumed about where it lives.
func python27(t *testing.T) string {
	t.Helper()
	candidates := []string{}
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

// python3 finds python3 on PATH, or "".
func python3(t *testing.T) string {
	t.Helper()
	p, err := exec.LookPath("python3")
	if err != nil {
		return ""
	}
	if err := exec.Command(p, "-c", "pass").Run(); err != nil {
		return ""
	}
	return p
}

// tclsh finds tclsh 8.6 on PATH, or "".
func tclsh(t *testing.T) string {
	t.Helper()
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

// requireInterpreter fails the test loudly when an interpreter the suite promises to cover is
// missing, unless POLYBOOT_ALLOW_MISSING names it (a comma-separated list, e.g. python2.7).
func requireInterpreter(t *testing.T, name, path string) bool {
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
