package registry

import (
	"os"
	"path"
	"path/filepath"
	"strings"

	"github.com/polyboot/polyboot/protocol"
)

// Handler is a resolved _HANDLER.
type Handler struct {
	Spec     string    // the _HANDLER value
	File     string    // absolute path of the handler file
	Function string    // the part after the last dot
	Module   string    // the part before it, with "/" replaced by "."
	Adapter  *Manifest // nil when File is an executable that speaks the channel protocol itself
}

// ParseHandler splits a _HANDLER value "path/file.function" at its last dot. The path must be
// relative and stay inside the task root.
func ParseHandler(spec string) (module, function string, err error) {
	i := strings.LastIndexByte(spec, '.')
	if i <= 0 || i == len(spec)-1 {
		return "", "", protocol.Errorf(ErrTypeMalformedHandler,
			"Bad handler %q: expected FILE.FUNCTION, e.g. function.handler", spec)
	}
	module, function = spec[:i], spec[i+1:]
	if strings.ContainsAny(spec, "\x00\n") || strings.HasPrefix(module, "/") ||
		path.Clean(module) != module || strings.HasPrefix(module, "../") || module == ".." {
		return "", "", protocol.Errorf(ErrTypeMalformedHandler,
			"Bad handler %q: the file part must be a clean path inside the task root", spec)
	}
	return module, function, nil
}

// Resolve finds the file for spec under taskRoot: module + each known extension (also with the
// module's dots read as folders, as in pkg.mod.handler), else module itself when it is an
// executable file.
func (r *Registry) Resolve(spec, taskRoot string) (*Handler, error) {
	module, function, err := ParseHandler(spec)
	if err != nil {
		return nil, err
	}
	h := &Handler{Spec: spec, Function: function, Module: strings.ReplaceAll(module, "/", ".")}
	candidates := []string{module}
	if dotted := strings.ReplaceAll(module, ".", "/"); dotted != module {
		candidates = append(candidates, dotted)
	}
	var tried []string
	for _, c := range candidates {
		for _, m := range r.Adapters {
			for _, ext := range m.Extensions {
				f := filepath.Join(taskRoot, filepath.FromSlash(c+ext))
				tried = append(tried, c+ext)
				if isFile(f) {
					h.File, h.Adapter = f, m
					return h, nil
				}
			}
		}
	}
	if f := filepath.Join(taskRoot, filepath.FromSlash(module)); isExecutable(f) {
		h.File = f
		return h, nil
	}
	tried = append(tried, module+" (executable)")
	return nil, protocol.Errorf(ErrTypeHandlerNotFound,
		"Handler %q: no handler file in %s: looked for %s", spec, taskRoot, strings.Join(tried, ", "))
}

func isFile(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && fi.Mode().IsRegular()
}

func isExecutable(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && fi.Mode().IsRegular() && fi.Mode().Perm()&0o111 != 0
}
