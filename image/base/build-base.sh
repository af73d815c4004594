#!/usr/bin/env bash
# build-base.sh ARCH RIE [RIE_MODULE_DIR]: lays out the root file system of polyboot's offline base
# image in build/image/base-ARCH/rootfs, from Debian 11 packages fetched with the private apt
# configuration of the interpreter layers (layer/interpreters/common.sh), and prints its path.
# `polyboot-image base` then makes it an image (make image-base does both).
#
#   libc6, libgcc-s1, gcc-10-base       glibc 2.31 (older than provided.al2023's 2.34)
#   bash, libtinfo6; /bin/sh -> bash    the shell (and the entrypoint's /bin/sh)
#   coreutils (+ libacl1, libattr1, libgmp10, libselinux1, libpcre2-8-0)
#   ca-certificates, base-files         Mozilla's CA bundle at /etc/ssl/certs/ca-certificates.crt
#                                       and at Amazon Linux's /etc/pki/tls/certs/ca-bundle.crt
#   /usr/local/bin/aws-lambda-rie       AWS's Runtime Interface Emulator (RIE, built by make); its
#                                       LICENSE, NOTICE and THIRD-PARTY-LICENSES.md from its module
#                                       (RIE_MODULE_DIR) in usr/share/doc/aws-lambda-rie/
#   /lambda-entrypoint.sh               image/base/lambda-entrypoint.sh
#
# Manual pages, info pages, translations and documentation other than the copyright files are
# left out; usr/share/doc/polyboot-base/PACKAGES records the exact package versions.
# shellcheck source=layer/interpreters/common.sh source-path=SCRIPTDIR/../..
source "$(dirname "${BASH_SOURCE[0]}")/../../layer/interpreters/common.sh"

PKGS=(libc6 libgcc-s1 gcc-10-base bash libtinfo6 coreutils libacl1 libattr1 libgmp10 libselinux1
	libpcre2-8-0 ca-certificates base-files)
BASE_SRC="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
IMAGE_BUILD="${POLYBOOT_IMAGE_BUILD:-$REPO_ROOT/build/image}"

# trim ROOT removes what a Lambda function never reads: manual and info pages, translations,
# lintian overrides, and documentation other than the copyright files.
trim() {
	local root="$1"
	rm -rf "$root"/usr/share/{man,info,locale,lintian,bash-completion,menu,common-licenses}
	find "$root/usr/share/doc" -mindepth 1 ! -type d ! -name copyright -delete
	find "$root/usr/share/doc" -mindepth 1 -type d -empty -delete
}

# ca_bundle ROOT concatenates the Mozilla certificates ca-certificates ships, in name order (what
# its update-ca-certificates writes at install time), into /etc/ssl/certs/ca-certificates.crt,
# and links Amazon Linux's bundle path to it. The package's maintainer tools (which need openssl)
# are left out: the bundle is all TLS clients read.
ca_bundle() {
	local root="$1" crt n=0
	mkdir -p "$root/etc/ssl/certs" "$root/etc/pki/tls/certs"
	: >"$root/etc/ssl/certs/ca-certificates.crt"
	while IFS= read -r crt; do
		{
			cat "$crt"
			[[ -z "$(tail -c1 "$crt")" ]] || echo
		} >>"$root/etc/ssl/certs/ca-certificates.crt"
		n=$((n + 1))
	done < <(find "$root/usr/share/ca-certificates/mozilla" -name '*.crt' | LC_ALL=C sort)
	((n > 100)) || die "only $n certificates in ca-certificates"
	ln -sfn /etc/ssl/certs/ca-certificates.crt "$root/etc/pki/tls/certs/ca-bundle.crt"
	rm -f "$root/usr/sbin/update-ca-certificates"
	rm -rf "$root/etc/ca-certificates" "$root/usr/share/ca-certificates"
}

# system_files ROOT writes what a container runtime and the emulator expect to find.
system_files() {
	local root="$1"
	ln -sfn bash "$root/bin/sh"
	printf 'root:x:0:0:root:/root:/bin/bash\nnobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n' >"$root/etc/passwd"
	printf 'root:x:0:\nnogroup:x:65534:\n' >"$root/etc/group"
	printf '127.0.0.1\tlocalhost\n::1\t\tlocalhost ip6-localhost ip6-loopback\n' >"$root/etc/hosts"
	mkdir -p "$root"/{proc,sys,dev,opt,root,var/task,var/runtime,usr/local/bin}
	mkdir -p "$root/tmp"
	chmod 1777 "$root/tmp"
	chmod 0700 "$root/root"
}

main() {
	[[ $# -ge 2 ]] || die "usage: $0 ARCH RIE [RIE_MODULE_DIR]"
	set_arch "$1"
	local rie="$2" module="${3:-}" root="$IMAGE_BUILD/base-$1/rootfs" pkg f
	[[ -x "$rie" ]] || die "$rie: no emulator binary (make image-base builds it)"
	lock_cache
	apt_setup
	apt_update
	fetch_debs "${PKGS[@]}"
	rm -rf "$root"
	mkdir -p "$root"
	: >"$root.versions"
	for pkg in "${PKGS[@]}"; do
		dpkg-deb -x "$(deb_path "$pkg")" "$root"
		printf '%s %s%s\n' "$pkg" "${DEB_VERSION[$pkg]}" "${DEB_NOTE[$pkg]:+ (${DEB_NOTE[$pkg]})}" >>"$root.versions"
	done
	trim "$root"
	ca_bundle "$root"
	system_files "$root"
	install -m 0755 "$rie" "$root/usr/local/bin/aws-lambda-rie"
	if [[ -n "$module" ]]; then
		[[ -f "$module/LICENSE" ]] || die "no LICENSE in $module"
		for f in LICENSE NOTICE THIRD-PARTY-LICENSES.md; do
			[[ ! -f "$module/$f" ]] || install -D -m 0644 "$module/$f" "$root/usr/share/doc/aws-lambda-rie/$f"
		done
	fi
	install -m 0755 "$BASE_SRC/lambda-entrypoint.sh" "$root/lambda-entrypoint.sh"
	install -D -m 0644 "$root.versions" "$root/usr/share/doc/polyboot-base/PACKAGES"
	rm -f "$root.versions"
	log "base root file system ($ARCH): $root ($(du -sh "$root" | cut -f1))"
	printf '%s\n' "$root"
}

main "$@"
