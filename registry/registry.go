// Package registry finds the language adapters (adapters/<lang>/adapter.json) and resolves a
// _HANDLER setting to a handler file, the adapter that runs it, and the interpreter command line.
// The bootstrap holds no per-language code: a folder with a manifest adds a language.
package registry

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// ManifestName is the file name of an adapter's manifest inside its folder.
const ManifestName = "adapter.json"

// Error types of handler resolution (docs/errors.md).
const (
	ErrTypeMalformedHandler    = "Runtime.MalformedHandlerName"
	ErrTypeHandlerNotFound     = "Runtime.HandlerNotFound"
	ErrTypeInterpreterNotFound = "Runtime.InterpreterNotFound"
)

// Manifest describes one language adapter.
type Manifest struct {
	Language    string      `json:"language"`
	Extensions  []string    `json:"extensions"`
	Interpreter Interpreter `json:"interpreter"`
	Script      string      `json:"script"` // the adapter program, relative to Dir
	// TrimTrailingNewlines makes the bootstrap drop the "\n" bytes that end a response body, as
	// command substitution does (bash, whose handlers answer with what they print).
	TrimTrailingNewlines bool   `json:"trimTrailingNewlines"`
	Dir                  string `json:"-"` // the folder holding the manifest
}

// Interpreter says how to find the program that runs an adapter.
type Interpreter struct {
	Env      string   `json:"env"`      // environment variable naming the interpreter (path or command)
	Commands []string `json:"commands"` // command names tried in order, in the layer's bin/ then on PATH
	Args     []string `json:"args"`     // arguments before the adapter script
}

// Registry is the set of known adapters, in priority order.
type Registry struct {
	Adapters []*Manifest
}

// Load reads every <dir>/<name>/adapter.json under each of dirs. An adapter found in an earlier dir
// wins an extension over one found later. Missing dirs are skipped.
func Load(dirs ...string) (*Registry, error) {
	r := &Registry{}
	for _, dir := range dirs {
		entries, err := os.ReadDir(dir) // sorted by name
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("listing adapters in %s: %w", dir, err)
		}
		for _, e := range entries {
			p := filepath.Join(dir, e.Name(), ManifestName)
			if _, err := os.Lstat(p); err != nil {
				continue
			}
			m, err := ReadManifest(p)
			if err != nil {
				return nil, err
			}
			r.Adapters = append(r.Adapters, m)
		}
	}
	return r, nil
}

// ReadManifest reads and checks one adapter manifest.
func ReadManifest(path string) (*Manifest, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading adapter manifest: %w", err)
	}
	var m Manifest
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("adapter manifest %s: %w", path, err)
	}
	switch {
	case m.Language == "":
		err = errors.New(`no "language"`)
	case len(m.Extensions) == 0:
		err = errors.New(`no "extensions"`)
	case len(m.Interpreter.Commands) == 0 && m.Interpreter.Env == "":
		err = errors.New(`no "interpreter" commands or env`)
	case m.Script == "" || filepath.IsAbs(m.Script):
		err = errors.New(`"script" must be a path relative to the manifest`)
	}
	for _, ext := range m.Extensions {
		if !strings.HasPrefix(ext, ".") || strings.ContainsRune(ext, '/') {
			err = fmt.Errorf("extension %q must start with a dot", ext)
		}
	}
	if err != nil {
		return nil, fmt.Errorf("adapter manifest %s: %w", path, err)
	}
	m.Dir = filepath.Dir(path)
	return &m, nil
}

// Extensions lists the handler file extensions the registry knows, in priority order.
func (r *Registry) Extensions() []string {
	var exts []string
	for _, m := range r.Adapters {
		exts = append(exts, m.Extensions...)
	}
	return exts
}
