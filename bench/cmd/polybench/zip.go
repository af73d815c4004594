package main

import (
	"archive/zip"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
)

// unzip unpacks a zip file into dir, keeping file modes and symbolic links.
func unzip(zipPath, dir string) error {
	zr, err := zip.OpenReader(zipPath)
	if err != nil {
		return fmt.Errorf("opening %s: %w", zipPath, err)
	}
	defer zr.Close()
	for _, f := range zr.File {
		if err := extract(f, dir); err != nil {
			return err
		}
	}
	return nil
}

func extract(f *zip.File, dir string) error {
	dst := filepath.Join(dir, filepath.FromSlash(f.Name))
	if !strings.HasPrefix(dst, dir+string(filepath.Separator)) {
		return fmt.Errorf("zip entry %q leaves the folder", f.Name)
	}
	if f.FileInfo().IsDir() {
		return os.MkdirAll(dst, 0o755)
	}
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return fmt.Errorf("extracting %s: %w", f.Name, err)
	}
	rc, err := f.Open()
	if err != nil {
		return fmt.Errorf("reading %s: %w", f.Name, err)
	}
	defer rc.Close()
	if f.Mode()&os.ModeSymlink != 0 {
		target, err := io.ReadAll(rc)
		if err != nil {
			return fmt.Errorf("reading %s: %w", f.Name, err)
		}
		return os.Symlink(string(target), dst)
	}
	out, err := os.OpenFile(dst, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, f.Mode().Perm())
	if err != nil {
		return fmt.Errorf("extracting %s: %w", f.Name, err)
	}
	if _, err := io.Copy(out, rc); err != nil {
		out.Close()
		return fmt.Errorf("extracting %s: %w", f.Name, err)
	}
	return out.Close()
}

// zippedSize is the size of a zip (deflate) of files, each stored under its base name.
func zippedSize(files []string) (int64, error) {
	var n countingWriter
	zw := zip.NewWriter(&n)
	for _, f := range files {
		if err := addToZip(zw, f); err != nil {
			return 0, err
		}
	}
	if err := zw.Close(); err != nil {
		return 0, fmt.Errorf("zipping: %w", err)
	}
	return int64(n), nil
}

func addToZip(zw *zip.Writer, path string) error {
	in, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("zipping %s: %w", path, err)
	}
	defer in.Close()
	w, err := zw.CreateHeader(&zip.FileHeader{Name: filepath.Base(path), Method: zip.Deflate})
	if err != nil {
		return fmt.Errorf("zipping %s: %w", path, err)
	}
	if _, err := io.Copy(w, in); err != nil {
		return fmt.Errorf("zipping %s: %w", path, err)
	}
	return nil
}

// countingWriter counts the bytes written to it.
type countingWriter int64

func (c *countingWriter) Write(p []byte) (int, error) {
	*c += countingWriter(len(p))
	return len(p), nil
}
