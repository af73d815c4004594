# -*- coding: utf-8 -*-
"""Checks of the Python 2.7 layer, run by its own interpreter from /opt (Python 2.7 syntax).

Prints one "ok - " or "not ok - " line per check and exits 1 when any failed.
Usage: python2.7 check_python.py
"""
import os
import re as _re
import sys

FAILED = []

# Shared objects glibc provides on provided.al2023; every other one must come from /opt.
GLIBC = _re.compile(r"^(ld-linux[-\w.]*|ld|libc|libm|libpthread|libdl|librt|libutil|libresolv|"
                    r"libnss_\w+|libanl)(-[\d.]+)?\.so[\d.]*$")

# Optional system libraries a module may dlopen when present, and does without otherwise: uuid
# looks for the system's libuuid with ctypes.util.find_library at import time.
OPTIONAL = _re.compile(r"^libuuid\.so[\d.]*$")

# What handlers commonly import; each must import from the layer (or be built in).
MODULES = ["json", "datetime", "re", "hashlib", "ssl", "urllib2", "base64", "zlib", "sqlite3",
           "decimal", "collections", "logging", "subprocess", "socket", "uuid", "csv", "gzip",
           "bz2"]


# The batteries (lib/python2.7/dist-packages): module -> the version Debian 11 gives.
BATTERIES = [("boto3", "1.13.14"), ("botocore", "1.20.0"), ("s3transfer", "0.3.4"),
             ("jmespath", "0.10.0"), ("dateutil", "2.8.1"), ("six", "1.16.0"),
             ("urllib3", "1.26.5"), ("requests", "2.25.1"), ("chardet", "4.0.0"),
             ("idna", "2.10"), ("certifi", "2020.06.20"), ("concurrent.futures", None)]


def check(name, fn):
    try:
        detail = fn()
    except Exception as e:  # report every failure, keep going
        FAILED.append(name)
        print("not ok - %s: %s: %s" % (name, type(e).__name__, e))
        return
    print("ok - %s%s" % (name, ": %s" % detail if detail else ""))


def expect(got, want):
    if got != want:
        raise AssertionError("got %r, want %r" % (got, want))
    return repr(got)


def check_executable():
    if not sys.executable.startswith("/opt/bin/python2"):
        raise AssertionError("sys.executable is %r" % sys.executable)
    expect((sys.prefix, sys.exec_prefix), ("/opt", "/opt"))
    return sys.executable


def check_import(name):
    mod = __import__(name)
    where = getattr(mod, "__file__", None)
    if where is None:
        if name not in sys.builtin_module_names:
            raise AssertionError("no __file__ and not built in")
        return "built in"
    if not where.startswith("/opt/lib/python2.7/"):
        raise AssertionError("imported from %s" % where)
    return where


def check_pyc_only():
    import json
    if not json.__file__.endswith(".pyc"):
        raise AssertionError("json from %s" % json.__file__)
    import sitecustomize
    return "json from %s, sitecustomize from %s" % (json.__file__, sitecustomize.__file__)


def check_extension_modules():
    import _ssl, _hashlib, _sqlite3, _ctypes, _json, pyexpat, _elementtree, _multibytecodec
    import _csv, bz2, crypt, mmap, resource, termios, _multiprocessing, _codecs_jp
    mods = [_ssl, _hashlib, _sqlite3, _ctypes, _json, pyexpat, _elementtree, _multibytecodec,
            _csv, bz2, crypt, mmap, resource, termios, _multiprocessing, _codecs_jp]
    bad = [m.__name__ for m in mods if not m.__file__.startswith("/opt/lib/python2.7/lib-dynload/")]
    if bad:
        raise AssertionError("not from /opt: %s" % bad)
    return "%d extension modules from /opt/lib/python2.7/lib-dynload" % len(mods)


def check_functions():
    import base64, bz2, collections, csv, datetime, decimal, gzip, hashlib, json, logging
    import socket, sqlite3, ssl, subprocess, urllib2, uuid, zlib, StringIO, ctypes, crypt
    import xml.etree.ElementTree as ET
    expect(json.loads(json.dumps({"a": [1, 2.5, None, u"\u00e9"]})), {"a": [1, 2.5, None, u"\u00e9"]})
    expect(datetime.datetime.utcfromtimestamp(0).isoformat(), "1970-01-01T00:00:00")
    expect(hashlib.sha256(b"abc").hexdigest(),
           "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
    expect(hashlib.new("md5", b"").hexdigest(), "d41d8cd98f00b204e9800998ecf8427e")
    if not ssl.OPENSSL_VERSION.startswith("OpenSSL 1.1.1"):
        raise AssertionError("ssl.OPENSSL_VERSION %r" % ssl.OPENSSL_VERSION)
    ssl.create_default_context()
    expect(base64.b64encode(b"polyboot"), "cG9seWJvb3Q=")
    data = b"polyboot " * 100
    expect(zlib.decompress(zlib.compress(data)), data)
    expect(bz2.decompress(bz2.compress(data)), data)
    buf = StringIO.StringIO()
    with gzip.GzipFile(fileobj=buf, mode="wb") as g:
        g.write(data)
    expect(gzip.GzipFile(fileobj=StringIO.StringIO(buf.getvalue())).read(), data)
    db = sqlite3.connect(":memory:")
    db.execute("create table t (k text, v integer)")
    db.executemany("insert into t values (?, ?)", [("a", 1), ("b", 2)])
    expect(db.execute("select sum(v) from t").fetchone()[0], 3)
    expect(decimal.Decimal("1.1") + decimal.Decimal("2.2"), decimal.Decimal("3.3"))
    expect(collections.Counter("abca").most_common(1), [("a", 2)])
    out = StringIO.StringIO()
    log = logging.getLogger("polyboot-check")
    log.addHandler(logging.StreamHandler(out))
    log.warning("hello %s", "log")
    expect(out.getvalue(), "hello log\n")
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.bind(("127.0.0.1", 0))
    s.close()
    expect(str(uuid.uuid5(uuid.NAMESPACE_DNS, "python.org")), "886313e1-3b8a-5372-9b90-0c9aee199e5d")
    expect(uuid.uuid4().version, 4)
    rows = StringIO.StringIO()
    csv.writer(rows).writerow(["a", "b,c", 1])
    expect(list(csv.reader(StringIO.StringIO(rows.getvalue()))), [["a", "b,c", "1"]])
    expect(urllib2.Request("http://example.invalid/x").get_method(), "GET")
    expect(ctypes.CDLL(None).getpid(), os.getpid())
    expect(crypt.crypt("pw", "ab"), "abzlUXK5ed5rs")
    expect(ET.fromstring("<a><b>x</b></a>").find("b").text, "x")
    expect(u"\u00e9".encode("utf-8"), b"\xc3\xa9")
    expect(u"\u3042".encode("shift_jis"), b"\x82\xa0")
    return "json, datetime, hashlib, ssl, base64, zlib, bz2, gzip, sqlite3 %s, decimal, " \
           "collections, logging, socket, uuid, csv, urllib2, ctypes, crypt, ElementTree, " \
           "codecs" % sqlite3.sqlite_version


def check_subprocess():
    import subprocess
    expect(subprocess.check_output(["/bin/echo", "hi"]), "hi\n")
    expect(subprocess.check_output([sys.executable, "-c", "import sys; print sys.prefix"]), "/opt\n")
    return "/bin/echo and a child python2.7"


def check_mapped_objects():
    import ssl, sqlite3, ctypes, bz2, pyexpat, hashlib, crypt  # load every bundled library
    mapped = set()
    with open("/proc/self/maps") as maps:
        for line in maps:
            fields = line.split()
            if len(fields) >= 6 and ".so" in fields[5]:
                mapped.add(fields[5])
    foreign = [p for p in mapped if not p.startswith("/opt/") and not GLIBC.match(os.path.basename(p))
               and not OPTIONAL.match(os.path.basename(p))]
    if foreign:
        raise AssertionError("shared objects from outside /opt: %s" % sorted(foreign))
    ours = sorted(p for p in mapped if p.startswith("/opt/lib/lib"))
    return "%d shared objects mapped; bundled: %s" % (len(mapped), " ".join(os.path.basename(p) for p in ours))


def check_battery(name, version):
    mod = __import__(name, fromlist=["_"])
    if not mod.__file__.startswith("/opt/lib/python2.7/dist-packages/") or not mod.__file__.endswith(".pyc"):
        raise AssertionError("imported from %s" % mod.__file__)
    got = getattr(mod, "__version__", None)
    if version is not None and got != version:
        raise AssertionError("version %r, want %r" % (got, version))
    return "%s %s" % (mod.__file__, got or "")


def check_batteries_work():
    import boto3, botocore.session, jmespath, six, urllib3, requests, chardet, idna, certifi
    import dateutil.parser, dateutil.tz, dateutil.relativedelta, datetime
    from concurrent import futures
    expect(dateutil.parser.parse("2021-03-04T05:06:07+02:00").utcoffset(), datetime.timedelta(hours=2))
    expect(datetime.date(2021, 1, 31) + dateutil.relativedelta.relativedelta(months=1), datetime.date(2021, 2, 28))
    expect(jmespath.search("a[?b > `1`].c", {"a": [{"b": 1, "c": "x"}, {"b": 2, "c": "y"}]}), ["y"])
    expect(six.ensure_text(b"\xc3\xa9"), u"\u00e9")
    expect(idna.encode(u"b\u00fccher.example"), b"xn--bcher-kva.example")
    expect(chardet.detect(u"\u00e9t\u00e9 \u00e0 la plage, \u00e7a va tr\u00e8s bien".encode("latin-1") * 3)["encoding"],
           "ISO-8859-1")
    expect(urllib3.util.parse_url("https://h:8443/p?q").port, 8443)
    prepared = requests.Request("POST", "https://example.invalid/x", json={"k": 1}).prepare()
    expect((prepared.headers["Content-Type"], prepared.body), ("application/json", b'{"k": 1}'))
    if certifi.where() not in ("/etc/ssl/certs/ca-certificates.crt", "/etc/pki/tls/certs/ca-bundle.crt"):
        raise AssertionError("certifi.where() is %s" % certifi.where())
    with futures.ThreadPoolExecutor(2) as pool:
        expect(list(pool.map(abs, [-1, -2])), [1, 2])
    client = boto3.client("s3", region_name="eu-west-1", aws_access_key_id="AKIDEXAMPLE",
                          aws_secret_access_key="secret")
    url = client.generate_presigned_url("get_object", Params={"Bucket": "b", "Key": "k"}, ExpiresIn=60)
    if not url.startswith("https://") or "/k?" not in url or "Signature=" not in url:
        raise AssertionError("presigned URL %s" % url)
    names = boto3.session.Session().get_available_services()
    if not {"s3", "dynamodb", "sqs", "lambda", "ec2"} <= set(names):
        raise AssertionError("services: %d" % len(names))
    ddb = boto3.client("dynamodb", region_name="us-east-1", aws_access_key_id="a", aws_secret_access_key="b")
    expect(ddb.meta.service_model.operation_model("GetItem").name, "GetItem")
    return "dateutil, jmespath, six, idna, chardet, urllib3, requests, certifi (%s), futures, " \
        "boto3 (presigned URL, %d service models)" % (certifi.where(), len(names))


def check_stdlib_source_lines():
    import traceback, json, linecache
    try:
        json.loads("{")
    except ValueError:
        frames = traceback.extract_tb(sys.exc_info()[2])
    decoder = [f for f in frames if f[0] == "/opt/lib/python2.7/json/decoder.py"]
    if not decoder or not all(f[3] for f in decoder):
        raise AssertionError("json frames without source: %r" % frames)
    line = linecache.getline("/opt/lib/python2.7/dist-packages/boto3/__init__.py", 1)
    if not line.strip():
        raise AssertionError("no source line for boto3/__init__.py")
    if os.path.exists("/opt/lib/python2.7/json/decoder.py"):
        raise AssertionError("json/decoder.py is a file: the sources must be in the zip only")
    return "%s line %d: %s" % (decoder[-1][0], decoder[-1][1], decoder[-1][3])


def check_tls_context():
    import ssl
    ctx = ssl.create_default_context()
    return "CA certificates loaded: %d (SSL_CERT_FILE=%s)" % (
        ctx.cert_store_stats()["x509_ca"], os.environ.get("SSL_CERT_FILE"))


def main():
    check("python: sys.executable and sys.prefix under /opt", check_executable)
    for name in MODULES:
        check("python: import %s" % name, lambda name=name: check_import(name))
    check("python: standard library ships as .pyc only", check_pyc_only)
    for name, version in BATTERIES:
        check("python: battery %s" % name, lambda name=name, version=version: check_battery(name, version))
    check("python: batteries work", check_batteries_work)
    check("python: tracebacks show the source lines of the layer's modules", check_stdlib_source_lines)
    check("python: extension modules load from the layer", check_extension_modules)
    check("python: modules work", check_functions)
    if os.environ.get("POLYBOOT_CHECK_NO_EXEC") == "1":
        print("skip - python: subprocess: this run cannot start programs (user-mode emulation "
              "without binfmt_misc)")
    else:
        check("python: subprocess", check_subprocess)
    check("python: every non-glibc shared object comes from /opt", check_mapped_objects)
    check("python: ssl default context", check_tls_context)
    check("python: tiny script", lambda: expect(
        sorted(set(w.lower() for w in "the Quick brown fox jumps over the lazy dog".split()))[:3],
        ["brown", "dog", "fox"]))
    sys.exit(1 if FAILED else 0)


if __name__ == "__main__":
    main()
