package main

import (
	"archive/zip"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
)

// maxLinkDepth bounds symlink resolution inside a layer (and so catches loops).
const maxLinkDepth = 16

// Entry is one file of a layer: a regular file with its content, or a symlink.
type Entry struct {
	Data []byte // content of a regular file
	Link string // target of a symlink, "" for a regular file
}

// Layer is the content of one Lambda layer, keyed by slash-separated path relative to the layer
// root (which Lambda unpacks at /opt). Directories are not recorded.
type Layer struct {
	Name       string           // where the layer was read from
	Entries    map[string]Entry // regular files and symlinks
	Unzipped   int64            // bytes of all regular files and symlinks
	ZippedSize int64            // size of the zip file; -1 when read from a directory
}

// LoadLayer reads a layer from a .zip file or from a directory holding an unpacked layer.
func LoadLayer(name string) (*Layer, error) {
	st, err := os.Stat(name)
	if err != nil {
		return nil, fmt.Errorf("layer %s: %w", name, err)
	}
	if st.IsDir() {
		return loadDir(name)
	}
	return loadZip(name, st.Size())
}

// loadZip reads every entry of a layer zip into memory (directories are skipped).
func loadZip(name string, size int64) (*Layer, error) {
	r, err := zip.OpenReader(name)
	if err != nil {
		return nil, fmt.Errorf("open zip %s: %w", name, err)
	}
	defer r.Close()
	l := &Layer{Name: name, Entries: map[string]Entry{}, ZippedSize: size}
	for _, f := range r.File {
		mode := f.Mode()
		if mode.IsDir() {
			continue
		}
		p, err := cleanPath(f.Name)
		if err != nil {
			return nil, fmt.Errorf("zip %s: %w", name, err)
		}
		data, err := readZipFile(f)
		if err != nil {
			return nil, fmt.Errorf("zip %s: %s: %w", name, f.Name, err)
		}
		l.Unzipped += int64(len(data))
		switch {
		case mode&fs.ModeSymlink != 0:
			l.Entries[p] = Entry{Link: string(data)}
		case mode.IsRegular():
			l.Entries[p] = Entry{Data: data}
		default:
			return nil, fmt.Errorf("zip %s: %s: unsupported file mode %v", name, f.Name, mode)
		}
	}
	return l, nil
}

// readZipFile returns the uncompressed content of one zip entry.
func readZipFile(f *zip.File) ([]byte, error) {
	rc, err := f.Open()
	if err != nil {
		return nil, fmt.Errorf("open: %w", err)
	}
	defer rc.Close()
	data, err := io.ReadAll(rc)
	if err != nil {
		return nil, fmt.Errorf("read: %w", err)
	}
	return data, nil
}

// loadDir reads an unpacked layer: regular files with their content, symlinks with their target.
func loadDir(root string) (*Layer, error) {
	l := &Layer{Name: root, Entries: map[string]Entry{}, ZippedSize: -1}
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return fmt.Errorf("walk: %w", err)
		}
		if d.IsDir() {
			return nil
		}
		rel, err := filepath.Rel(root, p)
		if err != nil {
			return fmt.Errorf("relative path of %s: %w", p, err)
		}
		rel = filepath.ToSlash(rel)
		switch {
		case d.Type()&fs.ModeSymlink != 0:
			target, err := os.Readlink(p)
			if err != nil {
				return fmt.Errorf("readlink %s: %w", p, err)
			}
			l.Entries[rel] = Entry{Link: target}
			l.Unzipped += int64(len(target))
		case d.Type().IsRegular():
			data, err := os.ReadFile(p)
			if err != nil {
				return fmt.Errorf("read %s: %w", p, err)
			}
			l.Entries[rel] = Entry{Data: data}
			l.Unzipped += int64(len(data))
		default:
			return fmt.Errorf("%s: unsupported file type %v", p, d.Type())
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("layer directory %s: %w", root, err)
	}
	return l, nil
}

// cleanPath checks that a zip entry name is a relative path that stays inside the layer.
func cleanPath(name string) (string, error) {
	p := path.Clean(strings.TrimSuffix(name, "/"))
	if path.IsAbs(p) || p == ".." || strings.HasPrefix(p, "../") || p == "." {
		return "", fmt.Errorf("entry %q escapes the layer", name)
	}
	return p, nil
}

// Resolve follows symlinks from path p (relative to the layer root) and returns the path and
// entry of the regular file it ends at. An absolute target under /opt/ is taken as a path in the
// layer; any other absolute target, or one leaving the layer, cannot be resolved.
func (l *Layer) Resolve(p string) (string, Entry, error) {
	for range maxLinkDepth {
		e, ok := l.Entries[p]
		if !ok {
			return "", Entry{}, fmt.Errorf("%s: no such file in the layer", p)
		}
		if e.Link == "" {
			return p, e, nil
		}
		target := e.Link
		if path.IsAbs(target) {
			rest, ok := strings.CutPrefix(target, "/opt/")
			if !ok {
				return "", Entry{}, fmt.Errorf("%s: symlink to %s, outside /opt", p, target)
			}
			target = rest
		} else {
			target = path.Join(path.Dir(p), target)
		}
		next, err := cleanPath(target)
		if err != nil {
			return "", Entry{}, fmt.Errorf("%s: symlink to %s: %w", p, e.Link, err)
		}
		p = next
	}
	return "", Entry{}, fmt.Errorf("%s: too many levels of symlinks", p)
}
