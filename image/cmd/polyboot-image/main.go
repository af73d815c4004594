// Command polyboot-image builds, unpacks and pushes Lambda container images of polyboot functions
// without a Docker daemon (see the README's "Container images"):
//
//	polyboot-image base   --rootfs DIR --arch amd64 --out dist/polyboot-base-amd64.tar
//	polyboot-image build  --base SRC --arch amd64 --runtime dist/polyboot-amd64.zip \
//	                      [--layer dist/polyboot-tcl-amd64.zip]... --function examples/bash \
//	                      --handler function.handler --out dist/polyboot-image-amd64.tar
//	polyboot-image push   --archive dist/polyboot-image-amd64.tar [--dry-run] REGISTRY/REPO:TAG
//	polyboot-image unpack --archive FILE DIR
//
// Archives are `docker load` archives. SOURCE_DATE_EPOCH (seconds) sets every time in them
// (default 2021-01-01).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/polyboot/polyboot/image/lambdaimage"
)

func main() {
	if err := run(context.Background(), os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintf(os.Stderr, "polyboot-image: %v\n", err)
		os.Exit(1)
	}
}

const usage = "usage: polyboot-image base|build|push|unpack [flags] (polyboot-image CMD -h for the flags)"

func run(ctx context.Context, args []string, out io.Writer) error {
	if len(args) == 0 {
		return errors.New(usage)
	}
	cmds := map[string]func(context.Context, []string, io.Writer) error{
		"base": runBase, "build": runBuild, "push": runPush, "unpack": runUnpack,
	}
	cmd, ok := cmds[args[0]]
	if !ok {
		return errors.New(usage)
	}
	return cmd(ctx, args[1:], out)
}

// listFlag is a flag that may be given more than once.
type listFlag []string

func (l *listFlag) String() string     { return strings.Join(*l, ",") }
func (l *listFlag) Set(v string) error { *l = append(*l, v); return nil }

func epoch() (time.Time, error) {
	s := os.Getenv("SOURCE_DATE_EPOCH")
	if s == "" {
		return lambdaimage.DefaultEpoch(), nil
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return time.Time{}, fmt.Errorf("SOURCE_DATE_EPOCH=%q is not a whole number of seconds", s)
	}
	return time.Unix(n, 0).UTC(), nil
}

func runBase(_ context.Context, args []string, out io.Writer) error {
	fs := flag.NewFlagSet("base", flag.ContinueOnError)
	rootfs := fs.String("rootfs", "", "root file system folder (required)")
	arch := fs.String("arch", "amd64", "amd64 or arm64")
	dst := fs.String("out", "", "archive to write (required)")
	tag := fs.String("tag", "polyboot-base:latest", "the archive's tag")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *rootfs == "" || *dst == "" || fs.NArg() != 0 {
		return errors.New("usage: polyboot-image base --rootfs DIR --arch ARCH --out FILE [--tag T]")
	}
	t, err := epoch()
	if err != nil {
		return err
	}
	img, err := lambdaimage.BaseFromRootfs(*rootfs, *arch, t)
	if err != nil {
		return err
	}
	return write(out, *dst, *tag, img)
}

func runBuild(_ context.Context, args []string, out io.Writer) error {
	fs := flag.NewFlagSet("build", flag.ContinueOnError)
	var o lambdaimage.Options
	var layers listFlag
	base := fs.String("base", "", "base image: an OCI layout folder, a docker archive, or a registry reference (required)")
	fs.StringVar(&o.Arch, "arch", "amd64", "amd64 or arm64")
	fs.StringVar(&o.Runtime, "runtime", "", "the runtime layer zip (required)")
	fs.Var(&layers, "layer", "another layer zip, laid over the runtime layer at /opt (repeatable)")
	fs.StringVar(&o.Function, "function", "", "the function's folder, copied to /var/task (required)")
	fs.StringVar(&o.Handler, "handler", "function.handler", "the handler (the image's CMD)")
	dst := fs.String("out", "", "archive to write (required)")
	tag := fs.String("tag", "polyboot-function:latest", "the archive's tag")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *base == "" || o.Runtime == "" || o.Function == "" || *dst == "" || fs.NArg() != 0 {
		return errors.New("usage: polyboot-image build --base SRC --runtime ZIP [--layer ZIP]... --function DIR --handler H --out FILE")
	}
	o.Layers = layers
	var err error
	if o.Epoch, err = epoch(); err != nil {
		return err
	}
	if o.Base, err = lambdaimage.LoadBase(*base, o.Arch); err != nil {
		return err
	}
	img, err := lambdaimage.Build(o)
	if err != nil {
		return err
	}
	return write(out, *dst, *tag, img)
}

func write(out io.Writer, dst, tag string, img v1.Image) error {
	digest, err := lambdaimage.WriteArchive(dst, tag, img)
	if err != nil {
		return err
	}
	info, err := os.Stat(dst)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "wrote %s (%s, %d bytes): %s\n", dst, tag, info.Size(), digest)
	return nil
}

func runPush(ctx context.Context, args []string, out io.Writer) error {
	fs := flag.NewFlagSet("push", flag.ContinueOnError)
	archive := fs.String("archive", "", "the docker archive to push (required)")
	o := lambdaimage.PushOptions{Out: out}
	fs.StringVar(&o.Auth, "auth", lambdaimage.AuthAuto, "auto, ecr (aws ecr get-login-password), docker (the machine's Docker credentials) or none")
	fs.StringVar(&o.Region, "region", "", "the ECR region (default: from the registry's host name)")
	fs.StringVar(&o.Profile, "profile", "", "the AWS CLI profile for ecr auth")
	fs.BoolVar(&o.DryRun, "dry-run", false, "print what would be done; push nothing, run nothing")
	// Go's flag package stops at the first argument: let the reference come first too.
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		args = append(args[1:], args[0])
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *archive == "" || fs.NArg() != 1 {
		return errors.New("usage: polyboot-image push --archive FILE [--dry-run] [--auth MODE] [--region R] REGISTRY/REPO:TAG")
	}
	img, err := lambdaimage.ReadArchive(*archive)
	if err != nil {
		return err
	}
	return lambdaimage.Push(ctx, img, fs.Arg(0), o)
}

func runUnpack(_ context.Context, args []string, out io.Writer) error {
	fs := flag.NewFlagSet("unpack", flag.ContinueOnError)
	archive := fs.String("archive", "", "the docker archive to unpack (required)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *archive == "" || fs.NArg() != 1 {
		return errors.New("usage: polyboot-image unpack --archive FILE DIR")
	}
	img, err := lambdaimage.ReadArchive(*archive)
	if err != nil {
		return err
	}
	if err := lambdaimage.Unpack(img, fs.Arg(0)); err != nil {
		return err
	}
	fmt.Fprintf(out, "unpacked %s into %s\n", *archive, fs.Arg(0))
	return nil
}
