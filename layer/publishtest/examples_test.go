package publishtest

// The examples of examples/, served as Lambda would serve them: the runtime layer's bootstrap
// under AWS's Runtime Interface Emulator (RIE), the example's folder as the task root,
// _HANDLER=function.handler. Each language runs with the machine's interpreter and, when
// `make layers` has built it, with the interpreter layer's own.
//
// The emulator harness is a trimmed copy of e2e/ (which this package does not import: it is a
// test package of its own).

import (
	"archive/zip"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"regexp"
	"runtime"
	"sort"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// timeoutSeconds is the function timeout the emulator is given.
const timeoutSeconds = 30

type example struct {
	lang     string // folder under examples/
	file     string // the handler file
	interp   func(t *testing.T) string
	envVar   string // the adapter's interpreter override
	layerZip string // the interpreter layer's zip in dist/ ("" for bash: none needed)
	greetsBy bool   // the message greets the event's "name"
	interpRE string // what the message says about the interpreter's version
}

func examples() []example {
	return []example{
		{lang: "bash", file: "function.sh", interp: func(*testing.T) string { return "/bin/bash" }, envVar: "POLYBOOT_BASH"},
		{lang: "tcl", file: "function.tcl", interp: tclsh, envVar: "POLYBOOT_TCLSH", layerZip: "polyboot-tcl", greetsBy: true, interpRE: `from Tcl 8\.6\.\d+!`},
		{lang: "python2", file: "function.py", interp: python27, envVar: "POLYBOOT_PYTHON", layerZip: "polyboot-python2", greetsBy: true, interpRE: `from Python 2\.7\.\d+!`},
	}
}

// TestExamplesFitTheConsoleEditor keeps the examples short enough to paste.
func TestExamplesFitTheConsoleEditor(t *testing.T) {
	for _, ex := range examples() {
		data, err := os.ReadFile(filepath.Join(root(t), "examples", ex.lang, ex.file))
		if err != nil {
			t.Fatal(err)
		}
		if n := strings.Count(string(data), "\n"); n > 25 {
			t.Errorf("examples/%s/%s has %d lines, more than 25", ex.lang, ex.file, n)
		}
		if entries, _ := os.ReadDir(filepath.Join(root(t), "examples", ex.lang)); len(entries) != 1 {
			t.Errorf("examples/%s holds %d files: the SAM template deploys the whole folder, keep only %s there", ex.lang, len(entries), ex.file)
		}
	}
}

func TestExamples(t *testing.T) {
	rie := rieBinary(t)
	layer := runtimeLayer(t)
	for _, ex := range examples() {
		t.Run(ex.lang, func(t *testing.T) {
			t.Run("machine interpreter", func(t *testing.T) {
				interp := ex.interp(t)
				if !requireInterpreter(t, ex.lang, interp) {
					return
				}
				exe, err := filepath.EvalSymlinks(interp)
				if err != nil {
					t.Fatal(err)
				}
				checkExample(t, ex, rie, layer, []string{ex.envVar + "=" + interp}, exe)
			})
			if ex.layerZip == "" {
				return
			}
			t.Run("interpreter layer", func(t *testing.T) {
				zipPath := filepath.Join(root(t), "dist", ex.layerZip+"-"+runtime.GOARCH+".zip")
				if _, err := os.Stat(zipPath); err != nil {
					t.Skipf("*** %s NOT BUILT: the example did NOT run with the layer's interpreter (make layers) ***", zipPath)
				}
				// The runtime layer and the interpreter layer in one /opt, as Lambda lays them out.
				opt := filepath.Join(t.TempDir(), "opt")
				if err := copyTree(layer, opt); err != nil {
					t.Fatal(err)
				}
				if err := unzip(zipPath, opt); err != nil {
					t.Fatal(err)
				}
				// An empty PATH: the interpreter can only be the one in the layer's bin/.
				checkExample(t, ex, rie, opt, []string{"PATH=" + t.TempDir()}, opt+"/bin/")
			})
		})
	}
}

// checkExample serves one example, invokes it twice, and checks that the worker's executable
// starts with interpPrefix.
func checkExample(t *testing.T, ex example, rie, layer string, env []string, interpPrefix string) {
	// A copy of the example's folder is the task root: Python 2 writes function.pyc beside
	// function.py, which must not land in examples/ (the SAM template deploys the whole folder).
	task := filepath.Join(t.TempDir(), "task")
	if err := copyTree(filepath.Join(root(t), "examples", ex.lang), task); err != nil {
		t.Fatal(err)
	}
	emu := startEmulator(t, rie, layer, task, env)
	event := `{"name":"Ada","list":[1,2.5,"x",true,null],"nested":{"k":"v"},"text":"é \"q\" $HOME"}`
	var wantEvent any
	if err := json.Unmarshal([]byte(event), &wantEvent); err != nil {
		t.Fatal(err)
	}
	for i := 1; i <= 2; i++ {
		status, body := emu.invoke(t, []byte(event))
		if status != http.StatusOK {
			t.Fatalf("invocation %d: status %d: %s", i, status, body)
		}
		var got struct {
			Message     string  `json:"message"`
			RequestID   string  `json:"request_id"`
			RemainingMS float64 `json:"remaining_ms"`
			Invocations int     `json:"invocations"`
			Event       any     `json:"event"`
		}
		dec := json.NewDecoder(bytes.NewReader(body))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&got); err != nil {
			t.Fatalf("invocation %d: the response is not the example's JSON object: %v\n%s", i, err, body)
		}
		if !regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$`).MatchString(got.RequestID) {
			t.Errorf("invocation %d: request_id %q is not a request id", i, got.RequestID)
		}
		if got.RemainingMS <= 0 || got.RemainingMS > timeoutSeconds*1000 || got.RemainingMS != float64(int64(got.RemainingMS)) {
			t.Errorf("invocation %d: remaining_ms %v is not a count of milliseconds within the %d s timeout", i, got.RemainingMS, timeoutSeconds)
		}
		if got.Invocations != i {
			t.Errorf("invocation %d: invocations %d: the interpreter was not kept warm", i, got.Invocations)
		}
		if !reflect.DeepEqual(got.Event, wantEvent) {
			t.Errorf("invocation %d: event %#v, want %#v", i, got.Event, wantEvent)
		}
		if ex.greetsBy && !strings.HasPrefix(got.Message, "Hello, Ada, ") {
			t.Errorf("invocation %d: message %q does not greet the event's name", i, got.Message)
		}
		if ex.interpRE != "" && !regexp.MustCompile(ex.interpRE).MatchString(got.Message) {
			t.Errorf("invocation %d: message %q does not match %s", i, got.Message, ex.interpRE)
		}
		// The handler's log line, tagged with the same request id.
		logLine := regexp.MustCompile(`(?m)^.*` + regexp.QuoteMeta(got.RequestID) + `.*invocation ` + fmt.Sprint(i) + ` of this environment, \d+ ms left$`)
		emu.waitLog(t, logLine)
		t.Logf("invocation %d: %s", i, body)
	}
	// Which interpreter served: the worker is the bootstrap's child.
	exe := workerExecutable(t, emu)
	if !strings.HasPrefix(exe, interpPrefix) {
		t.Errorf("the worker runs %s, not %s", exe, interpPrefix)
	} else {
		t.Logf("worker: %s", exe)
	}
}

// workerExecutable is the executable of the process the bootstrap started for the handler: a
// descendant of the emulator that is neither the emulator nor the bootstrap.
func workerExecutable(t *testing.T, emu *emulator) string {
	t.Helper()
	children := map[int][]int{}
	stats, _ := filepath.Glob("/proc/[0-9]*/stat")
	for _, stat := range stats {
		data, err := os.ReadFile(stat)
		if err != nil {
			continue // gone
		}
		// pid (comm) state ppid ...: comm may hold spaces, so read after its last ')'.
		s := string(data)
		var pid, ppid int
		var state string
		if _, err := fmt.Sscan(s, &pid); err != nil {
			continue
		}
		if _, err := fmt.Sscan(s[strings.LastIndexByte(s, ')')+1:], &state, &ppid); err != nil {
			continue
		}
		children[ppid] = append(children[ppid], pid)
	}
	queue := []int{emu.cmd.Process.Pid}
	for len(queue) > 0 {
		pid := queue[0]
		queue = queue[1:]
		for _, child := range children[pid] {
			exe, err := os.Readlink(fmt.Sprintf("/proc/%d/exe", child))
			if err == nil && !strings.HasSuffix(exe, "/bootstrap") && !strings.Contains(exe, "aws-lambda-rie") {
				return exe
			}
			queue = append(queue, child)
		}
	}
	t.Fatalf("no worker process found under the emulator")
	return ""
}

// ---------------------------------------------------------------------------------------------
// The runtime layer and the emulator
// ---------------------------------------------------------------------------------------------

func TestMain(m *testing.M) {
	code := m.Run()
	if layerDir != "" {
		os.RemoveAll(filepath.Dir(layerDir))
	}
	os.Exit(code)
}

var (
	layerOnce sync.Once
	layerDir  string
	layerErr  error
)

// runtimeLayer is the unpacked runtime layer: POLYBOOT_LAYER_ZIP (make test sets it to the zip
// `make layer` built), else one assembled from the working tree as `make layer` does.
func runtimeLayer(t *testing.T) string {
	t.Helper()
	layerOnce.Do(func() {
		var dir string
		dir, layerErr = os.MkdirTemp("", "polyboot-publishtest-")
		if layerErr != nil {
			return
		}
		layerDir = filepath.Join(dir, "opt")
		if zipPath := os.Getenv("POLYBOOT_LAYER_ZIP"); zipPath != "" {
			layerErr = unzip(zipPath, layerDir)
			return
		}
		layerErr = assembleLayer(root(t), layerDir)
	})
	if layerErr != nil {
		t.Fatalf("the runtime layer: %v", layerErr)
	}
	if os.Getenv("POLYBOOT_LAYER_ZIP") == "" {
		t.Logf("testing a runtime layer assembled from the working tree (set POLYBOOT_LAYER_ZIP to test a zip)")
	}
	return layerDir
}

func assembleLayer(root, dir string) error {
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
	return nil
}

func rieBinary(t *testing.T) string {
	t.Helper()
	out, err := exec.Command("go", "tool", "-n", "aws-lambda-rie").Output()
	if err != nil {
		t.Fatalf("finding the emulator (go tool -n aws-lambda-rie): %v", err)
	}
	return strings.TrimSpace(string(out))
}

type emulator struct {
	url  string
	logs *syncBuffer
	cmd  *exec.Cmd
}

// startEmulator serves function.handler from taskDir with layer's bootstrap, and stops it with
// everything it started when the test ends.
func startEmulator(t *testing.T, rie, layer, taskDir string, env []string) *emulator {
	t.Helper()
	port, apiPort := freePort(t), freePort(t)
	logs := &syncBuffer{}
	cmd := exec.Command(rie,
		"--runtime-interface-emulator-address", fmt.Sprintf("127.0.0.1:%d", port),
		"--runtime-api-address", fmt.Sprintf("127.0.0.1:%d", apiPort),
		layer+"/bootstrap")
	cmd.Dir = taskDir
	cmd.Env = append(cleanEnv(), "_HANDLER=function.handler", fmt.Sprintf("AWS_LAMBDA_FUNCTION_TIMEOUT=%d", timeoutSeconds))
	cmd.Env = append(cmd.Env, env...)
	cmd.Stdout, cmd.Stderr = logs, logs
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting the emulator: %v", err)
	}
	e := &emulator{url: fmt.Sprintf("http://127.0.0.1:%d/2015-03-31/functions/function/invocations", port), logs: logs, cmd: cmd}
	t.Cleanup(func() {
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		_ = cmd.Wait()
		if t.Failed() {
			t.Logf("emulator log:\n%s", logs.String())
		}
	})
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", port))
		if err == nil {
			c.Close()
			return e
		}
		if time.Now().After(deadline) {
			t.Fatalf("the emulator did not listen: %v\n%s", err, logs.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (e *emulator) invoke(t *testing.T, event []byte) (int, []byte) {
	t.Helper()
	client := &http.Client{Timeout: 2 * timeoutSeconds * time.Second}
	resp, err := client.Post(e.url, "application/json", bytes.NewReader(event))
	if err != nil {
		t.Fatalf("invoke: %v\n%s", err, e.logs.String())
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("invoke: reading the response: %v", err)
	}
	return resp.StatusCode, body
}

// waitLog waits until a line of the emulator's log matches re.
func (e *emulator) waitLog(t *testing.T, re *regexp.Regexp) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !re.MatchString(e.logs.String()) {
		if time.Now().After(deadline) {
			t.Errorf("no log line matches %s", re)
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// cleanEnv is this process's environment without what would change an interpreter's behaviour.
func cleanEnv() []string {
	var out []string
	for _, kv := range os.Environ() {
		switch strings.SplitN(kv, "=", 2)[0] {
		case "PYTHONUNBUFFERED", "PYTHONPATH", "PYTHONHOME", "_HANDLER", "LAMBDA_TASK_ROOT",
			"AWS_LAMBDA_RUNTIME_API", "AWS_LAMBDA_LOG_FORMAT", "AWS_LAMBDA_MAX_CONCURRENCY",
			"POLYBOOT_BASH", "POLYBOOT_TCLSH", "POLYBOOT_PYTHON", "POLYBOOT_ADAPTER_PATH":
			continue
		}
		out = append(out, kv)
	}
	return out
}

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// ---------------------------------------------------------------------------------------------
// Interpreters (as e2e finds them)
// ---------------------------------------------------------------------------------------------

// python27 finds a working Python 2.7: python2.7 or python2 on PATH, else one installed by pyenv.
func python27(t *testing.T) string {
	t.Helper()
	var candidates []string
	for _, name := range []string{"python2.7", "python2"} {
		if p, err := exec.LookPath(name); err == nil {
			candidates = append(candidates, p)
		}
	}
	if out, err := exec.Command("pyenv", "root").Output(); err == nil {
		found, _ := filepath.Glob(filepath.Join(strings.TrimSpace(string(out)), "versions", "2.7*", "bin", "python2.7"))
		sort.Sort(sort.Reverse(sort.StringSlice(found)))
		candidates = append(candidates, found...)
	}
	for _, c := range candidates {
		out, err := exec.Command(c, "-c", "import sys; print('%d.%d' % sys.version_info[:2])").Output()
		if err == nil && strings.TrimSpace(string(out)) == "2.7" {
			return c
		}
	}
	return ""
}

// tclsh finds tclsh 8.6 on PATH.
func tclsh(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"tclsh8.6", "tclsh"} {
		p, err := exec.LookPath(name)
		if err != nil {
			continue
		}
		cmd := exec.Command(p)
		cmd.Stdin = strings.NewReader("puts [info tclversion]")
		if out, err := cmd.Output(); err == nil && strings.TrimSpace(string(out)) == "8.6" {
			return p
		}
	}
	return ""
}

// requireInterpreter fails the test when an interpreter is missing, unless POLYBOOT_ALLOW_MISSING
// names it (comma-separated), in which case the test is skipped loudly.
func requireInterpreter(t *testing.T, name, path string) bool {
	t.Helper()
	if path != "" {
		t.Logf("%s: %s", name, path)
		return true
	}
	for _, allowed := range strings.Split(os.Getenv("POLYBOOT_ALLOW_MISSING"), ",") {
		if a := strings.TrimSpace(allowed); a == name || (name == "python2" && a == "python2.7") {
			t.Skipf("*** %s NOT FOUND: the example did NOT run (allowed by POLYBOOT_ALLOW_MISSING) ***", name)
		}
	}
	t.Fatalf("*** %s NOT FOUND: cannot run the example (set POLYBOOT_ALLOW_MISSING=%s to skip it loudly) ***", name, name)
	return false
}

// ---------------------------------------------------------------------------------------------
// Files
// ---------------------------------------------------------------------------------------------

func unzip(zipPath, dir string) error {
	zr, err := zip.OpenReader(zipPath)
	if err != nil {
		return fmt.Errorf("opening %s: %w", zipPath, err)
	}
	defer zr.Close()
	for _, f := range zr.File {
		if err := extract(f, dir); err != nil {
			return fmt.Errorf("%s: %w", zipPath, err)
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
			return fmt.Errorf("reading %s: %w", f.Name, err)
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

// copyTree copies the regular files, folders and symlinks of src into dst.
func copyTree(src, dst string) error {
	return filepath.Walk(src, func(path string, info os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(src, path)
		if err != nil {
			return err
		}
		target := filepath.Join(dst, rel)
		switch {
		case info.IsDir():
			return os.MkdirAll(target, 0o755)
		case info.Mode()&os.ModeSymlink != 0:
			link, err := os.Readlink(path)
			if err != nil {
				return err
			}
			return os.Symlink(link, target)
		default:
			data, err := os.ReadFile(path)
			if err != nil {
				return err
			}
			return os.WriteFile(target, data, info.Mode().Perm())
		}
	})
}
