# shellcheck shell=bash
# shellcheck disable=SC2034  # the variables set here are used by the scripts that source it
# Helpers for the interpreter-layer tests. Source it; do not run it.
# shellcheck source=common.sh source-path=SCRIPTDIR/..
source "$(dirname "${BASH_SOURCE[0]}")/../common.sh"

TESTS_DIR="$INTERP_SRC/tests"
PASSED=0
FAILED=0
SKIPPED=0

# pass NAME / fail NAME DETAIL record one check and print it.
pass() {
	PASSED=$((PASSED + 1))
	printf 'ok - %s\n' "$1"
}
fail() {
	FAILED=$((FAILED + 1))
	printf 'not ok - %s%s\n' "$1" "${2:+: $2}"
}

# check NAME CMD... runs CMD, passes when it exits 0, and shows its output either way.
check() {
	local name="$1" out rc=0
	shift
	out="$("$@" 2>&1)" || rc=$?
	if [[ -n "$out" ]]; then
		printf '%s\n' "$out" | sed 's/^/    /'
	fi
	if ((rc == 0)); then
		pass "$name"
	else
		fail "$name" "exit code $rc"
	fi
}

# count_subchecks OUTPUT adds up the "ok - ", "not ok - " and "skip - " lines a check script printed.
count_subchecks() {
	local n
	n="$(grep -c '^ *ok - ' <<<"$1" || true)"
	PASSED=$((PASSED + n))
	n="$(grep -c '^ *not ok - ' <<<"$1" || true)"
	FAILED=$((FAILED + n))
	n="$(grep -c '^ *skip - ' <<<"$1" || true)"
	SKIPPED=$((SKIPPED + n))
}

# run_script NAME CMD... runs a check script that prints "ok - "/"not ok - " lines itself, shows
# its output, counts its checks, and counts a failure if it exits non-zero or checked nothing.
run_script() {
	local name="$1" out rc=0
	shift
	out="$("$@" 2>&1)" || rc=$?
	printf '%s\n' "$out" | sed 's/^/    /'
	count_subchecks "$out"
	if ((rc != 0)); then
		fail "$name" "exit code $rc"
	elif ! grep -q '^ *ok - ' <<<"$out"; then
		fail "$name" "printed no checks"
	fi
}

# summary prints the closing line and exits non-zero when a check failed.
summary() {
	if ((SKIPPED > 0)); then
		printf '%s: %d passed, %d failed, %d skipped\n' "$1" "$PASSED" "$FAILED" "$SKIPPED"
	else
		printf '%s: %d passed, %d failed\n' "$1" "$PASSED" "$FAILED"
	fi
	((FAILED == 0 && PASSED > 0))
}

# require_root_native ARCH stops the test loudly unless it runs as root on an ARCH machine.
require_root_native() {
	if [[ "$(id -u)" != 0 ]]; then
		die "this test needs root (mount namespaces, bind mounts, chroot); it did NOT run"
	fi
	if [[ "$1" != "$(host_arch)" ]]; then
		die "layers for $1 cannot run on this $(host_arch) machine; the test did NOT run"
	fi
}

# layer_zip LANG prints the path of the built layer for LANG and ARCH, or stops loudly.
layer_zip() {
	local zip="$DIST_DIR/polyboot-$1-$ARCH.zip"
	[[ -f "$zip" ]] || die "$zip does not exist: run 'make layers ARCH=$ARCH' first; the test did NOT run"
	printf '%s\n' "$zip"
}

# require_layers stops loudly unless both interpreter layers for ARCH are built.
require_layers() {
	layer_zip tcl >/dev/null
	layer_zip python2 >/dev/null
}

# in_namespace is true inside the private mount namespace enter_namespace made.
in_namespace() { [[ "${POLYBOOT_IN_NAMESPACE:-}" == 1 ]]; }

# enter_namespace SCRIPT runs SCRIPT ARCH again in a private mount namespace, where in_namespace is
# true; it does not return.
enter_namespace() {
	exec unshare -m --propagation private env POLYBOOT_IN_NAMESPACE=1 "$1" "$ARCH"
}

# hide_paths PATH... bind-mounts an empty directory over each PATH that is a directory and
# /dev/null over each other one that exists, and prints what it hid. Call it in a private mount
# namespace only.
hide_paths() {
	local p hidden=() empty="$BUILD_ROOT/empty"
	mkdir -p "$empty"
	for p in "$@"; do
		if [[ -d "$p" && ! -L "$p" ]]; then
			mount --bind "$empty" "$p"
		elif [[ -e "$p" ]]; then
			mount --bind /dev/null "$(readlink -f "$p")"
		else
			continue
		fi
		hidden+=("$p")
	done
	printf '    hidden: %s\n' "${hidden[*]:-nothing (none present)}"
}

# hide_host_interpreters hides every Tcl and Python 2 this machine has (hide_paths), so that only
# /opt can provide them.
hide_host_interpreters() {
	local pyenv_root="${PYENV_ROOT:-$HOME/.pyenv}"
	hide_paths /usr/bin/tclsh8.6 /usr/bin/tclsh8.5 "/usr/lib/$TRIPLET/libtcl8.6.so" "/usr/lib/$TRIPLET/libtcl8.6.so.0" \
		/usr/share/tcltk /usr/lib/tcltk /usr/lib/tcl8.6 /usr/local/lib/tcl8.6 \
		/usr/local/bin/tclsh8.6 /usr/local/bin/tclsh /usr/bin/python2.7 /usr/bin/python2 /usr/lib/python2.7 \
		/usr/local/bin/python2.7 /usr/local/bin/python2 /usr/local/lib/python2.7 \
		"/usr/lib/$TRIPLET/libpython2.7.so.1.0" "$pyenv_root/versions" "$pyenv_root/shims"
}

# identical_shared_entries ZIP_A ZIP_B fails when a file both zips hold differs between them
# (Lambda lays all of a function's layers into one /opt), and prints how many they share.
identical_shared_entries() {
	local f shared=0
	while read -r f; do
		[[ "$f" == */ ]] && continue
		shared=$((shared + 1))
		cmp -s <(unzip -p "$1" "$f") <(unzip -p "$2" "$f") || {
			echo "$f differs between $1 and $2"
			return 1
		}
	done < <(comm -12 <(unzip -Z1 "$1" | LC_ALL=C sort) <(unzip -Z1 "$2" | LC_ALL=C sort))
	echo "$shared files are in both $(basename "$1") and $(basename "$2"), all identical"
}

# no_host_interpreters fails if PATH=/usr/local/bin:/usr/bin:/bin still runs a tclsh or python2.
no_host_interpreters() {
	local found
	# shellcheck disable=SC2016  # expanded by the inner shell
	found="$(env -i PATH=/usr/local/bin:/usr/bin:/bin bash -c 'for c in tclsh tclsh8.6 python2 python2.7; do command -v "$c" && "$c" </dev/null >/dev/null 2>&1 && echo "$c runs"; done' || true)"
	if grep -q runs <<<"$found"; then
		echo "still runnable outside /opt: $found"
		return 1
	fi
	echo "no tclsh, tclsh8.6, python2 or python2.7 runs from /usr/local/bin:/usr/bin:/bin"
}

# mount_layers ZIP... unpacks the layers on a fresh tmpfs at /opt and makes it read-only, as
# Lambda's /opt is. Call it in a private mount namespace only.
mount_layers() {
	mount -t tmpfs -o mode=0755 polyboot-opt /opt
	local zip
	for zip in "$@"; do
		unzip -q -o "$zip" -d /opt
	done
	mount -o remount,ro /opt
}
