package layerzip

import (
	"archive/zip"
	"io/fs"
	"os"
	"path/filepath"
	"testing"
)

// TestUnzip: files keep their modes, links stay links, and an entry that would leave the folder
// is refused.
func TestUnzip(t *testing.T) {
	dir := t.TempDir()
	zipPath := filepath.Join(dir, "layer.zip")
	write := func(entries []struct {
		name string
		mode fs.FileMode
		body string
	}) {
		f, err := os.Create(zipPath)
		if err != nil {
			t.Fatal(err)
		}
		zw := zip.NewWriter(f)
		for _, e := range entries {
			h := &zip.FileHeader{Name: e.name, Method: zip.Deflate}
			h.SetMode(e.mode)
			w, err := zw.CreateHeader(h)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := w.Write([]byte(e.body)); err != nil {
				t.Fatal(err)
			}
		}
		if err := zw.Close(); err != nil {
			t.Fatal(err)
		}
		f.Close()
	}
	write([]struct {
		name string
		mode fs.FileMode
		body string
	}{
		{"bin/", fs.ModeDir | 0o755, ""},
		{"bin/tool", 0o755, "#!/bin/sh\n"},
		{"lib/data.txt", 0o644, "data"},
		{"bin/alias", fs.ModeSymlink | 0o777, "tool"},
	})
	out := filepath.Join(dir, "opt")
	if err := Unzip(zipPath, out); err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string]fs.FileMode{"bin/tool": 0o755, "lib/data.txt": 0o644} {
		fi, err := os.Stat(filepath.Join(out, name))
		if err != nil || fi.Mode().Perm() != want {
			t.Errorf("%s: %v, %v; want mode %v", name, fi, err, want)
		}
	}
	if target, err := os.Readlink(filepath.Join(out, "bin/alias")); err != nil || target != "tool" {
		t.Errorf("bin/alias: link to %q, %v", target, err)
	}
	write([]struct {
		name string
		mode fs.FileMode
		body string
	}{{"../escape", 0o644, "x"}})
	if err := Unzip(zipPath, filepath.Join(dir, "other")); err == nil {
		t.Error("an entry leaving the folder was extracted")
	}
}
