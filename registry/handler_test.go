package registry_test

import (
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/polyboot/polyboot/registry"
)

func TestParseHandler(t *testing.T) {
	tests := []struct {
		spec         string
		wantModule   string
		wantFunction string // "" when the spec is refused
	}{
		{"function.handler", "function", "handler"},
		{"lib/app.handler", "lib/app", "handler"},
		{"pkg.mod.handler", "pkg.mod", "handler"},
		{"function.app::handler", "function", "app::handler"},
		{"a/b/c.d_e-f", "a/b/c", "d_e-f"},
		{"x..y", "x.", "y"},
		{"..a.h", "..a", "h"},
		{"lib/...h", "", ""},
		{"", "", ""},
		{"function", "", ""},
		{"function.", "", ""},
		{"lib/app.", "", ""},
		{".handler", "", ""},
		{".", "", ""},
		{"..", "", ""},
		{"...", "", ""},
		{"...h", "", ""},
		{"/var/task/function.handler", "", ""},
		{"/function.handler", "", ""},
		{"../x.h", "", ""},
		{"../../etc/passwd.h", "", ""},
		{"a/../b.h", "", ""},
		{"a/../../b.h", "", ""},
		{"./function.handler", "", ""},
		{"lib//app.handler", "", ""},
		{"lib/.handler", "", ""},
		{"lib/./app.handler", "", ""},
		{"fun\x00ction.handler", "", ""},
		{"function.hand\x00ler", "", ""},
		{"function.handler\n", "", ""},
		{"lib\n/app.handler", "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.spec, func(t *testing.T) {
			module, function, err := registry.ParseHandler(tt.spec)
			if tt.wantFunction == "" {
				if err == nil {
					t.Fatalf("ParseHandler(%q) = %q, %q; want an error", tt.spec, module, function)
				}
				wantReport(t, err, registry.ErrTypeMalformedHandler, strconv.Quote(tt.spec))
				if module != "" || function != "" {
					t.Errorf("ParseHandler(%q) returned %q, %q with its error", tt.spec, module, function)
				}
				return
			}
			if err != nil {
				t.Fatalf("ParseHandler(%q): %v", tt.spec, err)
			}
			if module != tt.wantModule || function != tt.wantFunction {
				t.Errorf("ParseHandler(%q) = %q, %q; want %q, %q", tt.spec, module, function, tt.wantModule, tt.wantFunction)
			}
		})
	}
}

// testAdapters returns three adapters, as Load would read them from dir: bash (.sh), python
// (.py, .pyw) and tcl (.tcl).
func testAdapters(dir string) (bash, python, tcl *registry.Manifest) {
	bash = &registry.Manifest{Language: "bash", Extensions: []string{".sh"}, Script: "adapter.sh",
		Dir: filepath.Join(dir, "bash"), Interpreter: registry.Interpreter{Env: "POLYBOOT_BASH", Commands: []string{"bash"}}}
	python = &registry.Manifest{Language: "python2", Extensions: []string{".py", ".pyw"}, Script: "adapter.py",
		Dir: filepath.Join(dir, "python2"), Interpreter: registry.Interpreter{Commands: []string{"python2.7", "python2"}}}
	tcl = &registry.Manifest{Language: "tcl", Extensions: []string{".tcl"}, Script: "adapter.tcl",
		Dir: filepath.Join(dir, "tcl"), Interpreter: registry.Interpreter{Commands: []string{"tclsh"}}}
	return bash, python, tcl
}

func TestResolve(t *testing.T) {
	bash, python, tcl := testAdapters("/opt/adapters")
	tests := []struct {
		name     string
		files    map[string]os.FileMode // files to create under the task root
		adapters []*registry.Manifest
		spec     string
		wantFile string // relative to the task root
		wantMod  string
		wantFunc string
		wantAd   *registry.Manifest
	}{
		{
			name:  "one file",
			files: map[string]os.FileMode{"function.sh": 0o644}, adapters: []*registry.Manifest{bash, python},
			spec: "function.handler", wantFile: "function.sh", wantMod: "function", wantFunc: "handler", wantAd: bash,
		},
		{
			name:  "a file in a folder",
			files: map[string]os.FileMode{"lib/app.py": 0o644}, adapters: []*registry.Manifest{bash, python},
			spec: "lib/app.handler", wantFile: "lib/app.py", wantMod: "lib.app", wantFunc: "handler", wantAd: python,
		},
		{
			name:  "first adapter wins",
			files: map[string]os.FileMode{"function.sh": 0o644, "function.py": 0o644}, adapters: []*registry.Manifest{bash, python},
			spec: "function.handler", wantFile: "function.sh", wantMod: "function", wantFunc: "handler", wantAd: bash,
		},
		{
			name:  "first adapter wins, other order",
			files: map[string]os.FileMode{"function.sh": 0o644, "function.py": 0o644}, adapters: []*registry.Manifest{python, bash},
			spec: "function.handler", wantFile: "function.py", wantMod: "function", wantFunc: "handler", wantAd: python,
		},
		{
			name:  "first extension of an adapter wins",
			files: map[string]os.FileMode{"function.pyw": 0o644, "function.py": 0o644}, adapters: []*registry.Manifest{python},
			spec: "function.handler", wantFile: "function.py", wantMod: "function", wantFunc: "handler", wantAd: python,
		},
		{
			name:  "second extension",
			files: map[string]os.FileMode{"function.pyw": 0o644}, adapters: []*registry.Manifest{bash, python, tcl},
			spec: "function.handler", wantFile: "function.pyw", wantMod: "function", wantFunc: "handler", wantAd: python,
		},
		{
			name:  "dotted module read as folders",
			files: map[string]os.FileMode{"pkg/mod.py": 0o644}, adapters: []*registry.Manifest{bash, python},
			spec: "pkg.mod.handler", wantFile: "pkg/mod.py", wantMod: "pkg.mod", wantFunc: "handler", wantAd: python,
		},
		{
			name:  "dotted module as written before folders",
			files: map[string]os.FileMode{"pkg/mod.sh": 0o644, "pkg.mod.tcl": 0o644}, adapters: []*registry.Manifest{bash, tcl},
			spec: "pkg.mod.handler", wantFile: "pkg.mod.tcl", wantMod: "pkg.mod", wantFunc: "handler", wantAd: tcl,
		},
		{
			name:  "Tcl namespace function",
			files: map[string]os.FileMode{"function.tcl": 0o644}, adapters: []*registry.Manifest{tcl},
			spec: "function.app::handler", wantFile: "function.tcl", wantMod: "function", wantFunc: "app::handler", wantAd: tcl,
		},
		{
			name:  "executable without a known extension",
			files: map[string]os.FileMode{"server": 0o755}, adapters: []*registry.Manifest{bash, python},
			spec: "server.handle", wantFile: "server", wantMod: "server", wantFunc: "handle",
		},
		{
			name:  "executable in a folder",
			files: map[string]os.FileMode{"bin/server": 0o700}, adapters: []*registry.Manifest{bash},
			spec: "bin/server.handle", wantFile: "bin/server", wantMod: "bin.server", wantFunc: "handle",
		},
		{
			name:  "adapter file before executable",
			files: map[string]os.FileMode{"server": 0o755, "server.sh": 0o644}, adapters: []*registry.Manifest{bash},
			spec: "server.handle", wantFile: "server.sh", wantMod: "server", wantFunc: "handle", wantAd: bash,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			root := t.TempDir()
			for f, perm := range tt.files {
				writeFile(t, root, f, "# handler\n", perm)
			}
			reg := &registry.Registry{Adapters: tt.adapters}
			h, err := reg.Resolve(tt.spec, root)
			if err != nil {
				t.Fatal(err)
			}
			want := registry.Handler{
				Spec: tt.spec, File: filepath.Join(root, tt.wantFile), Function: tt.wantFunc, Module: tt.wantMod, Adapter: tt.wantAd,
			}
			if *h != want {
				t.Errorf("Resolve(%q)\n got %+v\nwant %+v", tt.spec, *h, want)
			}
		})
	}
}

func TestResolveLinkedFile(t *testing.T) {
	bash, _, _ := testAdapters("/opt/adapters")
	root := t.TempDir()
	target := writeFile(t, t.TempDir(), "real.sh", "# handler\n", 0o644)
	symlink(t, root, "function.sh", target)
	h, err := (&registry.Registry{Adapters: []*registry.Manifest{bash}}).Resolve("function.handler", root)
	if err != nil {
		t.Fatal(err)
	}
	if h.File != filepath.Join(root, "function.sh") || h.Adapter != bash {
		t.Errorf("Resolve = %+v", h)
	}
}

func TestResolveNotFound(t *testing.T) {
	bash, python, _ := testAdapters("/opt/adapters")
	tests := []struct {
		name   string
		setup  func(t *testing.T, root string)
		spec   string
		looked string
	}{
		{
			name:   "empty task root",
			setup:  func(*testing.T, string) {},
			spec:   "function.handler",
			looked: "looked for function.sh, function.py, function.pyw, function (executable)",
		},
		{
			name:   "dotted module",
			setup:  func(*testing.T, string) {},
			spec:   "pkg.mod.handler",
			looked: "looked for pkg.mod.sh, pkg.mod.py, pkg.mod.pyw, pkg/mod.sh, pkg/mod.py, pkg/mod.pyw, pkg.mod (executable)",
		},
		{
			name:   "a file that is not executable has no adapter",
			setup:  func(t *testing.T, root string) { writeFile(t, root, "server", "#!/bin/sh\n", 0o644) },
			spec:   "server.handle",
			looked: "server (executable)",
		},
		{
			name: "folders named like handler files",
			setup: func(t *testing.T, root string) {
				for _, d := range []string{"function.sh", "function.py", "function"} {
					if err := os.MkdirAll(filepath.Join(root, d), 0o755); err != nil {
						t.Fatal(err)
					}
				}
			},
			spec:   "function.handler",
			looked: "function.sh, function.py",
		},
		{
			name:   "another extension",
			setup:  func(t *testing.T, root string) { writeFile(t, root, "function.rb", "", 0o755) },
			spec:   "function.handler",
			looked: "function (executable)",
		},
		{
			name:   "a link to nothing",
			setup:  func(t *testing.T, root string) { symlink(t, root, "function.sh", filepath.Join(root, "missing")) },
			spec:   "function.handler",
			looked: "function.sh",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			root := t.TempDir()
			tt.setup(t, root)
			reg := &registry.Registry{Adapters: []*registry.Manifest{bash, python}}
			h, err := reg.Resolve(tt.spec, root)
			if err == nil {
				t.Fatalf("Resolve(%q) = %+v, want an error", tt.spec, h)
			}
			wantReport(t, err, registry.ErrTypeHandlerNotFound, strconv.Quote(tt.spec), root, tt.looked)
		})
	}
}

func TestResolveMalformed(t *testing.T) {
	bash, _, _ := testAdapters("/opt/adapters")
	root := t.TempDir()
	writeFile(t, filepath.Dir(root), "x.sh", "", 0o644) // outside the task root
	for _, spec := range []string{"../x.handler", "function", ""} {
		_, err := (&registry.Registry{Adapters: []*registry.Manifest{bash}}).Resolve(spec, root)
		wantReport(t, err, registry.ErrTypeMalformedHandler, strconv.Quote(spec))
	}
}
