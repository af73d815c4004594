#!/usr/bin/env bash
# build-tcl.sh ARCH: builds dist/polyboot-tcl-ARCH.zip, a Lambda layer laid out for /opt:
#
#   bin/tclsh8.6, bin/tclsh -> tclsh8.6   (rpath $ORIGIN/../lib)
#   lib/libtcl8.6.so, lib/libz.so.1
#   lib/tcl8.6/                            Tcl's script library: init.tcl, clock.tcl, encoding/, msgs/
#   lib/tcl8/8.{4,5,6}/                    Tcl modules: platform, msgcat, tcltest, http
#   lib/tcllib1.20/                        the batteries (Debian 11's): tcllib (scripts),
#   lib/tcltls1.7.22/, lib/sqlite3/,       tls (with tls-ca.tcl), sqlite3, tdom (tnc, tdomhtml)
#   lib/tdom0.9.2/, lib/thread2.8.6/, ...  and Thread, found through auto_path's <exe>/../lib
#   lib/libssl.so.1.1, libcrypto.so.1.1,   their libraries
#   libsqlite3.so.0, libexpat.so.1, libgumbo.so.1, libgcc_s.so.1
#   share/doc/<package>/copyright          licences of the bundled Debian packages
#   share/doc/polyboot-tcl/PACKAGES        the Debian packages and versions used
#
# tclsh looks for init.tcl in <exe>/../lib/tcl8.6, so nothing needs TCL_LIBRARY.
# shellcheck source-path=SCRIPTDIR
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

# The batteries and the libraries they need (see layer/README.md, "Batteries").
BATTERIES=(tcllib tcl-tls libsqlite3-tcl tdom tcl-thread)
# libgcc_s.so.1: glibc loads it (dlopen) when a thread exits through pthread_exit, as Thread's
# threads do; gcc-10-base holds its copyright file.
PKGS=(tcl8.6 libtcl8.6 zlib1g "${BATTERIES[@]}" libssl1.1 libsqlite3-0 libexpat1 libgumbo1
	libgcc-s1 gcc-10-base)
LIBS=(libtcl8.6.so libz.so.1 libssl.so.1.1 libcrypto.so.1.1 libsqlite3.so.0 libexpat.so.1 libgumbo.so.1
	libgcc_s.so.1)

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

	local lib
	for lib in "${LIBS[@]}"; do
		copy_lib "$root" "$lib" "$out"
	done

	# The script library; Debian keeps it in /usr/share/tcltk/tcl8.6. Its time zone data is not
	# there (Debian's Tcl reads the system's /usr/share/zoneinfo), and tclAppInit.c is C source.
	cp -a "$root/libtcl8.6/usr/share/tcltk/tcl8.6" "$out/lib/tcl8.6"
	rm -f "$out/lib/tcl8.6/tclAppInit.c"
	place_modules "$out/lib"
	[[ -f "$out/lib/tcl8.6/init.tcl" && -f "$out/lib/tcl8.6/encoding/cp1252.enc" ]] ||
		die "script library incomplete"

	add_batteries "$root" "$out/lib" "$tools/patchelf/usr/bin/patchelf"

	finish_layer tcl "${PKGS[@]}"
}

# add_batteries ROOT LIBDIR PATCHELF puts the batteries' package folders into LIBDIR, where Tcl's
# package search finds them: auto_path holds [file dirname [info library]] (<exe>/../lib), and
# each of its subfolders' pkgIndex.tcl is read. Extensions get DT_RPATH $ORIGIN/.. (LIBDIR) so
# that they load the layer's libssl, libsqlite3, ... whatever loads them. tls's pkgIndex.tcl also
# sources tls-ca.tcl, which points tls at Amazon Linux's CA bundle.
add_batteries() {
	local root="$1" lib="$2" patchelf="$3" d so
	cp -a "$root/tcllib/usr/share/tcltk/tcllib1.20" "$lib/"
	for d in "$root"/{tcl-tls,tdom,tcl-thread}/usr/lib/tcltk/"$TRIPLET"/* "$root/libsqlite3-tcl/usr/lib/tcltk/sqlite3"; do
		[[ -f "$d/pkgIndex.tcl" ]] || die "no pkgIndex.tcl in $d"
		cp -a "$d" "$lib/"
	done
	rm -f "$lib/sqlite3/libtclsqlite3.la"
	for so in "$lib"/{tcltls1.7.22,sqlite3,tdom0.9.2,tnc0.3.0,thread2.8.6}/*.so; do
		[[ -f "$so" ]] || die "missing extension $so"
		"$patchelf" --force-rpath --set-rpath "\$ORIGIN/.." "$so"
	done
	# tls's own index loads tcltls.so (its Tcl part is built in: there is no tls.tcl); ours also
	# sources tls-ca.tcl.
	local tls="$lib/tcltls1.7.22"
	if ! grep -q 'package ifneeded tls 1.7.22' "$tls/pkgIndex.tcl" || [[ -e "$tls/tls.tcl" ]]; then
		die "tls pkgIndex.tcl: not the one this build knows"
	fi
	install -m 0644 "$INTERP_SRC/tls-ca.tcl" "$tls/tls-ca.tcl"
	cat >"$tls/pkgIndex.tcl" <<'EOF'
# polyboot's index for Debian's tls 1.7.22: load it, then point it at the system's CA bundle.
package ifneeded tls 1.7.22 [list apply {{dir} {
    load [file join $dir tcltls.so] Tls
    source [file join $dir tls-ca.tcl]
}} $dir]
EOF
}

main "$@"
