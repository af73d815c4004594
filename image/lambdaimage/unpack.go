package lambdaimage

import (
	"archive/tar"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
)

// Unpack lays img's file system into dir (empty or missing) as a container runtime does, by the
// OCI image spec: layers applied in order, whiteouts (.wh.NAME, .wh..wh..opq) removing what lower
// layers put there (mutate.Extract), modes kept, owners as they are (run it as root), symbolic
// links written as links, hard links as links to their target in dir.
func Unpack(img v1.Image, dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	rc := mutate.Extract(img)
	defer rc.Close()
	tr := tar.NewReader(rc)
	var dirs []*tar.Header
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return fmt.Errorf("reading the image's file system: %w", err)
		}
		if err := unpackEntry(dir, hdr, tr); err != nil {
			return fmt.Errorf("unpacking %s: %w", hdr.Name, err)
		}
		if hdr.Typeflag == tar.TypeDir {
			dirs = append(dirs, hdr)
		}
	}
	// Folder modes last: a read-only folder must not stop its own contents being written.
	for _, hdr := range dirs {
		if err := os.Chmod(filepath.Join(dir, filepath.Clean("/"+hdr.Name)), hdr.FileInfo().Mode().Perm()|modeExtra(hdr)); err != nil {
			return err
		}
	}
	return nil
}

func unpackEntry(dir string, hdr *tar.Header, r io.Reader) error {
	target := filepath.Join(dir, filepath.Clean("/"+hdr.Name))
	if err := os.MkdirAll(filepath.Dir(target), 0o755); err != nil {
		return err
	}
	mode := hdr.FileInfo().Mode().Perm() | modeExtra(hdr)
	switch hdr.Typeflag {
	case tar.TypeDir:
		if err := os.MkdirAll(target, 0o755); err != nil {
			return err
		}
	case tar.TypeReg:
		f, err := os.OpenFile(target, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o600)
		if err != nil {
			return err
		}
		if _, err := io.Copy(f, r); err != nil {
			f.Close()
			return err
		}
		if err := f.Close(); err != nil {
			return err
		}
		// chown clears setuid and setgid: owner first, then mode.
		if err := chown(target, hdr); err != nil {
			return err
		}
		return os.Chmod(target, mode)
	case tar.TypeSymlink:
		os.Remove(target)
		if err := os.Symlink(hdr.Linkname, target); err != nil {
			return err
		}
	case tar.TypeLink:
		src := filepath.Join(dir, filepath.Clean("/"+hdr.Linkname))
		if !strings.HasPrefix(src, filepath.Clean(dir)+string(filepath.Separator)) {
			return fmt.Errorf("hard link to %s leaves the root", hdr.Linkname)
		}
		os.Remove(target)
		if err := os.Link(src, target); err != nil {
			return err
		}
	default:
		return fmt.Errorf("entries of type %q are not supported", hdr.Typeflag)
	}
	return chown(target, hdr)
}

// chown gives target the entry's owner when running as root (as a container runtime does); as
// another user files stay that user's.
func chown(target string, hdr *tar.Header) error {
	if os.Geteuid() != 0 {
		return nil
	}
	return os.Lchown(target, hdr.Uid, hdr.Gid)
}

// modeExtra is the setuid, setgid and sticky bits of a tar header as an os.FileMode.
func modeExtra(hdr *tar.Header) os.FileMode {
	var m os.FileMode
	if hdr.Mode&0o4000 != 0 {
		m |= os.ModeSetuid
	}
	if hdr.Mode&0o2000 != 0 {
		m |= os.ModeSetgid
	}
	if hdr.Mode&0o1000 != 0 {
		m |= os.ModeSticky
	}
	return m
}
