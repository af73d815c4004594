// Package e2e runs the runtime layer as Lambda would: under AWS's Runtime Interface Emulator
// (RIE), invoked over HTTP, with real interpreters.
//
// The layer under test is POLYBOOT_LAYER_ZIP (make test sets it to the zip `make layer` built),
// else one assembled here from the working tree. The emulator is the go.mod tool
// github.com/aws/aws-lambda-runtime-interface-emulator/cmd/aws-lambda-rie.
package e2e

import (
	"archive/zip"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// suite is what TestMain prepared for every test.
type suite struct {
	layerDir string // the unpacked runtime layer (bootstrap, adapters/)
	rie      string // path of the emulator binary
}

// env is set once by TestMain and only read afterwards.
var env suite

func TestMain(m *testing.M) {
	code, err := setup(m)
	if err != nil {
		fmt.Fprintf(os.Stderr, "e2e: setup failed: %v\n", err)
		os.Exit(1)
	}
	os.Exit(code)
}

func setup(m *testing.M) (int, error) {
	tmp, err := os.MkdirTemp("", "polyboot-e2e-")
	if err != nil {
		return 0, fmt.Errorf("temp dir: %w", err)
	}
	defer os.RemoveAll(tmp)
	env.layerDir = filepath.Join(tmp, "opt")
	if zipPath := os.Getenv("POLYBOOT_LAYER_ZIP"); zipPath != "" {
		if err := unzip(zipPath, env.layerDir); err != nil {
			return 0, err
		}
		fmt.Fprintf(os.Stderr, "e2e: testing layer %s\n", zipPath)
	} else if err := assembleLayer(env.layerDir); err != nil {
		return 0, err
	}
	out, err := exec.Command("go", "tool", "-n", "aws-lambda-rie").Output()
	if err != nil {
		return 0, fmt.Errorf("finding the emulator (go tool -n aws-lambda-rie): %w", err)
	}
	env.rie = strings.TrimSpace(string(out))
	return m.Run(), nil
}

// assembleLayer builds the bootstrap and lays out the layer as `make layer` does.
func assembleLayer(dir string) error {
	root, err := filepath.Abs("..")
	if err != nil {
		return err
	}
	cmd := exec.Command("go", "build", "-trimpath", "-o", filepath.Join(dir, "bootstrap"), "./cmd/bootstrap")
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("building bootstrap: %w\n%s", err, out)
	}
	cp := exec.Command("bash", "-c", `cd "$1" && find adapters -path '*/tests' -prune -o -path '*/example' -prune -o -type f -print | while read -r f; do install -D -m 0644 "$f" "$2/$f"; done`, "-", root, dir)
	if out, err := cp.CombinedOutput(); err != nil {
		return fmt.Errorf("copying adapters: %w\n%s", err, out)
	}
	fmt.Fprintf(os.Stderr, "e2e: testing a layer assembled from the working tree (set POLYBOOT_LAYER_ZIP to test a zip)\n")
	return nil
}

func unzip(zipPath, dir string) error {
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
	if !strings.HasPrefix(dst, dir+string(filepath.Separator)) {
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
			return err
		}
		return os.Symlink(string(target), dst)
	}
	out, err := os.OpenFile(dst, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, f.Mode().Perm())
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, rc); err != nil {
		out.Close()
		return fmt.Errorf("extracting %s: %w", f.Name, err)
	}
	return out.Close()
}
