// Package e2e runs the runtime layer as Lambda would: under AWS's Runtime Interface Emulator
// (RIE), invoked over HTTP, with real interpreters.
//
// The layer and the emulator come from internal/rietest: POLYBOOT_LAYER_ZIP (make test sets it to
// the zip `make layer` built), else a layer assembled from the working tree.
package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/polyboot/polyboot/internal/rietest"
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
	what, err := rietest.Layer(env.layerDir)
	if err != nil {
		return 0, err
	}
	fmt.Fprintf(os.Stderr, "e2e: testing %s\n", what)
	if env.rie, err = rietest.RIE(); err != nil {
		return 0, err
	}
	return m.Run(), nil
}
