package lambdaimage

import (
	"archive/tar"
	"archive/zip"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// zipFile is one entry of a test zip.
type zipFile struct {
	name, body string
	mode       fs.FileMode
}

// writeZip writes a zip of files (a folder entry when name ends in "/", a link when mode has
// fs.ModeSymlink, body being its target).
func writeZip(t *testing.T, path string, files []zipFile) string {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	zw := zip.NewWriter(f)
	for _, zf := range files {
		h := &zip.FileHeader{Name: zf.name, Method: zip.Deflate}
		h.SetMode(zf.mode)
		w, err := zw.CreateHeader(h)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := io.WriteString(w, zf.body); err != nil {
			t.Fatal(err)
		}
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	return path
}

// writeTree writes files (path -> body) under dir with mode 0644, or 0755 for names ending in .sh.
func writeTree(t *testing.T, dir string, files map[string]string) string {
	t.Helper()
	for name, body := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		mode := fs.FileMode(0o644)
		if filepath.Ext(name) == ".sh" {
			mode = 0o755
		}
		if err := os.WriteFile(p, []byte(body), mode); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// fixture is a small but complete set of inputs for Build.
type fixture struct {
	rootfs, runtime, tcl, function string
}

func newFixture(t *testing.T) fixture {
	t.Helper()
	dir := t.TempDir()
	fx := fixture{
		rootfs: writeTree(t, filepath.Join(dir, "rootfs"), map[string]string{
			"lambda-entrypoint.sh": "#!/bin/sh\n", "etc/hosts": "127.0.0.1 localhost\n",
		}),
		runtime: writeZip(t, filepath.Join(dir, "runtime.zip"), []zipFile{
			{name: "bootstrap", body: "\x7fELF", mode: 0o755},
			{name: "adapters/", mode: fs.ModeDir | 0o755},
			{name: "adapters/bash/adapter.sh", body: "#!/bin/bash\n", mode: 0o644},
		}),
		tcl: writeZip(t, filepath.Join(dir, "tcl.zip"), []zipFile{
			{name: "bin/tclsh8.6", body: "\x7fELF", mode: 0o755},
			{name: "bin/tclsh", body: "tclsh8.6", mode: fs.ModeSymlink | 0o777},
		}),
		function: writeTree(t, filepath.Join(dir, "function"), map[string]string{
			"function.sh": "handler() { echo hi; }\n", "lib/data.txt": "data\n",
		}),
	}
	if err := os.Chmod(filepath.Join(fx.function, "lib"), 0o700); err != nil {
		t.Fatal(err)
	}
	return fx
}

func (fx fixture) build(t *testing.T, arch string) v1.Image {
	t.Helper()
	base, err := BaseFromRootfs(fx.rootfs, arch, DefaultEpoch())
	if err != nil {
		t.Fatal(err)
	}
	img, err := Build(Options{Base: base, Arch: arch, Runtime: fx.runtime, Layers: []string{fx.tcl},
		Function: fx.function, Handler: "function.handler", Epoch: DefaultEpoch()})
	if err != nil {
		t.Fatal(err)
	}
	return img
}

// layerHeaders reads the tar headers of a layer.
func layerHeaders(t *testing.T, l v1.Layer) []*tar.Header {
	t.Helper()
	rc, err := l.Uncompressed()
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	var out []*tar.Header
	tr := tar.NewReader(rc)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, h)
	}
}

func digest(t *testing.T, img v1.Image) v1.Hash {
	t.Helper()
	d, err := img.Digest()
	if err != nil {
		t.Fatal(err)
	}
	return d
}
