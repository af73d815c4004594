package imagetest

import (
	"encoding/json"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/polyboot/polyboot/image/lambdaimage"
)

// handlers are the function's files: one handler per language, each reporting what answered.
var handlers = map[string]string{
	// PID 1 must be the emulator the entrypoint exec'd; the CA bundle must be at Amazon Linux's path.
	"bash.sh": `handler() {
  local init ca=no
  read -r -d '' init </proc/1/cmdline || true
  [[ -s /etc/pki/tls/certs/ca-bundle.crt ]] && ca=yes
  printf '{"lang":"bash","version":"%s","pid1":"%s","ca":"%s","event":%s}' "${BASH_VERSINFO[0]}.${BASH_VERSINFO[1]}" "$init" "$ca" "$1"
}
`,
	"tcl.tcl": `proc handler {event context} {
    return "{\"lang\":\"tcl\",\"version\":\"[info tclversion]\",\"exe\":\"[info nameofexecutable]\",\"event\":[dict get $context event_json]}"
}
`,
	"py.py": `import json, sys
def handler(event, context):
    return {"lang": "python2", "version": "%d.%d" % sys.version_info[:2], "exe": sys.executable, "event": event}
`,
}

// reply is what each handler answers.
type reply struct {
	Lang, Version, Exe, PID1, CA string
	Event                        map[string]any
}

func TestImageRunsInNamespaces(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("*** NOT RUN: needs root (mount, PID and network namespaces, chroot) ***")
	}
	arch := runtime.GOARCH
	dist := requireEnv(t, "POLYBOOT_DIST")
	basePath := requireEnv(t, "POLYBOOT_IMAGE_BASE")
	fn := t.TempDir()
	for name, src := range handlers {
		if err := os.WriteFile(filepath.Join(fn, name), []byte(src), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	base, err := lambdaimage.LoadBase(basePath, arch)
	if err != nil {
		t.Fatal(err)
	}
	img, err := lambdaimage.Build(lambdaimage.Options{
		Base: base, Arch: arch, Runtime: requireFile(t, dist, "polyboot-"+arch+".zip"),
		Layers:   []string{requireFile(t, dist, "polyboot-tcl-"+arch+".zip"), requireFile(t, dist, "polyboot-python2-"+arch+".zip")},
		Function: fn, Handler: "bash.handler", Epoch: lambdaimage.DefaultEpoch,
	})
	if err != nil {
		t.Fatal(err)
	}
	// As a user would: write the archive, read it back, unpack it.
	archive := filepath.Join(t.TempDir(), "image.tar")
	if _, err := lambdaimage.WriteArchive(archive, "polyboot-test:latest", img); err != nil {
		t.Fatal(err)
	}
	if img, err = lambdaimage.ReadArchive(archive); err != nil {
		t.Fatal(err)
	}
	root := filepath.Join(t.TempDir(), "rootfs")
	if err := lambdaimage.Unpack(img, root); err != nil {
		t.Fatal(err)
	}
	cf, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("entrypoint %q, cmd %q, working directory %s", cf.Config.Entrypoint, cf.Config.Cmd, cf.Config.WorkingDir)
	for _, tt := range []struct {
		handler, lang, version, exe string
	}{
		{"bash.handler", "bash", "5.1", ""},
		{"tcl.handler", "tcl", "8.6", "/opt/bin/tclsh8.6"},
		{"py.handler", "python2", "2.7", "/opt/bin/python2.7"},
	} {
		t.Run(tt.lang, func(t *testing.T) {
			var c *container
			if tt.handler == cf.Config.Cmd[0] {
				c = start(t, cf.Config, root) // the image's own CMD
			} else {
				c = start(t, cf.Config, root, tt.handler) // as `docker run IMAGE HANDLER`
			}
			c.waitListening(t)
			for i, event := range []string{`{"n":1,"name":"Ada"}`, `{"n":2,"name":"Ada"}`} {
				status, body := c.invoke(t, event)
				var r reply
				if err := json.Unmarshal(body, &r); status != 200 || err != nil {
					t.Fatalf("invocation %d: status %d, %q (%v)", i+1, status, body, err)
				}
				t.Logf("%s", body)
				if r.Lang != tt.lang || r.Version != tt.version || r.Exe != tt.exe || r.Event["n"] != float64(i+1) {
					t.Errorf("invocation %d answered %+v", i+1, r)
				}
				if tt.lang == "bash" && (r.PID1 != "/usr/local/bin/aws-lambda-rie" || r.CA != "yes") {
					t.Errorf("PID 1 is %q (want the emulator), CA bundle at /etc/pki/tls/certs: %s", r.PID1, r.CA)
				}
			}
		})
	}
}

// The offline base holds what it promises and nothing of the machine's.
func TestOfflineBase(t *testing.T) {
	img, err := lambdaimage.LoadBase(requireEnv(t, "POLYBOOT_IMAGE_BASE"), runtime.GOARCH)
	if err != nil {
		t.Fatal(err)
	}
	root := filepath.Join(t.TempDir(), "rootfs")
	if err := lambdaimage.Unpack(img, root); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{"lambda-entrypoint.sh", "usr/local/bin/aws-lambda-rie", "bin/bash", "bin/sh", "bin/cat",
		"usr/bin/env", "etc/ssl/certs/ca-certificates.crt", "etc/pki/tls/certs/ca-bundle.crt",
		"usr/share/doc/polyboot-base/PACKAGES", "usr/share/doc/aws-lambda-rie/LICENSE", "usr/share/doc/libc6/copyright"} {
		info, err := os.Stat(filepath.Join(root, p))
		if err != nil || info.Size() == 0 {
			t.Errorf("/%s: %v", p, err)
		}
	}
	bundle, err := os.ReadFile(filepath.Join(root, "etc/ssl/certs/ca-certificates.crt"))
	if err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(string(bundle), "-----BEGIN CERTIFICATE-----"); n < 100 || n != strings.Count(string(bundle), "-----END CERTIFICATE-----") {
		t.Errorf("the CA bundle holds %d certificates", n)
	}
	for _, p := range []string{"usr/bin/python2.7", "usr/bin/tclsh8.6", "usr/share/man", "opt/bin"} {
		if _, err := os.Lstat(filepath.Join(root, p)); err == nil {
			t.Errorf("the base has /%s", p)
		}
	}
	if info, err := os.Stat(filepath.Join(root, "tmp")); err != nil || info.Mode().Perm() != 0o777 || info.Mode()&os.ModeSticky == 0 {
		t.Errorf("/tmp: %v %v, want 1777", info.Mode(), err)
	}
}

func requireEnv(t *testing.T, name string) string {
	t.Helper()
	v := os.Getenv(name)
	if v == "" {
		t.Fatalf("%s is not set: run these tests with make image-test (it builds the layers and the base first)", name)
	}
	return v
}

func requireFile(t *testing.T, dir, name string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if _, err := os.Stat(p); err != nil {
		t.Fatalf("%s: %v (make layer layers builds it)", p, err)
	}
	return p
}
