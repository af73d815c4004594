package publishtest

// The examples of examples/, served as Lambda would serve them: the runtime layer's bootstrap
// under AWS's Runtime Interface Emulator (RIE), the example's folder as the task root,
// _HANDLER=function.handler. Each language runs with the machine's interpreter and, when
// `make layers` has built it, with the interpreter layer's own.
//
// The emulator harness is internal/rietest, shared with e2e/.

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"runtime"
	"strings"
	"sync"
	"testing"

	"github.com/polyboot/polyboot/internal/layerzip"
	"github.com/polyboot/polyboot/internal/rietest"
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
				if err := layerzip.Unzip(zipPath, opt); err != nil {
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
		status, body := emu.Invoke(t, []byte(event))
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
		emu.WaitLog(t, "a line matching "+logLine.String(), logLine.MatchString)
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
func workerExecutable(t *testing.T, emu *rietest.Emulator) string {
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
	queue := []int{emu.Cmd.Process.Pid}
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
// The runtime layer and the emulator (internal/rietest)
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
	var what string
	layerOnce.Do(func() {
		var dir string
		dir, layerErr = os.MkdirTemp("", "polyboot-publishtest-")
		if layerErr != nil {
			return
		}
		layerDir = filepath.Join(dir, "opt")
		what, layerErr = rietest.Layer(layerDir)
	})
	if layerErr != nil {
		t.Fatalf("the runtime layer: %v", layerErr)
	}
	if what != "" {
		t.Logf("testing %s", what)
	}
	return layerDir
}

func rieBinary(t *testing.T) string {
	t.Helper()
	rie, err := rietest.RIE()
	if err != nil {
		t.Fatal(err)
	}
	return rie
}

// startEmulator serves function.handler from taskDir with layer's bootstrap, and stops it with
// everything it started when the test ends.
func startEmulator(t *testing.T, rie, layer, taskDir string, env []string) *rietest.Emulator {
	t.Helper()
	env = append([]string{fmt.Sprintf("AWS_LAMBDA_FUNCTION_TIMEOUT=%d", timeoutSeconds)}, env...)
	return rietest.Start(t, rie, rietest.Function{Layer: layer, TaskDir: taskDir, Handler: "function.handler", Env: env})
}

func python27(*testing.T) string { return rietest.Python27() }
func tclsh(*testing.T) string    { return rietest.Tclsh() }

func requireInterpreter(t *testing.T, name, path string) bool {
	t.Helper()
	return rietest.RequireInterpreter(t, name, path)
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
