package supervisor

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

func TestSpawnerStartsAndReaps(t *testing.T) {
	t.Parallel()
	const n = 8
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			var out bytes.Buffer
			cmd := exec.Command(testExe)
			cmd.Env = append(helperEnv(), workerEnv+"=exit7")
			cmd.Stdout = &out
			if err := testSpawner.Start(cmd); err != nil {
				t.Errorf("process %d: Start: %v", i, err)
				return
			}
			pid := cmd.Process.Pid
			var exit *exec.ExitError
			if err := cmd.Wait(); !errors.As(err, &exit) || exit.ExitCode() != 7 {
				t.Errorf("process %d: Wait = %v, want exit status 7", i, err)
			}
			if got, want := out.String(), fmt.Sprintf("hello from %d\n", pid); got != want {
				t.Errorf("process %d wrote %q, want %q", i, got, want)
			}
			if err := syscall.Kill(pid, 0); !errors.Is(err, syscall.ESRCH) {
				t.Errorf("process %d still exists after Wait: kill(0) = %v", pid, err)
			}
		})
	}
	wg.Wait()
}

func TestSpawnerStartError(t *testing.T) {
	t.Parallel()
	err := testSpawner.Start(exec.Command("/nonexistent/polyboot-test-command"))
	if !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Start = %v, want a fs.ErrNotExist", err)
	}
	// The spawner still serves after a failure.
	cmd := exec.Command(testExe)
	cmd.Env = append(helperEnv(), workerEnv+"=exit7")
	if err := testSpawner.Start(cmd); err != nil {
		t.Fatalf("Start after a failed Start: %v", err)
	}
	if err := cmd.Wait(); cmd.ProcessState.ExitCode() != 7 {
		t.Errorf("Wait = %v, want exit status 7", err)
	}
}

// TestSpawnerPdeathsig runs a parent helper (runPdeathParent) that starts a child with a
// parent-death signal from a goroutine whose thread then exits. Started directly on that thread,
// the child dies with the thread (golang/go#27505: the control case, showing the test can see the
// difference); started through a Spawner, as workers are (startProcess), it survives the thread
// and dies with its parent process.
func TestSpawnerPdeathsig(t *testing.T) {
	t.Parallel()
	tests := []struct {
		mode            string
		survivesThreads bool
	}{
		{mode: "pdeath_spawner", survivesThreads: true},
		{mode: "pdeath_direct", survivesThreads: false},
	}
	for _, tt := range tests {
		t.Run(tt.mode, func(t *testing.T) {
			t.Parallel()
			r, w, err := os.Pipe()
			if err != nil {
				t.Fatal(err)
			}
			defer r.Close()
			parent := exec.Command(testExe)
			parent.Env = append(helperEnv(), workerEnv+"="+tt.mode)
			parent.Stdout, parent.Stderr = w, os.Stderr
			if err := parent.Start(); err != nil {
				t.Fatal(err)
			}
			w.Close()
			defer func() {
				_ = parent.Process.Kill()
				_ = parent.Wait()
			}()
			if err := r.SetReadDeadline(time.Now().Add(20 * time.Second)); err != nil {
				t.Fatal(err)
			}
			out := bufio.NewReader(r)
			readLine := func() string {
				line, err := out.ReadString('\n')
				if err != nil {
					t.Fatalf("reading the parent helper's output: %q, %v", line, err)
				}
				return strings.TrimSuffix(line, "\n")
			}
			child, err := strconv.Atoi(strings.TrimPrefix(readLine(), "child "))
			if err != nil {
				t.Fatalf("bad child line: %v", err)
			}
			if line := readLine(); line != "thread gone" {
				t.Fatalf("parent helper: %q", line)
			}
			if !tt.survivesThreads {
				start := time.Now()
				waitGone(t, child)
				t.Logf("the child died %s after its creating thread", time.Since(start))
				return
			}
			// Nothing announces that a signal was not sent: watch the child for a while.
			for end := time.Now().Add(300 * time.Millisecond); time.Now().Before(end); time.Sleep(10 * time.Millisecond) {
				if !alive(child) {
					t.Fatalf("the child died with the thread that asked the Spawner to start it")
				}
			}
			if err := parent.Process.Kill(); err != nil {
				t.Fatal(err)
			}
			_ = parent.Wait()
			waitGone(t, child) // its parent-death signal; else it would sleep for a minute
		})
	}
}
