package registry_test

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/polyboot/polyboot/protocol"
)

// writeFile creates path under root, with its parent folders, holding content with mode perm.
// It returns the file's full path.
func writeFile(t *testing.T, root, path, content string, perm os.FileMode) string {
	t.Helper()
	full := filepath.Join(root, filepath.FromSlash(path))
	if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(full, []byte(content), perm); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(full, perm); err != nil { // not narrowed by the umask
		t.Fatal(err)
	}
	return full
}

// symlink makes a symbolic link at root/path pointing at target.
func symlink(t *testing.T, root, path, target string) string {
	t.Helper()
	full := filepath.Join(root, filepath.FromSlash(path))
	if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(target, full); err != nil {
		t.Fatal(err)
	}
	return full
}

// wantReport checks that err is a *protocol.ErrorReport of errorType whose message holds each of
// parts.
func wantReport(t *testing.T, err error, errorType string, parts ...string) {
	t.Helper()
	var r *protocol.ErrorReport
	if !errors.As(err, &r) {
		t.Fatalf("error %v (%T) is not a *protocol.ErrorReport", err, err)
	}
	if r.Type != errorType {
		t.Errorf("error type %q, want %q (message %q)", r.Type, errorType, r.Message)
	}
	for _, p := range parts {
		if !strings.Contains(r.Message, p) {
			t.Errorf("message %q does not hold %q", r.Message, p)
		}
	}
	if r.StackTrace == nil {
		t.Errorf("stack trace is nil, want []")
	}
}
