package imagetest

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"golang.org/x/sys/unix"
)

// helperEnv, when set, makes the test binary the container's init (see TestMain): it holds the
// JSON of a containerSpec.
const helperEnv = "POLYBOOT_IMAGETEST_CONTAINER"

// containerSpec is what the helper needs to start a container.
type containerSpec struct {
	Root string   // the unpacked root file system
	Argv []string // entrypoint and CMD
	Env  []string
	Dir  string // the working directory
}

func TestMain(m *testing.M) {
	if spec := os.Getenv(helperEnv); spec != "" {
		err := runContainer(spec)
		fmt.Fprintf(os.Stderr, "container init: %v\n", err)
		os.Exit(111)
	}
	os.Exit(m.Run())
}

// runContainer runs as PID 1 of new mount, PID and network namespaces: it brings the loopback
// up, mounts /proc, /dev and /tmp in the root, chroots there and execs the entrypoint, which so
// becomes PID 1 as in a container. It returns only on failure.
func runContainer(specJSON string) error {
	var s containerSpec
	if err := json.Unmarshal([]byte(specJSON), &s); err != nil {
		return err
	}
	if err := unix.Mount("", "/", "", unix.MS_REC|unix.MS_PRIVATE, ""); err != nil {
		return fmt.Errorf("making mounts private: %w", err)
	}
	if err := loopbackUp(); err != nil {
		return err
	}
	mounts := []struct{ src, dst, fstype, data string }{
		{"proc", "proc", "proc", ""},
		{"/dev", "dev", "", ""},
		{"tmpfs", "tmp", "tmpfs", "mode=1777"},
	}
	for _, m := range mounts {
		flags := uintptr(0)
		if m.fstype == "" {
			flags = unix.MS_BIND | unix.MS_REC
		}
		if err := unix.Mount(m.src, filepath.Join(s.Root, m.dst), m.fstype, flags, m.data); err != nil {
			return fmt.Errorf("mounting %s at /%s: %w", m.src, m.dst, err)
		}
	}
	if err := unix.Chroot(s.Root); err != nil {
		return fmt.Errorf("chroot %s: %w", s.Root, err)
	}
	if err := os.Chdir(s.Dir); err != nil {
		return err
	}
	return unix.Exec(s.Argv[0], s.Argv, s.Env)
}

// loopbackUp sets the flag IFF_UP on lo (a new network namespace starts with it down).
func loopbackUp() error {
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	ifr, err := unix.NewIfreq("lo")
	if err != nil {
		return err
	}
	if err := unix.IoctlIfreq(fd, unix.SIOCGIFFLAGS, ifr); err != nil {
		return fmt.Errorf("reading lo's flags: %w", err)
	}
	ifr.SetUint16(ifr.Uint16() | unix.IFF_UP)
	if err := unix.IoctlIfreq(fd, unix.SIOCSIFFLAGS, ifr); err != nil {
		return fmt.Errorf("bringing lo up: %w", err)
	}
	return nil
}

// container is one running container.
type container struct {
	cmd    *exec.Cmd
	log    string // the container's output, a file
	netns  string // /proc/PID/ns/net
	client *http.Client
}

// start starts the container of img's configuration from root, with cmd as its CMD when given.
func start(t *testing.T, cfg v1.Config, root string, cmd ...string) *container {
	t.Helper()
	if len(cmd) == 0 {
		cmd = cfg.Cmd
	}
	spec, err := json.Marshal(containerSpec{Root: root, Argv: append(append([]string(nil), cfg.Entrypoint...), cmd...), Env: cfg.Env, Dir: cfg.WorkingDir})
	if err != nil {
		t.Fatal(err)
	}
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	c := &container{log: filepath.Join(t.TempDir(), "container.log")}
	logFile, err := os.Create(c.log)
	if err != nil {
		t.Fatal(err)
	}
	defer logFile.Close() // the container has its own copy
	c.cmd = exec.Command(self)
	c.cmd.Env = []string{helperEnv + "=" + string(spec)}
	c.cmd.Stdout, c.cmd.Stderr = logFile, logFile
	c.cmd.SysProcAttr = &syscall.SysProcAttr{
		Cloneflags: syscall.CLONE_NEWNS | syscall.CLONE_NEWPID | syscall.CLONE_NEWNET,
		Pdeathsig:  syscall.SIGKILL,
	}
	if err := c.cmd.Start(); err != nil {
		t.Fatalf("starting the container: %v", err)
	}
	t.Cleanup(func() {
		// Killing PID 1 ends every process of the PID namespace.
		_ = c.cmd.Process.Kill()
		_ = c.cmd.Wait()
		if t.Failed() {
			t.Logf("container output:\n%s", c.logs())
		}
	})
	c.netns = fmt.Sprintf("/proc/%d/ns/net", c.cmd.Process.Pid)
	c.client = &http.Client{Timeout: time.Minute, Transport: &http.Transport{
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			return dialIn(ctx, c.netns, network, addr)
		},
		DisableKeepAlives: true,
	}}
	return c
}

// dialIn connects to addr from inside the network namespace at nsPath: the socket is made by a
// thread that has entered it, and stays there when the thread leaves.
func dialIn(ctx context.Context, nsPath, network, addr string) (net.Conn, error) {
	type result struct {
		conn net.Conn
		err  error
	}
	done := make(chan result, 1)
	go func() {
		runtime.LockOSThread()
		conn, err, back := dialFromNamespace(ctx, nsPath, network, addr)
		if back {
			runtime.UnlockOSThread() // else the thread, still in the namespace, ends with the goroutine
		}
		done <- result{conn, err}
	}()
	r := <-done
	return r.conn, r.err
}

// dialFromNamespace runs on a locked thread: enters nsPath, dials, returns to the thread's own
// namespace; back tells whether it did.
func dialFromNamespace(ctx context.Context, nsPath, network, addr string) (conn net.Conn, err error, back bool) {
	own, err := unix.Open("/proc/thread-self/ns/net", unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, err, true
	}
	defer unix.Close(own)
	target, err := unix.Open(nsPath, unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, err, true
	}
	defer unix.Close(target)
	if err := unix.Setns(target, unix.CLONE_NEWNET); err != nil {
		return nil, fmt.Errorf("entering %s: %w", nsPath, err), true
	}
	var d net.Dialer
	conn, err = d.DialContext(ctx, network, addr)
	return conn, err, unix.Setns(own, unix.CLONE_NEWNET) == nil
}

// waitListening waits until something listens on 127.0.0.1:8080 inside the container.
func (c *container) waitListening(t *testing.T) {
	t.Helper()
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		conn, err := dialIn(context.Background(), c.netns, "tcp", "127.0.0.1:8080")
		if err == nil {
			conn.Close()
			return
		}
		if c.cmd.ProcessState != nil || time.Now().After(deadline) {
			t.Fatalf("nothing listens on port 8080 in the container: %v\n%s", err, c.logs())
		}
	}
}

// exitCode waits for the container's end and returns its exit status (PID 1's).
func (c *container) exitCode(t *testing.T) int {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- c.cmd.Wait() }()
	select {
	case <-done:
		return c.cmd.ProcessState.ExitCode()
	case <-time.After(30 * time.Second):
		t.Fatalf("the container did not end:\n%s", c.logs())
		return -1
	}
}

// invoke posts event to the emulator's invoke URL inside the container.
func (c *container) invoke(t *testing.T, event string) (int, []byte) {
	t.Helper()
	resp, err := c.client.Post("http://127.0.0.1:8080/2015-03-31/functions/function/invocations", "application/json", strings.NewReader(event))
	if err != nil {
		t.Fatalf("invoke: %v\n%s", err, c.logs())
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, body
}

// logs is what the container printed so far.
func (c *container) logs() string {
	data, err := os.ReadFile(c.log)
	if err != nil {
		return err.Error()
	}
	return string(data)
}
