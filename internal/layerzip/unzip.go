// Package layerzip unpacks Lambda layer zips, keeping file modes and symbolic links.
package layerzip

import (
	"archive/zip"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
)

// Unzip extracts a layer zip into dir, keeping modes and symbolic links.
func Unzip(zipPath, dir string) error {
	zr, err := zip.OpenReader(zipPath)
	if err != nil {
		return fmt.Errorf("opening layer: %w", err)
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
	if !strings.HasPrefix(dst, filepath.Clean(dir)+string(filepath.Separator)) {
		return fmt.Errorf("zip entry %q leaves the folder", f.Name)
	}
	if f.FileInfo().IsDir() {
		return os.MkdirAll(dst, 0o755)
	}
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return err
	}
	rc, err := f.Open()
	if err != nil {
		return fmt.Errorf("reading %s: %w", f.Name, err)
	}
	defer rc.Close()
	if f.Mode()&os.ModeSymlink != 0 {
		target, err := io.ReadAll(rc)
		if err != nil {
			return fmt.Errorf("reading link %s: %w", f.Name, err)
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
