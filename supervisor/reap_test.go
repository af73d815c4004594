package supervisor

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"testing"
	"time"
)

// TestWorkerLeftovers: the jobs a worker put out of its process group (setsid), with its tag or
// without its environment, are killed and reaped when it times out, while the live job of another
// worker of the same Spawner (Managed Instances) is spared; that one goes when its worker ends.
// The test never reaps: this process is a subreaper, so a job left as a zombie stays visible.
func TestWorkerLeftovers(t *testing.T) {
	t.Parallel()
	a, _ := testWorker(t, "ready")
	b, _ := testWorker(t, "ready")
	tagged := jobPid(t, mustInvoke(t, a, "a1", `{"do":"escape"}`))
	untagged := jobPid(t, mustInvoke(t, a, "a2", `{"do":"escape","n":1}`))
	spared := jobPid(t, mustInvoke(t, b, "b1", `{"do":"escape"}`))
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	_, err := invokeCtx(ctx, a, "a3", `{"do":"hang"}`)
	checkErr(t, err, KindTimeout)
	for _, pid := range []int{tagged, untagged} {
		if !eventuallyGone(pid) {
			t.Errorf("job %d of the timed-out worker is still there: %s", pid, procStat(pid))
		}
	}
	if !alive(spared) {
		t.Fatalf("the other worker's job %d was killed: %s", spared, procStat(spared))
	}
	if body := mustInvoke(t, b, "b2", `{"do":"pid"}`); body == "" {
		t.Errorf("the other worker stopped answering")
	}
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	if !eventuallyGone(spared) {
		t.Errorf("job %d outlived its worker's Close: %s", spared, procStat(spared))
	}
}

// jobPid parses the pid the "escape" command answers.
func jobPid(t *testing.T, body string) int {
	t.Helper()
	pid, err := strconv.Atoi(body)
	if err != nil || !alive(pid) {
		t.Fatalf("escape: %q is not a running job (%v)", body, err)
	}
	return pid
}

// eventuallyGone waits up to 10 s until pid no longer exists, not even as a zombie, without
// reaping it.
func eventuallyGone(pid int) bool {
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
		if _, err := os.Stat(fmt.Sprintf("/proc/%d", pid)); os.IsNotExist(err) {
			return true
		}
	}
	return false
}

func procStat(pid int) string {
	b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	return string(b)
}
