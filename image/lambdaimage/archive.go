package lambdaimage

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

// WriteArchive writes img to path as a `docker load` archive (manifest.json, the configuration,
// one gzip blob per layer) tagged tag, and checks that the archive reads back as the same image
// (the same manifest digest). It returns that digest.
func WriteArchive(path, tag string, img v1.Image) (v1.Hash, error) {
	t, err := name.NewTag(tag)
	if err != nil {
		return v1.Hash{}, fmt.Errorf("image tag %q: %w", tag, err)
	}
	want, err := img.Digest()
	if err != nil {
		return v1.Hash{}, fmt.Errorf("computing the image's digest: %w", err)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return v1.Hash{}, err
	}
	tmp := path + ".tmp"
	if err := tarball.WriteToFile(tmp, t, img); err != nil {
		os.Remove(tmp)
		return v1.Hash{}, fmt.Errorf("writing %s: %w", path, err)
	}
	back, err := ReadArchive(tmp)
	if err == nil {
		var got v1.Hash
		if got, err = back.Digest(); err == nil && got != want {
			err = fmt.Errorf("the archive reads back as %s, not %s", got, want)
		}
	}
	if err != nil {
		os.Remove(tmp)
		return v1.Hash{}, fmt.Errorf("checking %s: %w", path, err)
	}
	return want, os.Rename(tmp, path)
}

// ReadArchive opens a `docker load` archive holding one image.
func ReadArchive(path string) (v1.Image, error) {
	img, err := tarball.ImageFromPath(path, nil)
	if err != nil {
		return nil, fmt.Errorf("reading the image archive %s: %w", path, err)
	}
	return img, nil
}
