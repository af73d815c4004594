package main

import (
	"bytes"
	"debug/elf"
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"
)

// GlibcLibraries returns the shared libraries that glibc itself provides on provided.al2023, so
// a layer need not (and should not) bundle them: the C library, the parts split off it that glibc
// 2.34 still ships for old binaries, and the dynamic loaders.
func GlibcLibraries() []string {
	return []string{
		"libc.so.6", "libm.so.6", "libpthread.so.0", "libdl.so.2", "librt.so.1", "libutil.so.1",
		"libresolv.so.2", "ld-linux-x86-64.so.2", "ld-linux-aarch64.so.1",
	}
}

// Arch describes what an ELF file built for one Lambda architecture looks like.
type Arch struct {
	Machine     elf.Machine
	Interpreter string // the dynamic loader's path on provided.al2023
}

// ArchNames lists Lambda's architectures that LookupArch knows.
func ArchNames() []string { return []string{"amd64", "arm64"} }

// LookupArch returns the ELF machine and dynamic loader of a Lambda architecture.
func LookupArch(name string) (Arch, bool) {
	switch name {
	case "amd64":
		return Arch{Machine: elf.EM_X86_64, Interpreter: "/lib64/ld-linux-x86-64.so.2"}, true
	case "arm64":
		return Arch{Machine: elf.EM_AARCH64, Interpreter: "/lib/ld-linux-aarch64.so.1"}, true
	}
	return Arch{}, false
}

// Options say what the layer's ELF files must satisfy.
type Options struct {
	MaxGlibc Version // newest GLIBC_x.y symbol version allowed, e.g. 2.34
	Arch     *Arch   // when set, every ELF file must be for this architecture
	// SystemLibs are the sonames the target system provides (GlibcLibraries()); every other
	// needed library must be in the layer's lib/ directory.
	SystemLibs []string
}

// Problem is one reason a layer fails the check.
type Problem struct {
	Path string // file in the layer
	Msg  string
}

func (p Problem) String() string { return p.Path + ": " + p.Msg }

// ELFInfo is what the check learnt about one ELF file of the layer.
type ELFInfo struct {
	Path     string
	Needed   []string // DT_NEEDED
	MaxGlibc Version  // newest GLIBC_ version it needs; zero when none
}

// Report is the result of checking one layer.
type Report struct {
	Layer    *Layer
	ELFs     []ELFInfo
	Problems []Problem
}

// MaxGlibc returns the newest glibc version any ELF file of the layer needs, and that file.
func (r *Report) MaxGlibc() (Version, string) {
	var v Version
	var who string
	for _, e := range r.ELFs {
		if e.MaxGlibc.Compare(v) > 0 {
			v, who = e.MaxGlibc, e.Path
		}
	}
	return v, who
}

// Version is a dotted version number such as 2.34 or 2.2.5.
type Version []int

// ParseVersion parses "2.34" or "2.2.5".
func ParseVersion(s string) (Version, error) {
	parts := strings.Split(s, ".")
	v := make(Version, 0, len(parts))
	for _, p := range parts {
		n, err := strconv.Atoi(p)
		if err != nil || n < 0 || p == "" || (len(p) > 1 && p[0] == '0') {
			return nil, fmt.Errorf("bad version %q", s)
		}
		v = append(v, n)
	}
	return v, nil
}

// Compare returns -1, 0 or +1 as v is older than, equal to or newer than w; missing trailing
// components count as 0 (2.34 == 2.34.0).
func (v Version) Compare(w Version) int {
	for i := range max(len(v), len(w)) {
		a, b := 0, 0
		if i < len(v) {
			a = v[i]
		}
		if i < len(w) {
			b = w[i]
		}
		if a != b {
			if a < b {
				return -1
			}
			return 1
		}
	}
	return 0
}

func (v Version) String() string {
	s := make([]string, len(v))
	for i, n := range v {
		s[i] = strconv.Itoa(n)
	}
	return strings.Join(s, ".")
}

// CheckGlibcVersion checks one symbol version name needed from a glibc library against max.
// It returns the version for GLIBC_x.y names. GLIBC_PRIVATE (no stable ABI) and other GLIBC_
// names such as GLIBC_ABI_DT_RELR (glibc 2.36) are errors.
func CheckGlibcVersion(name string, maxV Version) (Version, error) {
	num, ok := strings.CutPrefix(name, "GLIBC_")
	if !ok {
		return nil, fmt.Errorf("version %s is not a glibc release version", name)
	}
	v, err := ParseVersion(num)
	if err != nil {
		return nil, fmt.Errorf("version %s is not a glibc release version (private or newer ABI)", name)
	}
	if v.Compare(maxV) > 0 {
		return v, fmt.Errorf("needs %s, newer than GLIBC_%s", name, maxV)
	}
	return v, nil
}

// isELF tells whether data starts with the ELF magic number.
func isELF(data []byte) bool { return bytes.HasPrefix(data, []byte(elf.ELFMAG)) }

// CheckLayer checks every ELF file in the layer: its architecture and dynamic loader, that each
// DT_NEEDED library is a glibc library or present in the layer's lib/, that no GLIBC_ symbol
// version is newer than opts.MaxGlibc, and that each version needed from a bundled library is
// defined by it. Every problem found is in the report.
func CheckLayer(l *Layer, opts Options) *Report {
	r := &Report{Layer: l}
	paths := make([]string, 0, len(l.Entries))
	for p := range l.Entries {
		paths = append(paths, p)
	}
	sort.Strings(paths)
	for _, p := range paths {
		e := l.Entries[p]
		if e.Link != "" || !isELF(e.Data) {
			continue
		}
		info, probs := checkELF(l, p, e.Data, opts)
		r.ELFs = append(r.ELFs, info)
		r.Problems = append(r.Problems, probs...)
	}
	return r
}

// checkELF checks one ELF file of the layer (see CheckLayer).
func checkELF(l *Layer, p string, data []byte, opts Options) (ELFInfo, []Problem) {
	info := ELFInfo{Path: p}
	var probs []Problem
	bad := func(format string, args ...any) {
		probs = append(probs, Problem{Path: p, Msg: fmt.Sprintf(format, args...)})
	}
	f, err := elf.NewFile(bytes.NewReader(data))
	if err != nil {
		bad("not a readable ELF file: %v", err)
		return info, probs
	}
	defer f.Close()

	if opts.Arch != nil {
		if f.Machine != opts.Arch.Machine {
			bad("built for %v, not %v", f.Machine, opts.Arch.Machine)
		}
		if interp, ok := interpreter(f); ok && interp != opts.Arch.Interpreter {
			bad("dynamic loader %s, not %s", interp, opts.Arch.Interpreter)
		}
	}

	needed, err := f.ImportedLibraries()
	if err != nil {
		bad("reading DT_NEEDED: %v", err)
	}
	info.Needed = needed
	missing := map[string]bool{}
	for _, lib := range needed {
		if slices.Contains(opts.SystemLibs, lib) {
			continue
		}
		if _, err := bundled(l, lib, f.Machine); err != nil {
			missing[lib] = true
			bad("needs %s, which is neither a glibc library nor usable in the layer: %v", lib, err)
		}
	}

	needs, err := versionNeeds(f)
	if err != nil {
		bad("reading version needs (.gnu.version_r): %v", err)
	}
	for _, need := range needs {
		system := slices.Contains(opts.SystemLibs, need.Name)
		var defined []string
		if !system {
			prov, err := bundled(l, need.Name, f.Machine)
			if err != nil {
				if !missing[need.Name] {
					bad("needs versions from %s, which is not usable in the layer: %v", need.Name, err)
				}
				continue
			}
			defined = prov
		}
		var undefined []string
		for _, dep := range need.Needs {
			if system || strings.HasPrefix(dep.Dep, "GLIBC_") {
				v, err := CheckGlibcVersion(dep.Dep, opts.MaxGlibc)
				if err != nil {
					bad("%s: %v", need.Name, err)
				}
				if v.Compare(info.MaxGlibc) > 0 {
					info.MaxGlibc = v
				}
			}
			if !system && !slices.Contains(defined, dep.Dep) {
				undefined = append(undefined, dep.Dep)
			}
		}
		if len(undefined) > 0 {
			bad("needs version %s of %s, which the bundled %s does not define",
				strings.Join(undefined, ", "), need.Name, need.Name)
		}
	}
	return info, probs
}

// bundled finds a needed library in the layer's lib/ (which Lambda puts on LD_LIBRARY_PATH as
// /opt/lib, and which the interpreters' rpath $ORIGIN/../lib names) and returns the symbol
// versions it defines. The library must be an ELF file for the same machine.
func bundled(l *Layer, soname string, machine elf.Machine) ([]string, error) {
	p, e, err := l.Resolve("lib/" + soname)
	if err != nil {
		return nil, err
	}
	if !isELF(e.Data) {
		return nil, fmt.Errorf("%s is not an ELF file", p)
	}
	f, err := elf.NewFile(bytes.NewReader(e.Data))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", p, err)
	}
	defer f.Close()
	if f.Machine != machine {
		return nil, fmt.Errorf("%s is built for %v, not %v", p, f.Machine, machine)
	}
	defs, err := versionDefs(f)
	if err != nil {
		return nil, fmt.Errorf("%s: reading version definitions: %w", p, err)
	}
	names := make([]string, 0, len(defs))
	for _, d := range defs {
		names = append(names, d.Name)
	}
	return names, nil
}

// versionNeeds returns the symbol versions f needs (.gnu.version_r); none when it has no such
// section (static executables, libraries that use no versioned symbol).
func versionNeeds(f *elf.File) ([]elf.DynamicVersionNeed, error) {
	if f.SectionByType(elf.SHT_GNU_VERNEED) == nil {
		return nil, nil
	}
	needs, err := f.DynamicVersionNeeds()
	if err != nil {
		return nil, fmt.Errorf("version needs: %w", err)
	}
	return needs, nil
}

// versionDefs returns the symbol versions f defines (.gnu.version_d); none when it has no such
// section.
func versionDefs(f *elf.File) ([]elf.DynamicVersion, error) {
	if f.SectionByType(elf.SHT_GNU_VERDEF) == nil {
		return nil, nil
	}
	defs, err := f.DynamicVersions()
	if err != nil {
		return nil, fmt.Errorf("version definitions: %w", err)
	}
	return defs, nil
}

// interpreter returns the PT_INTERP path of an executable, if it has one.
func interpreter(f *elf.File) (string, bool) {
	for _, prog := range f.Progs {
		if prog.Type != elf.PT_INTERP {
			continue
		}
		buf := make([]byte, prog.Filesz)
		if _, err := prog.ReadAt(buf, 0); err != nil {
			return "", false
		}
		return strings.TrimRight(string(buf), "\x00"), true
	}
	return "", false
}
