package registry_test

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/polyboot/polyboot/registry"
)

func TestReadManifest(t *testing.T) {
	tests := []struct {
		name    string
		json    string
		want    *registry.Manifest // Dir is filled in by the test
		wantErr string
	}{
		{
			name: "every member",
			json: `{"language":"bash","extensions":[".sh",".bash"],"interpreter":{"env":"POLYBOOT_BASH","commands":["bash"],"args":["--noprofile","--norc"]},"script":"adapter.sh"}`,
			want: &registry.Manifest{
				Language: "bash", Extensions: []string{".sh", ".bash"}, Script: "adapter.sh",
				Interpreter: registry.Interpreter{Env: "POLYBOOT_BASH", Commands: []string{"bash"}, Args: []string{"--noprofile", "--norc"}},
			},
		},
		{
			name: "trimTrailingNewlines",
			json: `{"language":"bash","extensions":[".sh"],"interpreter":{"commands":["bash"]},"script":"adapter.sh","trimTrailingNewlines":true}`,
			want: &registry.Manifest{
				Language: "bash", Extensions: []string{".sh"}, Script: "adapter.sh", TrimTrailingNewlines: true,
				Interpreter: registry.Interpreter{Commands: []string{"bash"}},
			},
		},
		{
			name: "env without commands",
			json: `{"language":"x","extensions":[".x"],"interpreter":{"env":"X"},"script":"lib/run.x","unknown":1}`,
			want: &registry.Manifest{Language: "x", Extensions: []string{".x"}, Script: "lib/run.x", Interpreter: registry.Interpreter{Env: "X"}},
		},
		{
			name: "commands without env",
			json: `{"language":"x","extensions":[".x"],"interpreter":{"commands":["x1","x2"]},"script":"run.x"}`,
			want: &registry.Manifest{Language: "x", Extensions: []string{".x"}, Script: "run.x", Interpreter: registry.Interpreter{Commands: []string{"x1", "x2"}}},
		},
		{name: "not JSON", json: `{"language":"x",`, wantErr: "unexpected end of JSON input"},
		{name: "wrong type", json: `{"language":"x","extensions":".x"}`, wantErr: "cannot unmarshal"},
		{name: "empty object", json: `{}`, wantErr: `no "language"`},
		{name: "no language", json: `{"extensions":[".x"],"interpreter":{"env":"X"},"script":"a"}`, wantErr: `no "language"`},
		{name: "no extensions", json: `{"language":"x","interpreter":{"env":"X"},"script":"a"}`, wantErr: `no "extensions"`},
		{name: "empty extensions", json: `{"language":"x","extensions":[],"interpreter":{"env":"X"},"script":"a"}`, wantErr: `no "extensions"`},
		{name: "no interpreter", json: `{"language":"x","extensions":[".x"],"script":"a"}`, wantErr: `no "interpreter" commands or env`},
		{name: "empty interpreter", json: `{"language":"x","extensions":[".x"],"interpreter":{"commands":[],"args":["-u"]},"script":"a"}`, wantErr: `no "interpreter" commands or env`},
		{name: "no script", json: `{"language":"x","extensions":[".x"],"interpreter":{"env":"X"}}`, wantErr: `"script" must be a path relative to the manifest`},
		{name: "absolute script", json: `{"language":"x","extensions":[".x"],"interpreter":{"env":"X"},"script":"/usr/lib/a"}`, wantErr: `"script" must be a path relative`},
		{name: "extension without dot", json: `{"language":"x","extensions":[".x","sh"],"interpreter":{"env":"X"},"script":"a"}`, wantErr: `extension "sh" must start with a dot`},
		{name: "empty extension", json: `{"language":"x","extensions":[""],"interpreter":{"env":"X"},"script":"a"}`, wantErr: `extension "" must start with a dot`},
		{name: "extension with a slash", json: `{"language":"x","extensions":[".x/y"],"interpreter":{"env":"X"},"script":"a"}`, wantErr: `extension ".x/y"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := writeFile(t, t.TempDir(), "lang/adapter.json", tt.json, 0o644)
			m, err := registry.ReadManifest(path)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) || !strings.Contains(err.Error(), path) {
					t.Fatalf("ReadManifest = %+v, %v; want an error naming %s with %q", m, err, path, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			tt.want.Dir = filepath.Dir(path)
			if !reflect.DeepEqual(m, tt.want) {
				t.Errorf("ReadManifest\n got %+v\nwant %+v", m, tt.want)
			}
		})
	}
}

func TestReadManifestMissing(t *testing.T) {
	_, err := registry.ReadManifest(filepath.Join(t.TempDir(), "adapter.json"))
	if !os.IsNotExist(err) && (err == nil || !strings.Contains(err.Error(), "no such file")) {
		t.Fatalf("ReadManifest of a missing file = %v", err)
	}
}

// manifest returns a valid manifest for language with the given extensions.
func manifest(language string, extensions ...string) string {
	return `{"language":"` + language + `","extensions":["` + strings.Join(extensions, `","`) +
		`"],"interpreter":{"commands":["` + language + `"]},"script":"adapter"}`
}

func TestLoad(t *testing.T) {
	layer, more := t.TempDir(), t.TempDir()
	writeFile(t, layer, "python2/adapter.json", manifest("python2", ".py"), 0o644)
	writeFile(t, layer, "bash/adapter.json", manifest("bash", ".sh"), 0o644)
	writeFile(t, layer, "bash/adapter.sh", "# not a manifest\n", 0o644)
	writeFile(t, layer, "README.md", "# not an adapter\n", 0o644)
	writeFile(t, layer, "empty/notes.txt", "", 0o644)
	writeFile(t, layer, "deep/er/adapter.json", "not even JSON", 0o644) // only one level is read
	writeFile(t, more, "zsh/adapter.json", manifest("zsh", ".zsh", ".sh"), 0o644)
	writeFile(t, more, "awk/adapter.json", manifest("awk", ".awk"), 0o644)

	reg, err := registry.Load(layer, filepath.Join(layer, "missing"), more)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, m := range reg.Adapters {
		got = append(got, m.Language+" "+m.Dir)
	}
	want := []string{
		"bash " + filepath.Join(layer, "bash"),
		"python2 " + filepath.Join(layer, "python2"),
		"awk " + filepath.Join(more, "awk"),
		"zsh " + filepath.Join(more, "zsh"),
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("adapters\n got %q\nwant %q", got, want)
	}
	if got, want := reg.Extensions(), []string{".sh", ".py", ".awk", ".zsh", ".sh"}; !reflect.DeepEqual(got, want) {
		t.Errorf("Extensions() = %q, want %q", got, want)
	}

	// The adapter of the earlier folder wins an extension both claim.
	root := t.TempDir()
	writeFile(t, root, "function.sh", "", 0o644)
	h, err := reg.Resolve("function.handler", root)
	if err != nil {
		t.Fatal(err)
	}
	if h.Adapter.Language != "bash" {
		t.Errorf(".sh handler resolved to the %s adapter", h.Adapter.Language)
	}
}

func TestLoadNothing(t *testing.T) {
	for _, dirs := range [][]string{nil, {filepath.Join(t.TempDir(), "missing")}, {t.TempDir()}} {
		reg, err := registry.Load(dirs...)
		if err != nil || reg == nil || len(reg.Adapters) != 0 {
			t.Errorf("Load(%q) = %+v, %v; want an empty registry", dirs, reg, err)
		}
	}
}

func TestLoadBadManifest(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, dir, "bash/adapter.json", manifest("bash", ".sh"), 0o644)
	bad := writeFile(t, dir, "broken/adapter.json", `{"language":"broken"}`, 0o644)
	reg, err := registry.Load(dir)
	if err == nil || !strings.Contains(err.Error(), bad) || !strings.Contains(err.Error(), `no "extensions"`) {
		t.Fatalf("Load = %+v, %v; want an error naming %s", reg, err, bad)
	}
}

// TestLoadFolderWithPatternCharacters checks folders whose names hold characters that are special
// in a glob pattern: they are folders like any other.
func TestLoadFolderWithPatternCharacters(t *testing.T) {
	for _, name := range []string{"adapters[1]", "a*", "what?", `back\slash`} {
		t.Run(name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), name)
			writeFile(t, dir, "bash/adapter.json", manifest("bash", ".sh"), 0o644)
			reg, err := registry.Load(dir)
			if err != nil {
				t.Fatal(err)
			}
			if len(reg.Adapters) != 1 || reg.Adapters[0].Dir != filepath.Join(dir, "bash") {
				t.Errorf("Load(%q) found %+v", dir, reg.Adapters)
			}
		})
	}
}

// TestRepositoryAdapters loads the adapters this repository ships and checks that each names a
// script that exists.
func TestRepositoryAdapters(t *testing.T) {
	reg, err := registry.Load(filepath.Join("..", "adapters"))
	if err != nil {
		t.Fatal(err)
	}
	if len(reg.Adapters) == 0 {
		t.Fatal("no adapters in ../adapters")
	}
	seen := map[string]string{}
	for _, m := range reg.Adapters {
		// bash handlers answer with what they print, as $(handler) does: without final newlines.
		if want := m.Language == "bash"; m.TrimTrailingNewlines != want {
			t.Errorf("adapter %s: trimTrailingNewlines is %v, want %v", m.Language, m.TrimTrailingNewlines, want)
		}
		if _, err := os.Stat(filepath.Join(m.Dir, m.Script)); err != nil {
			t.Errorf("adapter %s: script: %v", m.Language, err)
		}
		for _, ext := range m.Extensions {
			if other, ok := seen[ext]; ok {
				t.Errorf("extension %s claimed by %s and %s", ext, other, m.Language)
			}
			seen[ext] = m.Language
		}
	}
}
