package protocol_test

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the package's tests when any of them leaves a goroutine running, such as an HTTP
// connection of a Client or a fake Runtime API that was not shut down.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}
