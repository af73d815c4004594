#!/usr/bin/env bash
# build-tcl.sh ARCH: builds dist/polyboot-tcl-ARCH.zip, a Lambda layer laid out for /opt:
#
#   bin/tclsh8.6, bin/tclsh -> tclsh8.6   (rpath $ORIGIN/../lib)
#   lib/libtcl8.6.so, lib/libz.so.1
#   lib/tcl8.6/                            Tcl's script library: init.tcl, clock.tcl, encoding/, msgs/
#   lib/tcl8/8.{4,5,6}/                    Tcl modules: platform, msgcat, tcltest, http
#   share/doc/<package>/copyright          licences of the bundled Debian packages
#   share/doc/polyboot-tcl/PACKAGES        the Debian packages and versions used
#
# tclsh looks for init.tcl in <exe>/../lib/tcl8.6, so nothing needs TCL_LIBRARY.
# shellcheck source-path=SCRIPTDIR
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

PKGS=(tcl8.6 libtcl8.6 zlib1g)

# place_modules LIBDIR moves the Tcl modules (.tm) from Debian's place, tcl8.6/tcl8/ (which Debian's
# tm.tcl names by its absolute path /usr/share/tcltk/tcl8.6/tcl8), to upstream Tcl's layout,
# tcl8/<minimum Tcl version>/ beside tcl8.6/, where tm.tcl's default roots ([file dirname
# [info library]] = <exe>/../lib) find them: msgcat (which clock needs), tcltest, http, platform.
place_modules() {
	local lib="$1" src="$1/tcl8.6/tcl8" f
	mkdir -p "$lib/tcl8/8.4" "$lib/tcl8/8.5" "$lib/tcl8/8.6"
	for f in "$src"/platform-*.tm; do mv "$f" "$lib/tcl8/8.4/"; done
	mv "$src/platform" "$lib/tcl8/8.4/platform"
	for f in "$src"/msgcat-*.tm "$src"/tcltest-*.tm; do mv "$f" "$lib/tcl8/8.5/"; done
	for f in "$src"/http-*.tm; do mv "$f" "$lib/tcl8/8.6/"; done
	rmdir "$src" || die "unexpected Tcl modules left in $src: $(ls -A "$src")"
}

main() {
	[[ $# -eq 1 ]] || die "usage: $0 ARCH"
	set_arch "$1"
	begin_layer tcl "${PKGS[@]}"
	local tools="$TOOLS" root="$ROOT" out="$OUT"

	install -m 0755 "$root/tcl8.6/usr/bin/tclsh8.6" "$out/bin/tclsh8.6"
	set_rpath "$out/bin/tclsh8.6" "$tools/patchelf/usr/bin/patchelf"
	ln -s tclsh8.6 "$out/bin/tclsh"

	copy_lib "$root" libtcl8.6.so "$out"
	copy_lib "$root" libz.so.1 "$out"

	# The script library; Debian keeps it in /usr/share/tcltk/tcl8.6. Its time zone data is not
	# there (Debian's Tcl reads the system's /usr/share/zoneinfo), and tclAppInit.c is C source.
	cp -a "$root/libtcl8.6/usr/share/tcltk/tcl8.6" "$out/lib/tcl8.6"
	rm -f "$out/lib/tcl8.6/tclAppInit.c"
	place_modules "$out/lib"
	[[ -f "$out/lib/tcl8.6/init.tcl" && -f "$out/lib/tcl8.6/encoding/cp1252.enc" ]] ||
		die "script library incomplete"

	finish_layer tcl "${PKGS[@]}"
}

main "$@"
