// Package sandbox runs a program the way Lambda runs a function's runtime, for the end-to-end
// tests: in a private mount namespace whose root is a Debian 11 minimal root (the stand-in for
// provided.al2023's userland, made by layer/runtime/rootfs.sh), read-only but for /tmp, with the
// layers at a read-only /opt and the function at a read-only /var/task, a /dev holding only null,
// zero, random and urandom (no /dev/fd), the CA bundle at Amazon Linux's path only, Lambda's PATH
// and LD_LIBRARY_PATH, as an unprivileged user with no capabilities. Nothing of this machine's
// filesystem is visible: its bash, tclsh, python2, python3, jq and aws are not there.
//
// It needs root and unshare (util-linux); Require says what is missing.
package sandbox

import (
	_ "embed"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

//go:embed enter.sh
var enterScript string

// Lambda's user: the uid and gid the emulator's Managed Instances mode runs the runtime as.
const (
	UID = 993
	GID = 990
)

// Lambda's search paths for provided.al2023 (LAMBDA_RUNTIME_DIR=/var/runtime,
// LAMBDA_TASK_ROOT=/var/task).
const (
	Path          = "/usr/local/bin:/usr/bin/:/bin:/opt/bin"
	LDLibraryPath = "/lib64:/usr/lib64:/var/runtime:/var/runtime/lib:/var/task:/var/task/lib:/opt/lib"
)

// Sandbox is one Lambda-like view of the filesystem.
type Sandbox struct {
	RootFS   string // the Debian 11 root, mounted read-only at / (see RootFS)
	Opt      string // the merged layers, mounted read-only at /opt
	Task     string // the function's code, mounted read-only at /var/task (also the working dir)
	CABundle string // a PEM file shown at /etc/pki/tls/certs/ca-bundle.crt; "" for none
	Rapid    string // a static program of this machine shown at /var/rapid/<base name>; "" for none
}

// RapidPath is where s shows its Rapid program inside the sandbox.
func (s Sandbox) RapidPath() string { return "/var/rapid/" + filepath.Base(s.Rapid) }

// Env is the environment Lambda gives a provided.al2023 runtime's process, before the function's
// own variables and the Runtime API's: extra (KEY=VALUE) is appended.
func Env(extra ...string) []string {
	env := []string{"PATH=" + Path, "LD_LIBRARY_PATH=" + LDLibraryPath, "LANG=en_US.UTF-8", "TZ=:UTC",
		"LAMBDA_TASK_ROOT=/var/task", "LAMBDA_RUNTIME_DIR=/var/runtime"}
	return append(env, extra...)
}

// Require reports what this machine lacks to make a sandbox (root, unshare), or nil.
func Require() error {
	var missing []string
	if os.Geteuid() != 0 {
		missing = append(missing, "root (mount namespaces, bind mounts, chroot)")
	}
	if _, err := exec.LookPath("unshare"); err != nil {
		missing = append(missing, "unshare (apt-get install util-linux)")
	}
	if len(missing) > 0 {
		return fmt.Errorf("the Lambda-like sandbox needs %s", strings.Join(missing, " and "))
	}
	return nil
}

// Command returns the command that runs argv (a path inside the sandbox, and its arguments) in s
// with exactly the environment env, in /var/task, as UID and GID. The folders it mounts must be
// readable by that user.
func (s Sandbox) Command(env []string, argv ...string) (*exec.Cmd, error) {
	if err := Require(); err != nil {
		return nil, err
	}
	if len(argv) == 0 {
		return nil, fmt.Errorf("sandbox: no command")
	}
	for what, dir := range map[string]string{"root": s.RootFS, "/opt": s.Opt, "/var/task": s.Task} {
		if st, err := os.Stat(dir); err != nil || !st.IsDir() {
			return nil, fmt.Errorf("sandbox: %s folder %q: not a folder (%v)", what, dir, err)
		}
	}
	args := []string{"-m", "--propagation", "private", "bash", "-c", enterScript, "enter.sh",
		s.RootFS, s.Opt, s.Task, s.CABundle, s.Rapid, fmt.Sprint(UID), fmt.Sprint(GID)}
	for _, kv := range env {
		if !strings.Contains(kv, "=") {
			return nil, fmt.Errorf("sandbox: environment entry %q is not KEY=VALUE", kv)
		}
	}
	args = append(append(append(args, env...), "--"), argv...)
	return exec.Command("unshare", args...), nil
}

// RootFS returns the Debian 11 root for arch, made once by root/layer/runtime/rootfs.sh (cached
// in $POLYBOOT_CACHE; the first run takes about a minute).
func RootFS(root, arch string) (string, error) {
	cmd := exec.Command(filepath.Join(root, "layer", "runtime", "rootfs.sh"), "sandbox", arch)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("making the sandbox root (layer/runtime/rootfs.sh sandbox %s): %w\n%s", arch, err, stderr.String())
	}
	dir := strings.TrimSpace(string(out))
	if _, err := os.Stat(filepath.Join(dir, "usr", "bin", "setpriv")); err != nil {
		return "", fmt.Errorf("the sandbox root %s has no usr/bin/setpriv: %w", dir, err)
	}
	return dir, nil
}
