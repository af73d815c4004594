package imagetest

// The Dockerfile recipe cannot be built here (no Docker engine on this machine or in CI): it is
// parsed with BuildKit's own Dockerfile parser and linter instead, and every COPY source of the
// build context must exist once `make layer layers` has run.

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/moby/buildkit/frontend/dockerfile/instructions"
	"github.com/moby/buildkit/frontend/dockerfile/linter"
	"github.com/moby/buildkit/frontend/dockerfile/parser"
)

const dockerfile = "examples/container/Dockerfile"

func TestDockerfileRecipe(t *testing.T) {
	repo, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(filepath.Join(repo, dockerfile))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	ast, err := parser.Parse(f)
	if err != nil {
		t.Fatalf("parsing %s: %v", dockerfile, err)
	}
	for _, w := range ast.Warnings {
		t.Errorf("%s: parser warning: %s", dockerfile, w.Short)
	}
	lint := linter.New(&linter.Config{Warn: func(rule, desc, url, msg string, _ []parser.Range) {
		t.Errorf("%s: lint %s: %s", dockerfile, rule, msg)
	}})
	stages, _, err := instructions.Parse(ast.AST, lint)
	if err != nil {
		t.Fatalf("%s: %v", dockerfile, err)
	}
	if len(stages) == 0 {
		t.Fatal("no stages")
	}
	final := stages[len(stages)-1]
	if final.BaseName != "public.ecr.aws/lambda/provided:al2023" {
		t.Errorf("the final stage is FROM %s", final.BaseName)
	}
	var cmd []string
	var copiedToOpt, copiedToTask bool
	for _, st := range stages {
		for _, c := range st.Commands {
			switch c := c.(type) {
			case *instructions.CmdCommand:
				cmd = c.CmdLine
			case *instructions.CopyCommand:
				if c.From != "" {
					copiedToOpt = copiedToOpt || c.DestPath == "/opt/"
					continue
				}
				copiedToTask = copiedToTask || c.DestPath == "/var/task/"
				for _, src := range c.SourcePaths {
					// BuildKit sets TARGETARCH to the image's architecture.
					p := filepath.Join(repo, strings.ReplaceAll(src, "${TARGETARCH}", imageArch()))
					if _, err := os.Stat(p); err != nil {
						t.Errorf("COPY source %s: %v (make layer layers builds the zips)", src, err)
					}
				}
			}
		}
	}
	if !reflect.DeepEqual(cmd, []string{"function.handler"}) || !copiedToOpt || !copiedToTask {
		t.Errorf("CMD %q, layers copied to /opt: %v, function to /var/task: %v", cmd, copiedToOpt, copiedToTask)
	}
}
