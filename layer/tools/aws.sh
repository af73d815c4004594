#!/bin/sh
# aws: the AWS CLI (Debian 11's awscli 1.19) of polyboot's tools layer, run by the layer's own
# Python 3.9 (-I: PYTHONPATH, PYTHONHOME and user site-packages of the function do not reach it).
#
# Debian's botocore trusts /etc/ssl/certs/ca-certificates.crt (through certifi); Amazon Linux has
# /etc/pki/tls/certs/ca-bundle.crt instead. When the first is missing and AWS_CA_BUNDLE is unset,
# AWS_CA_BUNDLE names the second.
layer=$(cd "${0%/*}/.." && pwd) || exit 127
if [ -z "${AWS_CA_BUNDLE:-}" ] && [ ! -e /etc/ssl/certs/ca-certificates.crt ] &&
	[ -e /etc/pki/tls/certs/ca-bundle.crt ]; then
	AWS_CA_BUNDLE=/etc/pki/tls/certs/ca-bundle.crt
	export AWS_CA_BUNDLE
fi
exec "$layer/bin/python3.9" -I -m awscli "$@"
