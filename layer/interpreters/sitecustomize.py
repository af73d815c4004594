"""polyboot's sitecustomize for the Python 2.7 layer: CA certificates and source lines.

1. Let the bundled OpenSSL find the system's CA certificates.

The Python 2.7 layer bundles Debian's libssl 1.1, whose compiled-in certificate locations are
/usr/lib/ssl/cert.pem and /usr/lib/ssl/certs. Amazon Linux 2023 (provided.al2023) has neither; its
bundle is /etc/pki/tls/certs/ca-bundle.crt. Without help, every verified HTTPS connection (urllib2,
httplib, ssl.create_default_context) would fail there with CERTIFICATE_VERIFY_FAILED.

This sets SSL_CERT_FILE, which OpenSSL reads, to the first bundle found -- but only when neither
SSL_CERT_FILE nor SSL_CERT_DIR is set and OpenSSL's own default locations are missing, so an
explicit setting or a Debian-like system always wins. Child processes inherit the variable.

2. Show the source lines of the layer's own modules in tracebacks. The layer ships its standard
library and batteries (boto3, requests, ...) as .pyc files only, and their sources in one zip,
lib/python2.7/polyboot-sources.zip, that imports never look at. When linecache (used by traceback,
logging, warnings) finds no file for a frame under lib/python2.7/, it reads the line from there.
"""

import linecache
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


def _polyboot_source_lines():
    libdir = os.path.dirname(os.__file__)  # /opt/lib/python2.7
    archive = os.path.join(libdir, "polyboot-sources.zip")
    if not os.path.isfile(archive):
        return
    prefix = libdir + os.sep
    updatecache = linecache.updatecache

    def polyboot_updatecache(filename, module_globals=None):
        """linecache.updatecache, then the layer's source zip for a file it did not find."""
        lines = updatecache(filename, module_globals)
        if lines or not filename.startswith(prefix) or not filename.endswith(".py"):
            return lines
        import zipfile
        try:
            with zipfile.ZipFile(archive) as sources:
                data = sources.read(filename[len(prefix):])
        except (KeyError, IOError, OSError, zipfile.BadZipfile):
            return []
        lines = data.splitlines(True)
        if lines and not lines[-1].endswith("\n"):
            lines[-1] += "\n"
        # mtime None: checkcache keeps the entry (it cannot stat a file that is not there).
        linecache.cache[filename] = (len(data), None, lines, filename)
        return lines

    linecache.updatecache = polyboot_updatecache


_polyboot_ca_bundle()
_polyboot_source_lines()
del _polyboot_ca_bundle, _polyboot_source_lines
