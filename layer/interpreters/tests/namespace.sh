#!/usr/bin/env bash
# Test 1: runs tclsh8.6 and python2.7 from the interpreter layers alone.
#
# In a private mount namespace (the machine's mounts are untouched) each layer is unpacked on a
# read-only tmpfs at /opt, as Lambda does; the machine's own Tcl (tclsh, libtcl8.6, its script
# library) and Python 2.7 (pyenv's versions and shims, any /usr/bin/python2*) are hidden under
# empty bind mounts; the interpreters then run from /opt with an empty environment (env -i) and
# with PATH=/opt/bin:/usr/bin:/bin. Needs root.
#
# Usage: namespace.sh [ARCH]
# shellcheck source-path=SCRIPTDIR
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

set_arch "${1:-amd64}"

if ! in_namespace; then
	require_root_native "$ARCH"
	require_layers
	enter_namespace "$0"
fi

TCL_ZIP="$(layer_zip tcl)"
PY_ZIP="$(layer_zip python2)"
LAYER_PATH=/opt/bin:/usr/bin:/bin

# same_shared_files: entries present in both layers must be byte-identical.
same_shared_files() {
	identical_shared_entries "$TCL_ZIP" "$PY_ZIP"
}

tcl_empty_env() {
	local out
	out="$(env -i /opt/bin/tclsh8.6 <<<'puts [info nameofexecutable]|[info library]')"
	echo "$out"
	[[ "$out" == "/opt/bin/tclsh8.6|/opt/lib/tcl8.6" ]]
}

python_empty_env() {
	local out
	out="$(env -i /opt/bin/python2.7 -c 'import sys, os; print sys.executable, os.__file__')"
	echo "$out"
	[[ "$out" == "/opt/bin/python2.7 /opt/lib/python2.7/os.pyc" ]]
}

via_path() {
	local out
	out="$(env -i PATH="$LAYER_PATH" "$@")"
	echo "$out"
	[[ "$out" == /opt/bin/* ]]
}

main() {
	echo "# test 1: layers at /opt in a private mount namespace ($ARCH)"
	hide_host_interpreters
	check "machine's own Tcl and Python 2 are hidden" no_host_interpreters

	echo "# Tcl layer alone: $TCL_ZIP"
	mount_layers "$TCL_ZIP"
	check "tcl: starts with an empty environment" tcl_empty_env
	check "tcl: tclsh found on PATH=$LAYER_PATH" via_path bash -c 'command -v tclsh'
	run_script "tcl: checks with an empty environment" env -i /opt/bin/tclsh8.6 "$TESTS_DIR/check_tcl.tcl" iso8859-1
	run_script "tcl: checks with LANG=C.UTF-8, system library directories first on LD_LIBRARY_PATH" \
		env -i LANG=C.UTF-8 PATH="$LAYER_PATH" LD_LIBRARY_PATH="/lib64:/usr/lib64:/lib/$TRIPLET:/usr/lib/$TRIPLET:/opt/lib" \
		tclsh "$TESTS_DIR/check_tcl.tcl" utf-8
	umount /opt

	echo "# Python 2.7 layer alone: $PY_ZIP"
	mount_layers "$PY_ZIP"
	check "python: starts with an empty environment" python_empty_env
	check "python: python2 found on PATH=$LAYER_PATH" via_path python2 -c 'import sys; print sys.executable'
	run_script "python: checks with an empty environment" env -i /opt/bin/python2.7 "$TESTS_DIR/check_python.py"
	# Lambda's LD_LIBRARY_PATH lists the system's library directories before /opt/lib; the
	# layer's rpath must still win (this machine has its own libz, libexpat, libsqlite3, ...).
	run_script "python: checks with system library directories first on LD_LIBRARY_PATH" \
		env -i LD_LIBRARY_PATH="/lib64:/usr/lib64:/lib/$TRIPLET:/usr/lib/$TRIPLET:/opt/lib" \
		/opt/bin/python2.7 "$TESTS_DIR/check_python.py"
	check "python: the layer's concurrent.futures" env -i /opt/bin/python2.7 "$INTERP_SRC/futures/tests/futures_test.py"
	# The Python adapter's fidelity tests (UTF-8 default encoding, requestId, source lines of
	# standard-library frames, DEBUG lines) with the layer's python2.7, whose standard library
	# is .pyc only; the test driver is the machine's python3.
	check "python: the adapter's FidelityTests with the layer's python2.7" \
		env POLYBOOT_PYTHON=/opt/bin/python2.7 python3 "$REPO_ROOT/adapters/python2/tests/run.py" -v -k FidelityTests
	umount /opt

	echo "# both layers in one /opt"
	check "files shared by the layers are identical" same_shared_files
	mount_layers "$TCL_ZIP" "$PY_ZIP"
	check "tcl: starts with both layers in /opt" tcl_empty_env
	check "python: starts with both layers in /opt" python_empty_env
	umount /opt

	summary "layers-test namespace ($ARCH)"
}

main
