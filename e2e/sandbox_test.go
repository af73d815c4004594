package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"testing"

	"github.com/polyboot/polyboot/internal/layerzip"
	"github.com/polyboot/polyboot/internal/rietest"
	"github.com/polyboot/polyboot/internal/sandbox"
)

// lambdaBox is a Lambda-like sandbox (internal/sandbox) with /opt holding the runtime layer under
// test and the Tcl and Python 2.7 layers from dist/, as Lambda merges a function's layers.
type lambdaBox struct {
	box sandbox.Sandbox
	opt string // the merged layers (mounted at /opt)
	rie string // the static emulator
}

// newLambdaBox prepares the sandbox, or fails the test loudly with what is missing.
func newLambdaBox(t *testing.T) *lambdaBox {
	t.Helper()
	if err := sandbox.Require(); err != nil {
		t.Fatalf("*** %v: the sandbox tests cannot run here ***", err)
	}
	root, err := rietest.Root()
	if err != nil {
		t.Fatal(err)
	}
	rootfs, err := sandbox.RootFS(root, runtime.GOARCH)
	if err != nil {
		t.Fatalf("*** %v ***", err)
	}
	rie, err := rietest.StaticRIE()
	if err != nil {
		t.Fatal(err)
	}
	opt := readableDir(t)
	if _, err := rietest.Layer(opt); err != nil {
		t.Fatalf("the runtime layer: %v", err)
	}
	for _, lang := range []string{"tcl", "python2"} {
		zip := filepath.Join(root, "dist", fmt.Sprintf("polyboot-%s-%s.zip", lang, runtime.GOARCH))
		if _, err := os.Stat(zip); err != nil {
			t.Fatalf("*** %s is missing: run 'make layers' first (make test does); the sandbox tests did NOT run ***", zip)
		}
		if err := layerzip.Unzip(zip, opt); err != nil {
			t.Fatalf("unpacking %s: %v", zip, err)
		}
	}
	return &lambdaBox{box: sandbox.Sandbox{RootFS: rootfs}, opt: opt, rie: rie}
}

// readableDir is a new temporary folder that the sandbox's unprivileged user can read.
func readableDir(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

// start serves fn in the sandbox under the emulator (the start of a conformance run).
func (b *lambdaBox) start(t *testing.T, fn function) *emulator {
	t.Helper()
	return b.startWith(t, b.box, fn)
}

// startWith serves fn in box (b's sandbox with, say, a CA bundle) under the emulator.
func (b *lambdaBox) startWith(t *testing.T, box sandbox.Sandbox, fn function) *emulator {
	t.Helper()
	if err := os.Chmod(fn.taskDir, 0o755); err != nil {
		t.Fatal(err)
	}
	return &emulator{rietest.Start(t, b.rie, rietest.Function{Layer: b.opt, TaskDir: fn.taskDir,
		Handler: fn.handler, Env: fn.env, Sandbox: &box})}
}

// TestConformanceSandbox runs the conformance table in the Lambda-like sandbox: every interpreter
// comes from the layers at /opt (bash from the runtime layer's bin/ or the Debian root), none from
// this machine. python3 has no row here: provided.al2023 has no python3.
func TestConformanceSandbox(t *testing.T) {
	b := newLambdaBox(t)
	for _, lang := range languages() {
		if lang.name == "python3" {
			t.Log("python3: no row in the sandbox (provided.al2023 has no python3; the layers bring Python 2.7)")
			continue
		}
		t.Run(lang.name, func(t *testing.T) {
			(&conformance{lang: lang, start: b.start}).run(t)
		})
	}
}
