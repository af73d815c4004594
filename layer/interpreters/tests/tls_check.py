# -*- coding: utf-8 -*-
"""TLS check of the Python 2.7 layer (Python 2.7 syntax), run inside the test chroot.

Serves HTTPS on 127.0.0.1 with a certificate from a throw-away CA that the test put where Amazon
Linux keeps its CA bundle (/etc/pki/tls/certs/ca-bundle.crt), then fetches it with urllib2's
defaults: this passes only if the bundled OpenSSL finds that bundle (layer's sitecustomize) and
really verifies (a context without the CA must be refused).

Usage: python2.7 tls_check.py SERVER-CERT SERVER-KEY
"""
import BaseHTTPServer
import os
import ssl
import sys
import threading
import urllib2

FAILED = []
BODY = "polyboot-tls-ok"
# What the server answers a signed request with: S3's ListBuckets reply, for the boto3 check.
LIST_BUCKETS = ('<?xml version="1.0" encoding="UTF-8"?><ListAllMyBucketsResult '
                'xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Owner><ID>o</ID></Owner><Buckets>'
                '<Bucket><Name>tls-bucket</Name><CreationDate>2021-01-01T00:00:00.000Z</CreationDate>'
                '</Bucket></Buckets></ListAllMyBucketsResult>')


def check(name, fn):
    try:
        detail = fn()
    except Exception as e:
        FAILED.append(name)
        print("not ok - %s: %s: %s" % (name, type(e).__name__, e))
        return
    print("ok - %s%s" % (name, ": %s" % detail if detail else ""))


class Handler(BaseHTTPServer.BaseHTTPRequestHandler):
    def do_GET(self):
        body = LIST_BUCKETS if self.headers.get("Authorization", "").startswith("AWS4-HMAC-SHA256 ") else BODY
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


def main():
    cert, key = sys.argv[1], sys.argv[2]
    httpd = BaseHTTPServer.HTTPServer(("127.0.0.1", 0), Handler)
    httpd.socket = ssl.wrap_socket(httpd.socket, certfile=cert, keyfile=key, server_side=True)
    httpd.timeout = 10
    port = httpd.server_address[1]
    thread = threading.Thread(target=httpd.serve_forever)
    thread.daemon = True
    thread.start()

    def ca_bundle_found():
        got = os.environ.get("SSL_CERT_FILE")
        if got != "/etc/pki/tls/certs/ca-bundle.crt":
            raise AssertionError("SSL_CERT_FILE is %r" % got)
        return "sitecustomize set SSL_CERT_FILE=%s" % got

    def fetch_verified():
        body = urllib2.urlopen("https://localhost:%d/" % port, timeout=10).read()
        if body != BODY:
            raise AssertionError("body %r" % body)
        return "urllib2 fetched https://localhost:%d/ with certificate and host name verified" % port

    def unknown_ca_refused():
        ctx = ssl.SSLContext(ssl.PROTOCOL_SSLv23)
        ctx.verify_mode = ssl.CERT_REQUIRED
        ctx.check_hostname = True
        try:
            urllib2.urlopen("https://localhost:%d/" % port, timeout=10, context=ctx).read()
        except urllib2.URLError as e:
            if "CERTIFICATE_VERIFY_FAILED" not in str(e):
                raise
            return "refused: %s" % e.reason
        raise AssertionError("a context without the CA accepted the server")

    def requests_verified():
        import certifi
        import requests
        if certifi.where() != "/etc/pki/tls/certs/ca-bundle.crt":
            raise AssertionError("certifi.where() is %s" % certifi.where())
        response = requests.get("https://localhost:%d/" % port, timeout=10)
        if response.text != BODY:
            raise AssertionError("body %r" % response.text)
        return "requests.get verified https://localhost:%d/ with certifi.where() = %s" % (
            port, certifi.where())

    def requests_unknown_ca_refused():
        import requests
        try:
            requests.get("https://localhost:%d/" % port, timeout=10, verify=cert)
        except requests.exceptions.SSLError as e:
            return "refused: %s" % type(e).__name__
        raise AssertionError("a CA file without the CA accepted the server")

    def boto3_verified():
        import boto3
        client = boto3.client("s3", region_name="us-east-1", endpoint_url="https://localhost:%d" % port,
                              aws_access_key_id="AKIDEXAMPLE", aws_secret_access_key="secret")
        names = [b["Name"] for b in client.list_buckets()["Buckets"]]
        if names != ["tls-bucket"]:
            raise AssertionError("buckets %r" % names)
        return "boto3 list_buckets over verified HTTPS: %s" % names

    check("python: CA bundle found at Amazon Linux's path", ca_bundle_found)
    check("python: HTTPS with urllib2 defaults", fetch_verified)
    check("python: HTTPS with requests defaults (certifi finds the bundle)", requests_verified)
    check("python: requests refuses a server its CA file does not vouch for", requests_unknown_ca_refused)
    check("python: HTTPS with boto3 defaults", boto3_verified)
    check("python: HTTPS from an unknown CA is refused", unknown_ca_refused)
    httpd.shutdown()
    sys.exit(1 if FAILED else 0)


if __name__ == "__main__":
    main()
