package e2e

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// TestExecutableHandler: a handler file that speaks docs/protocol.md itself (examples/perl) runs
// with no adapter when _HANDLER names it.
func TestExecutableHandler(t *testing.T) {
	if _, err := exec.LookPath("perl"); err != nil {
		t.Fatal("*** perl NOT FOUND: the executable-handler example cannot be tested ***")
	}
	src, err := os.ReadFile(filepath.Join("..", "examples", "perl", "handler.pl"))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "handler.pl"), src, 0o755); err != nil {
		t.Fatal(err)
	}
	e := startEmulator(t, function{taskDir: dir, handler: "handler.pl.main"})
	for i := 0; i < 2; i++ {
		status, body := e.Invoke(t, []byte(`{"x":[1,"ü"]}`))
		if want := `{"event":{"x":[1,"ü"]},"hello":"from perl"}`; status != 200 || string(body) != want {
			t.Errorf("got %d %s, want %s", status, body, want)
		}
	}
	e.waitLog(t, "\tINFO\tperl handler: request ")
}
