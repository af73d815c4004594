# -*- coding: utf-8 -*-
"""concurrent.futures (PEP 3148) for Python 2.7: futures and a thread pool.

Part of polyboot's Python 2.7 layer, for s3transfer and boto3 (see README.md beside this file in
the polyboot repository): Future, Executor, ThreadPoolExecutor, wait, as_completed and their
constants and exceptions, with the semantics of Python 3's module. No ProcessPoolExecutor.
"""
import collections
import sys
import threading
import time

__all__ = ['FIRST_COMPLETED', 'FIRST_EXCEPTION', 'ALL_COMPLETED', 'CancelledError',
           'TimeoutError', 'Future', 'Executor', 'ThreadPoolExecutor', 'wait', 'as_completed']

FIRST_COMPLETED = 'FIRST_COMPLETED'
FIRST_EXCEPTION = 'FIRST_EXCEPTION'
ALL_COMPLETED = 'ALL_COMPLETED'

_PENDING = 'PENDING'
_RUNNING = 'RUNNING'
_CANCELLED = 'CANCELLED'
_NOTIFIED = 'CANCELLED_AND_NOTIFIED'  # cancelled, and waiters were told
_FINISHED = 'FINISHED'


class Error(Exception):
    """Base class of this module's exceptions."""


class CancelledError(Error):
    """The future was cancelled."""


class TimeoutError(Error):  # noqa: A001 (the name PEP 3148 gives it)
    """The operation did not finish within its timeout."""


class Future(object):
    """The result of a call that may not have finished yet."""

    def __init__(self):
        self._condition = threading.Condition()
        self._state = _PENDING
        self._result = None
        self._exception = None
        self._traceback = None
        self._waiters = []
        self._done_callbacks = []

    def _call(self, callback):
        """Call callback(self); an exception it raises is reported, not propagated."""
        try:
            callback(self)
        except Exception:
            sys.stderr.write('exception calling callback for %r\n' % self)

    def _invoke_callbacks(self):
        for callback in self._done_callbacks:
            self._call(callback)

    def __repr__(self):
        with self._condition:
            if self._state == _FINISHED and self._exception is not None:
                return '<Future at %#x state=finished raised %s>' % (
                    id(self), type(self._exception).__name__)
            if self._state == _FINISHED:
                return '<Future at %#x state=finished returned %s>' % (
                    id(self), type(self._result).__name__)
            return '<Future at %#x state=%s>' % (id(self), self._state.lower())

    def cancel(self):
        """Cancel the call if it has not started; True if the future is (now) cancelled."""
        with self._condition:
            if self._state in (_RUNNING, _FINISHED):
                return False
            if self._state in (_CANCELLED, _NOTIFIED):
                return True
            self._state = _CANCELLED
            self._condition.notify_all()
        self._invoke_callbacks()
        return True

    def cancelled(self):
        """True if the future was cancelled."""
        with self._condition:
            return self._state in (_CANCELLED, _NOTIFIED)

    def running(self):
        """True while the call runs."""
        with self._condition:
            return self._state == _RUNNING

    def done(self):
        """True once the call finished or the future was cancelled."""
        with self._condition:
            return self._state in (_CANCELLED, _NOTIFIED, _FINISHED)

    def _wait_done(self, timeout):
        """Wait until done (under the condition); raises TimeoutError or CancelledError."""
        if self._state not in (_CANCELLED, _NOTIFIED, _FINISHED):
            deadline = None if timeout is None else time.time() + timeout
            while self._state not in (_CANCELLED, _NOTIFIED, _FINISHED):
                remaining = None if deadline is None else deadline - time.time()
                if remaining is not None and remaining <= 0:
                    raise TimeoutError()
                self._condition.wait(remaining)
        if self._state in (_CANCELLED, _NOTIFIED):
            raise CancelledError()

    def result(self, timeout=None):
        """The call's return value, waiting up to timeout seconds; re-raises its exception."""
        with self._condition:
            self._wait_done(timeout)
            if self._exception is not None:
                if self._traceback is not None:
                    raise type(self._exception), self._exception, self._traceback
                raise self._exception
            return self._result

    def exception_info(self, timeout=None):
        """(exception, traceback) of the call, or (None, None) (the backport's extension)."""
        with self._condition:
            self._wait_done(timeout)
            return self._exception, self._traceback

    def exception(self, timeout=None):
        """The exception the call raised, or None, waiting up to timeout seconds."""
        return self.exception_info(timeout)[0]

    def add_done_callback(self, fn):
        """Call fn(future) when the future is done (at once if it is done already)."""
        with self._condition:
            if self._state not in (_CANCELLED, _NOTIFIED, _FINISHED):
                self._done_callbacks.append(fn)
                return
        self._call(fn)

    def set_running_or_notify_cancel(self):
        """For executors: mark the future running (True), or tell waiters it was cancelled (False)."""
        with self._condition:
            if self._state == _CANCELLED:
                self._state = _NOTIFIED
                for waiter in self._waiters:
                    waiter.add_cancelled(self)
                return False
            if self._state == _PENDING:
                self._state = _RUNNING
                return True
            raise RuntimeError('Future in unexpected state: %s' % self._state)

    def set_result(self, result):
        """For executors: the call returned result."""
        with self._condition:
            self._result = result
            self._state = _FINISHED
            for waiter in self._waiters:
                waiter.add_result(self)
            self._condition.notify_all()
        self._invoke_callbacks()

    def set_exception_info(self, exception, traceback):
        """For executors: the call raised exception, with its traceback."""
        with self._condition:
            self._exception = exception
            self._traceback = traceback
            self._state = _FINISHED
            for waiter in self._waiters:
                waiter.add_exception(self)
            self._condition.notify_all()
        self._invoke_callbacks()

    def set_exception(self, exception):
        """For executors: the call raised exception."""
        self.set_exception_info(exception, None)


class _Waiter(object):
    """What wait() and as_completed() block on: an event, and the futures that finished."""

    def __init__(self, kind, pending=0):
        self.kind = kind
        self.pending = pending  # for ALL_COMPLETED / FIRST_EXCEPTION
        self.event = threading.Event()
        self.lock = threading.Lock()
        self.finished = []

    def _add(self, future, stops):
        with self.lock:
            self.finished.append(future)
            self.pending -= 1
            if stops or self.kind in ('as_completed', FIRST_COMPLETED) or self.pending <= 0:
                self.event.set()

    def add_result(self, future):
        self._add(future, False)

    def add_exception(self, future):
        self._add(future, self.kind == FIRST_EXCEPTION)

    def add_cancelled(self, future):
        self._add(future, False)


def _done_states(futures):
    done = set(f for f in futures if f._state in (_NOTIFIED, _FINISHED))
    return done, set(futures) - done


def _acquire_all(futures):
    ordered = sorted(futures, key=id)
    for future in ordered:
        future._condition.acquire()
    return ordered


def _release_all(ordered):
    for future in ordered:
        future._condition.release()


def wait(fs, timeout=None, return_when=ALL_COMPLETED):
    """Wait for the futures fs; returns (done, not_done), two sets."""
    fs = set(fs)
    ordered = _acquire_all(fs)
    try:
        done, not_done = _done_states(fs)
        if return_when == FIRST_COMPLETED and done:
            return done, not_done
        if return_when == FIRST_EXCEPTION and any(
                f._state == _FINISHED and f._exception is not None for f in done):
            return done, not_done
        if not not_done:
            return done, not_done
        waiter = _Waiter(return_when, len(not_done))
        for future in fs:
            future._waiters.append(waiter)
    finally:
        _release_all(ordered)
    waiter.event.wait(timeout)
    ordered = _acquire_all(fs)
    try:
        for future in fs:
            future._waiters.remove(waiter)
        return _done_states(fs)
    finally:
        _release_all(ordered)


def as_completed(fs, timeout=None):
    """Yield the futures fs as they finish (finished ones first); TimeoutError after timeout."""
    deadline = None if timeout is None else time.time() + timeout
    fs = set(fs)
    ordered = _acquire_all(fs)
    try:
        finished, pending = _done_states(fs)
        waiter = _Waiter('as_completed')
        for future in fs:
            future._waiters.append(waiter)
    finally:
        _release_all(ordered)
    try:
        for future in finished:
            yield future
        while pending:
            remaining = None if deadline is None else deadline - time.time()
            if remaining is not None and remaining <= 0:
                raise TimeoutError('%d (of %d) futures unfinished' % (len(pending), len(fs)))
            waiter.event.wait(remaining)
            with waiter.lock:
                batch = waiter.finished
                waiter.finished = []
                waiter.event.clear()
            for future in batch:
                if future in pending:
                    pending.remove(future)
                    yield future
    finally:
        for future in fs:
            with future._condition:
                future._waiters.remove(waiter)


class Executor(object):
    """Runs calls asynchronously; subclasses implement submit()."""

    def submit(self, fn, *args, **kwargs):
        """Schedule fn(*args, **kwargs); returns its Future."""
        raise NotImplementedError()

    def map(self, fn, *iterables, **kwargs):
        """Like map(fn, *iterables), the calls running concurrently; timeout= bounds the whole."""
        timeout = kwargs.get('timeout')
        deadline = None if timeout is None else time.time() + timeout
        futures = [self.submit(fn, *args) for args in zip(*iterables)]

        def results():
            try:
                for future in futures:
                    if deadline is None:
                        yield future.result()
                    else:
                        yield future.result(deadline - time.time())
            finally:
                for future in futures:
                    future.cancel()
        return results()

    def shutdown(self, wait=True):
        """Free the executor's resources once pending calls are done."""

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc_val, exc_tb):
        self.shutdown(wait=True)
        return False


_WorkItem = collections.namedtuple('_WorkItem', 'future fn args kwargs')


class ThreadPoolExecutor(Executor):
    """An Executor running calls in up to max_workers threads (daemon threads, as the backport's)."""

    def __init__(self, max_workers=None, thread_name_prefix=''):
        if max_workers is None:
            max_workers = 5 * _cpu_count()
        if max_workers <= 0:
            raise ValueError('max_workers must be greater than 0')
        self._max_workers = max_workers
        self._queue = collections.deque()
        self._lock = threading.Condition()
        self._threads = set()
        self._idle = 0
        self._shutdown = False
        self._prefix = thread_name_prefix or 'ThreadPoolExecutor-%x' % id(self)

    def submit(self, fn, *args, **kwargs):
        with self._lock:
            if self._shutdown:
                raise RuntimeError('cannot schedule new futures after shutdown')
            future = Future()
            self._queue.append(_WorkItem(future, fn, args, kwargs))
            if self._idle > 0:
                self._lock.notify()
            elif len(self._threads) < self._max_workers:
                thread = threading.Thread(target=self._work,
                                          name='%s_%d' % (self._prefix, len(self._threads)))
                thread.daemon = True
                self._threads.add(thread)
                thread.start()
            return future

    def _next_item(self):
        """The next work item, or None once shut down with nothing left to do."""
        with self._lock:
            while not self._queue:
                if self._shutdown:
                    return None
                self._idle += 1
                self._lock.wait()
                self._idle -= 1
            return self._queue.popleft()

    def _work(self):
        while True:
            item = self._next_item()
            if item is None:
                return
            if not item.future.set_running_or_notify_cancel():
                continue
            try:
                result = item.fn(*item.args, **item.kwargs)
            except BaseException:
                error, traceback = sys.exc_info()[1:]
                item.future.set_exception_info(error, traceback)
                del error, traceback
            else:
                item.future.set_result(result)
            del item

    def shutdown(self, wait=True):
        with self._lock:
            self._shutdown = True
            self._lock.notify_all()
            threads = list(self._threads)
        if wait:
            for thread in threads:
                thread.join()


def _cpu_count():
    try:
        import multiprocessing
        return multiprocessing.cpu_count()
    except (ImportError, NotImplementedError):
        return 1
