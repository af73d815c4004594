package registry_test

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/polyboot/polyboot/registry"
)

// fakeEnv returns a Getenv that reads vars and nothing of the real environment.
func fakeEnv(vars map[string]string) func(string) string {
	return func(name string) string { return vars[name] }
}

// exe creates an executable file at root/path and returns its full path.
func exe(t *testing.T, root, path string) string {
	t.Helper()
	return writeFile(t, root, path, "#!/bin/sh\nexit 0\n", 0o755)
}

func TestArgv(t *testing.T) {
	tmp := t.TempDir()
	layerBin := filepath.Join(tmp, "opt/bin")
	path1, path2 := filepath.Join(tmp, "usr/local/bin"), filepath.Join(tmp, "usr/bin")
	exe(t, tmp, "opt/bin/bash")
	exe(t, tmp, "usr/local/bin/bash")
	exe(t, tmp, "usr/bin/bash")
	exe(t, tmp, "usr/bin/python2")
	exe(t, tmp, "usr/local/bin/python2.7")
	exe(t, tmp, "usr/bin/tclsh")
	writeFile(t, tmp, "opt/bin/tclsh", "not executable", 0o644)
	if err := os.MkdirAll(filepath.Join(tmp, "usr/local/bin/python2"), 0o755); err != nil { // a folder
		t.Fatal(err)
	}
	custom := exe(t, tmp, "custom/bash-5.2")
	writeFile(t, tmp, "custom/plain", "", 0o644)
	symlink(t, tmp, "links/python2.7", filepath.Join(tmp, "usr/local/bin/python2.7"))
	path := path1 + ":" + path2

	bash, python, tcl := testAdapters(filepath.Join(tmp, "opt/adapters"))
	bash.Interpreter.Args = []string{"--noprofile", "--norc"}
	python2only := *python
	python2only.Interpreter.Commands = []string{"python2"}
	tests := []struct {
		name    string
		adapter *registry.Manifest
		vars    map[string]string
		binDirs []string
		want    string // the interpreter
	}{
		{name: "bin dirs before PATH", adapter: bash, vars: map[string]string{"PATH": path}, binDirs: []string{layerBin}, want: filepath.Join(layerBin, "bash")},
		{name: "PATH in order", adapter: bash, vars: map[string]string{"PATH": path}, want: filepath.Join(path1, "bash")},
		{name: "PATH in the other order", adapter: bash, vars: map[string]string{"PATH": path2 + ":" + path1}, want: filepath.Join(path2, "bash")},
		{name: "empty and missing PATH entries skipped", adapter: bash, vars: map[string]string{"PATH": "::" + filepath.Join(tmp, "nope") + ":" + path2}, want: filepath.Join(path2, "bash")},
		{name: "env override as a path", adapter: bash, vars: map[string]string{"POLYBOOT_BASH": custom, "PATH": path}, binDirs: []string{layerBin}, want: custom},
		{name: "env override as a command", adapter: bash, vars: map[string]string{"POLYBOOT_BASH": "bash-5.2", "PATH": path + ":" + filepath.Join(tmp, "custom")}, binDirs: []string{layerBin}, want: custom},
		{name: "env override empty is unset", adapter: bash, vars: map[string]string{"POLYBOOT_BASH": "", "PATH": path}, want: filepath.Join(path1, "bash")},
		{name: "commands tried in order", adapter: python, vars: map[string]string{"PATH": path2 + ":" + path1}, want: filepath.Join(path1, "python2.7")},
		{name: "second command", adapter: python, vars: map[string]string{"PATH": path2}, want: filepath.Join(path2, "python2")},
		{name: "a folder is not a command", adapter: &python2only, vars: map[string]string{"PATH": path1 + ":" + path2}, binDirs: []string{layerBin}, want: filepath.Join(path2, "python2")},
		{name: "a link to a command", adapter: python, vars: map[string]string{"PATH": path2}, binDirs: []string{filepath.Join(tmp, "links")}, want: filepath.Join(tmp, "links/python2.7")},
		{name: "a file that is not executable is skipped", adapter: tcl, vars: map[string]string{"PATH": path2}, binDirs: []string{layerBin}, want: filepath.Join(path2, "tclsh")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := &registry.Handler{Spec: "lib/app.handler", File: "/var/task/lib/app.x", Function: "handler", Module: "lib.app", Adapter: tt.adapter}
			argv, err := (&registry.Registry{}).Argv(h, registry.Env{Getenv: fakeEnv(tt.vars), BinDirs: tt.binDirs})
			if err != nil {
				t.Fatal(err)
			}
			want := append([]string{tt.want}, tt.adapter.Interpreter.Args...)
			want = append(want, filepath.Join(tt.adapter.Dir, tt.adapter.Script), "/var/task/lib/app.x", "handler", "lib.app")
			if !reflect.DeepEqual(argv, want) {
				t.Errorf("Argv\n got %q\nwant %q", argv, want)
			}
		})
	}
}

// TestArgvRelativeOverride checks an override that is a relative path: it is taken from the
// working directory and made absolute.
func TestArgvRelativeOverride(t *testing.T) {
	tmp := t.TempDir()
	exe(t, tmp, "tools/bash")
	t.Chdir(tmp)
	bash, _, _ := testAdapters("/opt/adapters")
	h := &registry.Handler{File: "/var/task/f.sh", Function: "h", Module: "f", Adapter: bash}
	argv, err := (&registry.Registry{}).Argv(h, registry.Env{Getenv: fakeEnv(map[string]string{"POLYBOOT_BASH": "./tools/bash"})})
	if err != nil {
		t.Fatal(err)
	}
	if want := filepath.Join(tmp, "tools/bash"); argv[0] != want {
		t.Errorf("interpreter %q, want %q", argv[0], want)
	}
}

func TestArgvInterpreterNotFound(t *testing.T) {
	tmp := t.TempDir()
	binDir, pathDir := filepath.Join(tmp, "opt/bin"), filepath.Join(tmp, "usr/bin")
	exe(t, tmp, "usr/bin/bash")
	plain := writeFile(t, tmp, "custom/plain", "", 0o644)
	bash, python, _ := testAdapters(filepath.Join(tmp, "opt/adapters"))
	tests := []struct {
		name    string
		adapter *registry.Manifest
		vars    map[string]string
		message string
	}{
		{
			name: "override names no file", adapter: bash,
			vars:    map[string]string{"POLYBOOT_BASH": "/nowhere/bash", "PATH": pathDir},
			message: `POLYBOOT_BASH="/nowhere/bash" names no executable file (for bash handlers)`,
		},
		{
			name: "override names no command", adapter: bash,
			vars:    map[string]string{"POLYBOOT_BASH": "bash9", "PATH": pathDir},
			message: `POLYBOOT_BASH="bash9" names no executable file (for bash handlers)`,
		},
		{
			name: "override names a file that is not executable", adapter: bash,
			vars:    map[string]string{"POLYBOOT_BASH": plain, "PATH": pathDir},
			message: `POLYBOOT_BASH="` + plain + `" names no executable file`,
		},
		{
			name: "override names a folder", adapter: bash,
			vars:    map[string]string{"POLYBOOT_BASH": pathDir, "PATH": pathDir},
			message: `POLYBOOT_BASH="` + pathDir + `" names no executable file`,
		},
		{
			name: "no command with an override variable", adapter: bash,
			vars:    map[string]string{"PATH": filepath.Join(tmp, "custom")},
			message: "no interpreter for bash handlers: looked for $POLYBOOT_BASH (unset); bash in " + binDir + ":" + filepath.Join(tmp, "custom"),
		},
		{
			name: "no command, no PATH", adapter: python,
			vars:    map[string]string{},
			message: "no interpreter for python2 handlers: looked for python2.7, python2 in " + binDir,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := &registry.Handler{File: "/var/task/f.x", Function: "h", Module: "f", Adapter: tt.adapter}
			argv, err := (&registry.Registry{}).Argv(h, registry.Env{Getenv: fakeEnv(tt.vars), BinDirs: []string{binDir}})
			if err == nil {
				t.Fatalf("Argv = %q, want an error", argv)
			}
			wantReport(t, err, registry.ErrTypeInterpreterNotFound, tt.message)
			if argv != nil {
				t.Errorf("Argv returned %q with its error", argv)
			}
		})
	}
}

func TestArgvExecutableHandler(t *testing.T) {
	h := &registry.Handler{Spec: "bin/server.handle", File: "/var/task/bin/server", Function: "handle", Module: "bin.server"}
	env := registry.Env{Getenv: func(name string) string {
		t.Errorf("Getenv(%q) called for an executable handler", name)
		return ""
	}}
	argv, err := (&registry.Registry{}).Argv(h, env)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"/var/task/bin/server", "/var/task/bin/server", "handle", "bin.server"}
	if !reflect.DeepEqual(argv, want) {
		t.Errorf("Argv = %q, want %q", argv, want)
	}
}

// TestArgvEndToEnd resolves a handler in a task root with adapters loaded from manifests and builds
// its command line, as the bootstrap does.
func TestArgvEndToEnd(t *testing.T) {
	tmp := t.TempDir()
	adapters := filepath.Join(tmp, "opt/adapters")
	writeFile(t, adapters, "bash/adapter.json",
		`{"language":"bash","extensions":[".sh"],"interpreter":{"env":"POLYBOOT_BASH","commands":["bash"],"args":["--noprofile","--norc"]},"script":"adapter.sh"}`, 0o644)
	interp := exe(t, tmp, "opt/bin/bash")
	root := filepath.Join(tmp, "var/task")
	file := writeFile(t, root, "lib/app.sh", "handler() { :; }\n", 0o644)
	reg, err := registry.Load(adapters)
	if err != nil {
		t.Fatal(err)
	}
	h, err := reg.Resolve("lib/app.handler", root)
	if err != nil {
		t.Fatal(err)
	}
	argv, err := reg.Argv(h, registry.Env{Getenv: fakeEnv(map[string]string{"PATH": "/nonexistent"}), BinDirs: []string{filepath.Join(tmp, "opt/bin")}})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{interp, "--noprofile", "--norc", filepath.Join(adapters, "bash/adapter.sh"), file, "handler", "lib.app"}
	if strings.Join(argv, " ") != strings.Join(want, " ") {
		t.Errorf("Argv\n got %q\nwant %q", argv, want)
	}
}
