package lambdaimage

import (
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/v1/types"
)

// The same inputs give the same digest, whatever the files' times on disk; a changed byte gives
// another one.
func TestBuildIsReproducible(t *testing.T) {
	fx := newFixture(t)
	first := digest(t, fx.build(t, "amd64"))
	later := time.Now().Add(time.Hour)
	for _, p := range []string{fx.runtime, fx.tcl, filepath.Join(fx.function, "function.sh"), filepath.Join(fx.rootfs, "etc/hosts")} {
		if err := os.Chtimes(p, later, later); err != nil {
			t.Fatal(err)
		}
	}
	if again := digest(t, fx.build(t, "amd64")); again != first {
		t.Fatalf("the same inputs gave %s, then %s", first, again)
	}
	if err := os.WriteFile(filepath.Join(fx.function, "function.sh"), []byte("handler() { echo ho; }\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	if changed := digest(t, fx.build(t, "amd64")); changed == first {
		t.Fatalf("a changed function file left the digest at %s", first)
	}
	// The archive written twice is the same file.
	img := fx.build(t, "amd64")
	var sums []string
	for i := range 2 {
		p := filepath.Join(t.TempDir(), fmt.Sprintf("img%d.tar", i))
		if _, err := WriteArchive(p, "polyboot-function:latest", img); err != nil {
			t.Fatal(err)
		}
		data, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		sums = append(sums, fmt.Sprintf("%x", data))
	}
	if sums[0] != sums[1] {
		t.Fatal("writing the same image twice gave two different archives")
	}
}

// Each zip is one layer under /opt, the function one under /var/task: sorted, every time the
// epoch, owner root, parents present, links kept, the function's modes normalized (lib/ is
// 0700 on disk).
func TestLayerContents(t *testing.T) {
	fx := newFixture(t)
	img := fx.build(t, "amd64")
	layers, err := img.Layers()
	if err != nil {
		t.Fatal(err)
	}
	if len(layers) != 4 {
		t.Fatalf("%d layers, want 4 (base, runtime, tcl, function)", len(layers))
	}
	want := [][]string{
		{"etc/ 40755", "etc/hosts 644", "lambda-entrypoint.sh 755"},
		{"opt/ 40755", "opt/adapters/ 40755", "opt/adapters/bash/ 40755", "opt/adapters/bash/adapter.sh 644",
			"opt/bootstrap 755", "var/ 40755", "var/runtime/ 40755", "var/runtime/bootstrap -> /opt/bootstrap"},
		{"opt/ 40755", "opt/bin/ 40755", "opt/bin/tclsh -> tclsh8.6", "opt/bin/tclsh8.6 755"},
		{"var/ 40755", "var/task/ 40755", "var/task/function.sh 755", "var/task/lib/ 40755", "var/task/lib/data.txt 644"},
	}
	for i, l := range layers {
		var got []string
		for _, h := range layerHeaders(t, l) {
			if !h.ModTime.Equal(DefaultEpoch()) || h.Uid != 0 || h.Gid != 0 || h.Uname != "" || h.Gname != "" {
				t.Errorf("layer %d: %s has time %v, owner %d:%d (%q:%q)", i, h.Name, h.ModTime, h.Uid, h.Gid, h.Uname, h.Gname)
			}
			if h.Linkname != "" {
				got = append(got, h.Name+" -> "+h.Linkname)
				continue
			}
			mode := fmt.Sprintf("%o", h.Mode)
			if h.Typeflag == '5' {
				mode = "4" + fmt.Sprintf("%04o", h.Mode)
			}
			got = append(got, h.Name+" "+mode)
		}
		if !sort.StringsAreSorted(got) {
			t.Errorf("layer %d is not sorted: %q", i, got)
		}
		if !reflect.DeepEqual(got, want[i]) {
			t.Errorf("layer %d:\n got %q\nwant %q", i, got, want[i])
		}
	}
}

// The configuration a registry and Lambda read, as it reads back from the archive: platform,
// entrypoint, CMD, environment, working directory, media types.
func TestConfigAsLambdaReadsIt(t *testing.T) {
	for _, arch := range []string{"amd64", "arm64"} {
		t.Run(arch, func(t *testing.T) {
			fx := newFixture(t)
			p := filepath.Join(t.TempDir(), "img.tar")
			d, err := WriteArchive(p, "polyboot-function:latest", fx.build(t, arch))
			if err != nil {
				t.Fatal(err)
			}
			img, err := ReadArchive(p)
			if err != nil {
				t.Fatal(err)
			}
			if got := digest(t, img); got != d {
				t.Fatalf("archive reads back as %s, built as %s", got, d)
			}
			cf, err := img.ConfigFile()
			if err != nil {
				t.Fatal(err)
			}
			wantVariant := map[string]string{"amd64": "", "arm64": "v8"}[arch]
			if cf.OS != "linux" || cf.Architecture != arch || cf.Variant != wantVariant {
				t.Errorf("platform %s/%s/%s, want linux/%s/%s", cf.OS, cf.Architecture, cf.Variant, arch, wantVariant)
			}
			c := cf.Config
			if !reflect.DeepEqual(c.Entrypoint, []string{"/lambda-entrypoint.sh"}) || !reflect.DeepEqual(c.Cmd, []string{"function.handler"}) {
				t.Errorf("entrypoint %q cmd %q", c.Entrypoint, c.Cmd)
			}
			if c.WorkingDir != "/var/task" {
				t.Errorf("working directory %q", c.WorkingDir)
			}
			if !reflect.DeepEqual(c.Env, LambdaEnv()) {
				t.Errorf("env %q, want %q", c.Env, LambdaEnv())
			}
			if !cf.Created.Time.Equal(DefaultEpoch()) || len(cf.History) != 4 || len(cf.RootFS.DiffIDs) != 4 {
				t.Errorf("created %v, %d history entries, %d diff ids", cf.Created, len(cf.History), len(cf.RootFS.DiffIDs))
			}
			m, err := img.Manifest()
			if err != nil {
				t.Fatal(err)
			}
			if m.SchemaVersion != 2 || m.MediaType != types.DockerManifestSchema2 || m.Config.MediaType != types.DockerConfigJSON {
				t.Errorf("manifest %d %s, config %s", m.SchemaVersion, m.MediaType, m.Config.MediaType)
			}
			for i, l := range m.Layers {
				if l.MediaType != types.DockerLayer {
					t.Errorf("layer %d has media type %s", i, l.MediaType)
				}
			}
		})
	}
}

func TestBuildRefuses(t *testing.T) {
	fx := newFixture(t)
	base, err := BaseFromRootfs(fx.rootfs, "amd64", DefaultEpoch())
	if err != nil {
		t.Fatal(err)
	}
	ok := Options{Base: base, Arch: "amd64", Runtime: fx.runtime, Function: fx.function, Handler: "function.handler", Epoch: DefaultEpoch()}
	tests := []struct {
		name string
		edit func(*Options)
	}{
		{"a base of another architecture", func(o *Options) { o.Arch = "arm64" }},
		{"an unknown architecture", func(o *Options) { o.Arch = "s390x" }},
		{"no handler", func(o *Options) { o.Handler = "" }},
		{"a missing zip", func(o *Options) { o.Layers = []string{filepath.Join(t.TempDir(), "none.zip")} }},
		{"a missing function folder", func(o *Options) { o.Function = filepath.Join(t.TempDir(), "none") }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := ok
			tt.edit(&o)
			if _, err := Build(o); err == nil {
				t.Fatal("built anyway")
			} else {
				t.Log(err)
			}
		})
	}
}

func TestMergeEnv(t *testing.T) {
	got := mergeEnv([]string{"PATH=/bin", "KEEP=1", "TZ=x"}, []string{"TZ=y", "PATH=/usr/bin", "NEW=2"})
	want := []string{"PATH=/usr/bin", "KEEP=1", "TZ=y", "NEW=2"}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got %q, want %q", got, want)
	}
}
