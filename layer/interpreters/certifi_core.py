# -*- coding: utf-8 -*-
"""certifi.core for polyboot's Python 2.7 layer: the system's CA bundle, found at run time.

Debian's certifi (2020.6.20) carries no cacert.pem of its own: its where() names Debian's bundle,
/etc/ssl/certs/ca-certificates.crt. Amazon Linux 2023 (provided.al2023) has no such file; its
bundle is /etc/pki/tls/certs/ca-bundle.crt. requests and botocore take their default CA bundle
from certifi.where(), so this version returns the first bundle that exists, Debian's path first.
Debian's own core.py is also Python 3 only (open(..., encoding=...)); this one is valid in both.
"""
import io
import os

DEBIAN_CA_CERTS_PATH = '/etc/ssl/certs/ca-certificates.crt'

# Where the systems a Lambda function may run on keep their PEM bundle, Debian's path first.
CA_BUNDLE_PATHS = (
    DEBIAN_CA_CERTS_PATH,               # Debian, Ubuntu, Alpine
    '/etc/pki/tls/certs/ca-bundle.crt',  # Amazon Linux, Fedora, RHEL
    '/etc/ssl/cert.pem',                 # others (OpenSSL's own default file name)
)


def where():
    """The path of the system's CA bundle: the first of CA_BUNDLE_PATHS that is a file."""
    for path in CA_BUNDLE_PATHS:
        if os.path.isfile(path):
            return path
    return DEBIAN_CA_CERTS_PATH


def contents():
    """The text of the CA bundle where() names."""
    with io.open(where(), 'r', encoding='ascii') as data:
        return data.read()


def read_text(_module, _path, encoding='ascii'):
    """certifi's read_text(): the bundle's text, whatever resource is asked for."""
    with io.open(where(), 'r', encoding=encoding) as data:
        return data.read()
