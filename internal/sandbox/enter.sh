# shellcheck shell=bash
# enter.sh (run by internal/sandbox inside `unshare -m --propagation private`, as root): builds a
# Lambda-like view of the filesystem in a private mount namespace, then runs a command in it as
# Lambda's unprivileged user.
#
#   bash enter.sh ROOTFS OPT TASK CA_BUNDLE RAPID UID GID NAME=VALUE... -- COMMAND...
#
# ROOTFS: the Debian 11 root (layer/runtime/rootfs.sh sandbox), mounted read-only as /.
# OPT, TASK: folders mounted read-only at /opt and /var/task. CA_BUNDLE: a file shown at
# /etc/pki/tls/certs/ca-bundle.crt ("" for none). RAPID: a static program of this machine (the
# emulator: Lambda's own part, outside the function's view on Lambda) shown read-only at
# /var/rapid/<its name> ("" for none). COMMAND (a path inside the sandbox) runs in /var/task with exactly the
# NAME=VALUE environment. The mounts vanish with the namespace.
set -euo pipefail
rootfs=$1 opt=$2 task=$3 ca=$4 rapid=$5 uid=$6 gid=$7
shift 7
envs=()
while (($#)) && [[ $1 != -- ]]; do
	envs+=("$1")
	shift
done
[[ ${1-} == -- ]] || { echo "enter.sh: no -- before the command" >&2; exit 2; }
shift

root=$(mktemp -d /tmp/polyboot-sandbox.XXXXXX)
# / is the root's own files, read-only.
mount --bind "$rootfs" "$root"
mount -o remount,bind,ro "$root"
# /dev: null, zero, random and urandom only (no fd, stdin, stdout, stderr, shm, pts).
mount -t tmpfs -o mode=0755,nosuid,noexec polyboot-dev "$root/dev"
for d in null zero random urandom; do
	: >"$root/dev/$d"
	mount --bind "/dev/$d" "$root/dev/$d"
done
mount -o remount,ro,bind "$root/dev"
mount -t proc -o nosuid,nodev,noexec proc "$root/proc"
# /tmp: the only writable place (512 MB as on Lambda).
mount -t tmpfs -o mode=1777,size=512m,nosuid,nodev polyboot-tmp "$root/tmp"
mount --bind "$opt" "$root/opt"
mount -o remount,bind,ro "$root/opt"
mount --bind "$task" "$root/var/task"
mount -o remount,bind,ro "$root/var/task"
# The CA bundle where Amazon Linux 2023 has it (and nowhere else: no /etc/ssl/certs).
mount -t tmpfs -o mode=0755 polyboot-pki "$root/etc/pki/tls/certs"
if [[ -n $ca ]]; then
	install -m 0644 "$ca" "$root/etc/pki/tls/certs/ca-bundle.crt"
fi
mount -o remount,ro "$root/etc/pki/tls/certs"
if [[ -n $rapid ]]; then
	mount -t tmpfs -o mode=0755 polyboot-rapid "$root/var/rapid"
	: >"$root/var/rapid/${rapid##*/}"
	mount --bind "$rapid" "$root/var/rapid/${rapid##*/}"
	mount -o remount,ro "$root/var/rapid"
fi
cd "$root"
# The root's own setpriv drops to Lambda's user, with no capabilities and no way to regain any.
exec chroot "$root" /usr/bin/setpriv --reuid="$uid" --regid="$gid" --clear-groups --no-new-privs \
	--inh-caps=-all --bounding-set=-all \
	/usr/bin/env -i "${envs[@]}" /bin/sh -c 'cd /var/task && exec "$@"' - "$@"
