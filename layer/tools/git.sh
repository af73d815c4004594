#!/bin/sh
# git: Debian 11's git, from polyboot's tools layer. Debian's git looks for its helpers
# (git-remote-https, git-upload-pack, ...) and templates in /usr; here they are in the layer.
#
# Debian's libcurl trusts /etc/ssl/certs/ca-certificates.crt; Amazon Linux has
# /etc/pki/tls/certs/ca-bundle.crt instead. When the first is missing and GIT_SSL_CAINFO is
# unset, GIT_SSL_CAINFO names the second.
layer=$(cd "${0%/*}/.." && pwd) || exit 127
GIT_EXEC_PATH=${GIT_EXEC_PATH:-$layer/libexec/git-core}
GIT_TEMPLATE_DIR=${GIT_TEMPLATE_DIR:-$layer/share/git-core/templates}
export GIT_EXEC_PATH GIT_TEMPLATE_DIR
if [ -z "${GIT_SSL_CAINFO:-}" ] && [ ! -e /etc/ssl/certs/ca-certificates.crt ] &&
	[ -e /etc/pki/tls/certs/ca-bundle.crt ]; then
	GIT_SSL_CAINFO=/etc/pki/tls/certs/ca-bundle.crt
	export GIT_SSL_CAINFO
fi
exec "$GIT_EXEC_PATH/git" "$@"
