package main

import (
	"archive/zip"
	"bytes"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"
)

// layerTree creates a small layer under a new temp folder: an executable, plain files (one
// readable by its owner only), nested and empty folders and a symbolic link. It returns the folder.
func layerTree(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	files := []struct {
		path    string
		content string
		perm    fs.FileMode
	}{
		{"bootstrap", "#!/bin/sh\nexec true\n", 0o755},
		{"README", "a layer\n", 0o644},
		{"adapters/bash/adapter.json", `{"language":"bash"}`, 0o644},
		{"adapters/bash/adapter.sh", "#!/bin/bash\n", 0o700},
		{"adapters.txt", "sorts between adapters and adapters/\n", 0o600},
		{"lib/libx.so.1", strings.Repeat("\x7fELF", 1000), 0o640},
	}
	for _, f := range files {
		p := filepath.Join(dir, filepath.FromSlash(f.path))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(f.content), f.perm); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(p, f.perm); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.MkdirAll(filepath.Join(dir, "empty"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(dir, "bin"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("../adapters/bash/adapter.sh", filepath.Join(dir, "bin/adapter")); err != nil {
		t.Fatal(err)
	}
	return dir
}

func TestWrite(t *testing.T) {
	dir := layerTree(t)
	out := filepath.Join(t.TempDir(), "layer.zip")
	n, err := Write(out, dir)
	if err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(out); err != nil || fi.Size() != n {
		t.Fatalf("Write returned %d bytes; the file: %v, %v", n, fi, err)
	}
	zr, err := zip.OpenReader(out)
	if err != nil {
		t.Fatal(err)
	}
	defer zr.Close()

	type entry struct {
		mode    fs.FileMode
		content string
	}
	want := map[string]entry{
		"README":                     {0o644, "a layer\n"},
		"adapters/":                  {fs.ModeDir | 0o755, ""},
		"adapters/bash/":             {fs.ModeDir | 0o755, ""},
		"adapters/bash/adapter.json": {0o644, `{"language":"bash"}`},
		"adapters/bash/adapter.sh":   {0o755, "#!/bin/bash\n"},
		"adapters.txt":               {0o644, "sorts between adapters and adapters/\n"},
		"bin/":                       {fs.ModeDir | 0o755, ""},
		"bin/adapter":                {fs.ModeSymlink | 0o777, "../adapters/bash/adapter.sh"},
		"bootstrap":                  {0o755, "#!/bin/sh\nexec true\n"},
		"empty/":                     {fs.ModeDir | 0o755, ""},
		"lib/":                       {fs.ModeDir | 0o755, ""},
		"lib/libx.so.1":              {0o644, strings.Repeat("\x7fELF", 1000)},
	}
	var names []string
	for _, f := range zr.File {
		names = append(names, strings.TrimSuffix(f.Name, "/"))
		w, ok := want[f.Name]
		if !ok {
			t.Errorf("unexpected entry %q", f.Name)
			continue
		}
		delete(want, f.Name)
		if f.Mode() != w.mode {
			t.Errorf("%s: mode %v, want %v", f.Name, f.Mode(), w.mode)
		}
		if f.CreatorVersion>>8 != 3 { // Unix, so that the modes are read
			t.Errorf("%s: made by %d, want Unix (3)", f.Name, f.CreatorVersion>>8)
		}
		if !f.Modified.Equal(time.Date(1980, 1, 1, 0, 0, 0, 0, time.UTC)) || f.ModifiedDate != 1<<5|1 || f.ModifiedTime != 0 {
			t.Errorf("%s: time %v (DOS %#x %#x), want 1980-01-01 00:00 UTC", f.Name, f.Modified, f.ModifiedDate, f.ModifiedTime)
		}
		if wantMethod := map[bool]uint16{true: zip.Deflate, false: zip.Store}[w.mode.IsRegular()]; f.Method != wantMethod {
			t.Errorf("%s: method %d, want %d", f.Name, f.Method, wantMethod)
		}
		rc, err := f.Open()
		if err != nil {
			t.Fatalf("%s: %v", f.Name, err)
		}
		content, err := io.ReadAll(rc)
		rc.Close()
		if err != nil || string(content) != w.content {
			t.Errorf("%s: content %.40q, %v; want %.40q", f.Name, content, err, w.content)
		}
	}
	for name := range want {
		t.Errorf("missing entry %q", name)
	}
	if !sort.StringsAreSorted(names) {
		t.Errorf("entries not sorted: %q", names)
	}
}

// TestWriteIsReproducible zips the same folder twice, with its files' times changed in between,
// and a copy of it made at another time in another place: the zips are byte for byte the same.
func TestWriteIsReproducible(t *testing.T) {
	dir := layerTree(t)
	out := t.TempDir()
	zipOf := func(src, name string) []byte {
		t.Helper()
		p := filepath.Join(out, name)
		if _, err := Write(p, src); err != nil {
			t.Fatal(err)
		}
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	first := zipOf(dir, "1.zip")
	later := time.Date(2031, 5, 6, 7, 8, 9, 0, time.Local)
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.Type()&fs.ModeSymlink != 0 {
			return err
		}
		return os.Chtimes(p, later, later)
	})
	if err != nil {
		t.Fatal(err)
	}
	if second := zipOf(dir, "2.zip"); !bytes.Equal(first, second) {
		t.Errorf("zipping twice gave different bytes (%d and %d)", len(first), len(second))
	}
	if other := zipOf(layerTree(t), "3.zip"); !bytes.Equal(first, other) {
		t.Errorf("zipping a copy gave different bytes (%d and %d)", len(first), len(other))
	}
}

func TestRun(t *testing.T) {
	dir := layerTree(t)
	out := filepath.Join(t.TempDir(), "layer.zip")
	var stdout bytes.Buffer
	if err := run([]string{"-o", out, dir}, &stdout); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(out)
	if err != nil {
		t.Fatal(err)
	}
	if want := out + ": " + strconv.FormatInt(fi.Size(), 10) + " bytes\n"; stdout.String() != want {
		t.Errorf("output %q, want %q", stdout.String(), want)
	}
	for _, args := range [][]string{{dir}, {"-o", out}, {"-o", out, dir, dir}, {"--bad"}} {
		if err := run(args, io.Discard); err == nil {
			t.Errorf("run(%q) succeeded", args)
		}
	}
	if err := run([]string{"-o", out, filepath.Join(dir, "missing")}, io.Discard); err == nil {
		t.Error("zipping a missing folder succeeded")
	}
}
