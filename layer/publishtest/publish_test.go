package publishtest

import (
	"archive/zip"
	"bytes"
	"compress/flate"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// directLimit is Lambda's limit for a zip uploaded directly (CodeSizeZipped, 50 MB).
const directLimit = 52428800

// root is the repository's top folder.
func root(t testing.TB) string {
	t.Helper()
	dir, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	return dir
}

func script(t testing.TB) string { return filepath.Join(root(t), "layer", "publish") }

// elfHeader is the first 20 bytes of an ELF executable for arch (e_machine at offset 18).
func elfHeader(arch string) []byte {
	h := []byte{0x7f, 'E', 'L', 'F', 2, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2, 0, 0, 0}
	switch arch {
	case "amd64":
		h[18] = 0x3e
	case "arm64":
		h[18] = 0xb7
	}
	return append(h, make([]byte, 44)...)
}

// layerEntry is the executable layer/publish checks in each kind of layer.
var layerEntry = map[string]string{"runtime": "bootstrap", "tcl": "bin/tclsh8.6", "python2": "bin/python2.7", "tools": "bin/python3.9"}

func zipName(kind, arch string) string {
	if kind == "runtime" {
		return "polyboot-" + arch + ".zip"
	}
	return "polyboot-" + kind + "-" + arch + ".zip"
}

// writeLayerZip writes a zip that looks like a layer of kind built for elfArch: its entry point
// with an ELF header, a small text file, and filler zero bytes (stored, so they count fully).
func writeLayerZip(t testing.TB, path, kind, elfArch string, filler int64) {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	w := zip.NewWriter(f)
	add := func(name string, method uint16, size int64, content []byte) {
		hw, err := w.CreateHeader(&zip.FileHeader{Name: name, Method: method})
		if err != nil {
			t.Fatal(err)
		}
		if content != nil {
			_, err = hw.Write(content)
		} else {
			_, err = io.CopyN(hw, zeroReader{}, size)
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	add(layerEntry[kind], zip.Deflate, 0, elfHeader(elfArch))
	add("README", zip.Deflate, 0, []byte("a test layer\n"))
	add("filler", zip.Store, filler, nil)
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
}

// writeZeros adds an entry of size zero bytes (a multiple of 1 MiB), deflated. Compressing that
// much with compress/flate takes long under the race detector, so the deflate stream is made of
// one compressed MiB repeated: a sync flush ends it with a non-final block, and the blocks of a
// deflate stream may follow one another.
func writeZeros(t testing.TB, w *zip.Writer, name string, size int64) {
	t.Helper()
	const chunk = 1 << 20
	var block bytes.Buffer
	fw, err := flate.NewWriter(&block, flate.BestCompression)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := fw.Write(make([]byte, chunk)); err != nil {
		t.Fatal(err)
	}
	if err := fw.Flush(); err != nil {
		t.Fatal(err)
	}
	var final bytes.Buffer
	fw, _ = flate.NewWriter(&final, flate.BestCompression)
	if err := fw.Close(); err != nil {
		t.Fatal(err)
	}
	zeros := make([]byte, chunk)
	var crc uint32
	for i := int64(0); i < size/chunk; i++ {
		crc = crc32.Update(crc, crc32.IEEETable, zeros)
	}
	n := size / chunk
	hw, err := w.CreateRaw(&zip.FileHeader{
		Name: name, Method: zip.Deflate, CRC32: crc,
		CompressedSize64: uint64(n)*uint64(block.Len()) + uint64(final.Len()), UncompressedSize64: uint64(size),
	})
	if err != nil {
		t.Fatal(err)
	}
	for i := int64(0); i < n; i++ {
		if _, err := hw.Write(block.Bytes()); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := hw.Write(final.Bytes()); err != nil {
		t.Fatal(err)
	}
}

type zeroReader struct{}

func (zeroReader) Read(p []byte) (int, error) {
	clear(p)
	return len(p), nil
}

// writeLayerZipOfSize writes a layer zip of exactly size bytes (the zip's overhead does not
// depend on the size of the stored filler).
func writeLayerZipOfSize(t testing.TB, path, kind, arch string, size int64) {
	t.Helper()
	writeLayerZip(t, path, kind, arch, 0)
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	writeLayerZip(t, path, kind, arch, size-fi.Size())
	if fi, err = os.Stat(path); err != nil || fi.Size() != size {
		t.Fatalf("%s: size %d, want %d (%v)", path, fi.Size(), size, err)
	}
}

// makeDist makes a dist folder (its name has a space and a quote, for the quoting) with small
// layer zips of the given kinds for arch.
func makeDist(t testing.TB, arch string, kinds ...string) string {
	t.Helper()
	dist := filepath.Join(t.TempDir(), "my dist's zips")
	if err := os.Mkdir(dist, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, kind := range kinds {
		writeLayerZip(t, filepath.Join(dist, zipName(kind, arch)), kind, arch, 1000)
	}
	return dist
}

// fakeAWS is a folder with an `aws` that records each call (argument count, then the arguments,
// NUL-terminated) in log, and answers like the AWS CLI would with --query LayerVersionArn
// --output text. $FAKE_AWS_FAIL names an operation to fail.
type fakeAWS struct {
	dir, log string
}

const fakeAWSScript = `#!/bin/bash
printf '%s\0' "$#" "$@" >>"$FAKE_AWS_LOG"
op="$1 $2"
if [[ -n ${FAKE_AWS_FAIL:-} && $op == *"$FAKE_AWS_FAIL"* ]]; then
	echo "An error occurred (AccessDeniedException) when calling $2: not allowed" >&2
	exit 254
fi
case $op in
"lambda publish-layer-version")
	while (($#)); do
		if [[ $1 == --layer-name ]]; then name=$2; fi
		shift
	done
	echo "arn:aws:lambda:eu-west-1:123456789012:layer:$name:7"
	;;
"lambda add-layer-version-permission") echo '{"Statement": "{}", "RevisionId": "r"}' ;;
"s3 cp") echo "upload: ... to s3://..." ;;
*) echo "fake aws: unexpected call: $*" >&2; exit 2 ;;
esac
`

func newFakeAWS(t testing.TB) *fakeAWS {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "aws"), []byte(fakeAWSScript), 0o755); err != nil {
		t.Fatal(err)
	}
	return &fakeAWS{dir: dir, log: filepath.Join(dir, "calls")}
}

// calls returns the recorded calls, each as its arguments (without "aws").
func (f *fakeAWS) calls(t testing.TB) [][]string {
	t.Helper()
	data, err := os.ReadFile(f.log)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	fields := strings.Split(string(data), "\x00")
	fields = fields[:len(fields)-1] // after the last NUL
	var calls [][]string
	for len(fields) > 0 {
		n, err := strconv.Atoi(fields[0])
		if err != nil || n+1 > len(fields) {
			t.Fatalf("fake aws log is damaged: %q", data)
		}
		calls = append(calls, fields[1:n+1])
		fields = fields[n+1:]
	}
	return calls
}

// result is one run of layer/publish.
type result struct {
	stdout, stderr string
	code           int
}

// run runs layer/publish with PATH set to path and the fake aws's log in the environment.
func runPublish(t testing.TB, path string, aws *fakeAWS, extraEnv []string, args ...string) result {
	t.Helper()
	cmd := exec.Command(script(t), args...)
	cmd.Env = append(testEnv(path), extraEnv...)
	if aws != nil {
		cmd.Env = append(cmd.Env, "FAKE_AWS_LOG="+aws.log)
	}
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	code := 0
	var exit *exec.ExitError
	if errors.As(err, &exit) {
		code = exit.ExitCode()
	} else if err != nil {
		t.Fatalf("running layer/publish: %v", err)
	}
	return result{stdout.String(), stderr.String(), code}
}

// testEnv is this process's environment with PATH replaced and no AWS variables.
func testEnv(path string) []string {
	env := []string{"PATH=" + path}
	for _, kv := range os.Environ() {
		if strings.HasPrefix(kv, "PATH=") || strings.HasPrefix(kv, "AWS_") || strings.HasPrefix(kv, "FAKE_AWS_") {
			continue
		}
		env = append(env, kv)
	}
	return env
}

// withFakeAWS is PATH with the fake aws first: it shadows any real AWS CLI.
func withFakeAWS(aws *fakeAWS) string {
	return aws.dir + string(os.PathListSeparator) + os.Getenv("PATH")
}

// dryRun runs layer/publish --dry-run with a fake aws on PATH and fails the test if it was called.
func dryRun(t *testing.T, args ...string) result {
	t.Helper()
	aws := newFakeAWS(t)
	r := runPublish(t, withFakeAWS(aws), aws, nil, append([]string{"--dry-run"}, args...)...)
	if calls := aws.calls(t); len(calls) > 0 {
		t.Errorf("--dry-run ran aws %d times: %q", len(calls), calls)
	}
	return r
}

func lines(s ...string) string { return strings.Join(s, "\n") + "\n" }

func TestDryRunCommands(t *testing.T) {
	distAMD := makeDist(t, "amd64", "runtime", "tcl", "python2")
	distARM := makeDist(t, "arm64", "runtime", "tcl", "python2")
	// The dist folder's name holds a space and a quote: 'fileb://.../my dist'\''s zips/...'
	qAMD := strings.ReplaceAll(distAMD, "'", `'\''`)
	qARM := strings.ReplaceAll(distARM, "'", `'\''`)
	tests := []struct {
		name string
		args []string
		want string
	}{{
		name: "defaults",
		args: []string{"--dist", distAMD, "--build-version", "v1.2.3"},
		want: lines(
			"runtime_arn=$(aws lambda publish-layer-version --layer-name polyboot --description 'polyboot runtime (bootstrap and adapters) v1.2.3' --compatible-runtimes provided.al2023 --compatible-architectures x86_64 --zip-file 'fileb://" + qAMD + "/polyboot-amd64.zip' --query LayerVersionArn --output text)",
		),
	}, {
		name: "all languages, region",
		args: []string{"--dist=" + distAMD, "--build-version=v1.2.3-4-gabcdef0-dirty", "--all", "--region", "eu-west-1"},
		want: lines(
			"runtime_arn=$(aws lambda publish-layer-version --layer-name polyboot --description 'polyboot runtime (bootstrap and adapters) v1.2.3-4-gabcdef0-dirty' --compatible-runtimes provided.al2023 --compatible-architectures x86_64 --zip-file 'fileb://"+qAMD+"/polyboot-amd64.zip' --region eu-west-1 --query LayerVersionArn --output text)",
			"tcl_arn=$(aws lambda publish-layer-version --layer-name polyboot-tcl --description 'polyboot Tcl 8.6 interpreter for the polyboot runtime v1.2.3-4-gabcdef0-dirty' --compatible-runtimes provided.al2023 --compatible-architectures x86_64 --zip-file 'fileb://"+qAMD+"/polyboot-tcl-amd64.zip' --region eu-west-1 --query LayerVersionArn --output text)",
			"python2_arn=$(aws lambda publish-layer-version --layer-name polyboot-python2 --description 'polyboot Python 2.7 interpreter for the polyboot runtime v1.2.3-4-gabcdef0-dirty' --compatible-runtimes provided.al2023 --compatible-architectures x86_64 --zip-file 'fileb://"+qAMD+"/polyboot-python2-amd64.zip' --region eu-west-1 --query LayerVersionArn --output text)",
		),
	}, {
		name: "arm64, one language, odd description and profile, shared",
		args: []string{"--dist", distARM, "--arch", "arm64", "--languages", "python2", "--layer-name-prefix", "acme_rt",
			"--description", `it's a "test" layer: $HOME, ` + "`id`, * and \\ stay as they are",
			"--profile", "my profile", "--region", "us-gov-west-1",
			"--public", "--principal", "123456789012", "--principal", "arn:aws:iam::210987654321:root"},
		want: lines(
			`runtime_arn=$(aws lambda publish-layer-version --layer-name acme_rt-arm64 --description 'it'\''s a "test" layer: $HOME, `+"`id`"+`, * and \ stay as they are' --compatible-runtimes provided.al2023 --compatible-architectures arm64 --zip-file 'fileb://`+qARM+`/polyboot-arm64.zip' --region us-gov-west-1 --profile 'my profile' --query LayerVersionArn --output text)`,
			`aws lambda add-layer-version-permission --layer-name acme_rt-arm64 --version-number "${runtime_arn##*:}" --statement-id public --action lambda:GetLayerVersion --principal '*' --region us-gov-west-1 --profile 'my profile'`,
			`aws lambda add-layer-version-permission --layer-name acme_rt-arm64 --version-number "${runtime_arn##*:}" --statement-id account-123456789012 --action lambda:GetLayerVersion --principal 123456789012 --region us-gov-west-1 --profile 'my profile'`,
			`aws lambda add-layer-version-permission --layer-name acme_rt-arm64 --version-number "${runtime_arn##*:}" --statement-id account-210987654321 --action lambda:GetLayerVersion --principal arn:aws:iam::210987654321:root --region us-gov-west-1 --profile 'my profile'`,
			`python2_arn=$(aws lambda publish-layer-version --layer-name acme_rt-python2-arm64 --description 'it'\''s a "test" layer: $HOME, `+"`id`"+`, * and \ stay as they are' --compatible-runtimes provided.al2023 --compatible-architectures arm64 --zip-file 'fileb://`+qARM+`/polyboot-python2-arm64.zip' --region us-gov-west-1 --profile 'my profile' --query LayerVersionArn --output text)`,
			`aws lambda add-layer-version-permission --layer-name acme_rt-python2-arm64 --version-number "${python2_arn##*:}" --statement-id public --action lambda:GetLayerVersion --principal '*' --region us-gov-west-1 --profile 'my profile'`,
			`aws lambda add-layer-version-permission --layer-name acme_rt-python2-arm64 --version-number "${python2_arn##*:}" --statement-id account-123456789012 --action lambda:GetLayerVersion --principal 123456789012 --region us-gov-west-1 --profile 'my profile'`,
			`aws lambda add-layer-version-permission --layer-name acme_rt-python2-arm64 --version-number "${python2_arn##*:}" --statement-id account-210987654321 --action lambda:GetLayerVersion --principal arn:aws:iam::210987654321:root --region us-gov-west-1 --profile 'my profile'`,
		),
	}, {
		name: "organization, S3 for small zips",
		args: []string{"--dist", distAMD, "--build-version", "v2", "--languages", "bash,tcl", "--organization-id", "o-a1b2c3d4e5",
			"--s3-bucket", "my-artifacts.eu-west-1", "--region", "eu-west-1"},
		want: lines(
			"aws s3 cp '"+qAMD+"/polyboot-amd64.zip' s3://my-artifacts.eu-west-1/polyboot/v2/polyboot-amd64.zip --region eu-west-1",
			"runtime_arn=$(aws lambda publish-layer-version --layer-name polyboot --description 'polyboot runtime (bootstrap and adapters) v2' --compatible-runtimes provided.al2023 --compatible-architectures x86_64 --content S3Bucket=my-artifacts.eu-west-1,S3Key=polyboot/v2/polyboot-amd64.zip --region eu-west-1 --query LayerVersionArn --output text)",
			`aws lambda add-layer-version-permission --layer-name polyboot --version-number "${runtime_arn##*:}" --statement-id org-o-a1b2c3d4e5 --action lambda:GetLayerVersion --principal '*' --organization-id o-a1b2c3d4e5 --region eu-west-1`,
			"aws s3 cp '"+qAMD+"/polyboot-tcl-amd64.zip' s3://my-artifacts.eu-west-1/polyboot/v2/polyboot-tcl-amd64.zip --region eu-west-1",
			"tcl_arn=$(aws lambda publish-layer-version --layer-name polyboot-tcl --description 'polyboot Tcl 8.6 interpreter for the polyboot runtime v2' --compatible-runtimes provided.al2023 --compatible-architectures x86_64 --content S3Bucket=my-artifacts.eu-west-1,S3Key=polyboot/v2/polyboot-tcl-amd64.zip --region eu-west-1 --query LayerVersionArn --output text)",
			`aws lambda add-layer-version-permission --layer-name polyboot-tcl --version-number "${tcl_arn##*:}" --statement-id org-o-a1b2c3d4e5 --action lambda:GetLayerVersion --principal '*' --organization-id o-a1b2c3d4e5 --region eu-west-1`,
		),
	}, {
		name: "S3 prefix without a slash, no region",
		args: []string{"--dist", distAMD, "--s3-bucket", "bkt", "--s3-prefix", "layers/with space"},
		want: lines(
			"aws s3 cp '"+qAMD+"/polyboot-amd64.zip' 's3://bkt/layers/with space/polyboot-amd64.zip'",
			"runtime_arn=$(aws lambda publish-layer-version --layer-name polyboot --description 'polyboot runtime (bootstrap and adapters) "+gitVersion(t)+"' --compatible-runtimes provided.al2023 --compatible-architectures x86_64 --content 'S3Bucket=bkt,S3Key=layers/with space/polyboot-amd64.zip' --query LayerVersionArn --output text)",
		),
	}}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := dryRun(t, tc.args...)
			if r.code != 0 {
				t.Fatalf("exit %d\nstderr:\n%s", r.code, r.stderr)
			}
			if r.stdout != tc.want {
				t.Errorf("--dry-run printed:\n%s\nwant:\n%s", r.stdout, tc.want)
			}
		})
	}
}

// gitVersion is what layer/publish uses by default in this checkout. The checkout may change
// under a running test (others commit), so it is read right when needed.
func gitVersion(t testing.TB) string {
	t.Helper()
	out, err := exec.Command("git", "-C", root(t), "describe", "--tags", "--always", "--dirty").Output()
	if err != nil {
		return "unknown"
	}
	return strings.TrimSpace(string(out))
}

// TestDryRunIsTheRealRun runs the --dry-run output as a bash script, and layer/publish without
// --dry-run, against the same fake aws: both must make the same calls, in the same order.
func TestDryRunIsTheRealRun(t *testing.T) {
	dist := makeDist(t, "amd64", "runtime", "tcl", "python2")
	args := []string{"--dist", dist, "--all", "--region", "eu-west-1", "--profile", "p 1",
		"--public", "--principal", "123456789012", "--s3-bucket", "bkt", "--build-version", "v3",
		"--description", `odd "text" with 'quotes', $dollars and a`}

	dry := dryRun(t, args...)
	if dry.code != 0 {
		t.Fatalf("--dry-run: exit %d\n%s", dry.code, dry.stderr)
	}
	scripted := newFakeAWS(t)
	sh := exec.Command("bash", "-euo", "pipefail", "-c", dry.stdout)
	sh.Env = append(testEnv(withFakeAWS(scripted)), "FAKE_AWS_LOG="+scripted.log)
	if out, err := sh.CombinedOutput(); err != nil {
		t.Fatalf("running the --dry-run output: %v\n%s", err, out)
	}

	real := newFakeAWS(t)
	r := runPublish(t, withFakeAWS(real), real, nil, args...)
	if r.code != 0 {
		t.Fatalf("exit %d\nstderr:\n%s", r.code, r.stderr)
	}
	want, got := scripted.calls(t), real.calls(t)
	if fmt.Sprintf("%q", got) != fmt.Sprintf("%q", want) {
		t.Errorf("the real run called aws with\n%q\nthe --dry-run script with\n%q", got, want)
	}
	if len(got) != 3*(1+1+2) {
		t.Errorf("%d calls, want 12 (per layer: s3 cp, publish, 2 permissions)", len(got))
	}
	// The permission uses the version number from the published ARN.
	for _, c := range got {
		if len(c) > 1 && c[1] == "add-layer-version-permission" && !strings.Contains(strings.Join(c, " "), "--version-number 7 ") {
			t.Errorf("permission without the published version: %q", c)
		}
	}
	wantOut := lines(
		"polyboot arn:aws:lambda:eu-west-1:123456789012:layer:polyboot:7",
		"polyboot-tcl arn:aws:lambda:eu-west-1:123456789012:layer:polyboot-tcl:7",
		"polyboot-python2 arn:aws:lambda:eu-west-1:123456789012:layer:polyboot-python2:7",
	)
	if r.stdout != wantOut {
		t.Errorf("stdout:\n%s\nwant:\n%s", r.stdout, wantOut)
	}
	for _, s := range []string{"+ aws lambda publish-layer-version --layer-name polyboot-tcl ", `"Statement"`} {
		if !strings.Contains(r.stderr, s) {
			t.Errorf("stderr lacks %q (the commands as run, and aws's own output):\n%s", s, r.stderr)
		}
	}
}

func TestRealRunFailures(t *testing.T) {
	dist := makeDist(t, "amd64", "runtime")
	t.Run("aws fails", func(t *testing.T) {
		aws := newFakeAWS(t)
		r := runPublish(t, withFakeAWS(aws), aws, []string{"FAKE_AWS_FAIL=publish-layer-version"}, "--dist", dist, "--public")
		if r.code != 1 || !strings.Contains(r.stderr, "layer/publish: error: command failed (status 254): aws lambda publish-layer-version --layer-name polyboot") {
			t.Errorf("exit %d, stderr:\n%s", r.code, r.stderr)
		}
		if calls := aws.calls(t); len(calls) != 1 {
			t.Errorf("went on after a failed publish: %q", calls)
		}
	})
	t.Run("no aws on PATH", func(t *testing.T) {
		path := toolsOnly(t)
		r := runPublish(t, path, nil, nil, "--dist", dist)
		want := "layer/publish: error: the AWS CLI (aws) is not on PATH: install it (https://docs.aws.amazon.com/cli/), or pass --dry-run to print the commands without running them\n"
		if r.code != 1 || !strings.HasSuffix(r.stderr, want) || r.stdout != "" {
			t.Errorf("exit %d, stdout %q, stderr:\n%s", r.code, r.stdout, r.stderr)
		}
		// ... while --dry-run works without it.
		r = runPublish(t, path, nil, nil, "--dist", dist, "--dry-run", "--build-version", "v1")
		if r.code != 0 || !strings.HasPrefix(r.stdout, "runtime_arn=$(aws lambda publish-layer-version --layer-name polyboot ") {
			t.Errorf("--dry-run without aws: exit %d, stdout %q, stderr:\n%s", r.code, r.stdout, r.stderr)
		}
	})
}

// toolsOnly is a PATH of one folder with links to the programs layer/publish uses, and no aws.
func toolsOnly(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	for _, tool := range []string{"bash", "dirname", "unzip", "head", "od", "tr", "wc", "cat"} {
		p, err := exec.LookPath(tool)
		if err != nil {
			t.Fatalf("%s is needed: %v", tool, err)
		}
		if err := os.Symlink(p, filepath.Join(dir, tool)); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func TestErrors(t *testing.T) {
	dist := makeDist(t, "amd64", "runtime", "tcl")
	wrongArch := makeDist(t, "amd64", "runtime")
	if err := os.Rename(filepath.Join(wrongArch, "polyboot-amd64.zip"), filepath.Join(wrongArch, "polyboot-arm64.zip")); err != nil {
		t.Fatal(err)
	}
	notZip := t.TempDir()
	if err := exec.Command("truncate", "-s", "4096", filepath.Join(notZip, "polyboot-amd64.zip")).Run(); err != nil {
		t.Fatal(err)
	}
	noEntry := t.TempDir()
	writeLayerZip(t, filepath.Join(noEntry, "polyboot-tcl-amd64.zip"), "python2", "amd64", 10)
	writeLayerZip(t, filepath.Join(noEntry, "polyboot-amd64.zip"), "runtime", "amd64", 10)

	usage := "\nTry 'layer/publish --help'.\n"
	tests := []struct {
		args []string
		code int
		want string // the end of stderr
	}{
		{[]string{"--bogus"}, 2, "layer/publish: error: unknown option: --bogus" + usage},
		{[]string{"-x"}, 2, "layer/publish: error: unknown option: -x" + usage},
		{[]string{"publish"}, 2, "layer/publish: error: unexpected argument: publish (this script takes options only)" + usage},
		{[]string{"--arch", "x86_64"}, 2, "layer/publish: error: --arch must be amd64 or arm64, not 'x86_64'" + usage},
		{[]string{"--arch="}, 2, "layer/publish: error: --arch must be amd64 or arm64, not ''" + usage},
		{[]string{"--arch"}, 2, "layer/publish: error: option --arch needs a value" + usage},
		{[]string{"--public=yes"}, 2, "layer/publish: error: option --public takes no value" + usage},
		{[]string{"--languages", "bash,perl"}, 2, "layer/publish: error: unknown language 'perl' in --languages: the languages are bash, tcl and python2" + usage},
		{[]string{"--languages", "tcl,,python2"}, 2, "layer/publish: error: --languages 'tcl,,python2' has an empty entry: give bash, tcl and/or python2, separated by commas" + usage},
		{[]string{"--languages", ""}, 2, "layer/publish: error: --languages is empty: give bash, tcl and/or python2" + usage},
		{[]string{"--region", "Europe"}, 2, "layer/publish: error: --region 'Europe' is not an AWS Region name (like eu-west-1)" + usage},
		{[]string{"--layer-name-prefix", "my layer"}, 2, "layer/publish: error: --layer-name-prefix 'my layer' is not a layer name: use letters, digits, '-' and '_'" + usage},
		{[]string{"--principal", "*"}, 2, "layer/publish: error: --principal '*' is not an AWS account (a 12-digit ID or arn:aws:iam::ID:root); use --public for every account" + usage},
		{[]string{"--public", "--organization-id", "o-abcdefghij"}, 2, "layer/publish: error: --public and --organization-id contradict each other: --public shares with every account" + usage},
		{[]string{"--organization-id", "org1"}, 2, "layer/publish: error: --organization-id 'org1' is not an AWS Organizations ID (o- and 10 to 32 letters or digits)" + usage},
		{[]string{"--s3-bucket", "My_Bucket"}, 2, "layer/publish: error: --s3-bucket 'My_Bucket' is not an S3 bucket name" + usage},
		{[]string{"--s3-prefix", "x/"}, 2, "layer/publish: error: --s3-prefix needs --s3-bucket" + usage},
		{[]string{"--build-version", "1 2"}, 2, "layer/publish: error: --build-version '1 2' may hold only letters, digits and . _ + -" + usage},
		{[]string{"--description", strings.Repeat("d", 257)}, 2, "layer/publish: error: --description has 257 characters; Lambda allows at most 256" + usage},
		{[]string{"--dist", "/nonexistent/dist"}, 1, "layer/publish: error: no folder /nonexistent/dist: build the layers first (make layer ARCH=amd64)\n"},
		{[]string{"--dist", dist, "--languages", "python2"}, 1, "layer/publish: error: " + dist + "/polyboot-python2-amd64.zip not found: build it with 'make layers ARCH=amd64'\n"},
		{[]string{"--dist", dist, "--arch", "arm64"}, 1, "layer/publish: error: " + dist + "/polyboot-arm64.zip not found: build it with 'make layer ARCH=arm64'\n"},
		{[]string{"--dist", wrongArch, "--arch", "arm64"}, 1, "layer/publish: error: " + wrongArch + "/polyboot-arm64.zip: bootstrap is built for amd64, not arm64: rebuild it with 'make layer ARCH=arm64'\n"},
		{[]string{"--dist", notZip}, 1, "layer/publish: error: " + notZip + "/polyboot-amd64.zip is not a readable zip archive: rebuild it with 'make layer ARCH=amd64'\n"},
		{[]string{"--dist", noEntry, "--languages", "tcl"}, 1, "layer/publish: error: " + noEntry + "/polyboot-tcl-amd64.zip has no bin/tclsh8.6: it is not a polyboot tcl layer\n"},
	}
	for _, tc := range tests {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			for _, dry := range []bool{true, false} {
				args := tc.args
				if dry {
					args = append([]string{"--dry-run"}, args...)
				}
				aws := newFakeAWS(t)
				r := runPublish(t, withFakeAWS(aws), aws, nil, args...)
				if r.code != tc.code || !strings.HasSuffix(r.stderr, tc.want) || r.stdout != "" {
					t.Errorf("%q: exit %d, stdout %q, stderr:\n%s\nwant exit %d and stderr ending in:\n%s", args, r.code, r.stdout, r.stderr, tc.code, tc.want)
				}
				if calls := aws.calls(t); len(calls) > 0 {
					t.Errorf("%q: called aws: %q", args, calls)
				}
			}
		})
	}
}

// TestSizes checks the 50 MB limit of a direct upload at its boundary, and the S3 route.
func TestSizes(t *testing.T) {
	dist := makeDist(t, "amd64", "runtime", "tcl")
	writeLayerZipOfSize(t, filepath.Join(dist, "polyboot-tcl-amd64.zip"), "tcl", "amd64", directLimit)
	writeLayerZipOfSize(t, filepath.Join(dist, "polyboot-python2-amd64.zip"), "python2", "amd64", directLimit+1)
	q := strings.ReplaceAll(dist, "'", `'\''`)

	t.Run("at the limit: direct", func(t *testing.T) {
		r := dryRun(t, "--dist", dist, "--languages", "tcl", "--build-version", "v1")
		if r.code != 0 || !strings.Contains(r.stdout, "--zip-file 'fileb://"+q+"/polyboot-tcl-amd64.zip'") {
			t.Errorf("exit %d, stdout:\n%s\nstderr:\n%s", r.code, r.stdout, r.stderr)
		}
		if want := "layer/publish: polyboot-tcl-amd64.zip: 52428800 bytes (50.0 MiB) zipped, "; !strings.Contains(r.stderr, want) {
			t.Errorf("stderr lacks %q:\n%s", want, r.stderr)
		}
	})
	t.Run("over the limit without a bucket", func(t *testing.T) {
		r := dryRun(t, "--dist", dist, "--all")
		want := "layer/publish: error: over Lambda's 50 MB (52428800 bytes) limit for a direct upload: polyboot-python2-amd64.zip (52428801 bytes); pass --s3-bucket BUCKET (a bucket in the same Region) to upload through S3\n"
		if r.code != 1 || !strings.HasSuffix(r.stderr, want) || r.stdout != "" {
			t.Errorf("exit %d, stdout %q, stderr:\n%s", r.code, r.stdout, r.stderr)
		}
		if !strings.Contains(r.stderr, "polyboot-python2-amd64.zip: 52428801 bytes (50.0 MiB) zipped, ") {
			t.Errorf("the size is not reported:\n%s", r.stderr)
		}
	})
	t.Run("over the limit through S3", func(t *testing.T) {
		r := dryRun(t, "--dist", dist, "--languages", "python2", "--s3-bucket", "bkt", "--region", "eu-west-1", "--build-version", "v1")
		want := lines(
			"aws s3 cp '"+q+"/polyboot-amd64.zip' s3://bkt/polyboot/v1/polyboot-amd64.zip --region eu-west-1",
			"runtime_arn=$(aws lambda publish-layer-version --layer-name polyboot --description 'polyboot runtime (bootstrap and adapters) v1' --compatible-runtimes provided.al2023 --compatible-architectures x86_64 --content S3Bucket=bkt,S3Key=polyboot/v1/polyboot-amd64.zip --region eu-west-1 --query LayerVersionArn --output text)",
			"aws s3 cp '"+q+"/polyboot-python2-amd64.zip' s3://bkt/polyboot/v1/polyboot-python2-amd64.zip --region eu-west-1",
			"python2_arn=$(aws lambda publish-layer-version --layer-name polyboot-python2 --description 'polyboot Python 2.7 interpreter for the polyboot runtime v1' --compatible-runtimes provided.al2023 --compatible-architectures x86_64 --content S3Bucket=bkt,S3Key=polyboot/v1/polyboot-python2-amd64.zip --region eu-west-1 --query LayerVersionArn --output text)",
		)
		if r.code != 0 || r.stdout != want {
			t.Errorf("exit %d, stdout:\n%s\nwant:\n%s\nstderr:\n%s", r.code, r.stdout, want, r.stderr)
		}
		if s := "polyboot-python2-amd64.zip: 52428801 bytes (50.0 MiB) zipped, "; !strings.Contains(r.stderr, s+"") ||
			!strings.Contains(r.stderr, "over the 50 MB limit of a direct upload: through s3://bkt") {
			t.Errorf("stderr does not say why S3:\n%s", r.stderr)
		}
	})
	t.Run("unzipped total over 250 MB", func(t *testing.T) {
		big := makeDist(t, "amd64")
		writeLayerZipOfSize(t, filepath.Join(big, "polyboot-amd64.zip"), "runtime", "amd64", 1000)
		// A zip holding 260 MB of zeros, compressed to a few hundred kilobytes.
		f, err := os.Create(filepath.Join(big, "polyboot-tcl-amd64.zip"))
		if err != nil {
			t.Fatal(err)
		}
		w := zip.NewWriter(f)
		hw, err := w.Create("bin/tclsh8.6")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := hw.Write(elfHeader("amd64")); err != nil {
			t.Fatal(err)
		}
		writeZeros(t, w, "lib/zeros", 260<<20)
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
		if err := f.Close(); err != nil {
			t.Fatal(err)
		}
		if out, err := exec.Command("unzip", "-tq", f.Name()).CombinedOutput(); err != nil {
			t.Fatalf("the test zip is not valid: %v\n%s", err, out)
		}
		r := dryRun(t, "--dist", big, "--languages", "tcl")
		if r.code != 0 || !regexp.MustCompile(`warning: these layers take \d+ bytes \(260\.0 MiB\) unzipped, over Lambda's limit of 250 MB`).MatchString(r.stderr) {
			t.Errorf("exit %d, stderr:\n%s", r.code, r.stderr)
		}
	})
}

// TestDefaultVersion checks the version layer/publish takes from git: a copy of the script in
// a repository of its own, tagged, then changed, then outside git.
func TestDefaultVersion(t *testing.T) {
	repo := t.TempDir()
	src, err := os.ReadFile(script(t))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(repo, "layer"), 0o755); err != nil {
		t.Fatal(err)
	}
	copied := filepath.Join(repo, "layer", "publish")
	if err := os.WriteFile(copied, src, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(filepath.Join(repo, "dist"), 0o755); err != nil {
		t.Fatal(err)
	}
	writeLayerZip(t, filepath.Join(repo, "dist", "polyboot-amd64.zip"), "runtime", "amd64", 10)
	if err := os.WriteFile(filepath.Join(repo, ".gitignore"), []byte("/dist/\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	describe := func() string {
		t.Helper()
		aws := newFakeAWS(t)
		cmd := exec.Command(copied, "--dry-run")
		cmd.Env = append(testEnv(withFakeAWS(aws)), "FAKE_AWS_LOG="+aws.log)
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("%v\n%s", err, out)
		}
		m := regexp.MustCompile(`--description 'polyboot runtime \(bootstrap and adapters\) ([^']*)'`).FindStringSubmatch(string(out))
		if m == nil {
			t.Fatalf("no description in:\n%s", out)
		}
		if !strings.Contains(string(out), "fileb://"+repo+"/dist/polyboot-amd64.zip") {
			t.Errorf("the default dist is not the checkout's dist/:\n%s", out)
		}
		return m[1]
	}
	if v := describe(); v != "unknown" {
		t.Errorf("outside git: version %q, want unknown", v)
	}
	git := func(args ...string) {
		t.Helper()
		cmd := exec.Command("git", append([]string{"-C", repo, "-c", "user.name=t", "-c", "user.email=t@example.com", "-c", "commit.gpgsign=false", "-c", "tag.gpgsign=false"}, args...)...)
		cmd.Env = append(os.Environ(), "GIT_CONFIG_GLOBAL=/dev/null", "GIT_CONFIG_NOSYSTEM=1")
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("git %q: %v\n%s", args, err, out)
		}
	}
	git("init", "-q")
	git("add", ".")
	git("commit", "-q", "-m", "first")
	git("tag", "v9.8.7")
	if v := describe(); v != "v9.8.7" {
		t.Errorf("at a tag: version %q, want v9.8.7", v)
	}
	if err := os.WriteFile(filepath.Join(repo, ".gitignore"), []byte("/dist/\n/build/\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if v := describe(); v != "v9.8.7-dirty" {
		t.Errorf("with a change: version %q, want v9.8.7-dirty", v)
	}
}

// TestHelp checks that --help explains every option the script accepts.
func TestHelp(t *testing.T) {
	r := dryRun(t, "--help")
	if r.code != 0 || r.stderr != "" || !strings.HasPrefix(r.stdout, "Usage: layer/publish [OPTIONS]\n") {
		t.Fatalf("exit %d, stderr %q, stdout:\n%s", r.code, r.stderr, r.stdout)
	}
	src, err := os.ReadFile(script(t))
	if err != nil {
		t.Fatal(err)
	}
	// The options are the patterns of the case that assigns them: "\t--arch) arch=$val ;;".
	opts := regexp.MustCompile(`(?m)^\t(-h \| )?(--[a-z0-9-]+)\)`).FindAllStringSubmatch(string(src), -1)
	if len(opts) < 15 {
		t.Fatalf("found only %d options in the script", len(opts))
	}
	for _, o := range opts {
		if !regexp.MustCompile(`(?m)^  (-h, )?` + regexp.QuoteMeta(o[2]) + `\b`).MatchString(r.stdout) {
			t.Errorf("--help does not explain %s", o[2])
		}
	}
	if r2 := dryRun(t, "-h"); r2.stdout != r.stdout {
		t.Errorf("-h and --help differ")
	}
}

// TestShellcheck runs shellcheck on the script when it is installed.
func TestShellcheck(t *testing.T) {
	sc, err := exec.LookPath("shellcheck")
	if err != nil {
		t.Skip("*** shellcheck NOT FOUND: layer/publish was NOT linted (apt-get install shellcheck) ***")
	}
	if out, err := exec.Command(sc, "--severity=style", "--shell=bash", script(t), filepath.Join(root(t), "examples", "bash", "function.sh")).CombinedOutput(); err != nil {
		t.Errorf("shellcheck: %v\n%s", err, out)
	}
}

// TestDryRunTools: --tools adds the tools layer, named and described as such, checked by its
// bin/python3.9, and fails loudly when it is not built.
func TestDryRunTools(t *testing.T) {
	for _, arch := range []string{"amd64", "arm64"} {
		dist := makeDist(t, arch, "runtime", "tools")
		r := dryRun(t, "--dist", dist, "--arch", arch, "--tools", "--build-version", "v1")
		if r.code != 0 {
			t.Fatalf("%s: exit %d: %s", arch, r.code, r.stderr)
		}
		name := map[string]string{"amd64": "polyboot-tools", "arm64": "polyboot-tools-arm64"}[arch]
		awsArch := map[string]string{"amd64": "x86_64", "arm64": "arm64"}[arch]
		want := "tools_arn=$(aws lambda publish-layer-version --layer-name " + name +
			" --description 'polyboot tools (AWS CLI, git, ssh, zip, unzip, tar, gzip) for the polyboot runtime v1' --compatible-runtimes provided.al2023 --compatible-architectures " + awsArch +
			" --zip-file 'fileb://" + strings.ReplaceAll(dist, "'", `'\''`) + "/polyboot-tools-" + arch + ".zip' --query LayerVersionArn --output text)"
		if !strings.Contains(r.stdout, want+"\n") {
			t.Errorf("%s: no line\n%s\nin\n%s", arch, want, r.stdout)
		}
	}
	dist := makeDist(t, "amd64", "runtime")
	r := dryRun(t, "--dist", dist, "--tools")
	if r.code != 1 || !strings.Contains(r.stderr, "polyboot-tools-amd64.zip not found: build it with 'make layers ARCH=amd64'") {
		t.Errorf("without the tools zip: exit %d: %s", r.code, r.stderr)
	}
	wrong := makeDist(t, "amd64", "runtime")
	writeLayerZip(t, filepath.Join(wrong, "polyboot-tools-amd64.zip"), "tools", "arm64", 10)
	if r := dryRun(t, "--dist", wrong, "--tools"); r.code != 1 || !strings.Contains(r.stderr, "bin/python3.9 is built for arm64, not amd64") {
		t.Errorf("an arm64 tools zip for amd64: exit %d: %s", r.code, r.stderr)
	}
}
