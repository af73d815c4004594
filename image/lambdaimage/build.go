package lambdaimage

import (
	"fmt"
	"path/filepath"
	"strings"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// Paths of AWS's Lambda base images.
const (
	TaskRoot   = "/var/task"             // LAMBDA_TASK_ROOT: the function's code
	RuntimeDir = "/var/runtime"          // LAMBDA_RUNTIME_DIR: AWS's entrypoint runs bootstrap from here
	Entrypoint = "/lambda-entrypoint.sh" // the entrypoint of AWS's base images
	LayersRoot = "/opt"                  // where Lambda merges a function's layers
)

// LambdaEnv is the environment AWS's Lambda base images set in their configuration, in their
// order (aws/aws-lambda-base-images, Dockerfile.provided.al2023: ENV LANG, TZ, PATH,
// LD_LIBRARY_PATH, LAMBDA_TASK_ROOT, LAMBDA_RUNTIME_DIR; the other images' are the same).
func LambdaEnv() []string {
	return []string{
		"LANG=en_US.UTF-8",
		"TZ=:/etc/localtime",
		"PATH=/var/lang/bin:/usr/local/bin:/usr/bin/:/bin:/opt/bin",
		"LD_LIBRARY_PATH=/var/lang/lib:/lib64:/usr/lib64:/var/runtime:/var/runtime/lib:/var/task:/var/task/lib:/opt/lib",
		"LAMBDA_TASK_ROOT=" + TaskRoot,
		"LAMBDA_RUNTIME_DIR=" + RuntimeDir,
	}
}

// DefaultEpoch is the time every layer entry and the image's creation date get when
// SOURCE_DATE_EPOCH is not set: 2021-01-01T00:00:00Z, as the layer zips.
func DefaultEpoch() time.Time { return time.Unix(1609459200, 0).UTC() }

// Options is what Build makes an image of.
type Options struct {
	Base     v1.Image // the base image (see LoadBase)
	Arch     string   // amd64 or arm64
	Runtime  string   // the runtime layer zip (dist/polyboot-ARCH.zip)
	Layers   []string // more layer zips (Tcl, Python 2.7, tools), laid over the runtime's in order
	Function string   // the function's folder, copied to /var/task
	Handler  string   // CMD: the handler, e.g. function.handler
	Epoch    time.Time
}

// Build makes the image: the base's layers, then one layer per zip, then the function's.
func Build(o Options) (v1.Image, error) {
	if err := checkArch(o.Base, o.Arch); err != nil {
		return nil, err
	}
	if o.Handler == "" {
		return nil, fmt.Errorf("no handler: the image's CMD must name one (e.g. function.handler)")
	}
	adds, err := baseAddenda(o.Base)
	if err != nil {
		return nil, err
	}
	// AWS's entrypoint runs $LAMBDA_RUNTIME_DIR/bootstrap: the runtime layer's image layer links it
	// to /opt/bootstrap, which finds its adapters next to itself (symlinks resolved).
	link := []Entry{Symlink(strings.TrimPrefix(RuntimeDir, "/")+"/bootstrap", LayersRoot+"/bootstrap")}
	zips := append([]string{o.Runtime}, o.Layers...)
	for i, z := range zips {
		var extra []Entry
		if i == 0 {
			extra = link
		}
		l, err := LayerFromZip(z, strings.TrimPrefix(LayersRoot, "/"), extra, o.Epoch)
		if err != nil {
			return nil, err
		}
		adds = append(adds, addendum(l, o.Epoch, "polyboot layer "+filepath.Base(z)+" at "+LayersRoot))
	}
	entries, err := DirEntries(o.Function, strings.TrimPrefix(TaskRoot, "/"), NormalizeModes)
	if err != nil {
		return nil, err
	}
	fn, err := Layer(entries, o.Epoch)
	if err != nil {
		return nil, err
	}
	adds = append(adds, addendum(fn, o.Epoch, "function code at "+TaskRoot))
	return assemble(o.Base, adds, o.Arch, o.Epoch, func(c *v1.Config) {
		c.Cmd = []string{o.Handler}
		if len(c.Entrypoint) == 0 {
			c.Entrypoint = []string{Entrypoint}
		}
	})
}

func addendum(l v1.Layer, epoch time.Time, what string) mutate.Addendum {
	return mutate.Addendum{
		Layer:     l,
		MediaType: types.DockerLayer,
		History:   v1.History{Created: v1.Time{Time: epoch}, CreatedBy: what, Comment: "polyboot-image"},
	}
}

// baseAddenda re-adds the base's layers with Docker's gzip layer media type (the same bytes), so
// that the image is written to and read back from a `docker load` archive unchanged.
func baseAddenda(base v1.Image) ([]mutate.Addendum, error) {
	if base == nil {
		return nil, nil
	}
	layers, err := base.Layers()
	if err != nil {
		return nil, fmt.Errorf("reading the base image's layers: %w", err)
	}
	var adds []mutate.Addendum
	for i, l := range layers {
		mt, err := l.MediaType()
		if err != nil {
			return nil, fmt.Errorf("base layer %d: %w", i, err)
		}
		switch mt {
		case types.DockerLayer, types.OCILayer:
		default:
			return nil, fmt.Errorf("base layer %d has media type %s; only gzip-compressed layers are supported", i, mt)
		}
		adds = append(adds, mutate.Addendum{Layer: l, MediaType: types.DockerLayer})
	}
	return adds, nil
}

// assemble makes a Docker schema 2 image of the base's configuration (if any), the layers adds,
// Lambda's environment, the working directory /var/task, and what edit sets; the history is the
// base's followed by one entry per added layer of ours.
func assemble(base v1.Image, adds []mutate.Addendum, arch string, epoch time.Time, edit func(*v1.Config)) (v1.Image, error) {
	img := mutate.ConfigMediaType(mutate.MediaType(empty.Image, types.DockerManifestSchema2), types.DockerConfigJSON)
	img, err := mutate.Append(img, adds...)
	if err != nil {
		return nil, fmt.Errorf("adding layers: %w", err)
	}
	cf, err := img.ConfigFile()
	if err != nil {
		return nil, err
	}
	cf = cf.DeepCopy()
	var history []v1.History
	if base != nil {
		bcf, err := base.ConfigFile()
		if err != nil {
			return nil, fmt.Errorf("reading the base image's configuration: %w", err)
		}
		cf.Config = *bcf.Config.DeepCopy()
		history = append(history, bcf.History...)
	}
	for _, a := range adds {
		// The base's layers came with its history above; ours carry their own entry.
		if a.History.Comment == "polyboot-image" {
			history = append(history, a.History)
		}
	}
	cf.History = history
	cf.Architecture, cf.OS, cf.Variant = arch, "linux", ""
	if arch == "arm64" {
		cf.Variant = "v8"
	}
	cf.Created = v1.Time{Time: epoch}
	cf.Config.Env = mergeEnv(cf.Config.Env, LambdaEnv())
	cf.Config.WorkingDir = TaskRoot
	edit(&cf.Config)
	return mutate.ConfigFile(img, cf)
}

// mergeEnv is env with each of over's variables set: replaced in place, or added at the end.
func mergeEnv(env, over []string) []string {
	out := append([]string(nil), env...)
	for _, kv := range over {
		key := kv[:strings.IndexByte(kv, '=')+1]
		replaced := false
		for i, old := range out {
			if strings.HasPrefix(old, key) {
				out[i], replaced = kv, true
			}
		}
		if !replaced {
			out = append(out, kv)
		}
	}
	return out
}

// checkArch fails unless base (when given) is a linux image of arch.
func checkArch(base v1.Image, arch string) error {
	if arch != "amd64" && arch != "arm64" {
		return fmt.Errorf("unsupported architecture %q (want amd64 or arm64)", arch)
	}
	if base == nil {
		return nil
	}
	cf, err := base.ConfigFile()
	if err != nil {
		return fmt.Errorf("reading the base image's configuration: %w", err)
	}
	if cf.OS != "linux" || cf.Architecture != arch {
		return fmt.Errorf("the base image is %s/%s, not linux/%s", cf.OS, cf.Architecture, arch)
	}
	return nil
}
