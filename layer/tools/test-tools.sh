#!/usr/bin/env bash
# Tests of the tools layer (dist/polyboot-tools-ARCH.zip) with the runtime layer's jq
# (dist/polyboot-ARCH.zip), run as root:
#
#  1. in a private mount namespace, both layers on a read-only /opt, the machine's own python3*,
#     aws, jq and git hidden under /dev/null binds: tests/check_tools.sh (every tool, Lambda's
#     PATH, the AWS CLI against internal/s3test on loopback);
#  2. the same in the Debian 11 minbase chroot of layer/interpreters/tests/chroot.sh (no python3,
#     no CA certificates: Amazon Linux's stand-in), plus the AWS CLI over HTTPS with a throw-away
#     CA at Amazon Linux's bundle path;
#  3. the stand-ins' logs: every request the CLI sent with the function's credentials was
#     SigV4-signed with them, session token included;
#  4. end to end: a bash handler running `jq -r .name <<<"$1"` under AWS's Runtime Interface
#     Emulator (go tool aws-lambda-rie) with the runtime layer's bootstrap at /opt and Lambda's
#     PATH and LD_LIBRARY_PATH; it answers with the event's name and the jq it ran (/opt/bin/jq).
#
# For a foreign ARCH (arm64 on amd64): the programs run under qemu-user in the sysroot that
# layer/interpreters/tests/emulated.sh prepares (make layers-test ARCH=arm64, which make test runs
# first): jq, Python 3.9 with the AWS CLI against internal/s3test, git, ssh, zip, unzip, tar,
# gzip. The shell wrappers (bin/aws, bin/git) cannot run there (no binfmt_misc, no arm64 shell), so
# their targets are run directly; the namespace, chroot and emulator tests are NOT RUN.
#
# Usage: test-tools.sh [ARCH]
# shellcheck source=../interpreters/tests/lib.sh source-path=SCRIPTDIR/../interpreters
source "$(dirname "${BASH_SOURCE[0]}")/../interpreters/tests/lib.sh"

set_arch "${1:-amd64}"
TOOLS_TESTS="$(cd "$(dirname "${BASH_SOURCE[0]}")/tests" && pwd)"
TOOLS_ZIP="$DIST_DIR/polyboot-tools-$ARCH.zip"
RUNTIME_ZIP="${POLYBOOT_RUNTIME_ZIP:-$DIST_DIR/polyboot-$ARCH.zip}"
ROOTFS="$CACHE_DIR/debootstrap/bullseye-minbase-$ARCH"
S3SERVE="$BUILD_ROOT/s3serve"
# The function's credentials, as Lambda passes them.
CREDS=(AWS_ACCESS_KEY_ID=ASIAPOLYBOOTTEST AWS_SECRET_ACCESS_KEY=polyboot/tools+secret
	AWS_SESSION_TOKEN=IQoJb3JpZ2luX2VjEPolyboot//Token== AWS_REGION=us-east-1 AWS_DEFAULT_REGION=us-east-1)
BUCKET=polyboot-tools-test

if ! in_namespace; then
	[[ "$(id -u)" == 0 ]] || die "this test needs root (mount namespaces, chroot); it did NOT run"
	[[ -f "$TOOLS_ZIP" ]] || die "$TOOLS_ZIP does not exist: make layers; the test did NOT run"
	[[ -f "$RUNTIME_ZIP" ]] || die "$RUNTIME_ZIP does not exist: make layer; the test did NOT run"
	(cd "$REPO_ROOT" && go build -o "$S3SERVE" ./internal/s3test/s3serve) || die "could not build s3serve"
	if [[ "$ARCH" != "$(host_arch)" ]]; then
		[[ -x "$BUILD_DIR/emulated-root/qemu" ]] ||
			die "no emulated $ARCH root in $BUILD_DIR/emulated-root: run make layers-test ARCH=$ARCH first; the test did NOT run"
		printf '\n*** NOTICE: tools layer for %s on a %s machine: checks under qemu-user only; the namespace, chroot and emulator tests NOT RUN ***\n\n' "$ARCH" "$(host_arch)"
		enter_namespace "$0"
	fi
	require_root_native "$ARCH"
	[[ -f "$ROOTFS/.polyboot-complete" ]] || die "no Debian 11 chroot at $ROOTFS: run layer/interpreters/tests/chroot.sh first; the test did NOT run"
	command -v openssl >/dev/null || die "openssl (the command) is needed for test certificates; the test did NOT run"
	POLYBOOT_RIE="$(cd "$REPO_ROOT" && go tool -n aws-lambda-rie)" || die "could not build the emulator (go tool aws-lambda-rie)"
	export POLYBOOT_RIE
	enter_namespace "$0"
fi

WORK="$(mktemp -d)"
PIDS=()
cleanup() {
	local p
	for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
	rm -rf "$WORK"
}
trap cleanup EXIT

# start_s3 NAME [TLS ARGS...]: serves a stand-in, logging to WORK/NAME.log; prints its URL.
start_s3() {
	local log="$WORK/$1.log" _
	shift
	"$S3SERVE" --access-key-id ASIAPOLYBOOTTEST --secret-access-key polyboot/tools+secret \
		--session-token IQoJb3JpZ2luX2VjEPolyboot//Token== --bucket "$BUCKET" "$@" >"$log" 2>&1 &
	PIDS+=($!)
	for _ in $(seq 200); do
		if grep -q '^listening on ' "$log"; then
			sed -n 's/^listening on //p' "$log" | head -n1
			return 0
		fi
		sleep 0.05
	done
	die "s3serve did not start: $(cat "$log")"
}

# hide_host_tools hides the machine's python3*, aws, jq and git (hide_paths).
hide_host_tools() {
	hide_paths /usr/bin/python3* /usr/local/bin/python3* /usr/bin/aws /usr/local/bin/aws /usr/bin/jq \
		/usr/local/bin/jq /usr/bin/git /usr/local/bin/git
}

no_host_tools() {
	local found
	# shellcheck disable=SC2016  # expanded by the inner shell
	found="$(env -i PATH=/usr/local/bin:/usr/bin:/bin bash -c 'for c in python3 aws jq git; do command -v "$c" >/dev/null && "$c" --version </dev/null >/dev/null 2>&1 && echo "$c runs"; done' || true)"
	[[ -z "$found" ]] || {
		echo "still runnable outside /opt: $found"
		return 1
	}
	echo "no python3, aws, jq or git runs from /usr/local/bin:/usr/bin:/bin"
}

# check_signed LOG: every request was verified except the two the checks expect refused.
check_signed() {
	local log="$1" op bad
	bad="$(grep '^{' "$log" | grep -v '"verified":true' | grep -v -e '"error":"SignatureDoesNotMatch"' -e '"error":"AccessDenied"' || true)"
	[[ -z "$bad" ]] || {
		echo "unexpected refusals: $bad"
		return 1
	}
	for op in ListBuckets PutObject ListObjectsV2 HeadObject GetObject; do
		grep "\"operation\":\"$op\"" "$log" | grep '"verified":true' | grep -q 'x-amz-security-token' || {
			echo "no $op signed with the function's key and session token"
			return 1
		}
	done
	if ! grep -q '"error":"SignatureDoesNotMatch"' "$log" || ! grep -q '"error":"AccessDenied"' "$log"; then
		echo "the wrong-secret and no-token requests did not reach the stand-in"
		return 1
	fi
	echo "$(grep -c '"verified":true' "$log") requests verified (ListBuckets, PutObject, ListObjectsV2, HeadObject, GetObject), $(grep -c '"verified":false' "$log") refused"
}

# jq_handler_e2e: serves a bash handler that uses jq under the emulator, from the layer at /opt,
# and invokes it twice.
jq_handler_e2e() {
	local task="$WORK/task" log="$WORK/rie.log" port out i ok=1
	mkdir -p "$task"
	# shellcheck disable=SC2016  # the handler's own text
	printf '%s\n' 'handler() { printf '\''{"name":"%s","jq":"%s"}'\'' "$(jq -r .name <<<"$1")" "$(command -v jq)"; }' >"$task/function.sh"
	port=$((20000 + RANDOM % 20000))
	(
		cd "$task" || exit 1
		exec setsid env -i PATH=/usr/local/bin:/usr/bin/:/bin:/opt/bin LD_LIBRARY_PATH="/lib64:/usr/lib64:$task:$task/lib:/opt/lib" \
			LANG=en_US.UTF-8 TZ=:UTC _HANDLER=function.handler LAMBDA_TASK_ROOT="$task" AWS_LAMBDA_FUNCTION_TIMEOUT=30 \
			"$POLYBOOT_RIE" --runtime-interface-emulator-address "127.0.0.1:$port" \
			--runtime-api-address "127.0.0.1:$((port + 1))" /opt/bootstrap
	) >"$log" 2>&1 &
	local rie=$!
	for i in $(seq 200); do
		(: <"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break
		sleep 0.05
	done
	for i in 1 2; do
		out="$(curl -s --max-time 30 -XPOST "http://127.0.0.1:$port/2015-03-31/functions/function/invocations" -d '{"name":"Ada \"the\" first","n":'"$i"'}' || true)"
		echo "invoke $i: $out"
		[[ "$out" == '{"name":"Ada "the" first","jq":"/opt/bin/jq"}' ]] || ok=0
	done
	kill -- "-$rie" 2>/dev/null || true
	wait "$rie" 2>/dev/null || true
	((ok)) || sed 's/^/  log: /' "$log"
	((ok))
}

# same_as_other_layers: files the tools layer shares with the runtime, Tcl and Python 2.7 layers
# (lib/libssl.so.1.1, share/doc/zlib1g/copyright, ...) must be byte-identical, since Lambda lays
# all of a function's layers into one /opt.
same_as_other_layers() {
	local other
	for other in "$RUNTIME_ZIP" "$DIST_DIR/polyboot-tcl-$ARCH.zip" "$DIST_DIR/polyboot-python2-$ARCH.zip"; do
		[[ -f "$other" ]] || {
			echo "$other is missing"
			return 1
		}
		identical_shared_entries "$TOOLS_ZIP" "$other" || return 1
	done
}

make_certs() {
	local d="$1"
	openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=polyboot test CA" -keyout "$d/ca.key" -out "$d/ca.pem" 2>/dev/null
	openssl req -newkey rsa:2048 -nodes -subj "/CN=localhost" -keyout "$d/server.key" -out "$d/server.csr" 2>/dev/null
	printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\n' >"$d/ext.cnf"
	openssl x509 -req -in "$d/server.csr" -CA "$d/ca.pem" -CAkey "$d/ca.key" -CAcreateserial -days 2 \
		-extfile "$d/ext.cnf" -out "$d/server.pem" 2>/dev/null
}

# mount_root ROOT gives ROOT /proc, /dev, a private /tmp, and both layers on a read-only /opt.
mount_root() {
	mount -t proc proc "$1/proc"
	mount --bind /dev "$1/dev"
	mount -t tmpfs -o mode=1777 polyboot-tmp "$1/tmp"
	mount -t tmpfs -o mode=0755 polyboot-opt "$1/opt"
	unzip -q "$RUNTIME_ZIP" -d "$1/opt"
	unzip -q -o "$TOOLS_ZIP" -d "$1/opt"
	mount -o remount,ro "$1/opt"
}

# The foreign architecture's checks under qemu-user, in EMU_ROOT.
q() { chroot "$EMU_ROOT" /qemu "$@"; }
qenv() { env -i "${CREDS[@]}" HOME=/tmp LD_LIBRARY_PATH=/opt/lib "$(command -v chroot)" "$EMU_ROOT" /qemu "$@"; }
q_jq() { [[ "$(q /opt/bin/jq -r .name <<<'{"name":"Ada"}')" == Ada ]]; }
q_aws_version() { q /opt/bin/python3.9 -I -m awscli --version 2>&1 | grep 'aws-cli/1.19.1 Python/3.9'; }
q_s3_ls() { qenv /opt/bin/python3.9 -I -m awscli --endpoint-url "$1" s3 ls 2>&1 | grep "$BUCKET"; }
q_signed() {
	if grep '^{' "$1" | grep -v '"verified":true'; then
		return 1
	fi
	grep '"operation":"ListObjectsV2"' "$1" | grep 'x-amz-security-token' | grep -q '"verified":true'
}
q_small_tools() {
	local t
	for t in zip unzip tar gzip; do
		q "/opt/bin/$t" -v </dev/null >/dev/null 2>&1 || q "/opt/bin/$t" --version >/dev/null || return 1
	done
	echo "zip, unzip, tar and gzip print their versions"
}

emulated() {
	EMU_ROOT="$BUILD_DIR/emulated-root"
	local root="$EMU_ROOT" url
	echo "# tools layer $TOOLS_ZIP under qemu-user in $root"
	mount_root "$root"
	# ssh looks its user up (Lambda has an /etc/passwd); the sysroot holds only the C library.
	mkdir -p "$root/etc"
	[[ -e "$root/etc/passwd" ]] || : >"$root/etc/passwd"
	printf 'root:x:0:0:root:/tmp:/bin/sh\n' >"$WORK/passwd"
	mount --bind "$WORK/passwd" "$root/etc/passwd"
	url="$(start_s3 emulated)"
	check "jq on an event" q_jq
	check "aws --version" q_aws_version
	check "aws s3 ls against the stand-in" q_s3_ls "$url"
	check "aws s3api list-objects-v2 against the stand-in" qenv /opt/bin/python3.9 -I -m awscli --endpoint-url "$url" s3api list-objects-v2 --bucket "$BUCKET"
	check "every request signed with the function's credentials" q_signed "$WORK/emulated.log"
	check "git --version" q /opt/libexec/git-core/git --version
	check "ssh -V" q /opt/bin/ssh -V
	check "zip, unzip, tar, gzip start" q_small_tools
	summary "tools-test emulated ($ARCH)"
}

main() {
	if [[ "$ARCH" != "$(host_arch)" ]]; then
		emulated
		return
	fi
	echo "# tools layer: $TOOLS_ZIP, with $RUNTIME_ZIP ($ARCH)"
	check "files shared with the other layers are identical" same_as_other_layers
	hide_host_tools
	check "machine's own python3, aws, jq and git are hidden" no_host_tools

	echo "# 1: both layers on a read-only /opt in a private mount namespace"
	local url
	url="$(start_s3 namespace)"
	mount_layers "$RUNTIME_ZIP" "$TOOLS_ZIP"
	run_script "tools in the namespace" env -i "${CREDS[@]}" LD_LIBRARY_PATH="/lib64:/usr/lib64:/lib/$TRIPLET:/usr/lib/$TRIPLET:/opt/lib" \
		bash "$TOOLS_TESTS/check_tools.sh" "$url" "$BUCKET"
	check "e2e: a bash handler runs the runtime layer's jq on its event (Lambda's PATH)" jq_handler_e2e
	umount /opt
	check "namespace: every request signed with the function's credentials" check_signed "$WORK/namespace.log"

	echo "# 2: the Debian 11 minbase chroot $ROOTFS"
	mount_root "$ROOTFS"
	mkdir -p "$WORK/certs"
	make_certs "$WORK/certs"
	mount -t tmpfs -o mode=0755 polyboot-pki "$ROOTFS/etc/pki/tls/certs"
	cp "$WORK/certs/ca.pem" "$ROOTFS/etc/pki/tls/certs/ca-bundle.crt"
	cp "$TOOLS_TESTS/check_tools.sh" "$ROOTFS/tmp/"
	local https
	url="$(start_s3 chroot)"
	https="$(start_s3 chroot-tls --tls-cert "$WORK/certs/server.pem" --tls-key "$WORK/certs/server.key")"
	run_script "tools in the chroot" chroot "$ROOTFS" env -i "${CREDS[@]}" LD_LIBRARY_PATH=/lib64:/usr/lib64:/opt/lib \
		bash /tmp/check_tools.sh "$url" "$BUCKET" "$https"
	check "chroot: every request signed with the function's credentials" check_signed "$WORK/chroot.log"

	summary "tools-test ($ARCH)"
}

main
