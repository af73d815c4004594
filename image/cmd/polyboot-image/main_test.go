package main

import (
	"archive/zip"
	"bytes"
	"context"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// The commands as make runs them: base, build on it, push --dry-run, unpack; SOURCE_DATE_EPOCH
// changes the digest, the same inputs keep it.
func TestCommands(t *testing.T) {
	dir := t.TempDir()
	rootfs := filepath.Join(dir, "rootfs")
	fn := filepath.Join(dir, "fn")
	for p, body := range map[string]string{filepath.Join(rootfs, "lambda-entrypoint.sh"): "#!/bin/sh\n", filepath.Join(fn, "function.sh"): "handler() { :; }\n"} {
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	runtimeZip := filepath.Join(dir, "polyboot-amd64.zip")
	writeZip(t, runtimeZip, "bootstrap")
	base, img := filepath.Join(dir, "base.tar"), filepath.Join(dir, "img.tar")
	digestRE := regexp.MustCompile(`sha256:[0-9a-f]{64}`)
	steps := func() string {
		mustRun(t, "base", "--rootfs", rootfs, "--arch", "amd64", "--out", base)
		out := mustRun(t, "build", "--base", base, "--arch", "amd64", "--runtime", runtimeZip, "--function", fn, "--handler", "function.handler", "--out", img)
		return digestRE.FindString(out)
	}
	first := steps()
	if first == "" || steps() != first {
		t.Fatalf("builds gave %q, then another digest", first)
	}
	t.Setenv("SOURCE_DATE_EPOCH", "1700000000")
	if steps() == first {
		t.Fatal("SOURCE_DATE_EPOCH left the digest unchanged")
	}
	out := mustRun(t, "push", "127.0.0.1:1/fn:v1", "--archive", img, "--dry-run", "--auth", "none")
	if !strings.Contains(out, "dry run: nothing pushed") || !strings.Contains(out, "to 127.0.0.1:1/fn:v1") {
		t.Fatalf("push --dry-run printed %q", out)
	}
	mustRun(t, "unpack", "--archive", img, filepath.Join(dir, "unpacked"))
	if target, err := os.Readlink(filepath.Join(dir, "unpacked/var/runtime/bootstrap")); err != nil || target != "/opt/bootstrap" {
		t.Fatalf("/var/runtime/bootstrap -> %q (%v)", target, err)
	}
	for _, bad := range [][]string{{}, {"nope"}, {"build", "--base", base}, {"push", "--archive", img}} {
		if err := run(context.Background(), bad, &bytes.Buffer{}); err == nil {
			t.Errorf("%q succeeded", bad)
		}
	}
	t.Setenv("SOURCE_DATE_EPOCH", "soon")
	if err := run(context.Background(), []string{"base", "--rootfs", rootfs, "--out", base}, &bytes.Buffer{}); err == nil {
		t.Error("a SOURCE_DATE_EPOCH that is no number was taken")
	}
}

func mustRun(t *testing.T, args ...string) string {
	t.Helper()
	var out bytes.Buffer
	if err := run(context.Background(), args, &out); err != nil {
		t.Fatalf("%q: %v", args, err)
	}
	return out.String()
}

func writeZip(t *testing.T, path string, names ...string) {
	t.Helper()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for _, n := range names {
		h := &zip.FileHeader{Name: n}
		h.SetMode(0o755)
		if _, err := zw.CreateHeader(h); err != nil {
			t.Fatal(err)
		}
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}
