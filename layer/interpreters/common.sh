# shellcheck shell=bash
# shellcheck disable=SC2034  # the variables set here are used by the scripts that source it
# Shared helpers for the interpreter-layer build and tests. Source it; do not run it.
#
# Everything downloaded comes from Debian 11 ("bullseye") through apt with a configuration of
# our own under the cache directory: the machine's apt configuration is never read or touched.

set -euo pipefail

INTERP_SRC="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO_ROOT="$(cd "$INTERP_SRC/../.." && pwd)"

# POLYBOOT_CACHE holds apt lists and .deb files; reused by every build (and by CI on a warm machine).
CACHE_DIR="${POLYBOOT_CACHE:-$REPO_ROOT/build/cache}"
BUILD_ROOT="${POLYBOOT_BUILD:-$REPO_ROOT/build/interpreters}"
DIST_DIR="${POLYBOOT_DIST:-$REPO_ROOT/dist}"

# Every file in a layer gets this mtime (2021-01-01T00:00:00Z), so that the zips are reproducible.
SOURCE_DATE_EPOCH="${SOURCE_DATE_EPOCH:-1609459200}"
export SOURCE_DATE_EPOCH

# Refresh apt lists older than this many days (security updates reach libssl1.1, expat, ...).
APT_LISTS_MAX_AGE_DAYS="${APT_LISTS_MAX_AGE_DAYS:-7}"

DEBIAN_MIRROR="http://deb.debian.org/debian"
DEBIAN_SECURITY_MIRROR="http://deb.debian.org/debian-security"
DEBIAN_KEYRING="/usr/share/keyrings/debian-archive-keyring.gpg"

# log prints a progress line on stderr.
log() { printf '==> %s\n' "$*" >&2; }

# die prints an error on stderr and exits non-zero.
die() {
	printf 'ERROR: %s\n' "$*" >&2
	exit 1
}

# lock_cache serializes the builds that share CACHE_DIR: 'make -j layers' runs both layer builds
# at once, and apt must not update one set of lists twice at the same time. Scripts started by a
# locked script (tools.sh) inherit the lock.
lock_cache() {
	[[ -z "${POLYBOOT_CACHE_LOCKED:-}" ]] || return 0
	mkdir -p "$CACHE_DIR"
	exec 9>>"$CACHE_DIR/.lock"
	flock 9
	export POLYBOOT_CACHE_LOCKED=1
}

# set_arch validates ARCH (Lambda's names: amd64, arm64) and sets TRIPLET, APT_ROOT, DEB_CACHE and
# BUILD_DIR for it.
set_arch() {
	ARCH="$1"
	case "$ARCH" in
	amd64) TRIPLET=x86_64-linux-gnu ;;
	arm64) TRIPLET=aarch64-linux-gnu ;;
	*) die "unsupported ARCH '$ARCH' (want amd64 or arm64)" ;;
	esac
	APT_ROOT="$CACHE_DIR/apt-bullseye-$ARCH"
	DEB_CACHE="$CACHE_DIR/debs/bullseye-$ARCH"
	BUILD_DIR="$BUILD_ROOT/$ARCH"
}

# host_arch prints the Debian architecture of this machine.
host_arch() { dpkg --print-architecture; }

# apt_setup writes the private apt configuration for $ARCH and exports APT_CONFIG.
apt_setup() {
	mkdir -p "$APT_ROOT"/etc/apt.conf.d "$APT_ROOT"/etc/preferences.d "$APT_ROOT"/etc/sources.list.d \
		"$APT_ROOT"/etc/trusted.gpg.d "$APT_ROOT"/state/lists/partial "$APT_ROOT"/cache/archives/partial
	[[ -r "$DEBIAN_KEYRING" ]] || die "$DEBIAN_KEYRING missing: apt-get install debian-archive-keyring"
	: >"$APT_ROOT/state/status"
	cat >"$APT_ROOT/etc/sources.list" <<EOF
deb [signed-by=$DEBIAN_KEYRING] $DEBIAN_MIRROR bullseye main
deb [signed-by=$DEBIAN_KEYRING] $DEBIAN_SECURITY_MIRROR bullseye-security main
EOF
	# APT_CONFIG is read before anything else; since it moves Dir::Etc, the machine's own
	# /etc/apt (sources, apt.conf.d hooks, preferences) is never consulted.
	cat >"$APT_ROOT/apt.conf" <<EOF
Dir "$APT_ROOT/";
Dir::Etc "$APT_ROOT/etc/";
Dir::Etc::main "apt.conf";
Dir::Etc::parts "apt.conf.d";
Dir::Etc::sourcelist "sources.list";
Dir::Etc::sourceparts "sources.list.d";
Dir::Etc::preferences "preferences";
Dir::Etc::preferencesparts "preferences.d";
Dir::Etc::trusted "trusted.gpg";
Dir::Etc::trustedparts "trusted.gpg.d";
Dir::State "$APT_ROOT/state/";
Dir::State::status "$APT_ROOT/state/status";
Dir::Cache "$APT_ROOT/cache/";
Acquire::Languages "none";
Acquire::Retries "3";
APT::Architecture "$ARCH";
APT::Architectures "$ARCH";
APT::Sandbox::User "root";
Debug::NoLocking "true";
EOF
	export APT_CONFIG="$APT_ROOT/apt.conf"
}

# apt_update refreshes the package lists when missing, older than APT_LISTS_MAX_AGE_DAYS, or
# when forced with POLYBOOT_APT_REFRESH=1. apt checks the InRelease signatures with Debian's keyring.
apt_update() {
	local stamp="$APT_ROOT/state/updated"
	if [[ "${POLYBOOT_APT_REFRESH:-0}" != 1 && -f "$stamp" ]] &&
		[[ -z "$(find "$stamp" -mtime "+$APT_LISTS_MAX_AGE_DAYS")" ]]; then
		return 0
	fi
	log "apt-get update (bullseye, bullseye-security; $ARCH)"
	apt-get -q update >"$APT_ROOT/update.log" 2>&1 || {
		cat "$APT_ROOT/update.log" >&2
		die "apt-get update failed"
	}
	if grep -qE '^(W|E):' "$APT_ROOT/update.log"; then
		cat "$APT_ROOT/update.log" >&2
		die "apt-get update reported warnings or errors"
	fi
	touch "$stamp"
}

# DEB_SHOW caches apt-cache's stanzas by "ARCH:PKG" (the candidate) and "ARCH:PKG=VERSION": one
# apt-cache run takes about half a second, and a layer of 70 packages asks several times each.
declare -gA DEB_SHOW=()

# prime_deb_fields PKG... reads the candidate stanza of every package with one apt-cache run.
prime_deb_fields() {
	local stanza pkg version
	while IFS= read -r -d '' stanza; do
		pkg="$(sed -n 's/^Package: //p' <<<"$stanza" | head -n1)"
		version="$(sed -n 's/^Version: //p' <<<"$stanza" | head -n1)"
		[[ -n "$pkg" ]] || continue
		DEB_SHOW[$ARCH:$pkg]="$stanza"
		DEB_SHOW[$ARCH:$pkg=$version]="$stanza"
	done < <({ apt-cache show --no-all-versions "$@" 2>/dev/null || true; } | awk 'BEGIN { RS = ""; ORS = "\0" } { print }')
}

# deb_field SPEC FIELD prints a field of a package from the lists; SPEC is PKG (its candidate
# version) or PKG=VERSION. It prints nothing for a package the lists do not have.
deb_field() {
	local stanza="${DEB_SHOW[$ARCH:$1]-}"
	[[ -n "$stanza" ]] || stanza="$(apt-cache show --no-all-versions "$1" 2>/dev/null || true)"
	sed -n "s/^$2: //p" <<<"$stanza" | head -n1
}

# install_stdlib ROOT VERSION DEST SOEXT DIRS MODULES copies the standard library of
# libpythonVERSION-minimal and libpythonVERSION-stdlib (unpacked under ROOT) into DEST, then removes
# the folders named in the array DIRS and the extension modules lib-dynload/NAME.SOEXT named in the
# array MODULES; each must be there (a changed package fails the build instead of shipping them).
install_stdlib() {
	local root="$1" version="$2" dest="$3" soext="$4" d m
	local -n drop_dirs="$5" drop_modules="$6"
	mkdir -p "$dest"
	cp -a "$root/libpython$version-minimal/usr/lib/python$version/." "$dest/"
	cp -a "$root/libpython$version-stdlib/usr/lib/python$version/." "$dest/"
	for d in "${drop_dirs[@]}"; do
		[[ -d "$dest/$d" ]] || die "expected $d in the standard library"
		rm -rf "${dest:?}/$d"
	done
	for m in "${drop_modules[@]}"; do
		[[ -f "$dest/lib-dynload/$m.$soext" ]] || die "expected $m in lib-dynload"
		rm -f "$dest/lib-dynload/$m.$soext"
	done
}

# deb_file PKG VERSION prints the file name apt-get download gives that .deb
# (NAME_VERSION_ARCH.deb, with an epoch's colon written %3a).
deb_file() {
	printf '%s_%s_%s.deb\n' "$1" "${2//:/%3a}" "$(deb_field "$1=$2" Architecture)"
}

# cached_ok PKG VERSION tells whether DEB_CACHE holds that .deb with the SHA-256 the signed lists
# give; a cached file with a wrong checksum is removed.
cached_ok() {
	local file sum
	file="$DEB_CACHE/$(deb_file "$1" "$2")"
	[[ -f "$file" ]] || return 1
	sum="$(sha256sum "$file" | cut -d' ' -f1)"
	[[ "$sum" == "$(deb_field "$1=$2" SHA256)" ]] && return 0
	log "cached $file has a wrong checksum: removing it"
	rm -f "$file"
	return 1
}

# download PKG VERSION fetches one .deb into DEB_CACHE (apt checks it against the lists).
download() {
	(cd "$DEB_CACHE" && apt-get -q download "$1=$2") >&2 && cached_ok "$1" "$2"
}

# fetch_debs PKG... makes sure DEB_CACHE holds a verified .deb of each package and records the
# version used in DEB_VERSION[PKG]: the candidate (newest, security updates included) when it can
# be had. When the archive cannot serve it (seen here: bullseye-security's pool lacking some arm64
# files that its index lists), the newest older version that downloads is used instead, with a
# loud warning, and DEB_NOTE[PKG] says so (it ends up in the layer's PACKAGES file).
fetch_debs() {
	declare -gA DEB_VERSION DEB_NOTE
	mkdir -p "$DEB_CACHE"
	prime_deb_fields "$@"
	local pkg version candidate missing=()
	for pkg in "$@"; do
		candidate="$(deb_field "$pkg" Version)"
		[[ -n "$candidate" ]] || die "package $pkg not found in the bullseye lists"
		DEB_VERSION[$pkg]="$candidate"
		DEB_NOTE[$pkg]=""
		cached_ok "$pkg" "$candidate" || missing+=("$pkg=$candidate")
	done
	((${#missing[@]})) || return 0
	log "apt-get download ${missing[*]}"
	(cd "$DEB_CACHE" && apt-get -q download "${missing[@]}") >&2 || true
	local spec
	for spec in "${missing[@]}"; do
		pkg="${spec%%=*}"
		candidate="${spec#*=}"
		cached_ok "$pkg" "$candidate" && continue
		local found=""
		while read -r version; do
			[[ "$version" == "$candidate" ]] && continue
			if cached_ok "$pkg" "$version" || download "$pkg" "$version"; then
				found="$version"
				break
			fi
		done < <(apt-cache madison "$pkg" | awk -F'|' '{gsub(/ /, "", $2); print $2}')
		[[ -n "$found" ]] || die "no version of $pkg could be downloaded"
		DEB_VERSION[$pkg]="$found"
		DEB_NOTE[$pkg]="FALLBACK: the archive did not serve the candidate $candidate"
		printf '\n*** WARNING: %s %s could not be downloaded; using the older %s instead ***\n\n' \
			"$pkg" "$candidate" "$found" >&2
	done
}

# deb_path PKG prints the cached .deb of the version fetch_debs chose for PKG.
deb_path() {
	local file
	file="$DEB_CACHE/$(deb_file "$1" "${DEB_VERSION[$1]}")"
	[[ -f "$file" ]] || die "no cached .deb for $1"
	printf '%s\n' "$file"
}

# extract_debs DIR PKG... unpacks each package (after fetch_debs) into DIR/PKG, so every file's
# origin stays known, and records "PKG VERSION [NOTE]" lines in DIR/versions.
extract_debs() {
	local dir="$1" pkg
	shift
	rm -rf "$dir"
	mkdir -p "$dir"
	for pkg in "$@"; do
		dpkg-deb -x "$(deb_path "$pkg")" "$dir/$pkg"
		printf '%s %s%s\n' "$pkg" "${DEB_VERSION[$pkg]}" "${DEB_NOTE[$pkg]:+ (${DEB_NOTE[$pkg]})}" >>"$dir/versions"
	done
}

# find_lib ROOT SONAME prints the file that provides SONAME in the extracted packages under ROOT,
# following symlinks (Debian ships libfoo.so.1 -> libfoo.so.1.2.3).
find_lib() {
	local root="$1" soname="$2" hit
	hit="$(find "$root" -name "$soname" \( -type f -o -type l \) -path "*/lib/*" | sort | head -n1)"
	[[ -n "$hit" ]] || die "no $soname in $root"
	readlink -f "$hit"
}

# copy_lib ROOT SONAME DEST copies the library with SONAME to DEST/lib/SONAME as a plain file: no
# symlink chains, since the dynamic linker looks libraries up by soname only.
copy_lib() {
	mkdir -p "$3/lib"
	install -m 0644 "$(find_lib "$1" "$2")" "$3/lib/$2"
}

# copy_copyright ROOT PKG DEST copies Debian's copyright file of PKG into DEST/share/doc/PKG/.
# A package whose doc directory is a symlink to another package's (same source package, e.g.
# python2.7-minimal -> libpython2.7-minimal) is covered by that package, which must be bundled too.
copy_copyright() {
	local doc="$1/$2/usr/share/doc/$2" target
	if [[ -L "$doc" ]]; then
		target="$(basename "$(readlink "$doc")")"
		[[ -f "$1/$target/usr/share/doc/$target/copyright" ]] ||
			die "$2's copyright is $target's, which is not bundled"
		return 0
	fi
	[[ -f "$doc/copyright" ]] || die "no copyright file for $2"
	install -D -m 0644 "$doc/copyright" "$3/share/doc/$2/copyright"
}

# set_rpath FILE PATCHELF makes FILE find its libraries in ../lib relative to itself before
# LD_LIBRARY_PATH (DT_RPATH, not DT_RUNPATH), so the interpreters start with an empty environment
# and use the layer's own libraries even though Lambda puts /lib64 before /opt/lib.
set_rpath() {
	"$2" --force-rpath --set-rpath "\$ORIGIN/../lib" "$1"
	[[ "$("$2" --print-rpath "$1")" == "\$ORIGIN/../lib" ]] || die "could not set the rpath of $1"
}

# normalize_tree DIR gives every entry fixed permissions (0755 for directories and executables,
# 0644 for other files) and the fixed mtime SOURCE_DATE_EPOCH.
normalize_tree() {
	local dir="$1"
	find "$dir" -type d -exec chmod 0755 {} +
	find "$dir" -type f -perm /0111 -exec chmod 0755 {} +
	find "$dir" -type f ! -perm /0111 -exec chmod 0644 {} +
	find "$dir" -exec touch -h -d "@$SOURCE_DATE_EPOCH" {} +
}

# begin_layer NAME PKG... fetches and extracts the Debian packages of layer NAME and starts its
# tree empty, with bin/ and lib/. It sets TOOLS (the build tools' folder), ROOT (the extracted
# packages) and OUT (the layer's tree).
begin_layer() {
	local name="$1"
	shift
	lock_cache
	TOOLS="$("$INTERP_SRC/tools.sh")"
	apt_setup
	apt_update
	fetch_debs "$@"
	ROOT="$BUILD_DIR/debs-$name"
	OUT="$BUILD_DIR/$name"
	extract_debs "$ROOT" "$@"
	rm -rf "$OUT"
	mkdir -p "$OUT/bin" "$OUT/lib"
}

# finish_layer NAME PKG... adds the packages' copyright files and exact versions to layer NAME's
# tree, and zips it as dist/polyboot-NAME-ARCH.zip.
finish_layer() {
	local name="$1" pkg zip
	shift
	for pkg in "$@"; do
		copy_copyright "$ROOT" "$pkg" "$OUT"
	done
	install -D -m 0644 "$ROOT/versions" "$OUT/share/doc/polyboot-$name/PACKAGES"
	zip="$DIST_DIR/polyboot-$name-$ARCH.zip"
	make_zip "$OUT" "$zip"
	log "wrote $zip"
}

# make_zip DIR ZIP writes DIR's contents to ZIP reproducibly: sorted entries, fixed mtimes, no
# extra fields (uid/gid, extended timestamps), symlinks stored as symlinks.
make_zip() {
	local dir="$1" zip="$2" tmp
	mkdir -p "$(dirname "$zip")"
	tmp="$zip.tmp.$$"
	rm -f "$tmp"
	normalize_tree "$dir"
	(cd "$dir" && find . -mindepth 1 | sed 's|^\./||' | LC_ALL=C sort |
		TZ=UTC zip -q -X -y -9 -@ "$tmp")
	mv -f "$tmp" "$zip"
}
