#!/usr/bin/env bash
# Test for layers of a foreign architecture (arm64 layers on an amd64 machine, or the reverse):
# runs the Tcl and Python checks of tests 1 and 2 under user-mode emulation (qemu-user, the
# static build from Debian 11's qemu-user-static, unpacked from its .deb into build/, nothing
# installed), in a chroot whose only other content is Debian 11's C library for that
# architecture (libc6, libgcc-s1: glibc 2.31). Needs root.
#
# Without binfmt_misc the emulated interpreter cannot start programs of its own architecture,
# so the Python check's subprocess step is skipped here (and reported as skipped).
#
# Usage: emulated.sh ARCH
# shellcheck source-path=SCRIPTDIR
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

set_arch "${1:?usage: emulated.sh ARCH}"
SYSROOT="$BUILD_DIR/emulated-root"

# qemu_name prints the qemu-user binary that runs ARCH's programs.
qemu_name() {
	case "$ARCH" in
	arm64) echo qemu-aarch64-static ;;
	amd64) echo qemu-x86_64-static ;;
	esac
}

# prepare builds SYSROOT: libc6 and libgcc-s1 of ARCH, the emulator at /qemu, empty mount points.
prepare() {
	lock_cache
	local target="$ARCH" qemu host_tools qemu_version
	qemu="$(qemu_name)"
	# The emulator, for this machine's architecture.
	set_arch "$(host_arch)"
	apt_setup
	apt_update
	fetch_debs qemu-user-static
	qemu_version="${DEB_VERSION[qemu-user-static]}"
	host_tools="$BUILD_ROOT/tools-$ARCH"
	mkdir -p "$host_tools"
	if [[ ! -x "$host_tools/$qemu" ]]; then
		dpkg-deb --fsys-tarfile "$(deb_path qemu-user-static)" |
			tar -x -O "./usr/bin/$qemu" >"$host_tools/$qemu.tmp"
		chmod 0755 "$host_tools/$qemu.tmp"
		mv "$host_tools/$qemu.tmp" "$host_tools/$qemu"
	fi
	# The C library, for the layers' architecture.
	set_arch "$target"
	apt_setup
	apt_update
	fetch_debs libc6 libgcc-s1
	extract_debs "$BUILD_DIR/emulated-debs" libc6 libgcc-s1
	rm -rf "$SYSROOT"
	mkdir -p "$SYSROOT"/{opt,tmp,proc,dev}
	cp -a "$BUILD_DIR/emulated-debs/libc6/." "$BUILD_DIR/emulated-debs/libgcc-s1/." "$SYSROOT/"
	install -m 0755 "$host_tools/$qemu" "$SYSROOT/qemu"
	echo "    emulator: $qemu from qemu-user-static $qemu_version"
	sed 's/^/    C library: /' "$BUILD_DIR/emulated-debs/versions"
}

if ! in_namespace; then
	[[ "$(id -u)" == 0 ]] || die "this test needs root (mount namespace, chroot); it did NOT run"
	[[ "$ARCH" != "$(host_arch)" ]] || die "$ARCH is this machine's architecture: run namespace.sh and chroot.sh instead"
	require_layers
	prepare
	enter_namespace "$0"
fi

in_emulator() { env -i LD_LIBRARY_PATH=/opt/lib POLYBOOT_CHECK_NO_EXEC=1 "$(command -v chroot)" "$SYSROOT" /qemu "$@"; }

main() {
	echo "# layers for $ARCH under user-mode emulation on this $(host_arch) machine"
	echo "    root: $SYSROOT"
	mount -t proc proc "$SYSROOT/proc"
	mount --bind /dev "$SYSROOT/dev"
	mount -t tmpfs -o mode=1777 polyboot-tmp "$SYSROOT/tmp"
	cp "$TESTS_DIR/check_tcl.tcl" "$TESTS_DIR/checklib.tcl" "$TESTS_DIR/check_python.py" "$SYSROOT/tmp/"
	mount -t tmpfs -o mode=0755 polyboot-opt "$SYSROOT/opt"
	unzip -q "$(layer_zip tcl)" -d "$SYSROOT/opt"
	unzip -q -o "$(layer_zip python2)" -d "$SYSROOT/opt"
	mount -o remount,ro "$SYSROOT/opt"
	run_script "tcl: checks under emulation" in_emulator /opt/bin/tclsh8.6 /tmp/check_tcl.tcl iso8859-1
	run_script "python: checks under emulation" in_emulator /opt/bin/python2.7 /tmp/check_python.py
	summary "layers-test emulated ($ARCH)"
}

main
