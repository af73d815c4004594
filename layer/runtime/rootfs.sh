#!/usr/bin/env bash
# rootfs.sh: makes (once; cached in $POLYBOOT_CACHE/debootstrap/) a Debian 11 root with
# debootstrap and prints its path. Two kinds:
#
#   rootfs.sh sandbox ARCH   minbase: the stand-in for provided.al2023's userland in the e2e
#                            sandbox (internal/sandbox): bash 5.1, coreutils, grep, sed, mawk,
#                            glibc 2.31; no curl, no OpenSSL, no CA bundle, no Tcl, no Python.
#                            Mount points for the sandbox are made in it.
#   rootfs.sh build ARCH     buildd (minbase + build-essential) for this machine's architecture,
#                            with gcc-aarch64-linux-gnu (or x86-64) to cross-build for ARCH when it
#                            differs: builds layer/runtime/bash.sh's bash against glibc 2.31.
#
# Needs root (debootstrap). debootstrap is installed with apt-get when missing.
# shellcheck source=../interpreters/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/../interpreters/common.sh"

# Bump when the roots' recipe changes, so that cached roots are made again.
ROOTFS_RECIPE=1

# rootfs_dir KIND ARCH prints where the root of KIND for ARCH is cached.
rootfs_dir() {
	local host
	host="$(host_arch)"
	case "$1" in
	sandbox) printf '%s\n' "$CACHE_DIR/debootstrap/bullseye-sandbox-$2" ;;
	build) printf '%s\n' "$CACHE_DIR/debootstrap/bullseye-build-$host${2:+-for-$2}" ;;
	*) die "unknown root kind '$1' (want sandbox or build)" ;;
	esac
}

# debootstrap_root DIR ARCH VARIANT [PKG,...] runs debootstrap into DIR.tmp and moves it to DIR.
debootstrap_root() {
	local dir="$1" arch="$2" variant="$3" include="${4:-}" tmp="$1.tmp" debs="$CACHE_DIR/debootstrap/debs-$2"
	if ! command -v debootstrap >/dev/null; then
		log "debootstrap is missing: installing it with apt-get"
		apt-get update -q >&2
		DEBIAN_FRONTEND=noninteractive apt-get install -y -q debootstrap >&2
	fi
	rm -rf "$tmp"
	mkdir -p "$debs"
	log "debootstrap --variant=$variant bullseye ($arch${include:+, with $include}) into $dir (once; cached)"
	if ! debootstrap --variant="$variant" --arch="$arch" --cache-dir="$debs" ${include:+--include="$include"} \
		--keyring="$DEBIAN_KEYRING" bullseye "$tmp" "$DEBIAN_MIRROR" >"$tmp.log" 2>&1; then
		tail -n 30 "$tmp.log" >&2
		die "debootstrap failed (log: $tmp.log)"
	fi
	rm -f "$tmp.log"
}

# finish_root DIR marks the root complete and moves it in place.
finish_root() {
	printf '%s\n' "$ROOTFS_RECIPE" >"$1.tmp/.polyboot-complete"
	rm -rf "$1"
	mv "$1.tmp" "$1"
}

make_sandbox() {
	local dir="$1" arch="$2"
	debootstrap_root "$dir" "$arch" minbase
	# Lambda's mount points; an /etc/hosts (minbase has none: netbase is not in it) for localhost.
	mkdir -p "$dir.tmp/opt" "$dir.tmp/var/task" "$dir.tmp/var/runtime" "$dir.tmp/var/rapid" "$dir.tmp/etc/pki/tls/certs"
	printf '127.0.0.1\tlocalhost\n::1\t\tlocalhost ip6-localhost ip6-loopback\n' >"$dir.tmp/etc/hosts"
	# Lambda's user (uid and gid as the emulator's Managed Instances mode uses them).
	printf 'sbx_user1051:x:993:990::/home/sbx_user1051:/sbin/nologin\n' >>"$dir.tmp/etc/passwd"
	printf 'sbx_user1051:x:990:\n' >>"$dir.tmp/etc/group"
	rm -f "$dir.tmp/etc/apt/sources.list"
	finish_root "$dir"
}

make_build() {
	local dir="$1" arch="$2" host include=""
	host="$(host_arch)"
	if [[ "$arch" != "$host" ]]; then
		case "$arch" in
		arm64) include=gcc-aarch64-linux-gnu,libc6-dev-arm64-cross ;;
		amd64) include=gcc-x86-64-linux-gnu,libc6-dev-amd64-cross ;;
		esac
	fi
	debootstrap_root "$dir" "$host" buildd "$include"
	finish_root "$dir"
}

main() {
	[[ $# == 2 ]] || die "usage: rootfs.sh sandbox|build ARCH"
	local kind="$1" dir
	set_arch "$2"
	if [[ "$kind" == build && "$ARCH" == "$(host_arch)" ]]; then
		dir="$(rootfs_dir build "")"
	else
		dir="$(rootfs_dir "$kind" "$ARCH")"
	fi
	# A complete root is only read: no need to wait for the cache's lock (other builds hold it).
	if [[ "$(cat "$dir/.polyboot-complete" 2>/dev/null)" != "$ROOTFS_RECIPE" ]]; then
		lock_cache
		if [[ "$(cat "$dir/.polyboot-complete" 2>/dev/null)" != "$ROOTFS_RECIPE" ]]; then
			[[ "$(id -u)" == 0 ]] || die "rootfs.sh needs root (debootstrap)"
			"make_$kind" "$dir" "$ARCH"
		fi
	fi
	printf '%s\n' "$dir"
}

main "$@"
