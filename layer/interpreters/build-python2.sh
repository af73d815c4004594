#!/usr/bin/env bash
# build-python2.sh ARCH: builds dist/polyboot-python2-ARCH.zip, a Lambda layer laid out for /opt:
#
#   bin/python2.7, bin/python2 -> python2.7   (rpath $ORIGIN/../lib; libpython is linked in)
#   lib/lib*.so.*                             libraries of the extension modules (soname files)
#   lib/python2.7/                            the standard library as .pyc files, lib-dynload/,
#                                             plat-<triplet>/, and polyboot's sitecustomize
#   lib/python2.7/dist-packages/              the batteries: boto3, botocore, s3transfer, jmespath,
#                                             dateutil, six, urllib3, requests, chardet, idna,
#                                             certifi (Debian 11's, as .pyc files), and
#                                             concurrent.futures (polyboot's: futures/)
#   lib/python2.7/polyboot-sources.zip        the .py sources of all of the above, for tracebacks
#   share/doc/<package>/copyright             licences of the bundled Debian packages
#   share/doc/polyboot-python2/PACKAGES       the Debian packages and versions used
#
# python2.7 finds its prefix by looking for lib/python2.7/os.py (here os.pyc) upwards from its
# own location, so nothing needs PYTHONHOME.
# shellcheck source-path=SCRIPTDIR
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

# The batteries: what AWS's python2.7 runtime had (boto3, botocore and what they need) and what
# handlers import most (dateutil, requests, six). Pure Python; Debian 11 ships them for Python 3
# only (six also for Python 2), in releases that still support Python 2.7: their sources are
# valid Python 2.7 but for the fixes in patch_batteries. See layer/README.md, "Batteries".
BATTERIES=(python3-boto3 python3-botocore python3-s3transfer python3-jmespath python3-dateutil
	python-six python3-urllib3 python3-requests python3-chardet python3-idna python3-certifi)

PKGS=(python2.7-minimal libpython2.7-minimal libpython2.7-stdlib
	libssl1.1 libffi7 libsqlite3-0 libexpat1 zlib1g libbz2-1.0 libcrypt1
	"${BATTERIES[@]}")

# Libraries bundled in lib/, by soname: those the kept extension modules and python2.7 need.
LIBS=(libssl.so.1.1 libcrypto.so.1.1 libffi.so.7 libsqlite3.so.0 libexpat.so.1 libz.so.1
	libbz2.so.1.0 libcrypt.so.1)

# Parts of the standard library left out (see layer/README.md, "Interpreter layers"):
#   tests and test helpers; lib2to3 and ensurepip (tools, not runtime); lib-tk (Tkinter: no Tk on
#   Lambda); pydoc_data (help() texts); bsddb, dbm and curses/readline (need Berkeley DB, ncurses
#   and GNU readline: terminals and local databases have no use in a function, and readline is
#   GPL-3); nis (needs libnsl/libtirpc; no NIS on Lambda).
# shellcheck disable=SC2034 # read by install_stdlib (common.sh) through a nameref
DROP_DIRS=(test lib2to3 ensurepip lib-tk pydoc_data bsddb curses dist-packages)
# shellcheck disable=SC2034 # read by install_stdlib (common.sh) through a nameref
DROP_MODULES=(_bsddb dbm _curses _curses_panel readline nis _testcapi _ctypes_test)

main() {
	[[ $# -eq 1 ]] || die "usage: $0 ARCH"
	set_arch "$1"
	begin_layer python2 "${PKGS[@]}"
	local tools="$TOOLS" root="$ROOT" out="$OUT"

	install -m 0755 "$root/python2.7-minimal/usr/bin/python2.7" "$out/bin/python2.7"
	set_rpath "$out/bin/python2.7" "$tools/patchelf/usr/bin/patchelf"
	ln -s python2.7 "$out/bin/python2"

	local lib
	for lib in "${LIBS[@]}"; do
		copy_lib "$root" "$lib" "$out"
	done

	# The standard library: libpython2.7-minimal has the core (os, site, re, ...), and
	# libpython2.7-stdlib the rest with lib-dynload's extension modules.
	local py="$out/lib/python2.7"
	install_stdlib "$root" 2.7 "$py" "$TRIPLET.so" DROP_DIRS DROP_MODULES
	rm -f "$py/pdb.doc"
	# Debian's sitecustomize.py is a symlink to /etc/python2.7/sitecustomize.py; ours points the
	# bundled OpenSSL at the system's CA bundle (see the file).
	rm -f "$py/sitecustomize.py"
	install -m 0644 "$INTERP_SRC/sitecustomize.py" "$py/sitecustomize.py"
	if find "$py" -type l | grep -q .; then
		die "unexpected symlinks in the standard library: $(find "$py" -type l)"
	fi

	add_batteries "$root" "$py/dist-packages"

	compile_stdlib "$tools" "$py"

	finish_layer python2 "${PKGS[@]}"
}

# add_batteries ROOT DIR copies the batteries' modules (and their .egg-info) from the extracted
# packages into DIR, then patches them (patch_batteries).
add_batteries() {
	local root="$1" dir="$2" pkg src
	mkdir -p "$dir"
	for pkg in "${BATTERIES[@]}"; do
		src="$root/$pkg/usr/lib/python3/dist-packages"
		[[ "$pkg" == python-six ]] && src="$root/$pkg/usr/lib/python2.7/dist-packages"
		[[ -d "$src" ]] || die "no dist-packages in $pkg"
		cp -a "$src/." "$dir/"
	done
	patch_batteries "$dir"
	# concurrent.futures, which s3transfer needs on Python 2 and Debian 11 lacks (futures/README.md).
	install -D -m 0644 "$INTERP_SRC/futures/__init__.py" "$dir/concurrent/futures/__init__.py"
	printf '"""concurrent: the futures package (polyboot'"'"'s, see futures/__init__.py)."""\n' >"$dir/concurrent/__init__.py"
}

# patch_batteries DIR makes Debian's Python 3 builds of the batteries right for this layer:
#   - certifi: Debian's core.py names Debian's bundle only (/etc/ssl/certs/ca-certificates.crt) and
#     is Python 3 only; ours (certifi_core.py) finds Amazon Linux's too. The cacert.pem files of
#     certifi and botocore are never read (both use certifi.where()) and are left out.
#   - urllib3: one line of Debian's LTS fix for CVE-2025-66418 is an f-string; same text with %.
# Each patch checks that it applied.
patch_batteries() {
	local dir="$1"
	install -m 0644 "$INTERP_SRC/certifi_core.py" "$dir/certifi/core.py"
	rm -f "$dir/certifi/cacert.pem" "$dir/botocore/cacert.pem"
	local f="$dir/urllib3/response.py"
	grep -q 'f"{len(encodings)} > {self.max_decode_links}"' "$f" || die "urllib3 patch: line not found in $f"
	sed -i 's|f"{len(encodings)} > {self.max_decode_links}"|"%d > %d" % (len(encodings), self.max_decode_links)|' "$f"
	if grep -rqE '^[^#]*\bf"[^"]*\{' "$dir/urllib3"; then
		die "urllib3 patch: an f-string is left"
	fi
}

# write_sources PYDIR puts every .py file under PYDIR into PYDIR/polyboot-sources.zip (paths
# relative to PYDIR), which sitecustomize reads for tracebacks: the sources are never imported.
write_sources() {
	local py="$1" stage="$BUILD_DIR/python2-sources"
	rm -rf "$stage"
	mkdir -p "$stage"
	(cd "$py" && find . -name '*.py' -exec cp --parents -t "$stage" {} +)
	make_zip "$stage" "$py/polyboot-sources.zip"
	rm -rf "$stage"
}

# compile_stdlib TOOLS PYDIR replaces every .py under PYDIR by its .pyc, compiled by bullseye's
# python2.7 (the same build, for this machine's architecture: .pyc files do not depend on it) with
# the file name it will have under /opt, for tracebacks. The sources get the fixed mtime first, as
# a .pyc records its source's mtime.
compile_stdlib() {
	local tools="$1" py="$2"
	find "$py" -name '*.py' -exec touch -d "@$SOURCE_DATE_EPOCH" {} +
	PYTHONHOME="$tools/libpython2.7-minimal/usr" PYTHONHASHSEED=0 \
		"$tools/python2.7-minimal/usr/bin/python2.7" -S -B \
		-m compileall -q -d /opt/lib/python2.7 "$py" >"$BUILD_DIR/compileall.log" 2>&1 || {
		cat "$BUILD_DIR/compileall.log" >&2
		die "compileall failed"
	}
	local missing
	missing="$(find "$py" -name '*.py' | while read -r f; do [[ -f "${f}c" ]] || echo "$f"; done)"
	[[ -z "$missing" ]] || die "no .pyc for: $missing"
	write_sources "$py"
	find "$py" -name '*.py' -delete
}

main "$@"
