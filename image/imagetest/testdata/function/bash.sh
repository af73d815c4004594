handler() {
  local init ca=no
  read -r -d '' init </proc/1/cmdline || true
  [[ -s /etc/pki/tls/certs/ca-bundle.crt ]] && ca=yes
  printf '{"lang":"bash","version":"%s","pid1":"%s","ca":"%s","event":%s}' "${BASH_VERSINFO[0]}.${BASH_VERSINFO[1]}" "$init" "$ca" "$1"
}
