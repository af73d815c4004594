package main

import (
	"archive/zip"
	"fmt"
	"io"
	"os"
	"path/filepath"
)

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
