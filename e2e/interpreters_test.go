package e2e

import (
	"testing"

	"github.com/polyboot/polyboot/internal/rietest"
)

// The interpreters the tests cover, found at run time (internal/rietest), in the shape the
// language table wants.
func python27(*testing.T) string { return rietest.Python27() }
func python3(*testing.T) string  { return rietest.Python3() }
func tclsh(*testing.T) string    { return rietest.Tclsh() }

func requireInterpreter(t *testing.T, name, path string) bool {
	t.Helper()
	return rietest.RequireInterpreter(t, name, path)
}
