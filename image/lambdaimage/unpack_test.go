package lambdaimage

import (
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
)

// Unpack applies the layers in order with their whiteouts: a file whited out by an upper layer
// (.wh.NAME) is gone, an opaque folder (.wh..wh..opq) keeps only the upper layer's entries.
func TestUnpackAppliesWhiteouts(t *testing.T) {
	lower, err := Layer([]Entry{
		file("etc/keep", "keep"), file("etc/secret", "lower"), file("data/old", "old"), file("bin/tool", "x"),
	}, DefaultEpoch())
	if err != nil {
		t.Fatal(err)
	}
	upper, err := Layer([]Entry{
		file("etc/.wh.secret", ""), file("data/.wh..wh..opq", ""), file("data/new", "new"),
		Symlink("bin/link", "tool"),
	}, DefaultEpoch())
	if err != nil {
		t.Fatal(err)
	}
	img, err := mutate.AppendLayers(empty.Image, lower, upper)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if err := Unpack(img, dir); err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string]bool{
		"etc/keep": true, "etc/secret": false, "etc/.wh.secret": false,
		"data/old": false, "data/new": true, "data/.wh..wh..opq": false, "bin/tool": true,
	} {
		_, err := os.Lstat(filepath.Join(dir, name))
		if got := err == nil; got != want {
			t.Errorf("%s present: %v, want %v", name, got, want)
		}
	}
	if target, err := os.Readlink(filepath.Join(dir, "bin/link")); err != nil || target != "tool" {
		t.Errorf("bin/link -> %q (%v), want tool", target, err)
	}
	info, err := os.Stat(filepath.Join(dir, "bin/tool"))
	if err != nil || info.Mode().Perm() != 0o755 {
		t.Errorf("bin/tool: %v %v, want mode 0755", info, err)
	}
}

// file is a regular file entry holding body, 0755.
func file(name, body string) Entry {
	return Entry{name: name, mode: 0o755, size: int64(len(body)), open: stringOpener(body)}
}

// stringOpener opens s.
func stringOpener(s string) func() (io.ReadCloser, error) {
	return func() (io.ReadCloser, error) { return io.NopCloser(strings.NewReader(s)), nil }
}
