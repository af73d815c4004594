# shellcheck shell=bash
# The bash handler of the image test: reports bash's version, PID 1 of the container (the emulator
# the entrypoint exec'd), whether the CA bundle is at Amazon Linux's path, and the event.
handler() {
  local init ca=no
  read -r -d '' init </proc/1/cmdline || true
  [[ -s /etc/pki/tls/certs/ca-bundle.crt ]] && ca=yes
  printf '{"lang":"bash","version":"%s","pid1":"%s","ca":"%s","event":%s}' "${BASH_VERSINFO[0]}.${BASH_VERSINFO[1]}" "$init" "$ca" "$1"
}
