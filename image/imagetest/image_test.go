package imagetest

import (
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/polyboot/polyboot/image/lambdaimage"
)

// reply is what each handler answers.
type reply struct {
	Lang, Version, Exe, PID1, CA string
	Event                        map[string]any
}

func TestImageRunsInNamespaces(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("*** NOT RUN: needs root (mount, PID and network namespaces, chroot) ***")
	}
	if imageArch() != runtime.GOARCH {
		t.Skipf("*** NOT RUN: this %s machine cannot run %s images ***", runtime.GOARCH, imageArch())
	}
	// The image make image-test built with polyboot-image from the offline base, the runtime, Tcl
	// and Python 2.7 layers and testdata/function, whose CMD is bash.handler.
	img, err := lambdaimage.ReadArchive(requireEnv(t, "POLYBOOT_TEST_IMAGE"))
	if err != nil {
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
	testEntrypoint(t, cf.Config, root)
}

// testEntrypoint checks /lambda-entrypoint.sh's other two paths: the handler missing (exit 142,
// AWS's code) and AWS_LAMBDA_RUNTIME_API set, as on Lambda, where the runtime runs alone (no
// emulator: it reaches for the API at that address, finds nothing there, and exits 1).
func testEntrypoint(t *testing.T, cfg v1.Config, root string) {
	t.Run("no handler", func(t *testing.T) {
		c := start(t, cfg, root, "a.handler", "b.handler")
		if code := c.exitCode(t); code != 142 || !strings.Contains(c.logs(), "entrypoint requires the handler name") {
			t.Fatalf("exit %d:\n%s", code, c.logs())
		}
	})
	t.Run("on Lambda", func(t *testing.T) {
		onLambda := cfg
		onLambda.Env = append(append([]string(nil), cfg.Env...), "AWS_LAMBDA_RUNTIME_API=127.0.0.1:9")
		c := start(t, onLambda, root)
		code := c.exitCode(t)
		logs := c.logs()
		if code != 1 || !strings.Contains(logs, "http://127.0.0.1:9/2018-06-01/runtime/invocation/next") || strings.Contains(logs, "(rapid)") {
			t.Fatalf("exit %d:\n%s", code, logs)
		}
	})
}

// The configuration a registry and Lambda read from the image make image-test built.
func TestImageConfig(t *testing.T) {
	img, err := lambdaimage.ReadArchive(requireEnv(t, "POLYBOOT_TEST_IMAGE"))
	if err != nil {
		t.Fatal(err)
	}
	m, err := img.Manifest()
	if err != nil {
		t.Fatal(err)
	}
	if m.MediaType != types.DockerManifestSchema2 || m.Config.MediaType != types.DockerConfigJSON || len(m.Layers) != 5 {
		t.Errorf("manifest %s, config %s, %d layers (want base, runtime, Tcl, Python 2.7, function)", m.MediaType, m.Config.MediaType, len(m.Layers))
	}
	for i, l := range m.Layers {
		if l.MediaType != types.DockerLayer {
			t.Errorf("layer %d: %s", i, l.MediaType)
		}
	}
	cf, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	c := cf.Config
	if cf.OS != "linux" || cf.Architecture != imageArch() || !reflect.DeepEqual(c.Entrypoint, []string{"/lambda-entrypoint.sh"}) ||
		!reflect.DeepEqual(c.Cmd, []string{"bash.handler"}) || c.WorkingDir != "/var/task" || !reflect.DeepEqual(c.Env, lambdaimage.LambdaEnv()) {
		t.Errorf("config: %s/%s entrypoint %q cmd %q dir %q env %q", cf.OS, cf.Architecture, c.Entrypoint, c.Cmd, c.WorkingDir, c.Env)
	}
}

// The offline base holds what it promises and nothing of the machine's.
func TestOfflineBase(t *testing.T) {
	img, err := lambdaimage.LoadBase(requireEnv(t, "POLYBOOT_IMAGE_BASE"), imageArch())
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

// imageArch is the architecture of the images under test: POLYBOOT_IMAGE_ARCH (make's ARCH), else
// this machine's.
func imageArch() string {
	if a := os.Getenv("POLYBOOT_IMAGE_ARCH"); a != "" {
		return a
	}
	return runtime.GOARCH
}

func requireEnv(t *testing.T, name string) string {
	t.Helper()
	v := os.Getenv(name)
	if v == "" {
		t.Fatalf("%s is not set: run these tests with make image-test (it builds the layers and the base first)", name)
	}
	return v
}
