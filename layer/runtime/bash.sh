#!/usr/bin/env bash
# bash.sh ARCH DESTDIR: puts bin/bash into DESTDIR (the runtime layer's tree): Debian 11's bash
# (5.1, its source package with Debian's patches) configured with bash_cv_dev_fd=whacky, so that
# process substitution, <(cmd) and >(cmd), uses /proc/self/fd/N: Lambda has /proc but no /dev/fd,
# where Debian's or Amazon Linux's bash fails with "/dev/fd/63: No such file or directory".
# It is built in a Debian 11 root (layer/runtime/rootfs.sh build: glibc 2.31, so every symbol is
# <= GLIBC_2.31), cross-compiled for arm64 on amd64, with bash's own readline and termcap, so it
# needs nothing but libc. The result is cached in $POLYBOOT_CACHE/bash/ by source version, recipe
# and architecture: a warm build copies one file. Needs root (chroot) on a cold cache.
# shellcheck source=../interpreters/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/../interpreters/common.sh"

# Bump when the configure line or the build steps change.
BASH_RECIPE=1
CONFIGURE=(--without-bash-malloc --disable-nls --with-curses=no --enable-readline
	--with-installed-readline=no bash_cv_dev_fd=whacky bash_cv_termcap_lib=gnutermcap)

# in_root ROOT CMD... runs CMD in ROOT (a private mount namespace with /proc, /dev and the
# machine's resolv.conf for apt).
in_root() {
	local root="$1"
	shift
	unshare -m --propagation private bash -c '
		set -e; r=$1; shift
		mount -t proc proc "$r/proc"; mount --rbind /dev "$r/dev"
		[[ -f /etc/resolv.conf ]] && mount --bind /etc/resolv.conf "$r/etc/resolv.conf"
		exec chroot "$r" env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root LC_ALL=C "$@"' - "$root" "$@"
}

# build ROOT OUT: fetches bash's Debian source in ROOT, builds it for ARCH and copies it to OUT.
build() {
	local root="$1" out="$2" host="" cc=gcc
	if [[ "$ARCH" != "$(host_arch)" ]]; then
		host="--host=$TRIPLET"
		cc="$TRIPLET-gcc"
	fi
	printf 'deb %s bullseye main\ndeb-src %s bullseye main\ndeb %s bullseye-security main\ndeb-src %s bullseye-security main\n' \
		"$DEBIAN_MIRROR" "$DEBIAN_MIRROR" "$DEBIAN_SECURITY_MIRROR" "$DEBIAN_SECURITY_MIRROR" >"$root/etc/apt/sources.list"
	rm -rf "$root/build" && mkdir -p "$root/build"
	log "bash: apt-get source bash (Debian 11) in $root"
	in_root "$root" bash -c 'apt-get -q update >/build/update.log 2>&1 || { cat /build/update.log; exit 1; }
		cd /build && apt-get -q source bash >/build/source.log 2>&1 || { cat /build/source.log; exit 1; }' >&2
	local src
	src="$(cd "$root/build" && ls -d bash-*/ | head -n1)"
	[[ -n "$src" ]] || die "apt-get source bash unpacked nothing"
	log "bash: configure and make ($ARCH, in ${src%/})"
	# apt-get source unpacked the upstream tree with Debian's patches (debian/patches) applied.
	# $host is empty for a native build, hence unquoted.
	# shellcheck disable=SC2016,SC2086
	in_root "$root" bash -c 'set -e; cd "/build/$1"; shift; cc=$1; shift
		CC=$cc CFLAGS="-O2 -g0" ./configure --prefix=/opt "$@" >/build/configure.log 2>&1 || { tail -50 /build/configure.log; exit 1; }
		make -j"$(nproc)" >/build/make.log 2>&1 || { tail -50 /build/make.log; exit 1; }
		grep -q "^#define HAVE_DEV_FD 1" config.h && grep -q "^#define DEV_FD_PREFIX \"/proc/self/fd/\"" config.h ||
			{ echo "config.h: not built for /proc/self/fd"; grep -n DEV_FD config.h; exit 1; }
		'"$TRIPLET"'-strip -o /build/bash bash' - "$src" "$cc" $host "${CONFIGURE[@]}" >&2
	(cd "$root/build" && ls ./*.dsc) | sed 's|^\./||' >"$root/build/SOURCE"
	mkdir -p "$out"
	install -m 0755 "$root/build/bash" "$out/bash"
	install -m 0644 "$root/build/${src%/}/COPYING" "$out/COPYING"
	install -m 0644 "$root/build/SOURCE" "$out/SOURCE"
}

main() {
	[[ $# == 2 ]] || die "usage: bash.sh ARCH DESTDIR"
	set_arch "$1"
	local dest="$2" cache root
	cache="$CACHE_DIR/bash/r$BASH_RECIPE-$ARCH"
	if [[ ! -x "$cache/bash" ]]; then
		lock_cache
		if [[ ! -x "$cache/bash" ]]; then
			[[ "$(id -u)" == 0 ]] || die "building bash needs root (chroot into a Debian 11 root); nothing cached at $cache"
			root="$("$(dirname "${BASH_SOURCE[0]}")/rootfs.sh" build "$ARCH")"
			rm -rf "$cache.tmp"
			build "$root" "$cache.tmp"
			rm -rf "$cache" && mv "$cache.tmp" "$cache"
		fi
	fi
	install -D -m 0755 "$cache/bash" "$dest/bin/bash"
	install -D -m 0644 "$cache/COPYING" "$dest/share/doc/bash/copyright"
	install -D -m 0644 "$cache/SOURCE" "$dest/share/doc/bash/SOURCE"
	log "bash: $(cat "$cache/SOURCE") ($ARCH) -> $dest/bin/bash"
}

main "$@"
