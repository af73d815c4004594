// Command mkzip writes a Lambda layer zip from a folder: entries sorted, times fixed, file modes
// and symbolic links kept, so the same folder always gives the same bytes.
//
//	go run ./layer/mkzip -o dist/polyboot-amd64.zip build/layer-amd64
package main

import (
	"archive/zip"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"time"

	"github.com/spf13/pflag"
)

func main() {
	if err := run(os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintf(os.Stderr, "mkzip: %v\n", err)
		os.Exit(1)
	}
}

func run(args []string, stdout io.Writer) error {
	fs := pflag.NewFlagSet("mkzip", pflag.ContinueOnError)
	out := fs.StringP("output", "o", "", "zip file to write")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *out == "" || fs.NArg() != 1 {
		return errors.New("usage: mkzip -o OUT.zip DIR")
	}
	n, err := Write(*out, fs.Arg(0))
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "%s: %d bytes\n", *out, n)
	return nil
}

// Write zips the contents of dir into out and returns the zip's size.
func Write(out, dir string) (int64, error) {
	var paths []string
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if p != dir {
			paths = append(paths, p)
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("listing %s: %w", dir, err)
	}
	sort.Strings(paths)
	f, err := os.Create(out)
	if err != nil {
		return 0, fmt.Errorf("creating zip: %w", err)
	}
	defer f.Close()
	zw := zip.NewWriter(f)
	for _, p := range paths {
		if err := addEntry(zw, dir, p); err != nil {
			return 0, err
		}
	}
	if err := zw.Close(); err != nil {
		return 0, fmt.Errorf("finishing zip: %w", err)
	}
	fi, err := f.Stat()
	if err != nil {
		return 0, fmt.Errorf("zip size: %w", err)
	}
	return fi.Size(), f.Close()
}

func addEntry(zw *zip.Writer, dir, p string) error {
	fi, err := os.Lstat(p)
	if err != nil {
		return fmt.Errorf("reading %s: %w", p, err)
	}
	rel, err := filepath.Rel(dir, p)
	if err != nil {
		return fmt.Errorf("naming %s: %w", p, err)
	}
	h, err := zip.FileInfoHeader(fi)
	if err != nil {
		return fmt.Errorf("header for %s: %w", p, err)
	}
	h.Name = filepath.ToSlash(rel)
	h.Modified = time.Date(1980, 1, 1, 0, 0, 0, 0, time.UTC) // zip's earliest time, for every entry
	switch {
	case fi.IsDir():
		h.Name += "/"
		h.Method = zip.Store
		h.SetMode(fs.ModeDir | 0o755)
	case fi.Mode()&fs.ModeSymlink != 0:
		h.Method = zip.Store
	default:
		h.Method = zip.Deflate
		perm := fs.FileMode(0o644)
		if fi.Mode().Perm()&0o111 != 0 {
			perm = 0o755
		}
		h.SetMode(perm)
	}
	w, err := zw.CreateHeader(h)
	if err != nil {
		return fmt.Errorf("adding %s: %w", p, err)
	}
	switch {
	case fi.IsDir():
		return nil
	case fi.Mode()&fs.ModeSymlink != 0:
		target, err := os.Readlink(p)
		if err != nil {
			return fmt.Errorf("reading link %s: %w", p, err)
		}
		_, err = io.WriteString(w, target)
		return err
	}
	src, err := os.Open(p)
	if err != nil {
		return fmt.Errorf("opening %s: %w", p, err)
	}
	defer src.Close()
	if _, err := io.Copy(w, src); err != nil {
		return fmt.Errorf("compressing %s: %w", p, err)
	}
	return nil
}
