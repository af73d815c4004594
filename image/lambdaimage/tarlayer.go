package lambdaimage

import (
	"archive/tar"
	"archive/zip"
	"bytes"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// Entry is one file system entry of a layer, with its path relative to the image's root.
type Entry struct {
	name     string      // slash-separated, no leading slash
	mode     fs.FileMode // type and permission bits
	linkname string      // a symbolic link's target
	open     func() (io.ReadCloser, error)
	size     int64
}

// ModePolicy says how the permission bits of a folder's files reach its layer.
type ModePolicy int

const (
	// KeepModes keeps each file's permission bits (setuid included), as a root file system needs.
	KeepModes ModePolicy = iota
	// NormalizeModes gives 0755 to folders and to files with any execute bit, 0644 to the others,
	// so that a function's layer does not depend on the umask of the machine that built it.
	NormalizeModes
)

// LayerFromZip makes the layer of a Lambda layer zip laid under prefix (e.g. "opt", where Lambda
// merges a function's layers), with extra entries beside it (see Layer).
func LayerFromZip(zipPath, prefix string, extra []Entry, mtime time.Time) (v1.Layer, error) {
	zr, err := zip.OpenReader(zipPath)
	if err != nil {
		return nil, fmt.Errorf("opening %s: %w", zipPath, err)
	}
	defer zr.Close()
	entries, err := zipEntries(zr, prefix)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", zipPath, err)
	}
	return Layer(append(entries, extra...), mtime)
}

func zipEntries(zr *zip.ReadCloser, prefix string) ([]Entry, error) {
	var out []Entry
	for _, f := range zr.File {
		name := strings.TrimSuffix(f.Name, "/")
		if name == "" || !fs.ValidPath(name) {
			return nil, fmt.Errorf("entry %q is not a relative path", f.Name)
		}
		e := Entry{name: path.Join(prefix, name), mode: f.Mode()}
		switch {
		case e.mode.IsDir():
		case e.mode&fs.ModeSymlink != 0:
			target, err := readZipFile(f)
			if err != nil {
				return nil, fmt.Errorf("reading the link %s: %w", f.Name, err)
			}
			e.linkname = string(target)
		case e.mode.IsRegular():
			e.open = f.Open
			e.size = int64(f.UncompressedSize64)
		default:
			return nil, fmt.Errorf("%s is neither a file, a folder nor a symbolic link", f.Name)
		}
		out = append(out, e)
	}
	return out, nil
}

func readZipFile(f *zip.File) ([]byte, error) {
	rc, err := f.Open()
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	return io.ReadAll(rc)
}

// DirEntries reads a folder's tree, to be laid under prefix (e.g. "var/task"; "" for a root
// file system).
func DirEntries(dir, prefix string, policy ModePolicy) ([]Entry, error) {
	var out []Entry
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(dir, p)
		if err != nil || rel == "." {
			return err
		}
		info, err := os.Lstat(p)
		if err != nil {
			return err
		}
		e := Entry{name: path.Join(prefix, filepath.ToSlash(rel)), mode: info.Mode()}
		switch {
		case info.IsDir():
		case info.Mode()&fs.ModeSymlink != 0:
			if e.linkname, err = os.Readlink(p); err != nil {
				return err
			}
		case info.Mode().IsRegular():
			e.open = func() (io.ReadCloser, error) { return os.Open(p) }
			e.size = info.Size()
		default:
			return fmt.Errorf("%s is neither a file, a folder nor a symbolic link", p)
		}
		if policy == NormalizeModes {
			e.mode = normalizedMode(e.mode)
		}
		out = append(out, e)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", dir, err)
	}
	return out, nil
}

func normalizedMode(m fs.FileMode) fs.FileMode {
	switch {
	case m&fs.ModeSymlink != 0:
		return fs.ModeSymlink | 0o777
	case m.IsDir():
		return fs.ModeDir | 0o755
	case m&0o111 != 0:
		return 0o755
	default:
		return 0o644
	}
}

// Symlink is an entry for a symbolic link at name (relative to the root) pointing to target.
func Symlink(name, target string) Entry {
	return Entry{name: name, mode: fs.ModeSymlink | 0o777, linkname: target}
}

// Layer makes an image layer (a gzip-compressed tar, Docker's layer media type) of entries: sorted
// by path, each missing parent folder added (0755), every time set to mtime, owner root, no
// user or group names, so that the same entries always give the same bytes and digest.
func Layer(entries []Entry, mtime time.Time) (v1.Layer, error) {
	entries = withParents(entries)
	var buf bytes.Buffer
	if err := writeTar(&buf, entries, mtime); err != nil {
		return nil, err
	}
	data := buf.Bytes()
	return tarball.LayerFromOpener(func() (io.ReadCloser, error) {
		return io.NopCloser(bytes.NewReader(data)), nil
	}, tarball.WithMediaType(types.DockerLayer), tarball.WithCompressedCaching)
}

// withParents sorts entries by path and adds the folders they are in that are missing.
func withParents(entries []Entry) []Entry {
	seen := map[string]bool{}
	for _, e := range entries {
		seen[e.name] = true
	}
	out := append([]Entry(nil), entries...)
	for _, e := range entries {
		for dir := path.Dir(e.name); dir != "." && dir != "/" && !seen[dir]; dir = path.Dir(dir) {
			seen[dir] = true
			out = append(out, Entry{name: dir, mode: fs.ModeDir | 0o755})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].name < out[j].name })
	return out
}

func writeTar(w io.Writer, entries []Entry, mtime time.Time) error {
	tw := tar.NewWriter(w)
	for _, e := range entries {
		if err := writeEntry(tw, e, mtime); err != nil {
			return fmt.Errorf("adding %s to a layer: %w", e.name, err)
		}
	}
	return tw.Close()
}

func writeEntry(tw *tar.Writer, e Entry, mtime time.Time) error {
	hdr := &tar.Header{Name: e.name, Mode: int64(e.mode.Perm()), ModTime: mtime}
	if e.mode&fs.ModeSetuid != 0 {
		hdr.Mode |= 0o4000
	}
	if e.mode&fs.ModeSetgid != 0 {
		hdr.Mode |= 0o2000
	}
	if e.mode&fs.ModeSticky != 0 {
		hdr.Mode |= 0o1000
	}
	switch {
	case e.mode.IsDir():
		hdr.Typeflag, hdr.Name = tar.TypeDir, e.name+"/"
	case e.mode&fs.ModeSymlink != 0:
		hdr.Typeflag, hdr.Linkname = tar.TypeSymlink, e.linkname
	default:
		hdr.Typeflag, hdr.Size = tar.TypeReg, e.size
	}
	if err := tw.WriteHeader(hdr); err != nil {
		return err
	}
	if hdr.Typeflag != tar.TypeReg {
		return nil
	}
	rc, err := e.open()
	if err != nil {
		return err
	}
	defer rc.Close()
	n, err := io.Copy(tw, rc)
	if err == nil && n != e.size {
		err = fmt.Errorf("size changed while reading: %d bytes, expected %d", n, e.size)
	}
	return err
}
