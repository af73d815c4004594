package e2e

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"math/big"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/polyboot/polyboot/internal/layerzip"
	"github.com/polyboot/polyboot/internal/rietest"
	"github.com/polyboot/polyboot/internal/sandbox"
)

// lambdaBox is a Lambda-like sandbox (internal/sandbox) with /opt holding the runtime layer under
// test and the Tcl and Python 2.7 layers from dist/, as Lambda merges a function's layers.
type lambdaBox struct {
	box sandbox.Sandbox
	opt string // the merged layers (mounted at /opt)
	rie string // the static emulator
}

// newLambdaBox prepares the sandbox, or fails the test loudly with what is missing.
func newLambdaBox(t *testing.T) *lambdaBox {
	t.Helper()
	if err := sandbox.Require(); err != nil {
		t.Fatalf("*** %v: the sandbox tests cannot run here ***", err)
	}
	root, err := rietest.Root()
	if err != nil {
		t.Fatal(err)
	}
	rootfs, err := sandbox.RootFS(root, runtime.GOARCH)
	if err != nil {
		t.Fatalf("*** %v ***", err)
	}
	rie, err := rietest.StaticRIE()
	if err != nil {
		t.Fatal(err)
	}
	opt := readableDir(t)
	if _, err := rietest.Layer(opt); err != nil {
		t.Fatalf("the runtime layer: %v", err)
	}
	for _, lang := range []string{"tcl", "python2"} {
		zip := filepath.Join(root, "dist", fmt.Sprintf("polyboot-%s-%s.zip", lang, runtime.GOARCH))
		if _, err := os.Stat(zip); err != nil {
			t.Fatalf("*** %s is missing: run 'make layers' first (make test does); the sandbox tests did NOT run ***", zip)
		}
		if err := layerzip.Unzip(zip, opt); err != nil {
			t.Fatalf("unpacking %s: %v", zip, err)
		}
	}
	return &lambdaBox{box: sandbox.Sandbox{RootFS: rootfs}, opt: opt, rie: rie}
}

// readableDir is a new temporary folder that the sandbox's unprivileged user can read.
func readableDir(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

// start serves fn in the sandbox under the emulator (the start of a conformance run).
func (b *lambdaBox) start(t *testing.T, fn function) *emulator {
	t.Helper()
	return b.startWith(t, b.box, fn)
}

// startWith serves fn in box (b's sandbox with, say, a CA bundle) under the emulator.
func (b *lambdaBox) startWith(t *testing.T, box sandbox.Sandbox, fn function) *emulator {
	t.Helper()
	if err := os.Chmod(fn.taskDir, 0o755); err != nil {
		t.Fatal(err)
	}
	return &emulator{rietest.Start(t, b.rie, rietest.Function{Layer: b.opt, TaskDir: fn.taskDir,
		Handler: fn.handler, Env: fn.env, Sandbox: &box})}
}

// TestConformanceSandbox runs the conformance table in the Lambda-like sandbox: every interpreter
// comes from the layers at /opt (bash from the runtime layer's bin/ or the Debian root), none from
// this machine. python3 has no row here: provided.al2023 has no python3.
func TestConformanceSandbox(t *testing.T) {
	b := newLambdaBox(t)
	for _, lang := range languages() {
		if lang.name == "python3" {
			t.Log("python3: no row in the sandbox (provided.al2023 has no python3; the layers bring Python 2.7)")
			continue
		}
		t.Run(lang.name, func(t *testing.T) {
			(&conformance{lang: lang, start: b.start}).run(t)
		})
	}
}

// procSubst reads a process substitution and diffs two; on Lambda, /dev has no fd.
const procSubst = `handler() {
  local n=0 l same
  while read -r l; do n=$((n + 1)); done < <(printf 'a\nb\nc\n')
  same=$(diff <(echo x) <(echo x) && echo yes)
  local b; lambda_json_string b "$BASH"
  printf '{"lines":%d,"same":"%s","bash":%s}' "$n" "$same" "$b"
}`

// TestSandboxProcessSubstitution: Debian's bash (the sandbox root's, like Amazon Linux's) fails
// process substitution there (/dev/fd/63: No such file or directory), and the runtime layer's
// bash, which the adapter prefers, runs it.
func TestSandboxProcessSubstitution(t *testing.T) {
	b := newLambdaBox(t)
	task := writeTask(t, map[string]string{"function.sh": procSubst})
	t.Run("system-bash-fails", func(t *testing.T) {
		e := b.start(t, function{taskDir: task, handler: "function.handler", env: []string{"POLYBOOT_BASH=/bin/bash"}})
		status, body := e.Invoke(t, []byte(`{}`))
		if status != 200 || string(body) != `{"lines":0,"same":"","bash":"/bin/bash"}` {
			t.Errorf("Debian's bash in the sandbox: %d %s; want no lines read and no diff", status, body)
		}
		e.waitLog(t, "/dev/fd/63: No such file or directory")
	})
	t.Run("layer-bash-works", func(t *testing.T) {
		e := b.start(t, function{taskDir: task, handler: "function.handler"})
		status, body := e.Invoke(t, []byte(`{}`))
		if status != 200 || string(body) != `{"lines":3,"same":"yes","bash":"/opt/bin/bash"}` {
			t.Errorf("the layer's bash in the sandbox: %d %s; want 3 lines, same, /opt/bin/bash", status, body)
		}
	})
}

// caHandler fetches an HTTPS URL with certificate verification (Python 2.7's defaults).
const caHandler = `import urllib2
def handler(event, context):
    try:
        return {"body": urllib2.urlopen(event["url"], timeout=10).read()}
    except Exception as e:
        return {"error": str(e)}
`

// TestSandboxCABundle: a verified HTTPS request from a Python 2.7 handler finds the CA bundle at
// Amazon Linux's path (/etc/pki/tls/certs/ca-bundle.crt) and nowhere else: without it the same
// request fails verification.
func TestSandboxCABundle(t *testing.T) {
	b := newLambdaBox(t)
	cert, certPEM := localhostCert(t)
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { fmt.Fprint(w, "hello over tls") }))
	srv.TLS = &tls.Config{Certificates: []tls.Certificate{cert}}
	srv.StartTLS()
	defer srv.Close()
	ca := filepath.Join(readableDir(t), "ca.pem")
	if err := os.WriteFile(ca, certPEM, 0o644); err != nil {
		t.Fatal(err)
	}
	task := writeTask(t, map[string]string{"function.py": caHandler})
	// Python 2.7 matches host names only, not IP addresses: the sandbox's /etc/hosts has localhost.
	event := []byte(`{"url":"https://localhost:` + srv.URL[strings.LastIndex(srv.URL, ":")+1:] + `/"}`)
	for _, tc := range []struct{ bundle, want string }{{ca, `{"body": "hello over tls"}`}, {"", "CERTIFICATE_VERIFY_FAILED"}} {
		box := b.box
		box.CABundle = tc.bundle
		e := b.startWith(t, box, function{taskDir: task, handler: "function.handler"})
		status, body := e.Invoke(t, event)
		if status != 200 || !strings.Contains(string(body), tc.want) {
			t.Errorf("CA bundle %q: %d %s; want %s", tc.bundle, status, body, tc.want)
		}
	}
}

// localhostCert makes a self-signed certificate for localhost: its own CA.
func localhostCert(t *testing.T) (tls.Certificate, []byte) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "localhost"}, DNSNames: []string{"localhost"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true,
		KeyUsage:    x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
}

// lddHandler runs ldd on every ELF file in /opt/bin, /opt/lib and /var/task/bin, and reports the
// libraries that are not found, and which commands of this machine's kind are on PATH.
const lddHandler = `handler() {
  local f magic out n=0 missing='' found='' c
  for f in /opt/bin/* /opt/lib/*.so* /var/task/bin/*; do
    [[ -f $f ]] || continue
    IFS= read -r -n 4 magic <"$f" || true
    [[ $magic == $'\x7f'ELF ]] || continue
    n=$((n + 1))
    out=$(ldd "$f" 2>&1 | grep 'not found')
    [[ -n $out ]] && missing+="$f: ${out//$'\n'/; }"$'\n'
  done
  for c in tclsh tclsh8.6 python2 python2.7 python3 jq aws curl; do
    f=$(command -v "$c") && found+="$c=$f "
  done
  lambda_json_string missing "$missing"
  lambda_json_string found "$found"
  printf '{"elves":%d,"missing":%s,"found":%s}' "$n" "$missing" "$found"
}`

// TestSandboxLibraries: every ELF file of the layers finds its libraries in the sandbox (which
// has none of this machine's), the machine's own interpreters and tools are not there, and the
// check itself sees a missing library: this machine's curl, copied into the function, lacks its
// libcurl in the sandbox.
func TestSandboxLibraries(t *testing.T) {
	b := newLambdaBox(t)
	curl, err := exec.LookPath("curl")
	if err != nil {
		t.Fatal("*** curl is not installed (.ci/run installs it): the negative check cannot run ***")
	}
	bin, err := os.ReadFile(curl)
	if err != nil {
		t.Fatal(err)
	}
	task := writeTask(t, map[string]string{"function.sh": lddHandler, "bin/curl": string(bin)})
	for _, p := range []string{"bin", "bin/curl"} {
		if err := os.Chmod(filepath.Join(task, p), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	e := b.start(t, function{taskDir: task, handler: "function.handler"})
	status, body := e.Invoke(t, []byte(`{}`))
	var got struct {
		Elves   int    `json:"elves"`
		Missing string `json:"missing"`
		Found   string `json:"found"`
	}
	if status != 200 || json.Unmarshal(body, &got) != nil {
		t.Fatalf("%d %s", status, body)
	}
	t.Logf("%d ELF files checked; missing:\n%s", got.Elves, got.Missing)
	var layerMissing []string
	for _, line := range strings.Split(strings.TrimSpace(got.Missing), "\n") {
		if strings.HasPrefix(line, "/opt/") {
			layerMissing = append(layerMissing, line)
		}
	}
	if len(layerMissing) > 0 || got.Elves < 10 {
		t.Errorf("the layers' ELF files (%d checked) miss libraries in the sandbox: %q", got.Elves, layerMissing)
	}
	if !strings.Contains(got.Missing, "/var/task/bin/curl: ") || !strings.Contains(got.Missing, "libcurl") {
		t.Errorf("the machine's curl in the sandbox: missing %q, want libcurl not found", got.Missing)
	}
	for _, f := range strings.Fields(got.Found) {
		if !strings.Contains(f, "=/opt/bin/") {
			t.Errorf("a command of this machine is visible in the sandbox: %s", f)
		}
	}
}
