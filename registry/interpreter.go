package registry

import (
	"path/filepath"
	"strings"

	"github.com/polyboot/polyboot/protocol"
)

// Env is what interpreter discovery reads of the environment.
type Env struct {
	Getenv  func(string) string
	BinDirs []string // searched before PATH: the layer's own bin/ folders
}

// Argv returns the worker command line for h: interpreter, its arguments, the adapter script, then
// the handler file, function and module (docs/protocol.md). The interpreter is the one named by
// the manifest's env variable, else the first of its commands found in env.BinDirs, then on PATH.
func (r *Registry) Argv(h *Handler, env Env) ([]string, error) {
	tail := []string{h.File, h.Function, h.Module}
	if h.Adapter == nil {
		return append([]string{h.File}, tail...), nil
	}
	m := h.Adapter
	interp, err := findInterpreter(m, env)
	if err != nil {
		return nil, err
	}
	argv := append([]string{interp}, m.Interpreter.Args...)
	argv = append(argv, filepath.Join(m.Dir, m.Script))
	return append(argv, tail...), nil
}

func findInterpreter(m *Manifest, env Env) (string, error) {
	var looked []string
	if name := m.Interpreter.Env; name != "" {
		if v := env.Getenv(name); v != "" {
			if p := lookPath(v, env); p != "" {
				return p, nil
			}
			return "", protocol.Errorf(ErrTypeInterpreterNotFound,
				"%s=%q names no executable file (for %s handlers)", name, v, m.Language)
		}
		looked = append(looked, "$"+name+" (unset)")
	}
	for _, c := range m.Interpreter.Commands {
		if p := lookPath(c, env); p != "" {
			return p, nil
		}
	}
	dirs := append(append([]string{}, env.BinDirs...), filepath.SplitList(env.Getenv("PATH"))...)
	looked = append(looked, strings.Join(m.Interpreter.Commands, ", ")+" in "+strings.Join(dirs, ":"))
	return "", protocol.Errorf(ErrTypeInterpreterNotFound,
		"no interpreter for %s handlers: looked for %s", m.Language, strings.Join(looked, "; "))
}

// lookPath finds name (a path, or a command searched in BinDirs then PATH) as an executable file.
func lookPath(name string, env Env) string {
	if strings.ContainsRune(name, '/') {
		if isExecutable(name) {
			abs, err := filepath.Abs(name)
			if err == nil {
				return abs
			}
			return name
		}
		return ""
	}
	dirs := append(append([]string{}, env.BinDirs...), filepath.SplitList(env.Getenv("PATH"))...)
	for _, d := range dirs {
		if d == "" {
			continue
		}
		if p := filepath.Join(d, name); isExecutable(p) {
			return p
		}
	}
	return ""
}
