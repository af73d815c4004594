package lambdaimage

import (
	"path/filepath"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// LoadBase reads an OCI image layout (picking the image of the asked architecture) and a docker
// archive; it refuses a folder that is no layout and a layout without the architecture.
func TestLoadBase(t *testing.T) {
	fx := newFixture(t)
	dir := t.TempDir()
	images := map[string]v1.Image{}
	p, err := layout.Write(filepath.Join(dir, "oci"), empty.Index)
	if err != nil {
		t.Fatal(err)
	}
	for _, arch := range []string{"amd64", "arm64"} {
		img, err := BaseFromRootfs(fx.rootfs, arch, DefaultEpoch())
		if err != nil {
			t.Fatal(err)
		}
		images[arch] = img
		if err := p.AppendImage(img, layout.WithPlatform(v1.Platform{OS: "linux", Architecture: arch})); err != nil {
			t.Fatal(err)
		}
	}
	archive := filepath.Join(dir, "base.tar")
	if _, err := WriteArchive(archive, "polyboot-base:latest", images["arm64"]); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct{ src, arch string }{
		{filepath.Join(dir, "oci"), "amd64"}, {filepath.Join(dir, "oci"), "arm64"}, {archive, "arm64"},
	} {
		img, err := LoadBase(tt.src, tt.arch)
		if err != nil {
			t.Fatalf("%s (%s): %v", tt.src, tt.arch, err)
		}
		if got, want := digest(t, img), digest(t, images[tt.arch]); got != want {
			t.Errorf("%s (%s) gave %s, want %s", tt.src, tt.arch, got, want)
		}
		// And an image built on it keeps its layers and entrypoint.
		built, err := Build(Options{Base: img, Arch: tt.arch, Runtime: fx.runtime, Function: fx.function, Handler: "h.h", Epoch: DefaultEpoch()})
		if err != nil {
			t.Fatal(err)
		}
		if ls, _ := built.Layers(); len(ls) != 3 {
			t.Errorf("built on %s: %d layers, want 3", tt.src, len(ls))
		}
	}
	only, err := layout.Write(filepath.Join(dir, "amd64-only"), empty.Index)
	if err != nil {
		t.Fatal(err)
	}
	if err := only.AppendImage(images["amd64"]); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct{ src, arch string }{
		{filepath.Join(dir, "amd64-only"), "arm64"}, {t.TempDir(), "amd64"}, {"no such thing:::", "amd64"},
	} {
		if _, err := LoadBase(tt.src, tt.arch); err == nil {
			t.Errorf("LoadBase(%s, %s) succeeded", tt.src, tt.arch)
		} else {
			t.Log(err)
		}
	}
}

// A base given by reference is pulled from its registry, the architecture's image picked from a
// multi-platform index, as from public.ecr.aws/lambda/provided:al2023 (here: a registry on
// loopback).
func TestLoadBaseFromRegistry(t *testing.T) {
	fx := newFixture(t)
	host, _ := localRegistry(t, "")
	idx := mutate.IndexMediaType(empty.Index, types.OCIImageIndex)
	images := map[string]v1.Image{}
	for _, arch := range []string{"amd64", "arm64"} {
		img, err := BaseFromRootfs(fx.rootfs, arch, DefaultEpoch())
		if err != nil {
			t.Fatal(err)
		}
		images[arch] = img
		idx = mutate.AppendManifests(idx, mutate.IndexAddendum{Add: img, Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: "linux", Architecture: arch}}})
	}
	ref, err := name.ParseReference(host + "/lambda/provided:al2023")
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.WriteIndex(ref, idx); err != nil {
		t.Fatal(err)
	}
	for arch, want := range images {
		img, err := LoadBase(ref.String(), arch)
		if err != nil {
			t.Fatal(err)
		}
		if got := digest(t, img); got != digest(t, want) {
			t.Errorf("%s: pulled %s, want %s", arch, got, digest(t, want))
		}
	}
	if _, err := LoadBase(host+"/lambda/none:latest", "amd64"); err == nil {
		t.Error("pulled an image that is not there")
	}
}
