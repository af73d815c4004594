"""polyboot: let the bundled OpenSSL find the system's CA certificates.

The Python 2.7 layer bundles Debian's libssl 1.1, whose compiled-in certificate locations are
/usr/lib/ssl/cert.pem and /usr/lib/ssl/certs. Amazon Linux 2023 (provided.al2023) has neither; its
bundle is /etc/pki/tls/certs/ca-bundle.crt. Without help, every verified HTTPS connection (urllib2,
httplib, ssl.create_default_context) would fail there with CERTIFICATE_VERIFY_FAILED.

This sets SSL_CERT_FILE, which OpenSSL reads, to the first bundle found -- but only when neither
SSL_CERT_FILE nor SSL_CERT_DIR is set and OpenSSL's own default locations are missing, so an
explicit setting or a Debian-like system always wins. Child processes inherit the variable.
"""

import os


def _polyboot_ca_bundle():
    if "SSL_CERT_FILE" in os.environ or "SSL_CERT_DIR" in os.environ:
        return
    if os.path.exists("/usr/lib/ssl/cert.pem") or os.path.isdir("/usr/lib/ssl/certs"):
        return
    for path in (
        "/etc/pki/tls/certs/ca-bundle.crt",  # Amazon Linux, Fedora, RHEL
        "/etc/ssl/certs/ca-certificates.crt",  # Debian, Ubuntu, Alpine
        "/etc/ssl/cert.pem",
    ):
        if os.path.isfile(path):
            os.environ["SSL_CERT_FILE"] = path
            return


_polyboot_ca_bundle()
del _polyboot_ca_bundle
