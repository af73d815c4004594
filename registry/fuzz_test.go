package registry_test

import (
	"path"
	"path/filepath"
	"strings"
	"testing"

	"github.com/polyboot/polyboot/registry"
)

// FuzzParseHandler checks that ParseHandler never panics and that a handler it accepts is split at
// its last dot into a non-empty module and function, where the module is a clean relative path
// that, joined to a task root as Resolve joins it (as written, with its dots read as folders, with
// an extension, or alone), stays inside that root. Seeds: testdata/fuzz/FuzzParseHandler.
func FuzzParseHandler(f *testing.F) {
	f.Fuzz(func(t *testing.T, spec string) {
		module, function, err := registry.ParseHandler(spec)
		if err != nil {
			if module != "" || function != "" {
				t.Fatalf("ParseHandler(%q) = %q, %q with error %v", spec, module, function, err)
			}
			return
		}
		if module == "" || function == "" {
			t.Fatalf("ParseHandler(%q) = %q, %q: an empty part", spec, module, function)
		}
		if module+"."+function != spec || strings.Contains(function, ".") {
			t.Fatalf("ParseHandler(%q) = %q, %q: not split at the last dot", spec, module, function)
		}
		if strings.ContainsAny(spec, "\x00\n") {
			t.Fatalf("ParseHandler(%q) accepted a NUL or a line break", spec)
		}
		if path.IsAbs(module) || path.Clean(module) != module || !filepath.IsLocal(module) {
			t.Fatalf("ParseHandler(%q): module %q is not a clean relative path", spec, module)
		}
		const root = "/var/task"
		dotted := strings.ReplaceAll(module, ".", "/")
		for _, p := range []string{module, dotted, module + ".sh", dotted + ".sh", module + ".x.y"} {
			if j := filepath.Join(root, filepath.FromSlash(p)); j != root && !strings.HasPrefix(j, root+"/") {
				t.Fatalf("ParseHandler(%q): %q escapes the task root as %s", spec, p, j)
			}
		}
	})
}
