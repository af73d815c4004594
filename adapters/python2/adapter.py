# -*- coding: utf-8 -*-
"""polyboot adapter for Python handlers (Python 2.7 and Python 3.6+).

Started by the polyboot bootstrap through start.py (which runs this file's compiled code, or
compiles it), as if it were

    python2.7 -u adapter.py <handler file> <function> <module>

with the channel of docs/protocol.md (version 2) on its descriptors: 0 = invoke lines in,
1 = reply lines out, 2 = log stream; each invoke line names a FIFO (its "body" member) that takes
that invocation's response body. It loads the handler once, writes {"type":"ready","protocol":2},
and then answers one invoke line after another until fd 0 reaches EOF.

The behaviour seen by handler code follows AWS's own Python runtime (awslambdaric): the handler
is imported by module name from the task root, called as handler(event, context), its return
value is JSON-encoded as the response, an exception becomes an error with the exception's class
name, message and formatted stack, and load failures use Lambda's Runtime.* error types.

This file must stay valid Python 2.7 and Python 3.6+ at the same time.
"""
from __future__ import absolute_import, division, print_function

import binascii
import errno
import fcntl
import gc
import importlib
import io
import json
import logging
import os
import re
import sys
import time
import traceback

PY2 = sys.version_info[0] == 2
if PY2:
    text_type = unicode  # noqa: F821 (Python 2 only)
else:
    text_type = str

# Lambda's error types for failures that are not the handler's own exceptions (awslambdaric's
# FaultException constants).
MARSHAL_ERROR = 'Runtime.MarshalError'
UNMARSHAL_ERROR = 'Runtime.UnmarshalError'
USER_CODE_SYNTAX_ERROR = 'Runtime.UserCodeSyntaxError'
HANDLER_NOT_FOUND = 'Runtime.HandlerNotFound'
IMPORT_MODULE_ERROR = 'Runtime.ImportModuleError'
BUILT_IN_MODULE_CONFLICT = 'Runtime.BuiltInModuleConflict'
MALFORMED_HANDLER_NAME = 'Runtime.MalformedHandlerName'
LAMBDA_CONTEXT_UNMARSHAL_ERROR = 'Runtime.LambdaContextUnmarshalError'

# awslambdaric's text log format; "\n" inside one record becomes "\r" (see _LambdaLogHandler).
_LOG_FORMAT = '[%(levelname)s]\t%(asctime)s.%(msecs)03dZ\t%(aws_request_id)s\t%(message)s'
_LOG_DATE_FORMAT = '%Y-%m-%dT%H:%M:%S'
# awslambdaric writes an error's log lines joined by "\r", indenting the stack with U+00A0.
_ERROR_LOG_LINE_TERMINATOR = u'\r'
_ERROR_LOG_INDENT = u'\u00a0'

_READ_BUFFER = 1 << 16
# Caps on an error reply (docs/protocol.md): errorMessage and the stackTrace in all, UTF-8 bytes.
_MAX_ERROR_MESSAGE = 256 * 1024
_MAX_STACK_TRACE = 256 * 1024
# Python 2 has no os.O_CLOEXEC; Linux's value is the same on every architecture but alpha, hppa,
# parisc and sparc.
_O_CLOEXEC = getattr(os, 'O_CLOEXEC', 0o2000000)
_REPLY_ENCODER = json.JSONEncoder(separators=(',', ':'))  # ASCII-only, compact reply lines
_ADAPTER_CODE_FILE = None  # co_filename of this file's frames; set in main()


# --- text helpers ---------------------------------------------------------------------------

def _text(value):
    """Return value as text (unicode in Python 2) without ever raising.

    Exceptions are converted like str(e) in Python 3; in Python 2 an exception whose arguments
    are unicode or UTF-8 bytes is converted without the UnicodeError str() would raise.
    """
    if isinstance(value, text_type):
        return value
    if isinstance(value, bytes):
        return value.decode('utf-8', 'replace')
    try:
        return text_type(value)
    except Exception:
        pass
    if PY2:
        try:
            return str(value).decode('utf-8', 'replace')
        except Exception:
            pass
    return u'<unprintable %s object>' % type(value).__name__


def _utf8(value):
    """Return text or bytes as UTF-8 bytes."""
    if isinstance(value, bytes):
        return value
    return value.encode('utf-8')


def _native(text):
    """text as the native str type (what __repr__ must return in Python 2)."""
    if PY2 and isinstance(text, unicode):  # noqa: F821 (Python 2 only)
        return text.encode('utf-8')
    return text


def _write_all(fd, data):
    """Write all of data (bytes) to fd, retrying partial and interrupted writes."""
    view = memoryview(data)
    while len(view):
        try:
            written = os.write(fd, view)
        except OSError as error:
            if error.errno == errno.EINTR:
                continue
            raise
        view = view[written:]


# --- the channel ----------------------------------------------------------------------------

class Channel(object):
    """The adapter's private ends of the protocol channel.

    Only the process that made it may use it: a forked copy of the adapter (a handler that
    calls os.fork() and whose child returns, or raises SystemExit, into the adapter) exits
    instead of reading an invoke line or writing a reply.
    """

    def __init__(self, in_fd, out_fd):
        self._in = io.open(in_fd, 'rb', buffering=_READ_BUFFER)
        self._out_fd = out_fd
        self.pid = os.getpid()

    def read_line(self):
        """Return the next invoke line (bytes, with its newline); b'' at EOF."""
        _exit_if_forked(self)
        return self._in.readline()

    def send(self, message):
        """Write one reply line (a dict) to the channel out, as ASCII JSON."""
        _exit_if_forked(self)
        if message.get('type') in ('error', 'init_error'):
            message = _bounded_error(message)
        line = _REPLY_ENCODER.encode(message)
        if not isinstance(line, bytes):
            line = line.encode('ascii')
        _write_all(self._out_fd, line + b'\n')


def _exit_if_forked(channel, status=0):
    """os._exit(status) in a forked copy of the adapter (after flushing what it printed)."""
    if os.getpid() != channel.pid:
        _flush_stdio()
        os._exit(status)


class Body(object):
    """One invocation's response body: its FIFO, opened at the first write, closed before the
    reply. After close() the body takes no more writes, so a thread or forked child of the
    handler that writes late never reaches another invocation's body."""

    def __init__(self, path, pid):
        self._path = path
        self._fd = None
        self._closed = False
        self._pid = pid  # the adapter's (Channel.pid): no getpid per invocation

    def write(self, data):
        """Write data (bytes) to the FIFO, opening it first if needed."""
        if self._closed:
            raise ValueError('context.write: the invocation has already ended')
        if not data:
            return
        if self._fd is None:
            # The bootstrap has the FIFO open for reading while the invocation runs, so this
            # does not block. A forked copy may come late: it opens without blocking (ENXIO, or
            # ENOENT once the FIFO is gone) instead of waiting forever, then writes blocking.
            if os.getpid() == self._pid:
                self._fd = os.open(self._path, os.O_WRONLY | _O_CLOEXEC)
            else:
                fd = os.open(self._path, os.O_WRONLY | os.O_NONBLOCK | _O_CLOEXEC)
                fcntl.fcntl(fd, fcntl.F_SETFL, fcntl.fcntl(fd, fcntl.F_GETFL) & ~os.O_NONBLOCK)
                self._fd = fd
        _write_all(self._fd, data)

    def close(self):
        """Close the FIFO (if it was opened); later writes raise ValueError."""
        self._closed = True
        if self._fd is not None:
            fd, self._fd = self._fd, None
            os.close(fd)


def _cut_utf8(text, limit):
    """(text cut to at most limit UTF-8 bytes at a character boundary, bytes dropped)."""
    data = _utf8(_text(text))
    if len(data) <= limit:
        return _text(text), 0
    cut = data[:limit].decode('utf-8', 'ignore')
    return cut, len(data) - len(cut.encode('utf-8'))


def _bounded_error(message):
    """An error reply with errorMessage and stackTrace cut to their caps (docs/protocol.md)."""
    reply = dict(message)
    text = reply.get('errorMessage')
    if isinstance(text, (bytes, text_type)) and len(text) > _MAX_ERROR_MESSAGE // 4:
        suffix_room = 64
        cut, dropped = _cut_utf8(text, _MAX_ERROR_MESSAGE - suffix_room)
        if dropped:
            reply['errorMessage'] = cut + u' [\u2026 %d bytes truncated]' % dropped
    trace = reply.get('stackTrace')
    if isinstance(trace, list) and trace:
        budget, kept, dropped = _MAX_STACK_TRACE - 64, [], 0
        for line in trace:
            if dropped:
                dropped += len(_utf8(_text(line)))
                continue
            cut, lost = _cut_utf8(line, budget)
            kept.append(cut)
            budget -= len(_utf8(cut))
            dropped += lost
        if dropped:
            kept.append(u'[\u2026 %d bytes truncated]' % dropped)
            reply['stackTrace'] = kept
    return reply


def _private_dup(fd):
    """Duplicate fd to a new close-on-exec descriptor and return it."""
    copy = os.dup(fd)
    flags = fcntl.fcntl(copy, fcntl.F_GETFD)
    fcntl.fcntl(copy, fcntl.F_SETFD, flags | fcntl.FD_CLOEXEC)
    return copy


def isolate_channel():
    """Move fds 0 and 1 out of the handler's reach and return them as a Channel.

    Afterwards fd 0 reads /dev/null and fd 1 is the log stream (a copy of fd 2), so nothing
    the handler or a program it runs does with stdin and stdout can touch the channel; the
    private copies are close-on-exec and are not inherited by subprocesses.
    """
    in_fd = _private_dup(0)
    out_fd = _private_dup(1)
    devnull = os.open(os.devnull, os.O_RDONLY)
    os.dup2(devnull, 0)
    os.close(devnull)
    os.dup2(2, 1)
    return Channel(in_fd, out_fd)


# --- stdout and stderr ----------------------------------------------------------------------

class _Unbuffered(object):
    """A stand-in for sys.stdout/sys.stderr that flushes after every write (as awslambdaric's).

    In Python 2, unicode is written as UTF-8: a pipe has no encoding there, and printing an
    event's non-ASCII text would otherwise raise UnicodeEncodeError.
    """

    def __init__(self, stream):
        self.__dict__['_stream'] = stream

    def __getattr__(self, name):
        return getattr(self._stream, name)

    def write(self, data):
        """Write data and flush; returns what the stream's write returned."""
        if PY2 and isinstance(data, unicode):  # noqa: F821 (Python 2 only)
            data = data.encode('utf-8')
        result = self._stream.write(data)
        self._stream.flush()
        return result

    def writelines(self, lines):
        """Write each of lines and flush."""
        for line in lines:
            self.write(line)


def use_utf8_default_encoding():
    """Python 2: make UTF-8 the default encoding, as AWS's python2.7 runtime did.

    So '{}'.format(u'orqu\u00eddeas') and str(u'\u00e9') work as they did there, instead of
    raising UnicodeEncodeError. site.py removes sys.setdefaultencoding; reload(sys) brings it back
    (and changes nothing else this early: stdout and stderr are not replaced yet).
    """
    if PY2 and sys.getdefaultencoding() != 'utf-8':
        reload(sys)  # noqa: F821 (Python 2 only)
        sys.setdefaultencoding('utf-8')


def install_stdio():
    """Make print and sys.stdout/sys.stderr writes reach the log stream immediately."""
    sys.stdout = _Unbuffered(sys.stdout)
    sys.stderr = _Unbuffered(sys.stderr)


def _flush_stdio():
    """Flush sys.stdout and sys.stderr, whatever they are now, and the original streams."""
    for stream in (sys.stdout, sys.stderr, sys.__stdout__, sys.__stderr__):
        try:
            stream.flush()
        except Exception:
            pass


# --- logging --------------------------------------------------------------------------------

class _Current(object):
    """The invocation in progress, as the log format and the context need it."""
    request_id = ''
    tenant_id = None


class _RequestFilter(logging.Filter):
    """Adds aws_request_id and tenant_id to every record, like awslambdaric's LambdaLoggerFilter."""

    def filter(self, record):
        record.aws_request_id = _Current.request_id
        record.tenant_id = _Current.tenant_id
        return True


class _LambdaLogHandler(logging.Handler):
    """Writes each record to the log stream (fd 2) as one line.

    Newlines inside a record (a multi-line message, a logged traceback) become "\\r", so one
    record stays one log event, as it does with AWS's own runtime.
    """

    def emit(self, record):
        try:
            text = self.format(record)
            if isinstance(text, bytes):
                text = text.replace(b'\n', b'\r') + b'\n'
            else:
                text = (text.replace(u'\n', u'\r') + u'\n').encode('utf-8')
            _write_all(2, text)
        except Exception:
            self.handleError(record)


_LOG_HANDLER = _LambdaLogHandler()


def _log_level_from_env(value):
    """The level AWS_LAMBDA_LOG_LEVEL asks for (awslambdaric's mapping), or None."""
    if not value:
        return None
    name = {'TRACE': 'DEBUG'}.get(value.upper(), value.upper())
    level = logging.getLevelName(name)
    return level if isinstance(level, int) else None


_ORIGINAL_BASIC_CONFIG = logging.basicConfig


def _basic_config(**kwargs):
    """logging.basicConfig that lets the handler's own setup replace the adapter's handler.

    On AWS basicConfig() does nothing because the runtime's handler is already installed; here
    a call from user code removes that handler first (only while it is the root logger's only
    handler), so the user's format, stream and level take effect.
    """
    root = logging.getLogger()
    removed = root.handlers == [_LOG_HANDLER]
    if removed:
        root.removeHandler(_LOG_HANDLER)
    try:
        return _ORIGINAL_BASIC_CONFIG(**kwargs)
    except BaseException:
        if removed and not root.handlers:
            root.addHandler(_LOG_HANDLER)
        raise


def setup_logging():
    """Give the root logger awslambdaric's handler and format, and AWS_LAMBDA_LOG_LEVEL."""
    formatter = logging.Formatter(_LOG_FORMAT, _LOG_DATE_FORMAT)
    formatter.converter = time.gmtime
    _LOG_HANDLER.setFormatter(formatter)
    _LOG_HANDLER.addFilter(_RequestFilter())
    root = logging.getLogger()
    level = _log_level_from_env(os.environ.get('AWS_LAMBDA_LOG_LEVEL'))
    if level is not None:
        root.setLevel(level)
    root.addHandler(_LOG_HANDLER)
    logging.basicConfig = _basic_config


# --- errors ---------------------------------------------------------------------------------

class FaultError(Exception):
    """A failure reported with one of Lambda's own Runtime.* error types."""

    def __init__(self, error_type, message, stack_trace=None):
        Exception.__init__(self, message)
        self.error_type = error_type
        self.message = message
        self.stack_trace = stack_trace or []


def _is_import_machinery(filename):
    """True for frames of the import system (importlib, imp), which precede a module's own."""
    if filename.startswith('<frozen '):
        return True
    directory = os.path.dirname(filename)
    return (os.path.basename(directory) == 'importlib'
            or os.path.basename(filename) in ('imp.py', 'imp.pyc'))


def _format_stack(tb, skip_import_machinery=False):
    """The stackTrace of an exception, as awslambdaric builds it.

    traceback.format_list() of (file, line, function, source) tuples, from the first frame that
    is not the adapter's own (nor, for load errors, the import system's) on; all frames when
    none is.
    """
    frames = [tuple(frame)[:4] for frame in traceback.extract_tb(tb)]
    for index, frame in enumerate(frames):
        filename = frame[0]
        if filename == _ADAPTER_CODE_FILE:
            continue
        if skip_import_machinery and _is_import_machinery(filename):
            continue
        frames = frames[index:]
        break
    return [_text(line) for line in traceback.format_list(frames)]


def _describe_exception(exc_info, skip_import_machinery=False):
    """(errorType, errorMessage, stackTrace) of an exception, as awslambdaric reports it."""
    error_class, error, tb = exc_info
    return (error_class.__name__, _text(error),
            _format_stack(tb, skip_import_machinery))


def _log_error(error_type, message, stack_trace):
    """Write an error to the log stream as one line, in awslambdaric's text format."""
    description = u'[ERROR]'
    if error_type:
        description += u' ' + error_type
    if message:
        if error_type:
            description += u':'
        description += u' ' + message
    lines = [description, u'Traceback (most recent call last):']
    for element in stack_trace:
        if element == u'':
            lines.append(u'')
            continue
        for line in element.splitlines():
            stripped = line.lstrip(u' ')
            lines.append(_ERROR_LOG_INDENT * (len(line) - len(stripped)) + stripped)
    _flush_stdio()
    text = _ERROR_LOG_LINE_TERMINATOR.join(lines).replace(u'\n', _ERROR_LOG_LINE_TERMINATOR)
    _write_all(2, (text + u'\n').encode('utf-8'))


def _error_reply(kind, error_type, message, stack_trace, request_id=None):
    """A reply line of kind 'error' or 'init_error'.

    requestId is the error body's fourth member, as awslambdaric's make_error() gives it: the
    invocation's id, "" for an init error.
    """
    reply = {'type': kind, 'errorType': error_type, 'errorMessage': message,
             'stackTrace': stack_trace, 'requestId': request_id or u''}
    if request_id is not None:
        reply['id'] = request_id
    return reply


# --- loading the handler --------------------------------------------------------------------

def setup_sys_path():
    """Put the task root first on sys.path, and take this adapter's own directory off it.

    Also stops Python from writing bytecode files into the task root.

    Also adds the layer directories AWS's Python runtimes put on the path (/opt/python and
    /opt/python/lib/pythonX.Y/site-packages) when they exist.
    """
    # No .pyc files next to the user's code: /var/task is read-only on Lambda anyway, and a
    # local run (bootstrap invoke) should leave the task folder as it was.
    sys.dont_write_bytecode = True
    adapter_dir = os.path.dirname(os.path.abspath(__file__))
    if sys.path and sys.path[0] and os.path.abspath(sys.path[0]) == adapter_dir:
        del sys.path[0]
    task_root = os.environ.get('LAMBDA_TASK_ROOT') or os.getcwd()
    layers = ['/opt/python/lib/python%d.%d/site-packages' % sys.version_info[:2], '/opt/python']
    sys.path[0:0] = [task_root] + [path for path in layers if os.path.isdir(path)]


def _handler_module_name(module, function):
    """The module as _HANDLER spells it (pkg/mod), for messages; module when that differs."""
    head, dot, tail = os.environ.get('_HANDLER', '').rpartition('.')
    if dot and tail == function and head.replace('/', '.') == module:
        return head
    return module


def _has_init(directory):
    """True when directory holds a Python 2 package's __init__ file."""
    return any(os.path.isfile(os.path.join(directory, '__init__' + suffix))
               for suffix in ('.py', '.pyc', '.pyo'))


def _py2_namespace_parents(module, handler_file):
    """Let Python 2 import a handler from folders that have no __init__.py.

    Python 3 imports lib/app.py as lib.app through an implicit namespace package; Python 2 has
    none. Walking down the handler file's parent folders, this imports each regular package (a
    folder with an __init__ file) and registers, for each folder without one, an empty package
    module whose __path__ is that folder, as Python 3 would. A top-level name that a regular
    module or package elsewhere on sys.path provides is left alone: it wins in Python 3 too.
    """
    import imp
    import types
    parts = module.split('.')
    directories = []
    directory = os.path.dirname(os.path.abspath(handler_file))
    for _ in parts[:-1]:
        directories.insert(0, directory)
        directory = os.path.dirname(directory)
    for depth in range(1, len(parts)):
        name = '.'.join(parts[:depth])
        directory = directories[depth - 1]
        if name in sys.modules:
            continue
        if os.path.basename(directory) != parts[depth - 1]:
            return  # not the layout the module name implies: let the import report it
        if _has_init(directory):
            importlib.import_module(name)
            continue
        if depth == 1 and _py2_findable(imp, name):
            return
        package = types.ModuleType(name)
        package.__path__ = [directory]
        package.__package__ = name
        sys.modules[name] = package
        if depth > 1:
            setattr(sys.modules['.'.join(parts[:depth - 1])], parts[depth - 1], package)


def _py2_findable(imp, name):
    """True when Python 2's import finds a top-level module or package name on sys.path."""
    try:
        found = imp.find_module(name)
    except ImportError:
        return False
    if found[0] is not None:
        found[0].close()
    return True


def load_handler(handler_file, function, module):
    """Import module and return its callable function, raising FaultError as awslambdaric does.

    Exceptions other than ImportError and SyntaxError raised while the module runs are left to
    the caller, which reports them with their own class name, as AWS does.
    """
    shown = _handler_module_name(module, function)
    if not module or not function:
        raise FaultError(MALFORMED_HANDLER_NAME,
                         u"Bad handler '%s.%s': expected <module>.<function>" % (shown, function))
    if module.split('.')[0] in sys.builtin_module_names:
        raise FaultError(BUILT_IN_MODULE_CONFLICT,
                         u'Cannot use built-in module %s as a handler module' % shown)
    try:
        if PY2 and '.' in module:
            _py2_namespace_parents(module, handler_file)
        loaded = importlib.import_module(module)
    except ImportError as error:
        raise FaultError(IMPORT_MODULE_ERROR,
                         u"Unable to import module '%s': %s" % (shown, _text(error)))
    except SyntaxError as error:
        trace = [u'  File "%s" Line %s\n    %s'
                 % (_text(error.filename), error.lineno, _text(error.text))]
        raise FaultError(USER_CODE_SYNTAX_ERROR,
                         u"Syntax error in module '%s': %s" % (shown, _text(error)), trace)
    try:
        handler = getattr(loaded, function)
    except AttributeError:
        raise FaultError(HANDLER_NOT_FOUND,
                         u"Handler '%s' missing on module '%s'" % (function, shown))
    if not callable(handler):
        raise FaultError(HANDLER_NOT_FOUND,
                         u"Handler '%s' on module '%s' is not callable" % (function, shown))
    return handler


# --- the context object ---------------------------------------------------------------------

def _repr(instance, fields):
    """awslambdaric's repr of its context classes: Name([field=value,...])."""
    values = u','.join(u'%s=%s' % (name, _text(getattr(instance, name))) for name in fields)
    return _native(u'%s([%s])' % (type(instance).__name__, values))


class CognitoIdentity(object):
    """context.identity: the Amazon Cognito identity of a mobile-SDK caller."""
    __slots__ = ['cognito_identity_id', 'cognito_identity_pool_id']

    def __repr__(self):
        return _repr(self, self.__slots__)


class Client(object):
    """context.client_context.client: the calling mobile application."""
    __slots__ = ['installation_id', 'app_title', 'app_version_name', 'app_version_code',
                 'app_package_name']

    def __repr__(self):
        return _repr(self, self.__slots__)


class ClientContext(object):
    """context.client_context: the client context a mobile-SDK caller sent."""
    __slots__ = ['custom', 'env', 'client']

    def __repr__(self):
        return _repr(self, self.__slots__)


def _object_from_dict(cls, values):
    """An instance of cls with each slot set from values (None when missing); None for None."""
    if values is None:
        return None
    instance = cls()
    for name in cls.__slots__:
        setattr(instance, name, values.get(name))
    return instance


def _parse_json_header(text, name):
    """The JSON object a context header holds, or None when it is empty."""
    if not text:
        return None
    try:
        value = json.loads(text)
    except Exception as error:
        raise FaultError(LAMBDA_CONTEXT_UNMARSHAL_ERROR,
                         u'Unable to parse %s JSON: %s' % (name, _text(error)))
    if not isinstance(value, dict):
        raise FaultError(LAMBDA_CONTEXT_UNMARSHAL_ERROR,
                         u'Unable to parse %s JSON: not a JSON object' % name)
    return value


class LambdaContext(object):
    """The context argument of a handler, with the API of AWS's Python runtime."""

    _REPR_FIELDS = ('aws_request_id', 'log_group_name', 'log_stream_name', 'function_name',
                    'memory_limit_in_mb', 'function_version', 'invoked_function_arn',
                    'client_context', 'identity', 'tenant_id')

    def __init__(self, invoke_id, client_context, cognito_identity, epoch_deadline_time_in_ms,
                 invoked_function_arn=None, tenant_id=None):
        environ = os.environ
        self.aws_request_id = invoke_id
        self.log_group_name = environ.get('AWS_LAMBDA_LOG_GROUP_NAME')
        self.log_stream_name = environ.get('AWS_LAMBDA_LOG_STREAM_NAME')
        self.function_name = environ.get('AWS_LAMBDA_FUNCTION_NAME')
        self.memory_limit_in_mb = environ.get('AWS_LAMBDA_FUNCTION_MEMORY_SIZE')
        self.function_version = environ.get('AWS_LAMBDA_FUNCTION_VERSION')
        self.invoked_function_arn = invoked_function_arn
        self.tenant_id = tenant_id
        self.client_context = _object_from_dict(ClientContext, client_context)
        if self.client_context is not None:
            self.client_context.client = _object_from_dict(Client, self.client_context.client)
        self.identity = _object_from_dict(CognitoIdentity, {})
        if cognito_identity is not None:
            self.identity.cognito_identity_id = cognito_identity.get('cognitoIdentityId')
            self.identity.cognito_identity_pool_id = cognito_identity.get(
                'cognitoIdentityPoolId')
        self._epoch_deadline_time_in_ms = epoch_deadline_time_in_ms
        self._streamed = False
        self._write_body = None  # set by _run: writes to this invocation's body FIFO

    def get_remaining_time_in_millis(self):
        """Milliseconds left until the invocation's deadline (0 once it has passed)."""
        remaining = self._epoch_deadline_time_in_ms - int(time.time() * 1000)
        return remaining if remaining > 0 else 0

    def write(self, data):
        """Send data (text, encoded as UTF-8, or bytes) as part of the response right away.

        With response streaming (POLYBOOT_STREAM_RESPONSE=1) each call reaches the caller as it is
        made. A handler that writes and returns None adds nothing more to the body; a value it
        returns is encoded and sent after what it wrote.
        """
        self._streamed = True
        self._write_body(data if isinstance(data, bytes) else _utf8(_text(data)))

    def log(self, msg):
        """Write str(msg) to the log stream as it is (no newline is added)."""
        _flush_stdio()
        _write_all(2, _utf8(_text(msg)))

    def __repr__(self):
        return _repr(self, self._REPR_FIELDS)


# --- the response body ----------------------------------------------------------------------

if PY2:
    from json import encoder as _json_encoder

    _ASCII_BYTES = bytes(bytearray(range(128)))
    _CONTROL = re.compile(r'[\x00-\x1f]')

    def _escape_control(match, _escapes=_json_encoder.ESCAPE_DCT):
        return _escapes[match.group(0)]

    def _py2_encode_non_ascii(value):
        """Python 2 json's encode_basestring (ensure_ascii=False), same text, for any string.

        The standard one calls Python for every character it escapes (a backslash, a quote, a
        control character): the 4.5 MB string of bench/event.go (é, \\" and \\\\) took 190 ms. Here
        backslashes and quotes are escaped by two C replaces (backslash first, so that the
        quotes' backslashes are not doubled), and only a string that holds a control
        character goes through the expression, which then matches nothing else: 36 ms.
        """
        text = value.replace('\\', '\\\\').replace('"', '\\"')
        if _CONTROL.search(text) is not None:
            text = _CONTROL.sub(_escape_control, text)
        return '"' + text + '"'

    def _py2_encode_string(value, _fast=_json_encoder.encode_basestring_ascii,
                           _slow=_py2_encode_non_ascii):
        """Python 2 json's encode_basestring (ensure_ascii=False) at C speed for ASCII text.

        Python 2 has no C version of it; for strings of ASCII without DEL (the one ASCII
        character the two escape differently) the C ensure_ascii encoder writes the same JSON.
        A byte string with non-ASCII bytes must be UTF-8 (UnicodeDecodeError otherwise), so
        that the JSON text is valid UTF-8 whatever mix of str and unicode made it.
        """
        if isinstance(value, unicode):  # noqa: F821 (Python 2 only)
            try:
                value.encode('ascii')
                is_ascii = True
            except UnicodeError:
                is_ascii = False
        else:
            is_ascii = not value.translate(None, _ASCII_BYTES)
            if not is_ascii:
                value.decode('utf-8')
        if is_ascii and '\x7f' not in value:
            return _fast(value)
        return _slow(value)

    class _TextJSONEncoder(json.JSONEncoder):
        """json.JSONEncoder(ensure_ascii=False) that encodes strings with _py2_encode_string."""

        def encode(self, o):
            if isinstance(o, basestring):  # noqa: F821 (Python 2 only)
                return _py2_encode_string(o)
            return json.JSONEncoder.encode(self, o)

        def iterencode(self, o, _one_shot=False):
            make_encoder = _json_encoder.c_make_encoder
            if not _one_shot or make_encoder is None:
                return json.JSONEncoder.iterencode(self, o, _one_shot)
            markers = {} if self.check_circular else None
            return make_encoder(markers, self.default, _py2_encode_string, self.indent,
                                self.key_separator, self.item_separator, self.sort_keys,
                                self.skipkeys, self.allow_nan)(o, 0)
else:
    _TextJSONEncoder = json.JSONEncoder


class ResponseEncoder(object):
    """Encodes a handler's return value as the response body (UTF-8 JSON bytes).

    Like awslambdaric: json with its default separators and ensure_ascii=False, bytes (Python 3)
    passed through as they are, decimal.Decimal written as its exact digits (NaN as NaN). The
    standard library cannot emit raw JSON text, so a Decimal is first encoded as a string token
    that holds a random per-process nonce, and the tokens are replaced afterwards; this costs
    nothing for values without Decimals.
    """

    def __init__(self):
        nonce = binascii.hexlify(os.urandom(12)).decode('ascii')
        self._token = u'polyboot-decimal-%s-' % nonce
        self._token_pattern = re.compile(u'"%s([0-9]+)"' % re.escape(self._token))
        self._decimals = []
        self._unicode = _TextJSONEncoder(ensure_ascii=False, default=self._default)
        self._ascii = json.JSONEncoder(ensure_ascii=True, default=self._default)

    def _default(self, value):
        """json's fallback for types it does not know: Decimal, else json's own TypeError."""
        decimal = sys.modules.get('decimal')
        if decimal is not None and isinstance(value, decimal.Decimal):
            if value.is_nan():
                return float('nan')
            self._decimals.append(str(value))
            return self._token + str(len(self._decimals) - 1)
        return json.JSONEncoder.default(self._unicode, value)

    def _encode_text(self, encoder, value):
        """JSON text of value, with Decimal tokens replaced by their digits."""
        del self._decimals[:]
        text = encoder.encode(value)
        if self._decimals:
            decimals = self._decimals
            text = self._token_pattern.sub(lambda match: decimals[int(match.group(1))], text)
        return text

    def encode(self, value):
        """The response body for value (bytes); raises on values JSON cannot encode."""
        if not PY2 and isinstance(value, bytes):
            return value
        if PY2:
            text = self._ascii_if_same(value)
            if text is not None:
                return text
        try:
            return _strict_utf8(self._encode_text(self._unicode, value))
        except UnicodeError:
            # Python 2: non-UTF-8 or mixed byte strings; both: lone surrogates. The ASCII
            # encoder decodes UTF-8 byte strings and escapes surrogates as \uXXXX, or raises.
            return _utf8(self._encode_text(self._ascii, value))


    def _ascii_if_same(self, value):
        """Python 2: value encoded entirely by json's C ASCII encoder, when that text is exactly
        what ensure_ascii=False gives: when it holds no \\u escape at all (every escape the two
        write differently is one). It spares the Python call per string of the general path:
        a 6 MB response of 50k records encodes in half the time (0.43 s to 0.21 s). None otherwise."""
        try:
            text = self._encode_text(self._ascii, value)
        except Exception:  # the general path raises the error the caller reports
            return None
        return None if '\\u' in text else text


_ENCODED_SURROGATE = re.compile(b'\xed[\xa0-\xbf]')


def _strict_utf8(text):
    """JSON text as valid UTF-8 bytes; raises UnicodeError when it has no valid UTF-8 form.

    Python 2's json returns bytes when no unicode was involved (their strings were checked by
    _py2_encode_string), and its UTF-8 codec encodes lone surrogates instead of refusing them
    as Python 3's does.
    """
    data = text if isinstance(text, bytes) else text.encode('utf-8')
    if PY2 and b'\xed' in data and _ENCODED_SURROGATE.search(data):
        raise UnicodeError('lone surrogate in the response')
    return data


# --- invocations ----------------------------------------------------------------------------

class Invoke(object):
    """One invoke line, parsed."""
    __slots__ = ['request_id', 'body', 'deadline_ms', 'invoked_function_arn', 'trace_id',
                 'client_context', 'cognito_identity', 'tenant_id', 'event', 'result']

    def __init__(self, message):
        self.request_id = message['id']
        self.body = message.get('body')
        self.deadline_ms = int(message.get('deadline_ms') or 0)
        self.invoked_function_arn = message.get('invoked_function_arn')
        self.trace_id = message.get('trace_id') or ''
        self.client_context = message.get('client_context') or ''
        self.cognito_identity = message.get('cognito_identity') or ''
        self.tenant_id = message.get('tenant_id') or None
        self.event = message.get('event')
        self.result = None  # the handler's return value, kept (with the event) until the reply is out


class BadInvokeLine(Exception):
    """An invoke line that cannot be parsed; request_id is set when it could be recovered."""

    def __init__(self, message, request_id=None):
        Exception.__init__(self, message)
        self.request_id = request_id


if PY2:
    import collections
    import thread  # noqa: F401 (Python 2 only)

    class JSONObject(dict):
        """A JSON object of the event in Python 2: a dict that keeps its keys in order.

        Python 2's dict forgets key order, so echoing an event would reorder its keys; Python 3's
        dict keeps it natively. collections.OrderedDict keeps it too, but builds every object key
        by key in Python: ten times slower on a large event. This dict subclass is filled by C
        code in one call and keeps the order in a list beside it.
        """

        def __init__(self, pairs=(), **kwargs):
            dict.__init__(self)
            self._order = []
            self.update(pairs, **kwargs)

        @classmethod
        def from_pairs(cls, pairs):
            """The decoder's hook: a JSONObject of (key, value) pairs, the last duplicate winning."""
            obj = dict.__new__(cls)
            dict.__init__(obj, pairs)
            if len(obj) == len(pairs):
                obj._order = [key for key, _ in pairs]
            else:
                seen = set()
                obj._order = [key for key, _ in pairs if not (key in seen or seen.add(key))]
            return obj

        def __setitem__(self, key, value):
            if key not in self:
                self._order.append(key)
            dict.__setitem__(self, key, value)

        def __delitem__(self, key):
            dict.__delitem__(self, key)
            self._order.remove(key)

        def __iter__(self):
            return iter(self._order)

        def __reversed__(self):
            return reversed(self._order)

        def keys(self):
            return list(self._order)

        def values(self):
            return [dict.__getitem__(self, key) for key in self._order]

        def items(self):
            return [(key, dict.__getitem__(self, key)) for key in self._order]

        def iterkeys(self):
            return iter(self._order)

        def itervalues(self):
            return (dict.__getitem__(self, key) for key in self._order)

        def iteritems(self):
            return ((key, dict.__getitem__(self, key)) for key in self._order)

        def update(self, other=(), **kwargs):
            if hasattr(other, 'keys'):
                other = [(key, other[key]) for key in other.keys()]
            for key, value in other:
                self[key] = value
            for key, value in kwargs.items():
                self[key] = value

        def setdefault(self, key, default=None):
            if key not in self:
                self[key] = default
            return dict.__getitem__(self, key)

        _missing = object()

        def pop(self, key, default=_missing):
            if key in self:
                self._order.remove(key)
                return dict.pop(self, key)
            if default is JSONObject._missing:
                raise KeyError(key)
            return default

        def popitem(self):
            if not self._order:
                raise KeyError('popitem(): dictionary is empty')
            key = self._order[-1]
            return key, self.pop(key)

        def clear(self):
            dict.clear(self)
            del self._order[:]

        def copy(self):
            return JSONObject.from_pairs(self.items())

        def __reduce__(self):
            return (JSONObject, (self.items(),))

        _repr_running = set()

        def __repr__(self):
            key = (id(self), thread.get_ident())
            if key in self._repr_running:
                return '{...}'
            self._repr_running.add(key)
            try:
                return '{%s}' % ', '.join('%r: %r' % item for item in self.items())
            finally:
                self._repr_running.discard(key)

    _loads = json.JSONDecoder(object_pairs_hook=JSONObject.from_pairs).decode
else:
    _loads = json.loads


def _without_gc(function, *args):
    """Call function with the cyclic garbage collector paused.

    Decoding or encoding a large event makes many small objects, which trigger collections
    that find nothing to free: in Python 2.7 they were 60% of a 6 MB decode.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        return function(*args)
    finally:
        if enabled:
            gc.enable()


def _salvage_request_id(line):
    """The id of an invoke line JSON cannot parse, cut out by the protocol's fixed layout."""
    start = line.find(b'"id":"')
    end = line.find(b'","body":"', start)
    if start < 0 or end < 0:
        return None
    try:
        return line[start + 6:end].decode('utf-8')
    except UnicodeDecodeError:
        return None


def parse_invoke(line):
    """The Invoke of a line, None for a message that is not an invoke; raises BadInvokeLine."""
    try:
        message = _without_gc(_loads, line)
    except (ValueError, RuntimeError) as error:
        # ValueError includes UnicodeDecodeError; RuntimeError (RecursionError in Python 3) is
        # an event nested deeper than the interpreter's recursion limit, as in awslambdaric.
        raise BadInvokeLine(u'Unable to unmarshal input: %s' % _text(error),
                            _salvage_request_id(line))
    if not isinstance(message, dict) or not isinstance(message.get('id'), text_type):
        raise BadInvokeLine(u'Unable to unmarshal input: not an invoke line')
    if message.get('type') != u'invoke':
        return None
    if not isinstance(message.get('body'), text_type) or not message['body']:
        raise BadInvokeLine(u'Unable to unmarshal input: no body member (channel protocol 2)',
                            message['id'])
    return Invoke(message)


def _set_trace_id(trace_id):
    """Set _X_AMZN_TRACE_ID for this invocation, or remove it when there is none."""
    if trace_id:
        os.environ['_X_AMZN_TRACE_ID'] = _utf8(trace_id) if PY2 else trace_id
    elif '_X_AMZN_TRACE_ID' in os.environ:
        del os.environ['_X_AMZN_TRACE_ID']


def _make_context(invoke):
    """The LambdaContext of an invocation."""
    return LambdaContext(
        invoke.request_id,
        _parse_json_header(invoke.client_context, 'Client Context'),
        _parse_json_header(invoke.cognito_identity, 'Cognito Identity'),
        invoke.deadline_ms,
        invoke.invoked_function_arn,
        invoke.tenant_id)


def _run(handler, encoder, invoke, channel, body):
    """Call the handler for one invocation: (body, None) or (None, error fields)."""
    try:
        context = _make_context(invoke)
        context._write_body = body.write
        result = invoke.result = handler(invoke.event, context)
        _exit_if_forked(channel)
        if result is None and context._streamed:
            return b'', None
    except FaultError as fault:
        _exit_if_forked(channel, 1)
        return None, (fault.error_type, fault.message, fault.stack_trace)
    except SystemExit as stop:
        # A forked child of the handler that calls sys.exit() ends as it asked.
        _exit_if_forked(channel, stop.code if isinstance(stop.code, int) else int(bool(stop.code)))
        return None, _describe_exception(sys.exc_info())
    except BaseException:  # KeyboardInterrupt too: the runtime keeps serving
        _exit_if_forked(channel, 1)
        return None, _describe_exception(sys.exc_info())
    try:
        return _without_gc(encoder.encode, result), None
    except Exception as error:
        return None, (MARSHAL_ERROR, u'Unable to marshal response: %s' % _text(error), [])


def handle(channel, handler, encoder, invoke):
    """Run one invocation and write its body and reply."""
    _Current.request_id = invoke.request_id
    _Current.tenant_id = invoke.tenant_id
    _set_trace_id(invoke.trace_id)
    body = Body(invoke.body, channel.pid)
    try:
        data, error = _run(handler, encoder, invoke, channel, body)
        _flush_stdio()
        if error is None:
            try:
                body.write(data)
            except (OSError, IOError) as failure:  # the FIFO is gone: say so instead of a body
                error = (u'Runtime.AdapterError',
                         u'cannot write the response body: %s' % _text(failure), [])
    finally:
        body.close()
    if error is None:
        channel.send({'type': 'response', 'id': invoke.request_id})
    else:
        _log_error(*error)
        channel.send(_error_reply('error', error[0], error[1], error[2], invoke.request_id))


def serve(channel, handler):
    """Answer invoke lines until EOF on the channel in; returns the exit status."""
    encoder = ResponseEncoder()
    while True:
        line = channel.read_line()
        if not line.endswith(b'\n'):
            return 0  # EOF (a partial last line means the bootstrap went away mid-line)
        try:
            invoke = parse_invoke(line)
        except BadInvokeLine as bad:
            if bad.request_id is None:
                _warn(u'%s; exiting' % _text(bad))
                return 2
            _log_error(UNMARSHAL_ERROR, _text(bad), [])
            channel.send(_error_reply('error', UNMARSHAL_ERROR, _text(bad), [], bad.request_id))
            continue
        if invoke is None:
            _warn(u'ignoring a channel message that is not an invoke line')
            continue
        handle(channel, handler, encoder, invoke)
        # Free the event and the handler's result now that the reply is out, not before it (the
        # result) or when the next line's Invoke replaces this one (the event): freeing 6 MB of
        # decoded records takes Python 2.7 about 50 ms, which an answer would otherwise wait for.
        invoke = None


# --- startup --------------------------------------------------------------------------------

def _warn(message):
    """Write one line about the adapter itself to the log stream."""
    _flush_stdio()
    _write_all(2, (u'polyboot python adapter: %s\n' % message).encode('utf-8'))


def _fail_init(channel, error_type, message, stack_trace):
    """Log a load failure, report it as init_error, and return the exit status."""
    _log_error(error_type, message, stack_trace)
    channel.send(_error_reply('init_error', error_type, message, stack_trace))
    return 1


def main(argv):
    """Run the adapter; returns the exit status."""
    global _ADAPTER_CODE_FILE
    _ADAPTER_CODE_FILE = main.__code__.co_filename
    if len(argv) != 4:
        sys.stderr.write('usage: adapter.py <handler file> <function> <module>\n')
        return 2
    handler_file, function, module = argv[1:]
    try:
        channel = isolate_channel()
    except OSError as error:
        sys.stderr.write('polyboot python adapter: fds 0 and 1 must be open: %s\n' % error)
        return 2
    use_utf8_default_encoding()
    install_stdio()
    setup_logging()
    setup_sys_path()
    try:
        handler = load_handler(handler_file, function, module)
    except FaultError as fault:
        return _fail_init(channel, fault.error_type, fault.message, fault.stack_trace)
    except BaseException:  # an exception the module raised while it was imported
        return _fail_init(channel, *_describe_exception(sys.exc_info(), True))
    _flush_stdio()
    channel.send({'type': 'ready', 'protocol': 2})
    return serve(channel, handler)


if __name__ == '__main__':
    sys.exit(main(sys.argv))
