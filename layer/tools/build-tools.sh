#!/usr/bin/env bash
# build-tools.sh ARCH: builds dist/polyboot-tools-ARCH.zip, an optional Lambda layer of command
# line tools for bash handlers, from Debian 11 packages, laid out for /opt:
#
#   bin/aws                          the AWS CLI 1.19 (a wrapper: the layer's Python 3.9, -I)
#   bin/python3.9                    Python 3.9 (rpath $ORIGIN/../lib), which runs it
#   bin/git                          a wrapper setting GIT_EXEC_PATH and GIT_TEMPLATE_DIR
#   bin/zip, bin/unzip, bin/tar, bin/gzip, bin/ssh, bin/scp, bin/ssh-keygen, bin/ssh-keyscan
#   libexec/git-core/                git and its helpers (git-remote-https, git-upload-pack, ...)
#   lib/lib*.so.*                    every non-glibc library these need (soname files)
#   lib/python3.9/                   the standard library as .pyc files, lib-dynload/
#   lib/python3/dist-packages/       awscli, botocore, s3transfer and their dependencies (.pyc)
#   share/git-core/templates/        git's repository templates
#   share/doc/<package>/copyright    licences; share/doc/polyboot-tools/PACKAGES: versions
#
# The wrappers default AWS_CA_BUNDLE and GIT_SSL_CAINFO to Amazon Linux's CA bundle when
# Debian's (/etc/ssl/certs/ca-certificates.crt) is missing. See layer/README.md, "Tools layer".
# shellcheck source-path=SCRIPTDIR/../interpreters
source "$(dirname "${BASH_SOURCE[0]}")/../interpreters/common.sh"

TOOLS_SRC="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"

# The programs and Python packages; the libraries they need are added below.
PROGRAM_PKGS=(awscli python3-botocore python3-s3transfer python3-docutils python3-roman python3-rsa
	python3-pyasn1 python3-colorama python3-yaml python3-dateutil python3-six python3-jmespath
	python3-urllib3 python3-requests python3-chardet python3-idna python3-certifi
	python3.9-minimal libpython3.9-minimal libpython3.9-stdlib
	git openssh-client zip unzip tar gzip)
# Shared libraries: every DT_NEEDED of the programs, modules and libraries kept, recursively
# (bundle_libs fails when one is missing from these packages).
LIB_PKGS=(libssl1.1 libffi7 libsqlite3-0 libexpat1 zlib1g libbz2-1.0 liblzma5 libmpdec3 libuuid1
	libcrypt1 libyaml-0-2 libpcre2-8-0 libcurl3-gnutls libbrotli1 libgnutls30 libgssapi-krb5-2
	libkrb5-3 libk5crypto3 libkrb5support0 libcom-err2 libkeyutils1 libidn2-0 libunistring2
	libldap-2.4-2 libsasl2-2 libnettle8 libhogweed6 libgmp10 libnghttp2-14 libpsl5 librtmp1
	libssh2-1 libgcrypt20 libgpg-error0 libp11-kit0 libtasn1-6 libselinux1 libacl1)
PKGS=("${PROGRAM_PKGS[@]}" "${LIB_PKGS[@]}")
# The host's Python 3.9, to compile .pyc files for either architecture.
HOST_PY_PKGS=(python3.9-minimal libpython3.9-minimal libpython3.9-stdlib)

# glibc's own libraries: provided by Lambda's system, never bundled.
GLIBC_SONAMES=" libc.so.6 libm.so.6 libpthread.so.0 libdl.so.2 librt.so.1 libutil.so.1 libresolv.so.2 ld-linux-x86-64.so.2 ld-linux-aarch64.so.1 "

# Standard library parts left out (Debian ships Tk, idlelib, lib2to3 and ensurepip apart): tests,
# help texts, and the modules whose libraries are not bundled (ncurses, readline, Berkeley DB, NIS).
# shellcheck disable=SC2034 # read by install_stdlib (common.sh) through a nameref
PY_DROP_DIRS=(test pydoc_data curses)
# shellcheck disable=SC2034 # read by install_stdlib (common.sh) through a nameref
PY_DROP_MODULES=(_ctypes_test _curses _curses_panel _dbm nis readline _testbuffer _testcapi
	_testimportmultiple _testinternalcapi _testmultiphase _xxsubinterpreters _xxtestfuzz xxlimited
	ossaudiodev)

# host_python: prints the folder of bullseye's python3.9 for this machine (in build/interpreters).
host_python() {
	local target="$ARCH" dir p want have=""
	set_arch "$(host_arch)"
	dir="$BUILD_ROOT/tools-$ARCH/python3.9"
	apt_setup
	apt_update
	fetch_debs "${HOST_PY_PKGS[@]}"
	want="$(for p in "${HOST_PY_PKGS[@]}"; do printf '%s %s\n' "$p" "${DEB_VERSION[$p]}"; done)"
	[[ -f "$dir/versions" ]] && have="$(cut -d' ' -f1,2 "$dir/versions")"
	[[ "$want" == "$have" ]] || extract_debs "$dir" "${HOST_PY_PKGS[@]}" >&2
	set_arch "$target"
	printf '%s\n' "$dir"
}

# is_elf FILE tells whether FILE is an ELF file.
is_elf() { [[ -f "$1" && ! -L "$1" && "$(head -c4 "$1" | od -An -c | tr -d ' ')" == '177ELF' ]]; }

# bundle_libs OUT ROOT PATCHELF copies into OUT/lib every library an ELF file under OUT needs,
# recursively, except glibc's; it fails when one is not in the extracted packages.
bundle_libs() {
	local out="$1" root="$2" patchelf="$3" changed=1 f lib
	while ((changed)); do
		changed=0
		while read -r f; do
			is_elf "$f" || continue
			for lib in $("$patchelf" --print-needed "$f"); do
				[[ "$GLIBC_SONAMES" == *" $lib "* || -e "$out/lib/$lib" ]] && continue
				copy_lib "$root" "$lib" "$out"
				changed=1
			done
		done < <(find "$out" -type f)
	done
}

# provides_bundled PKGDIR LIBDIR tells whether an extracted package has a library that is in LIBDIR.
provides_bundled() {
	local f
	while read -r f; do
		[[ -e "$2/$f" ]] && return 0
	done < <(find "$1" -name 'lib*.so.*' -printf '%f\n')
	return 1
}

# rpath FILE RPATH PATCHELF sets DT_RPATH (searched before LD_LIBRARY_PATH, unlike DT_RUNPATH).
rpath() {
	"$3" --force-rpath --set-rpath "$2" "$1"
	[[ "$("$3" --print-rpath "$1")" == "$2" ]] || die "could not set the rpath of $1"
}

# add_python OUT ROOT: Python 3.9's interpreter and standard library, and the Python packages
# in lib/python3/dist-packages (where Debian's site.py looks, relative to sys.prefix).
add_python() {
	local out="$1" root="$2" py="$1/lib/python3.9" d pkg
	install -m 0755 "$root/python3.9-minimal/usr/bin/python3.9" "$out/bin/python3.9"
	mkdir -p "$out/lib/python3/dist-packages"
	install_stdlib "$root" 3.9 "$py" "cpython-39-$TRIPLET.so" PY_DROP_DIRS PY_DROP_MODULES
	# Debian links one name of the build-time configuration to the other: keep a copy.
	local link
	while read -r link; do
		cp --remove-destination "$(readlink -f "$link")" "$link"
	done < <(find "$py" -maxdepth 1 -type l -name '_sysconfigdata_*.py')
	rm -f "$py/sitecustomize.py" "$py/dist-packages"
	install -m 0644 "$INTERP_SRC/sitecustomize.py" "$py/sitecustomize.py"
	for pkg in "${PROGRAM_PKGS[@]}"; do
		d="$root/$pkg/usr/lib/python3/dist-packages"
		[[ -d "$d" ]] && cp -a "$d/." "$out/lib/python3/dist-packages/"
	done
	# `aws help` pages' examples (thousands of .rst files): not for a function.
	rm -rf "$out/lib/python3/dist-packages/awscli/examples"
	# botocore's cacert.pem is unused: Debian's certifi (imported first) names the system bundle.
	if find "$out/lib" -type l | grep -q .; then
		die "unexpected symlinks in the Python libraries: $(find "$out/lib" -type l)"
	fi
}

# compile_python HOSTPY OUT replaces every .py under lib/ by its .pyc (legacy layout, beside the
# source's place), compiled by bullseye's python3.9 with its final /opt name, for tracebacks.
compile_python() {
	local hostpy="$1" out="$2" d
	find "$out/lib" -name '*.py' -exec touch -d "@$SOURCE_DATE_EPOCH" {} +
	find "$out/lib" -name __pycache__ -prune -exec rm -rf {} +
	for d in python3.9 python3/dist-packages; do
		PYTHONHOME="$hostpy/libpython3.9-minimal/usr" PYTHONHASHSEED=0 \
			PYTHONPATH="$hostpy/libpython3.9-stdlib/usr/lib/python3.9:$hostpy/libpython3.9-stdlib/usr/lib/python3.9/lib-dynload" \
			"$hostpy/python3.9-minimal/usr/bin/python3.9" -S -B -m compileall -q -b -j 0 \
			-d "/opt/lib/$d" "$out/lib/$d" >"$BUILD_DIR/compileall-tools.log" 2>&1 || {
			cat "$BUILD_DIR/compileall-tools.log" >&2
			die "compileall of lib/$d failed"
		}
	done
	local missing
	missing="$(find "$out/lib" -name '*.py' | while read -r f; do [[ -f "${f}c" ]] || echo "$f"; done)"
	[[ -z "$missing" ]] || die "no .pyc for: $missing"
	find "$out/lib" -name '*.py' -delete
}

# add_git OUT ROOT PATCHELF: git in libexec/git-core (builtins as symlinks to git), its templates,
# and the bin/git wrapper.
add_git() {
	local out="$1" root="$2" core="$1/libexec/git-core"
	mkdir -p "$out/libexec" "$out/share/git-core"
	cp -a "$root/git/usr/lib/git-core" "$core"
	# Perl and Tk tools: no perl, no display.
	rm -f "$core/git-add--interactive" "$core/git-instaweb"
	cmp -s "$root/git/usr/bin/git" "$core/git" || die "usr/bin/git and git-core/git differ"
	cp -a "$root/git/usr/share/git-core/templates" "$out/share/git-core/templates"
	install -m 0755 "$TOOLS_SRC/git.sh" "$out/bin/git"
}

main() {
	[[ $# -eq 1 ]] || die "usage: $0 ARCH"
	set_arch "$1"
	lock_cache
	local hostpy
	hostpy="$(host_python)"
	begin_layer tools "${PKGS[@]}"
	local root="$ROOT" out="$OUT" patchelf="$TOOLS/patchelf/usr/bin/patchelf" f
	# git's contrib/ holds Go sources: under build/ they would join `go vet ./...` of the repository.
	find "$root" -name '*.go' -delete

	add_python "$out" "$root"
	install -m 0755 "$TOOLS_SRC/aws.sh" "$out/bin/aws"
	add_git "$out" "$root"
	install -m 0755 "$root/zip/usr/bin/zip" "$root/unzip/usr/bin/unzip" "$root/gzip/bin/gzip" \
		"$root/tar/bin/tar" "$out/bin/"
	for f in ssh scp ssh-keygen ssh-keyscan; do
		install -m 0755 "$root/openssh-client/usr/bin/$f" "$out/bin/$f"
	done

	bundle_libs "$out" "$root" "$patchelf"
	while read -r f; do
		is_elf "$f" || continue
		case "$f" in
		"$out"/bin/*) rpath "$f" "\$ORIGIN/../lib" "$patchelf" ;;
		"$out"/libexec/git-core/*) rpath "$f" "\$ORIGIN/../../lib" "$patchelf" ;;
		esac
	done < <(find "$out/bin" "$out/libexec" -type f)
	compile_python "$hostpy" "$out"

	local pkg
	for pkg in "${PKGS[@]}"; do
		copy_copyright "$root" "$pkg" "$out"
	done
	# Every library package listed must be used: a stale entry would ship a licence for nothing.
	for pkg in "${LIB_PKGS[@]}"; do
		provides_bundled "$root/$pkg" "$out/lib" || die "$pkg provides no library the layer needs: drop it from LIB_PKGS"
	done
	install -D -m 0644 "$root/versions" "$out/share/doc/polyboot-tools/PACKAGES"
	local zip="$DIST_DIR/polyboot-tools-$ARCH.zip"
	make_zip "$out" "$zip"
	log "wrote $zip"
}

main "$@"
