# shellcheck shell=bash
# shellcheck disable=SC2034  # the variables set here are used by the scripts that source it
# Helpers for the interpreter-layer tests. Source it; do not run it.
# shellcheck source=common.sh source-path=SCRIPTDIR/..
source "$(dirname "${BASH_SOURCE[0]}")/../common.sh"

TESTS_DIR="$INTERP_SRC/tests"
PASSED=0
FAILED=0

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

# count_subchecks OUTPUT adds the "ok - " / "not ok - " lines that a check script printed.
count_subchecks() {
	local n
	n="$(grep -c '^ *ok - ' <<<"$1" || true)"
	PASSED=$((PASSED + n))
	n="$(grep -c '^ *not ok - ' <<<"$1" || true)"
	FAILED=$((FAILED + n))
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
	printf '%s: %d passed, %d failed\n' "$1" "$PASSED" "$FAILED"
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
