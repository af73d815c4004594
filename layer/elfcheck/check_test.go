package main

import (
	"archive/zip"
	"bytes"
	"debug/elf"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// Fixtures are made at test time from ELF files every machine of this kind has: /bin/true (a
// Debian 12 build needing exactly GLIBC_2.34 from libc.so.6), the C library itself, and the Go
// toolchain's gofmt (a static executable). Variants are made by rewriting strings in .dynstr in
// place.

// fixtures holds the ELF files the tests build layers from.
type fixtures struct {
	trueBin []byte // /bin/true: NEEDED libc.so.6, versions up to GLIBC_2.34
	libc    []byte // the C library, which defines the GLIBC_ versions
	static  []byte // a static executable with no dynamic section (gofmt)
}

// loadFixtures reads the fixture ELF files and checks the properties the cases rely on.
func loadFixtures(t *testing.T) fixtures {
	t.Helper()
	var fx fixtures
	var err error
	if fx.trueBin, err = os.ReadFile("/bin/true"); err != nil {
		t.Fatalf("fixture /bin/true: %v", err)
	}
	for _, p := range []string{"/lib/x86_64-linux-gnu/libc.so.6", "/lib/aarch64-linux-gnu/libc.so.6", "/lib64/libc.so.6", "/usr/lib64/libc.so.6"} {
		if fx.libc, err = os.ReadFile(p); err == nil {
			break
		}
	}
	if fx.libc == nil {
		t.Fatalf("fixture libc.so.6: not found in the usual places")
	}
	gofmt := filepath.Join(goroot(t), "bin", "gofmt")
	if fx.static, err = os.ReadFile(gofmt); err != nil {
		t.Fatalf("fixture gofmt: %v", err)
	}
	// Preconditions the cases below rely on.
	needsOf := func(data []byte) ([]string, Version) {
		f, err := elf.NewFile(bytes.NewReader(data))
		if err != nil {
			t.Fatalf("fixture: %v", err)
		}
		libs, _ := f.ImportedLibraries()
		needs, err := versionNeeds(f)
		if err != nil {
			t.Fatalf("fixture: %v", err)
		}
		var top Version
		for _, n := range needs {
			for _, d := range n.Needs {
				if v, err := ParseVersion(strings.TrimPrefix(d.Dep, "GLIBC_")); err == nil && v.Compare(top) > 0 {
					top = v
				}
			}
		}
		return libs, top
	}
	if libs, top := needsOf(fx.trueBin); !reflect.DeepEqual(libs, []string{"libc.so.6"}) || top.String() != "2.34" {
		t.Fatalf("fixture /bin/true needs %v up to GLIBC_%s; the cases expect libc.so.6 up to GLIBC_2.34", libs, top)
	}
	if libs, _ := needsOf(fx.static); len(libs) != 0 {
		t.Fatalf("fixture %s is not static: needs %v", gofmt, libs)
	}
	return fx
}

// goroot finds the Go installation running the tests: $GOROOT, else what `go env GOROOT` says.
func goroot(t *testing.T) string {
	t.Helper()
	if g := os.Getenv("GOROOT"); g != "" {
		return g
	}
	out, err := exec.Command("go", "env", "GOROOT").Output()
	if err != nil || len(bytes.TrimSpace(out)) == 0 {
		t.Fatalf("fixture gofmt: cannot find GOROOT (go env GOROOT: %v)", err)
	}
	return string(bytes.TrimSpace(out))
}

// patchDynstr returns a copy of an ELF file with the NUL-terminated string old in .dynstr
// replaced by new, which must have the same length.
func patchDynstr(t *testing.T, data []byte, old, new string) []byte {
	t.Helper()
	if len(old) != len(new) {
		t.Fatalf("patchDynstr: %q and %q differ in length", old, new)
	}
	f, err := elf.NewFile(bytes.NewReader(data))
	if err != nil {
		t.Fatalf("patchDynstr: %v", err)
	}
	sec := f.Section(".dynstr")
	if sec == nil {
		t.Fatalf("patchDynstr: no .dynstr")
	}
	out := bytes.Clone(data)
	tab := out[sec.Offset : sec.Offset+sec.Size]
	i := bytes.Index(tab, []byte("\x00"+old+"\x00"))
	if i < 0 {
		t.Fatalf("patchDynstr: %q not in .dynstr", old)
	}
	copy(tab[i+1:], new)
	return out
}

// layerOf builds an in-memory layer; string values starting with "->" are symlinks.
func layerOf(files map[string]any) *Layer {
	l := &Layer{Name: "test", Entries: map[string]Entry{}, ZippedSize: -1}
	for p, v := range files {
		switch v := v.(type) {
		case []byte:
			l.Entries[p] = Entry{Data: v}
			l.Unzipped += int64(len(v))
		case string:
			target, ok := strings.CutPrefix(v, "->")
			if !ok {
				l.Entries[p] = Entry{Data: []byte(v)}
				continue
			}
			l.Entries[p] = Entry{Link: target}
		}
	}
	return l
}

func TestCheckLayer(t *testing.T) {
	fx := loadFixtures(t)
	needsLibq := patchDynstr(t, fx.trueBin, "libc.so.6", "libq.so.6")
	libqFromLibc := patchDynstr(t, fx.libc, "libc.so.6", "libq.so.6") // its SONAME
	tooNew := patchDynstr(t, fx.trueBin, "GLIBC_2.34", "GLIBC_2.99")
	private := patchDynstr(t, fx.trueBin, "GLIBC_2.14", "GLIBC_PRIV")
	amd64, _ := LookupArch("amd64")
	arm64, _ := LookupArch("arm64")
	native := amd64
	if f, err := elf.NewFile(bytes.NewReader(fx.trueBin)); err == nil && f.Machine == elf.EM_AARCH64 {
		native, arm64 = arm64, amd64 // on an arm64 machine, amd64 is the foreign one
	}

	tests := []struct {
		name     string
		files    map[string]any
		max      string
		arch     *Arch
		wantELFs int
		wantMax  string   // newest GLIBC version needed, "" for none
		wantErrs []string // substrings, one per expected problem, in order
		only     string   // when set, only this file's problems and glibc needs count
	}{
		{name: "glibc binary at the limit", files: map[string]any{"bin/true": fx.trueBin},
			max: "2.34", arch: &native, wantELFs: 1, wantMax: "2.34"},
		{name: "glibc binary one release too new", files: map[string]any{"bin/true": fx.trueBin},
			max: "2.33", wantELFs: 1, wantMax: "2.34",
			wantErrs: []string{"libc.so.6: needs GLIBC_2.34, newer than GLIBC_2.33"}},
		{name: "version far too new", files: map[string]any{"bin/true": tooNew},
			max: "2.34", wantELFs: 1, wantMax: "2.99",
			wantErrs: []string{"needs GLIBC_2.99, newer than GLIBC_2.34"}},
		{name: "non-release glibc version", files: map[string]any{"bin/true": private},
			max: "2.34", wantELFs: 1, wantMax: "2.34",
			wantErrs: []string{"version GLIBC_PRIV is not a glibc release version"}},
		{name: "needed library missing", files: map[string]any{"bin/true": needsLibq},
			max: "2.34", wantELFs: 1, wantMax: "",
			wantErrs: []string{"needs libq.so.6, which is neither a glibc library nor usable in the layer: lib/libq.so.6: no such file"}},
		{name: "needed library bundled behind symlinks", files: map[string]any{
			"bin/true": needsLibq, "lib/libq.so.6": "->libq.so.6.1", "lib/libq.so.6.1": "->/opt/lib/real/libq.so",
			"lib/real/libq.so": libqFromLibc},
			// The C library's copy has needs of its own (GLIBC_PRIVATE, ...): only bin/true counts.
			max: "2.34", arch: &native, wantELFs: 2, wantMax: "2.34", only: "bin/true"},
		{name: "bundled library lacks the versions", files: map[string]any{
			"bin/true": needsLibq, "lib/libq.so.6": fx.static},
			max: "2.34", wantELFs: 2, wantMax: "2.34",
			wantErrs: []string{"needs version GLIBC_2.3, GLIBC_2.3.4, GLIBC_2.14, GLIBC_2.4, GLIBC_2.26, GLIBC_2.34, GLIBC_2.2.5 of libq.so.6, which the bundled libq.so.6 does not define"}},
		{name: "bundled library is not ELF", files: map[string]any{
			"bin/true": needsLibq, "lib/libq.so.6": "just text"},
			max: "2.34", wantELFs: 1,
			wantErrs: []string{"lib/libq.so.6 is not an ELF file"}},
		{name: "symlink loop", files: map[string]any{
			"bin/true": needsLibq, "lib/libq.so.6": "->libq.so.7", "lib/libq.so.7": "->libq.so.6"},
			max: "2.34", wantELFs: 1,
			wantErrs: []string{"too many levels of symlinks"}},
		{name: "symlink out of the layer", files: map[string]any{
			"bin/true": needsLibq, "lib/libq.so.6": "->/usr/lib/libq.so.6"},
			max: "2.34", wantELFs: 1,
			wantErrs: []string{"symlink to /usr/lib/libq.so.6, outside /opt"}},
		{name: "wrong architecture", files: map[string]any{"bin/true": fx.trueBin},
			max: "2.34", arch: &arm64, wantELFs: 1, wantMax: "2.34",
			wantErrs: []string{"built for", "dynamic loader"}},
		{name: "static executable", files: map[string]any{"bin/static": fx.static},
			max: "2.34", arch: &native, wantELFs: 1},
		{name: "truncated ELF", files: map[string]any{"bin/broken": fx.trueBin[:64]},
			max: "2.34", wantELFs: 1,
			wantErrs: []string{"not a readable ELF file"}},
		{name: "no ELF at all", files: map[string]any{"lib/tcl8.6/init.tcl": "proc x {} {}"},
			max: "2.34", wantELFs: 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			maxV, err := ParseVersion(tc.max)
			if err != nil {
				t.Fatal(err)
			}
			r := CheckLayer(layerOf(tc.files), Options{MaxGlibc: maxV, Arch: tc.arch, SystemLibs: GlibcLibraries()})
			if len(r.ELFs) != tc.wantELFs {
				t.Errorf("ELF files: got %d, want %d", len(r.ELFs), tc.wantELFs)
			}
			problems := r.Problems
			if tc.only != "" {
				problems = nil
				for _, p := range r.Problems {
					if p.Path == tc.only {
						problems = append(problems, p)
					}
				}
				var elfs []ELFInfo
				for _, e := range r.ELFs {
					if e.Path == tc.only {
						elfs = append(elfs, e)
					}
				}
				r.ELFs = elfs
			}
			if got, _ := r.MaxGlibc(); got.String() != tc.wantMax {
				t.Errorf("newest glibc version: got %q, want %q", got, tc.wantMax)
			}
			if len(problems) != len(tc.wantErrs) {
				t.Fatalf("problems: got %d %v, want %d %q", len(problems), problems, len(tc.wantErrs), tc.wantErrs)
			}
			for i, want := range tc.wantErrs {
				if !strings.Contains(problems[i].String(), want) {
					t.Errorf("problem %d: got %q, want it to contain %q", i, problems[i], want)
				}
			}
		})
	}
}

func TestCheckGlibcVersion(t *testing.T) {
	maxV := Version{2, 34}
	tests := []struct {
		name    string
		want    string
		wantErr string
	}{
		{"GLIBC_2.2.5", "2.2.5", ""},
		{"GLIBC_2.34", "2.34", ""},
		{"GLIBC_2.34.0", "2.34.0", ""},
		{"GLIBC_2.35", "2.35", "newer than GLIBC_2.34"},
		{"GLIBC_2.34.1", "2.34.1", "newer than GLIBC_2.34"},
		{"GLIBC_3.0", "3.0", "newer than GLIBC_2.34"},
		{"GLIBC_PRIVATE", "", "not a glibc release version"},
		{"GLIBC_ABI_DT_RELR", "", "not a glibc release version"},
		{"GLIBC_2.034", "", "not a glibc release version"},
		{"OPENSSL_1_1_0", "", "not a glibc release version"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			v, err := CheckGlibcVersion(tc.name, maxV)
			if v.String() != tc.want {
				t.Errorf("version: got %q, want %q", v, tc.want)
			}
			switch {
			case tc.wantErr == "" && err != nil:
				t.Errorf("unexpected error %v", err)
			case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
				t.Errorf("error: got %v, want one containing %q", err, tc.wantErr)
			}
		})
	}
}

func TestVersionCompare(t *testing.T) {
	tests := []struct {
		a, b string
		want int
	}{
		{"2.34", "2.34", 0}, {"2.34", "2.34.0", 0}, {"2.3.4", "2.34", -1}, {"2.34", "2.4", 1},
		{"2.2.5", "2.3", -1}, {"10.0", "9.99", 1},
	}
	for _, tc := range tests {
		a, errA := ParseVersion(tc.a)
		b, errB := ParseVersion(tc.b)
		if errA != nil || errB != nil {
			t.Fatalf("parse %s %s: %v %v", tc.a, tc.b, errA, errB)
		}
		if got := a.Compare(b); got != tc.want {
			t.Errorf("%s vs %s: got %d, want %d", tc.a, tc.b, got, tc.want)
		}
	}
	for _, bad := range []string{"", "2.", ".2", "2..3", "x", "-1", "01"} {
		if _, err := ParseVersion(bad); err == nil {
			t.Errorf("ParseVersion(%q) accepted", bad)
		}
	}
}

// writeLayerFiles writes a small layer both as a directory and as a zip (symlinks as symlinks)
// and returns their paths.
func writeLayerFiles(t *testing.T, files map[string]any) (dir, zipPath string) {
	t.Helper()
	tmp := t.TempDir()
	dir = filepath.Join(tmp, "layer")
	zipPath = filepath.Join(tmp, "layer.zip")
	zf, err := os.Create(zipPath)
	if err != nil {
		t.Fatal(err)
	}
	zw := zip.NewWriter(zf)
	for p, v := range files {
		full := filepath.Join(dir, filepath.FromSlash(p))
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		h := &zip.FileHeader{Name: p, Method: zip.Deflate}
		var data []byte
		switch v := v.(type) {
		case []byte:
			data = v
			h.SetMode(0o755)
			if err := os.WriteFile(full, v, 0o755); err != nil {
				t.Fatal(err)
			}
		case string:
			target := strings.TrimPrefix(v, "->")
			data = []byte(target)
			h.SetMode(fs.ModeSymlink | 0o777)
			if err := os.Symlink(target, full); err != nil {
				t.Fatal(err)
			}
		}
		w, err := zw.CreateHeader(h)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := w.Write(data); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := zw.CreateHeader(&zip.FileHeader{Name: "bin/"}); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := zf.Close(); err != nil {
		t.Fatal(err)
	}
	return dir, zipPath
}

func TestLoadLayer(t *testing.T) {
	files := map[string]any{"bin/tool": []byte("\x7fELF not really"), "bin/alias": "->tool", "lib/x/y": []byte("data")}
	dir, zipPath := writeLayerFiles(t, files)
	want := map[string]Entry{
		"bin/tool":  {Data: []byte("\x7fELF not really")},
		"bin/alias": {Link: "tool"},
		"lib/x/y":   {Data: []byte("data")},
	}
	for _, tc := range []struct {
		name, path string
		zipped     bool
	}{{"directory", dir, false}, {"zip", zipPath, true}} {
		t.Run(tc.name, func(t *testing.T) {
			l, err := LoadLayer(tc.path)
			if err != nil {
				t.Fatalf("LoadLayer: %v", err)
			}
			if !reflect.DeepEqual(l.Entries, want) {
				t.Errorf("entries: got %v, want %v", l.Entries, want)
			}
			if l.Unzipped != int64(len("\x7fELF not really")+len("tool")+len("data")) {
				t.Errorf("unzipped size: got %d", l.Unzipped)
			}
			if tc.zipped != (l.ZippedSize > 0) {
				t.Errorf("zipped size: got %d", l.ZippedSize)
			}
			p, e, err := l.Resolve("bin/alias")
			if err != nil || p != "bin/tool" || e.Link != "" {
				t.Errorf("Resolve(bin/alias) = %q, %v, %v", p, e, err)
			}
		})
	}
	if _, err := LoadLayer(filepath.Join(t.TempDir(), "missing.zip")); err == nil {
		t.Error("LoadLayer of a missing file succeeded")
	}
}

func TestCleanPath(t *testing.T) {
	tests := []struct {
		in, want string
		ok       bool
	}{
		{"bin/x", "bin/x", true}, {"lib/", "lib", true}, {"./lib/a/../b", "lib/b", true},
		{"/etc/passwd", "", false}, {"../x", "", false}, {"a/../../x", "", false}, {".", "", false},
	}
	for _, tc := range tests {
		got, err := cleanPath(tc.in)
		if got != tc.want || (err == nil) != tc.ok {
			t.Errorf("cleanPath(%q) = %q, %v; want %q, ok=%v", tc.in, got, err, tc.want, tc.ok)
		}
	}
}

func TestRun(t *testing.T) {
	fx := loadFixtures(t)
	_, good := writeLayerFiles(t, map[string]any{"bin/true": fx.trueBin})
	_, bad := writeLayerFiles(t, map[string]any{"bin/true": patchDynstr(t, fx.trueBin, "GLIBC_2.34", "GLIBC_2.99")})
	_, empty := writeLayerFiles(t, map[string]any{"share/doc": []byte("text")})
	tests := []struct {
		name     string
		args     []string
		wantCode int
		wantOut  []string
	}{
		{"good layer", []string{"-arch", "any", good}, 0, []string{"bytes (", "zipped", "unzipped, 1 files, 1 ELF", "GLIBC_2.34 (bin/true)", "OK: 1 ELF files"}},
		{"bad layer", []string{"-arch", "any", good, bad}, 1, []string{"OK: 1 ELF", "FAIL bin/true: libc.so.6: needs GLIBC_2.99", "FAILED: 1 problems"}},
		{"nothing to check", []string{"-arch", "any", empty}, 1, []string{"no ELF files found"}},
		{"verbose", []string{"-arch", "any", "-v", good}, 0, []string{"bin/true", "libc.so.6"}},
		{"missing layer", []string{"/nonexistent.zip"}, 2, nil},
		{"bad arch", []string{"-arch", "sparc", good}, 2, nil},
		{"bad max", []string{"-max-glibc", "2.x", good}, 2, nil},
		{"no args", nil, 2, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var out, errOut bytes.Buffer
			if code := run(tc.args, &out, &errOut); code != tc.wantCode {
				t.Errorf("exit code: got %d, want %d\nstdout:\n%s\nstderr:\n%s", code, tc.wantCode, &out, &errOut)
			}
			for _, w := range tc.wantOut {
				if !strings.Contains(out.String(), w) {
					t.Errorf("output lacks %q:\n%s", w, &out)
				}
			}
		})
	}
}
