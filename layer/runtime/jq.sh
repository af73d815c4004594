#!/usr/bin/env bash
# jq.sh ARCH DESTDIR: puts Debian 11's jq 1.6 into DESTDIR, a tree merged into the runtime layer
# (dist/polyboot-ARCH.zip) by the root Makefile's RUNTIME_EXTRAS, laid out for /opt:
#
#   bin/jq                                 (rpath $ORIGIN/../lib)
#   lib/libjq.so.1, lib/libonig.so.5
#   share/doc/{jq,libjq1,libonig5}/copyright, share/doc/polyboot-jq/PACKAGES
#
# Lambda puts /opt/bin on PATH, so bash handlers find `jq`. Why Debian's jq rather than gojq:
# layer/README.md, "jq in the runtime layer".
# shellcheck source-path=SCRIPTDIR/../interpreters
source "$(dirname "${BASH_SOURCE[0]}")/../interpreters/common.sh"

PKGS=(jq libjq1 libonig5)

main() {
	[[ $# -eq 2 ]] || die "usage: $0 ARCH DESTDIR"
	set_arch "$1"
	local dest="$2"
	begin_layer runtime-jq "${PKGS[@]}"
	local root="$ROOT" out="$OUT" pkg
	install -m 0755 "$root/jq/usr/bin/jq" "$out/bin/jq"
	set_rpath "$out/bin/jq" "$TOOLS/patchelf/usr/bin/patchelf"
	copy_lib "$root" libjq.so.1 "$out"
	copy_lib "$root" libonig.so.5 "$out"
	for pkg in "${PKGS[@]}"; do
		copy_copyright "$root" "$pkg" "$out"
	done
	install -D -m 0644 "$root/versions" "$out/share/doc/polyboot-jq/PACKAGES"
	normalize_tree "$out"
	mkdir -p "$dest"
	cp -a "$out/." "$dest/"
	log "jq $(deb_field "jq=${DEB_VERSION[jq]}" Version) into $dest"
}

main "$@"
