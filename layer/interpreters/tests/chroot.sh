#!/usr/bin/env bash
# Test 2: runs the interpreters in a chroot of a minimal Debian 11 root (glibc 2.31, older than
# provided.al2023's 2.34), where nothing but the layer, copied to the chroot's /opt, provides Tcl
# or Python 2.7. The root is made once with debootstrap (installed with apt if missing) and cached
# in $POLYBOOT_CACHE/debootstrap/; each run mounts a private tmpfs on its /opt, so the cached root
# stays as debootstrap left it. Also serves and fetches HTTPS with each layer (Python: urllib2,
# requests, boto3; Tcl: http with tls), with a CA bundle at Amazon Linux's path. Needs root.
#
# Usage: chroot.sh [ARCH]
# shellcheck source-path=SCRIPTDIR
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

set_arch "${1:-amd64}"
ROOTFS="$CACHE_DIR/debootstrap/bullseye-minbase-$ARCH"
# Bump when make_rootfs changes, so cached roots are made again.
ROOTFS_VERSION=2

# make_rootfs creates the cached Debian 11 minimal root unless it is there already.
make_rootfs() {
	if [[ "$(cat "$ROOTFS/.polyboot-complete" 2>/dev/null)" == "$ROOTFS_VERSION" ]]; then
		return 0
	fi
	if ! command -v debootstrap >/dev/null; then
		log "debootstrap is missing: installing it with apt-get"
		apt-get update -q >&2
		DEBIAN_FRONTEND=noninteractive apt-get install -y -q debootstrap >&2
	fi
	local tmp="$ROOTFS.tmp" debs="$CACHE_DIR/debootstrap/debs-$ARCH"
	rm -rf "$tmp"
	mkdir -p "$debs"
	log "debootstrap --variant=minbase bullseye ($ARCH) into $ROOTFS (once; cached)"
	if ! debootstrap --variant=minbase --arch="$ARCH" --cache-dir="$debs" \
		--keyring="$DEBIAN_KEYRING" bullseye "$tmp" "$DEBIAN_MIRROR" >"$tmp.log" 2>&1; then
		tail -n 30 "$tmp.log" >&2
		die "debootstrap failed (log: $tmp.log)"
	fi
	# Mount points for this test: the layer at /opt, a CA bundle at Amazon Linux's path. minbase
	# has no /etc/hosts (netbase is not in it); Lambda has one, and the TLS test needs localhost.
	mkdir -p "$tmp/opt" "$tmp/etc/pki/tls/certs"
	printf '127.0.0.1\tlocalhost\n::1\t\tlocalhost ip6-localhost ip6-loopback\n' >"$tmp/etc/hosts"
	printf '%s\n' "$ROOTFS_VERSION" >"$tmp/.polyboot-complete"
	rm -rf "$ROOTFS"
	mv "$tmp" "$ROOTFS"
	rm -f "$tmp.log"
}

if ! in_namespace; then
	require_root_native "$ARCH"
	require_layers
	command -v openssl >/dev/null || die "openssl (the command) is needed to make test certificates; the test did NOT run"
	make_rootfs
	enter_namespace "$0"
fi

TCL_ZIP="$(layer_zip tcl)"
PY_ZIP="$(layer_zip python2)"
# The environment inside: nothing but what Lambda sets for these paths.
CHROOT_ENV=(env -i LD_LIBRARY_PATH=/opt/lib PATH=/opt/bin:/usr/bin:/bin)

in_chroot() { chroot "$ROOTFS" "${CHROOT_ENV[@]}" "$@"; }

# nothing_but_layer fails if the chroot has a Tcl or Python 2 of its own.
nothing_but_layer() {
	local found
	found="$(cd "$ROOTFS" && find . -xdev \( -name 'tclsh*' -o -name 'libtcl8*' -o -name 'python2*' \
		-o -name 'libpython2*' -o -path ./usr/share/tcltk -o -path ./usr/lib/python2.7 \) -print)"
	if [[ -n "$found" ]]; then
		echo "the chroot has its own: $found"
		return 1
	fi
	echo "no tclsh*, libtcl8*, python2*, libpython2*, /usr/share/tcltk or /usr/lib/python2.7 in the chroot"
	in_chroot /usr/bin/ldd --version | sed -n 1p
}

# make_certs DIR writes a throw-away CA and a server certificate for localhost signed by it.
make_certs() {
	local d="$1"
	openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=polyboot test CA" \
		-keyout "$d/ca.key" -out "$d/ca.pem" 2>/dev/null
	openssl req -newkey rsa:2048 -nodes -subj "/CN=localhost" \
		-keyout "$d/server.key" -out "$d/server.csr" 2>/dev/null
	printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\n' >"$d/ext.cnf"
	openssl x509 -req -in "$d/server.csr" -CA "$d/ca.pem" -CAkey "$d/ca.key" -CAcreateserial \
		-days 2 -extfile "$d/ext.cnf" -out "$d/server.pem" 2>/dev/null
}

main() {
	echo "# test 2: layers in a Debian 11 minimal chroot ($ARCH): $ROOTFS"
	mount -t proc proc "$ROOTFS/proc"
	mount --bind /dev "$ROOTFS/dev"
	mount -t tmpfs -o mode=1777 polyboot-tmp "$ROOTFS/tmp"
	cp "$TESTS_DIR/check_tcl.tcl" "$TESTS_DIR/check_python.py" "$TESTS_DIR/tls_check.py" "$TESTS_DIR/tls_check.tcl" "$TESTS_DIR/checklib.tcl" "$ROOTFS/tmp/"
	check "the chroot has no Tcl or Python 2 of its own" nothing_but_layer

	mount -t tmpfs -o mode=0755 polyboot-opt "$ROOTFS/opt"
	unzip -q "$TCL_ZIP" -d "$ROOTFS/opt"
	unzip -q -o "$PY_ZIP" -d "$ROOTFS/opt"
	mount -o remount,ro "$ROOTFS/opt"
	echo "# both layers copied to the chroot's /opt (read-only), LD_LIBRARY_PATH=/opt/lib"

	run_script "tcl: checks in the chroot" in_chroot /opt/bin/tclsh8.6 /tmp/check_tcl.tcl iso8859-1
	run_script "python: checks in the chroot" in_chroot /opt/bin/python2.7 /tmp/check_python.py

	mkdir -p "$ROOTFS/tmp/certs"
	make_certs "$ROOTFS/tmp/certs"
	mount -t tmpfs -o mode=0755 polyboot-pki "$ROOTFS/etc/pki/tls/certs"
	cp "$ROOTFS/tmp/certs/ca.pem" "$ROOTFS/etc/pki/tls/certs/ca-bundle.crt"
	if [[ -e "$ROOTFS/usr/lib/ssl" ]]; then
		fail "python: TLS" "the chroot has /usr/lib/ssl, so it cannot stand for Amazon Linux here"
	else
		run_script "python: TLS in the chroot" timeout 60 chroot "$ROOTFS" "${CHROOT_ENV[@]}" \
			/opt/bin/python2.7 /tmp/tls_check.py /tmp/certs/server.pem /tmp/certs/server.key
		run_script "tcl: TLS in the chroot" timeout 60 chroot "$ROOTFS" "${CHROOT_ENV[@]}" \
			/opt/bin/tclsh8.6 /tmp/tls_check.tcl /tmp/certs/server.pem /tmp/certs/server.key
	fi

	summary "layers-test chroot ($ARCH)"
}

main
