// Command elfcheck checks that every ELF file in Lambda layers will run on provided.al2023:
// no GLIBC_ symbol version newer than the target's glibc (2.34), every needed shared library
// either in the layer's lib/ or provided by glibc itself, the right architecture and dynamic
// loader. It prints each layer's zipped and unzipped size.
//
// Usage:
//
//	go run ./layer/elfcheck [-arch amd64] [-max-glibc 2.34] [-v] LAYER.zip|DIR ...
//
// It exits 1 when a layer fails the check and 2 when it cannot read its input.
package main

import (
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// run is main without the process: it parses args, checks each layer and returns the exit code.
func run(args []string, stdout, stderr io.Writer) int {
	fl := flag.NewFlagSet("elfcheck", flag.ContinueOnError)
	fl.SetOutput(stderr)
	arch := fl.String("arch", "amd64", "architecture the layers are for: "+archNames()+", or any")
	maxGlibc := fl.String("max-glibc", "2.34", "newest glibc symbol version allowed (provided.al2023 has 2.34)")
	verbose := fl.Bool("v", false, "list every ELF file with its needed libraries")
	fl.Usage = func() {
		fmt.Fprintln(stderr, "usage: elfcheck [-arch amd64|arm64|any] [-max-glibc 2.34] [-v] LAYER.zip|DIR ...")
		fl.PrintDefaults()
	}
	if err := fl.Parse(args); err != nil {
		return 2
	}
	if fl.NArg() == 0 {
		fl.Usage()
		return 2
	}
	maxV, err := ParseVersion(*maxGlibc)
	if err != nil {
		fmt.Fprintf(stderr, "elfcheck: -max-glibc: %v\n", err)
		return 2
	}
	opts := Options{MaxGlibc: maxV, SystemLibs: GlibcLibraries()}
	if *arch != "any" {
		a, ok := LookupArch(*arch)
		if !ok {
			fmt.Fprintf(stderr, "elfcheck: unknown -arch %q (want %s or any)\n", *arch, archNames())
			return 2
		}
		opts.Arch = &a
	}

	code := 0
	for _, name := range fl.Args() {
		l, err := LoadLayer(name)
		if err != nil {
			fmt.Fprintf(stderr, "elfcheck: %v\n", err)
			return 2
		}
		r := CheckLayer(l, opts)
		printReport(stdout, r, maxV, *verbose)
		if len(r.Problems) > 0 || len(r.ELFs) == 0 {
			code = 1
		}
	}
	return code
}

// archNames lists the known architectures for messages.
func archNames() string { return strings.Join(ArchNames(), ", ") }

// printReport writes what CheckLayer found about one layer, sizes first.
func printReport(w io.Writer, r *Report, maxGlibc Version, verbose bool) {
	l := r.Layer
	zipped := "not zipped"
	if l.ZippedSize >= 0 {
		zipped = fmt.Sprintf("%d bytes (%s) zipped", l.ZippedSize, mib(l.ZippedSize))
	}
	fmt.Fprintf(w, "%s: %s, %d bytes (%s) unzipped, %d files, %d ELF\n",
		l.Name, zipped, l.Unzipped, mib(l.Unzipped), len(l.Entries), len(r.ELFs))
	if verbose {
		for _, e := range r.ELFs {
			g := "-"
			if len(e.MaxGlibc) > 0 {
				g = "GLIBC_" + e.MaxGlibc.String()
			}
			fmt.Fprintf(w, "  %-50s %-12s %s\n", e.Path, g, strings.Join(e.Needed, " "))
		}
	}
	if v, who := r.MaxGlibc(); len(v) > 0 {
		fmt.Fprintf(w, "  newest glibc version needed: GLIBC_%s (%s)\n", v, who)
	}
	for _, p := range r.Problems {
		fmt.Fprintf(w, "  FAIL %s\n", p)
	}
	switch {
	case len(r.ELFs) == 0:
		fmt.Fprintf(w, "  FAIL no ELF files found: nothing was checked\n")
	case len(r.Problems) == 0:
		fmt.Fprintf(w, "  OK: %d ELF files need glibc <= %s and only bundled or glibc libraries\n",
			len(r.ELFs), maxGlibc)
	default:
		fmt.Fprintf(w, "  FAILED: %d problems\n", len(r.Problems))
	}
}

// mib formats a byte count in MiB.
func mib(n int64) string { return fmt.Sprintf("%.2f MiB", float64(n)/(1<<20)) }
