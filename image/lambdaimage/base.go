package lambdaimage

import (
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

// LoadBase opens a base image for linux/arch: an OCI image layout folder (one holding an
// oci-layout file), a `docker save`/`docker load` archive (a file), or else a registry reference
// (e.g. public.ecr.aws/lambda/provided:al2023), pulled with the Docker credentials found on the
// machine, for the platform linux/arch when it is a multi-platform index.
func LoadBase(src, arch string, opts ...remote.Option) (v1.Image, error) {
	info, err := os.Stat(src)
	switch {
	case err == nil && info.IsDir():
		return fromLayout(src, arch)
	case err == nil:
		img, err := tarball.ImageFromPath(src, nil)
		if err != nil {
			return nil, fmt.Errorf("reading the image archive %s: %w", src, err)
		}
		return img, nil
	}
	ref, perr := name.ParseReference(src)
	if perr != nil {
		return nil, fmt.Errorf("base %q is neither a file, a folder nor an image reference: %w", src, perr)
	}
	opts = append([]remote.Option{
		remote.WithPlatform(v1.Platform{OS: "linux", Architecture: arch}),
		remote.WithAuthFromKeychain(authn.DefaultKeychain),
	}, opts...)
	img, err := remote.Image(ref, opts...)
	if err != nil {
		return nil, fmt.Errorf("pulling the base image %s: %w", ref, err)
	}
	return img, nil
}

// fromLayout picks the image for linux/arch in an OCI image layout.
func fromLayout(dir, arch string) (v1.Image, error) {
	if _, err := os.Stat(filepath.Join(dir, "oci-layout")); err != nil {
		return nil, fmt.Errorf("%s is a folder but not an OCI image layout (no oci-layout file)", dir)
	}
	idx, err := layout.ImageIndexFromPath(dir)
	if err != nil {
		return nil, fmt.Errorf("reading the OCI layout %s: %w", dir, err)
	}
	m, err := idx.IndexManifest()
	if err != nil {
		return nil, fmt.Errorf("reading the OCI layout %s: %w", dir, err)
	}
	for _, d := range m.Manifests {
		if !d.MediaType.IsImage() {
			continue
		}
		img, err := idx.Image(d.Digest)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", dir, err)
		}
		cf, err := img.ConfigFile()
		if err != nil {
			return nil, fmt.Errorf("%s: %w", dir, err)
		}
		if cf.OS == "linux" && cf.Architecture == arch {
			return img, nil
		}
	}
	return nil, fmt.Errorf("the OCI layout %s holds no linux/%s image", dir, arch)
}

// BaseFromRootfs makes a base image of a root file system folder (one layer, modes kept) with
// AWS's base image configuration: entrypoint /lambda-entrypoint.sh, Lambda's environment,
// working directory /var/task, no CMD.
func BaseFromRootfs(rootfs, arch string, epoch time.Time) (v1.Image, error) {
	if err := checkArch(nil, arch); err != nil {
		return nil, err
	}
	entries, err := DirEntries(rootfs, "", KeepModes)
	if err != nil {
		return nil, err
	}
	l, err := Layer(entries, epoch)
	if err != nil {
		return nil, err
	}
	add := addendum(l, epoch, "polyboot offline base: Debian 11 packages and AWS's Runtime Interface Emulator")
	return assemble(nil, []mutate.Addendum{add}, arch, epoch, func(c *v1.Config) {
		c.Entrypoint = []string{Entrypoint}
	})
}
