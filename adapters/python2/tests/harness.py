"""Drives the adapter as a real child process, the way the polyboot bootstrap does.

The child gets the channel of docs/protocol.md (version 2): fd 0 = invoke lines, fd 1 = reply
lines, fd 2 = log stream, and no other descriptor; each invocation gets a fresh FIFO for its body
in a private directory, opened for reading before its invoke line is written, drained and
unlinked at its reply, as the bootstrap does. One poll loop writes the invoke line and reads the
output pipes and the FIFO, so a 6 MB event or body never deadlocks. Python 3 only (the adapter
under test may be Python 2.7).
"""
import errno
import fcntl
import json
import os
import select
import shutil
import subprocess
import tempfile
import time

ADAPTER_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MANIFEST = os.path.join(ADAPTER_DIR, 'adapter.json')
with open(MANIFEST) as _manifest:
    # What the bootstrap starts (start.py, which runs adapter.py).
    ADAPTER = os.path.join(ADAPTER_DIR, json.load(_manifest)['script'])

# Never handed to the child: they would change how the interpreter starts.
STRIPPED_ENV = ('PYTHONUNBUFFERED', 'PYTHONPATH', 'PYTHONHOME')
# Lambda's own variables are set by each test, never inherited from the caller's shell.
LAMBDA_ENV_PREFIXES = ('AWS_LAMBDA_', '_X_AMZN_TRACE_ID', '_HANDLER', 'LAMBDA_TASK_ROOT')

DEFAULT_ARN = 'arn:aws:lambda:us-east-1:123456789012:function:polyboot-test'


def manifest_args():
    """The interpreter arguments the bootstrap takes from adapter.json."""
    with open(MANIFEST) as manifest:
        return list(json.load(manifest)['interpreter']['args'])


def child_env(task_root, extra=None):
    """The environment a worker gets from the bootstrap, plus extra."""
    env = dict((key, value) for key, value in os.environ.items()
               if key not in STRIPPED_ENV and not key.startswith(LAMBDA_ENV_PREFIXES))
    env['POLYBOOT_PROTOCOL'] = '2'
    env['LAMBDA_TASK_ROOT'] = task_root
    env.setdefault('HOME', '/tmp')
    env.update(extra or {})
    return env


def _json_string(value):
    """A protocol string member: JSON-escaped, non-ASCII written as UTF-8."""
    return json.dumps(value, ensure_ascii=False).encode('utf-8')


def invoke_line(request_id, event, body='/nonexistent/body', deadline_ms=None, arn=DEFAULT_ARN,
                trace_id='', client_context='', cognito_identity='', tenant_id=''):
    """An invoke line in the protocol's exact layout; event is the payload's JSON bytes, body
    the path of the invocation's FIFO (Fifo.path)."""
    if deadline_ms is None:
        deadline_ms = int(time.time() * 1000) + 60000
    rest = b''.join([
        b',"type":"invoke","id":', _json_string(request_id),
        b',"body":', _json_string(body),
        b',"deadline_ms":', str(int(deadline_ms)).encode('ascii'),
        b',"invoked_function_arn":', _json_string(arn),
        b',"trace_id":', _json_string(trace_id),
        b',"client_context":', _json_string(client_context),
        b',"cognito_identity":', _json_string(cognito_identity),
        b',"tenant_id":', _json_string(tenant_id),
        b',"event":', event, b'}\n'])
    head = b'{"len":"%010d"' % (19 + len(rest))
    assert len(head) == 19
    return head + rest


class AdapterExited(AssertionError):
    """The worker closed its reply pipe before a reply line arrived."""


class Exchange(object):
    """What one exchange produced: the reply line, body bytes, log text, and its duration."""

    def __init__(self, reply, body, log, seconds):
        self.reply = reply
        self.body = body
        self.log = log
        self.seconds = seconds

    @property
    def log_lines(self):
        """The log stream split into lines (a final line without newline included)."""
        return self.log.split('\n')[:-1] if self.log.endswith('\n') else self.log.split('\n')


def _set_nonblocking(fd):
    flags = fcntl.fcntl(fd, fcntl.F_GETFL)
    fcntl.fcntl(fd, fcntl.F_SETFL, flags | os.O_NONBLOCK)


class Fifo(object):
    """One invocation's body FIFO, held open for reading (O_RDWR: reads never see end of file
    before the adapter opens it; they find nothing, EAGAIN, once it is drained)."""

    def __init__(self, directory, name):
        self.path = os.path.join(directory, name)
        os.mkfifo(self.path, 0o600)
        self.fd = os.open(self.path, os.O_RDWR | os.O_NONBLOCK | os.O_CLOEXEC)

    def close(self):
        """Close the read end and unlink the FIFO: a late writer gets EPIPE or ENOENT."""
        if self.fd is not None:
            os.close(self.fd)
            os.unlink(self.path)
            self.fd = None


class Worker(object):
    """One adapter process: handler is _HANDLER (e.g. 'pkg/mod.handler')."""

    def __init__(self, python, handler, task_root, env=None, args=None, adapter=ADAPTER):
        module_path, _, function = handler.rpartition('.')
        self.handler_file = os.path.join(task_root, module_path.replace('.', '/') + '.py')
        self.command = ([python] + (manifest_args() if args is None else list(args))
                        + [adapter, self.handler_file, function, module_path.replace('/', '.')])
        extra = {'_HANDLER': handler}
        extra.update(env or {})
        self.fifo_dir = tempfile.mkdtemp(prefix='polyboot-fifos-')
        os.chmod(self.fifo_dir, 0o700)
        self.proc = subprocess.Popen(
            self.command, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
            stderr=subprocess.PIPE, cwd=task_root, env=child_env(task_root, extra),
            close_fds=True)
        self.pid = self.proc.pid
        self._in = self.proc.stdin.fileno()
        self._out = self.proc.stdout.fileno()
        self._err = self.proc.stderr.fileno()
        for fd in (self._in, self._out, self._err):
            _set_nonblocking(fd)
        self._buffers = {self._out: bytearray(), self._err: bytearray()}
        self._open = set(self._buffers)
        self._count = 0
        self._fifos = 0

    # -- pipes --------------------------------------------------------------------------

    def pipe_inodes(self):
        """The inodes of the pipes behind the child's fds 0, 1 and 2 as the child got them."""
        return dict((name, os.fstat(fd).st_ino) for name, fd in
                    (('in', self._in), ('out', self._out), ('log', self._err)))

    def fifo(self):
        """A new body FIFO for the next invocation."""
        self._fifos += 1
        return Fifo(self.fifo_dir, 'body-%d' % self._fifos)

    def _read(self, fd, into=None):
        """Read what fd has now into its buffer (or into); False at EOF."""
        buffer = self._buffers[fd] if into is None else into
        while True:
            try:
                chunk = os.read(fd, 1 << 20)
            except OSError as error:
                if error.errno in (errno.EAGAIN, errno.EWOULDBLOCK):
                    return True
                raise
            if not chunk:
                self._open.discard(fd)
                return False
            buffer += chunk

    def _take(self, fd):
        data = bytes(self._buffers[fd])
        del self._buffers[fd][:]
        return data

    def exchange(self, data=b'', timeout=20.0, fifo=None):
        """Write data (an invoke line, or nothing) and return the next reply as an Exchange.

        The body is what fifo (the invocation's Fifo, then closed) carried, and the log what
        fd 2 carried since the previous reply, both drained after the reply line arrived, as
        the bootstrap does.
        """
        started = time.perf_counter()
        deadline = time.monotonic() + timeout
        pending = memoryview(data)
        body = bytearray()
        poller = select.poll()
        for fd in self._open:
            poller.register(fd, select.POLLIN)
        if fifo is not None:
            poller.register(fifo.fd, select.POLLIN)
        if pending:
            poller.register(self._in, select.POLLOUT)
        out = self._buffers[self._out]
        try:
            while b'\n' not in out:
                if self._out not in self._open:
                    raise AdapterExited('the adapter closed fd 1 without a reply; exit status '
                                        '%r; log:\n%s' % (self.proc.poll(), self._err_text()))
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise AssertionError('no reply within %.1f s; log:\n%s'
                                         % (timeout, self._err_text()))
                for fd, _ in poller.poll(remaining * 1000):
                    if fd == self._in:
                        pending = self._write(pending)
                        if not pending:
                            poller.unregister(self._in)
                    elif fifo is not None and fd == fifo.fd:
                        self._read(fd, body)
                    elif not self._read(fd):
                        poller.unregister(fd)
            if fifo is not None:
                self._read(fifo.fd, body)
        finally:
            if fifo is not None:
                fifo.close()
        if self._err in self._open:
            self._read(self._err)
        line, _, rest = bytes(out).partition(b'\n')
        out[:] = rest
        seconds = time.perf_counter() - started
        return Exchange(json.loads(line.decode('utf-8')), bytes(body),
                        self._take(self._err).decode('utf-8', 'replace'), seconds)

    def _write(self, pending):
        try:
            written = os.write(self._in, pending[:1 << 20])
        except OSError as error:
            if error.errno in (errno.EAGAIN, errno.EWOULDBLOCK):
                return pending
            raise
        return pending[written:]

    def _err_text(self):
        return bytes(self._buffers[self._err]).decode('utf-8', 'replace')

    # -- protocol -----------------------------------------------------------------------

    def ready(self, timeout=20.0):
        """The first reply (ready or init_error)."""
        return self.exchange(b'', timeout)

    def invoke(self, event, request_id=None, **members):
        """Send one invoke line (event: JSON bytes or str) and return the Exchange."""
        if isinstance(event, str):
            event = event.encode('utf-8')
        if request_id is None:
            self._count += 1
            request_id = 'req-%d-%d' % (self.pid, self._count)
        fifo = self.fifo()
        result = self.exchange(invoke_line(request_id, event, fifo.path, **members), fifo=fifo)
        result.request_id = request_id
        result.fifo = fifo.path
        return result

    def wait_log(self, text, timeout=10.0):
        """Wait until the log stream (since the last reply) holds text; False after timeout."""
        deadline = time.monotonic() + timeout
        while text.encode('utf-8') not in self._buffers[self._err]:
            remaining = deadline - time.monotonic()
            if remaining <= 0 or self._err not in self._open:
                return False
            ready, _, _ = select.select([self._err], [], [], remaining)
            if ready:
                self._read(self._err)
        return True

    def close(self, timeout=10.0):
        """Close fd 0 (EOF), wait for the exit; returns (status, remaining stdout, log)."""
        if not self.proc.stdin.closed:
            self.proc.stdin.close()
        deadline = time.monotonic() + timeout
        while self._open and time.monotonic() < deadline:
            ready, _, _ = select.select(list(self._open), [], [], 0.05)
            for fd in ready:
                self._read(fd)
        try:
            status = self.proc.wait(max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            self.kill()
            status = None
        self._close_pipes()
        return (status, self._take(self._out).decode('utf-8', 'replace'),
                self._take(self._err).decode('utf-8', 'replace'))

    def kill(self):
        """Kill the worker (cleanup after a failed test)."""
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self._close_pipes()

    def _close_pipes(self):
        for stream in (self.proc.stdin, self.proc.stdout, self.proc.stderr):
            if not stream.closed:
                stream.close()
        shutil.rmtree(self.fifo_dir, ignore_errors=True)
