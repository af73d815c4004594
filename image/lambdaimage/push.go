package lambdaimage

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os/exec"
	"regexp"
	"strings"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// ecrHost matches an Amazon ECR private registry: ACCOUNT.dkr.ecr[-fips].REGION.amazonaws.com[.cn].
var ecrHost = regexp.MustCompile(`^[0-9]{12}\.dkr\.ecr(-fips)?\.([a-z0-9-]+)\.amazonaws\.com(\.cn)?$`)

// Auth modes of Push.
const (
	AuthAuto   = "auto"   // ecr for an ECR registry when the AWS CLI is on PATH, else docker
	AuthECR    = "ecr"    // user AWS, password from `aws ecr get-login-password --region R`
	AuthDocker = "docker" // the Docker credentials of the machine (~/.docker/config.json, helpers)
	AuthNone   = "none"   // anonymous
)

// PushOptions says how Push authenticates and what it prints.
type PushOptions struct {
	Auth    string    // one of the Auth* modes ("" is AuthAuto)
	Region  string    // the region for ecr (default: the one in the registry's host name)
	AWS     string    // the AWS CLI to run (default "aws" on PATH)
	Profile string    // --profile for the AWS CLI
	DryRun  bool      // print what would be done; contact nothing, run nothing
	Out     io.Writer // where the plan and the result go
	Remote  []remote.Option
}

// Push uploads img to ref (REGISTRY/REPO:TAG) with go-containerregistry: blobs the registry
// lacks, then the manifest, byte for byte as img.RawManifest gives it. It prints the plan first;
// with DryRun it stops there.
func Push(ctx context.Context, img v1.Image, ref string, o PushOptions) error {
	r, err := name.ParseReference(ref)
	if err != nil {
		return fmt.Errorf("image reference %q: %w", ref, err)
	}
	digest, err := img.Digest()
	if err != nil {
		return fmt.Errorf("computing the image's digest: %w", err)
	}
	mode, region, err := authMode(r.Context().RegistryStr(), o)
	if err != nil {
		return err
	}
	if err := printPlan(o.Out, img, r, digest, mode, region, o); err != nil {
		return err
	}
	if o.DryRun {
		fmt.Fprintln(o.Out, "dry run: nothing pushed")
		return nil
	}
	auth, err := authenticator(ctx, mode, region, o)
	if err != nil {
		return err
	}
	opts := append([]remote.Option{remote.WithContext(ctx), auth}, o.Remote...)
	if err := remote.Write(r, img, opts...); err != nil {
		return fmt.Errorf("pushing to %s: %w", r, err)
	}
	fmt.Fprintf(o.Out, "pushed %s@%s\n", r.Context(), digest)
	return nil
}

// authMode resolves AuthAuto and the region for ECR.
func authMode(host string, o PushOptions) (mode, region string, err error) {
	mode, region = o.Auth, o.Region
	if m := ecrHost.FindStringSubmatch(host); m != nil && region == "" {
		region = m[2]
	}
	switch mode {
	case "", AuthAuto:
		mode = AuthDocker
		if ecrHost.MatchString(host) {
			if _, err := exec.LookPath(awsCLI(o)); err == nil {
				mode = AuthECR
			}
		}
	case AuthECR:
		if region == "" {
			return "", "", fmt.Errorf("--auth ecr needs --region: %s is not an ECR host name", host)
		}
	case AuthDocker, AuthNone:
	default:
		return "", "", fmt.Errorf("unknown auth mode %q (want auto, ecr, docker or none)", mode)
	}
	return mode, region, nil
}

func awsCLI(o PushOptions) string {
	if o.AWS != "" {
		return o.AWS
	}
	return "aws"
}

// ecrLoginCommand is the AWS CLI command that prints an ECR password.
func ecrLoginCommand(region string, o PushOptions) []string {
	cmd := []string{awsCLI(o), "ecr", "get-login-password", "--region", region}
	if o.Profile != "" {
		cmd = append(cmd, "--profile", o.Profile)
	}
	return cmd
}

func printPlan(w io.Writer, img v1.Image, r name.Reference, digest v1.Hash, mode, region string, o PushOptions) error {
	layers, err := img.Layers()
	if err != nil {
		return fmt.Errorf("reading the image's layers: %w", err)
	}
	var total int64
	for _, l := range layers {
		n, err := l.Size()
		if err != nil {
			return err
		}
		total += n
	}
	fmt.Fprintf(w, "push %s (%s, %d layers, %d bytes compressed) to %s\n", digest, mediaType(img), len(layers), total, r)
	switch mode {
	case AuthECR:
		fmt.Fprintf(w, "auth: user AWS, password from: %s\n", strings.Join(ecrLoginCommand(region, o), " "))
	case AuthDocker:
		fmt.Fprintln(w, "auth: the Docker credentials of this machine (anonymous when there are none)")
	case AuthNone:
		fmt.Fprintln(w, "auth: none")
	}
	return nil
}

func mediaType(img v1.Image) string {
	mt, err := img.MediaType()
	if err != nil {
		return "unknown media type"
	}
	return string(mt)
}

func authenticator(ctx context.Context, mode, region string, o PushOptions) (remote.Option, error) {
	switch mode {
	case AuthECR:
		argv := ecrLoginCommand(region, o)
		var stderr bytes.Buffer
		cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		if err != nil {
			return nil, fmt.Errorf("%s: %w: %s", strings.Join(argv, " "), err, strings.TrimSpace(stderr.String()))
		}
		token := strings.TrimSpace(string(out))
		if token == "" {
			return nil, fmt.Errorf("%s printed no password", strings.Join(argv, " "))
		}
		return remote.WithAuth(&authn.Basic{Username: "AWS", Password: token}), nil
	case AuthDocker:
		return remote.WithAuthFromKeychain(authn.DefaultKeychain), nil
	default:
		return remote.WithAuth(authn.Anonymous), nil
	}
}
