package lambdaimage

import (
	"bytes"
	"context"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// localRegistry serves go-containerregistry's registry on loopback; when password is set it
// wants Basic auth AWS:password, as ECR does. It counts the requests it gets.
func localRegistry(t *testing.T, password string) (host string, requests *atomic.Int64) {
	t.Helper()
	reg := registry.New(registry.Logger(nilLogger()))
	requests = &atomic.Int64{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		requests.Add(1)
		if password != "" {
			if u, p, ok := r.BasicAuth(); !ok || u != "AWS" || p != password {
				w.Header().Set("WWW-Authenticate", `Basic realm="test"`)
				http.Error(w, "unauthorized", http.StatusUnauthorized)
				return
			}
		}
		reg.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	return strings.TrimPrefix(srv.URL, "http://"), requests
}

func archiveOf(t *testing.T) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "img.tar")
	if _, err := WriteArchive(p, "polyboot-function:latest", newFixture(t).build(t, "amd64")); err != nil {
		t.Fatal(err)
	}
	return p
}

// A pushed image's manifest comes back from the registry byte for byte, under the same digest.
func TestPushRoundTripsTheManifest(t *testing.T) {
	host, _ := localRegistry(t, "")
	img, err := ReadArchive(archiveOf(t))
	if err != nil {
		t.Fatal(err)
	}
	ref := host + "/polyboot/fn:v1"
	var out bytes.Buffer
	if err := Push(context.Background(), img, ref, PushOptions{Auth: AuthNone, Out: &out}); err != nil {
		t.Fatal(err)
	}
	t.Log(out.String())
	want, err := img.RawManifest()
	if err != nil {
		t.Fatal(err)
	}
	r, err := name.ParseReference(ref)
	if err != nil {
		t.Fatal(err)
	}
	desc, err := remote.Get(r)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(desc.Manifest, want) {
		t.Fatalf("the registry serves\n%s\nwe pushed\n%s", desc.Manifest, want)
	}
	if d := digest(t, img); desc.Digest != d || !strings.Contains(out.String(), "pushed "+host+"/polyboot/fn@"+d.String()) {
		t.Fatalf("registry digest %s, ours %s; output %q", desc.Digest, d, out.String())
	}
	pulled, err := remote.Image(r)
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := pulled.RawConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	local, _ := img.RawConfigFile()
	if !bytes.Equal(cfg, local) {
		t.Fatal("the pulled configuration differs from the pushed one")
	}
}

// fakeAWS puts an `aws` on a new PATH that records its arguments and prints token.
func fakeAWS(t *testing.T, token string) (argsFile string) {
	t.Helper()
	dir := t.TempDir()
	argsFile = filepath.Join(dir, "args")
	script := "#!/bin/sh\nprintf '%s\\n' \"$*\" >>" + argsFile + "\nprintf '" + token + "\\n'\n"
	if err := os.WriteFile(filepath.Join(dir, "aws"), []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PATH", dir+string(os.PathListSeparator)+os.Getenv("PATH"))
	return argsFile
}

// With --auth ecr the password is `aws ecr get-login-password`'s, for the user AWS.
func TestPushWithECRToken(t *testing.T) {
	host, _ := localRegistry(t, "s3cr3t-token")
	argsFile := fakeAWS(t, "s3cr3t-token")
	img, err := ReadArchive(archiveOf(t))
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	o := PushOptions{Auth: AuthECR, Region: "eu-west-1", Profile: "ci", Out: &out}
	if err := Push(context.Background(), img, host+"/fn:v1", o); err != nil {
		t.Fatalf("%v\n%s", err, out.String())
	}
	args, err := os.ReadFile(argsFile)
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.TrimSpace(string(args)); got != "ecr get-login-password --region eu-west-1 --profile ci" {
		t.Fatalf("aws ran with %q", got)
	}
	// A wrong token is refused by the registry, and Push says so.
	fakeAWS(t, "wrong")
	if err := Push(context.Background(), img, host+"/fn:v2", o); err == nil {
		t.Fatal("pushed with a wrong token")
	}
}

// --dry-run prints the plan and contacts nothing: no request reaches the registry, aws never runs.
func TestPushDryRun(t *testing.T) {
	host, requests := localRegistry(t, "")
	argsFile := fakeAWS(t, "token")
	img, err := ReadArchive(archiveOf(t))
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	o := PushOptions{Auth: AuthECR, Region: "us-east-1", DryRun: true, Out: &out}
	if err := Push(context.Background(), img, host+"/fn:v1", o); err != nil {
		t.Fatal(err)
	}
	d := digest(t, img)
	for _, want := range []string{
		"push " + d.String() + " (application/vnd.docker.distribution.manifest.v2+json, 4 layers,",
		"to " + host + "/fn:v1", "auth: user AWS, password from: aws ecr get-login-password --region us-east-1",
		"dry run: nothing pushed",
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("dry run output lacks %q:\n%s", want, out.String())
		}
	}
	if n := requests.Load(); n != 0 {
		t.Errorf("the dry run sent %d requests", n)
	}
	if _, err := os.Stat(argsFile); err == nil {
		t.Error("the dry run ran aws")
	}
}

func TestAuthMode(t *testing.T) {
	fakeAWS(t, "token")
	tests := []struct {
		host, auth, region, wantMode, wantRegion string
	}{
		{"123456789012.dkr.ecr.eu-west-1.amazonaws.com", "", "", AuthECR, "eu-west-1"},
		{"123456789012.dkr.ecr-fips.us-east-1.amazonaws.com", AuthAuto, "", AuthECR, "us-east-1"},
		{"123456789012.dkr.ecr.cn-north-1.amazonaws.com.cn", "", "", AuthECR, "cn-north-1"},
		{"ghcr.io", "", "", AuthDocker, ""},
		{"public.ecr.aws", "", "", AuthDocker, ""},
		{"127.0.0.1:5000", AuthECR, "eu-central-1", AuthECR, "eu-central-1"},
		{"127.0.0.1:5000", AuthNone, "", AuthNone, ""},
	}
	for _, tt := range tests {
		mode, region, err := authMode(tt.host, PushOptions{Auth: tt.auth, Region: tt.region})
		if err != nil || mode != tt.wantMode || region != tt.wantRegion {
			t.Errorf("authMode(%s, %q) = %s, %s, %v; want %s, %s", tt.host, tt.auth, mode, region, err, tt.wantMode, tt.wantRegion)
		}
	}
	for _, bad := range []PushOptions{{Auth: AuthECR}, {Auth: "magic"}} {
		if _, _, err := authMode("127.0.0.1:5000", bad); err == nil {
			t.Errorf("authMode accepted %+v", bad)
		}
	}
	// Without the AWS CLI an ECR host falls back to Docker's credentials.
	t.Setenv("PATH", t.TempDir())
	if mode, _, _ := authMode("123456789012.dkr.ecr.eu-west-1.amazonaws.com", PushOptions{}); mode != AuthDocker {
		t.Errorf("without aws on PATH: %s", mode)
	}
}

// nilLogger discards the registry's request log.
func nilLogger() *log.Logger { return log.New(io.Discard, "", 0) }
