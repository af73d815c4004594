package rietest

import (
	"strings"
	"testing"
	"time"
)

// TestLaunchErrors checks that Launch and Listening report failures as errors, without a test
// to fail: an emulator binary that does not exist, and one that exits at once.
func TestLaunchErrors(t *testing.T) {
	if _, err := Launch(Options{RIE: "/nonexistent/aws-lambda-rie"}); err == nil {
		t.Error("Launch of a missing binary: no error")
	}
	e, err := Launch(Options{RIE: "sh", Wrap: []string{"sh", "-c", "echo gone; exit 3", "-"}})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Stop()
	start := time.Now()
	err = e.Listening(10 * time.Second)
	if err == nil || !strings.Contains(err.Error(), "exited before it listened") || !strings.Contains(err.Error(), "gone") {
		t.Errorf("Listening on an exited emulator: %v", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("Listening took %v to see the emulator gone", d)
	}
}

// TestCleanEnv checks that the environment given to emulators drops what would change the
// runtime's behaviour, whatever its case, and keeps the rest.
func TestCleanEnv(t *testing.T) {
	t.Setenv("_HANDLER", "x.y")
	t.Setenv("http_proxy", "http://proxy:3128")
	t.Setenv("POLYBOOT_RIETEST_KEEP", "1")
	env := strings.Join(CleanEnv(), "\n")
	if strings.Contains(env, "_HANDLER=") || strings.Contains(env, "proxy:3128") {
		t.Errorf("CleanEnv kept _HANDLER or http_proxy:\n%s", env)
	}
	if !strings.Contains(env, "POLYBOOT_RIETEST_KEEP=1") {
		t.Error("CleanEnv dropped an unrelated variable")
	}
}
