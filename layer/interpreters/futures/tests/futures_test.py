# -*- coding: utf-8 -*-
"""Tests of the layer's concurrent.futures (Python 2.7): python2.7 futures_test.py [MODULE-DIR].

Without MODULE-DIR, tests the concurrent.futures importable as it is (the layer's, when run by the
layer's python2.7); with it, the one in MODULE-DIR/concurrent/futures. Waits use events, never sleeps.
"""
import os
import sys
import threading
import unittest

if len(sys.argv) > 1:
    sys.path.insert(0, sys.argv.pop(1))

from concurrent import futures  # noqa: E402


class FuturesTest(unittest.TestCase):
    def test_submit_result_and_exception(self):
        with futures.ThreadPoolExecutor(2) as pool:
            ok = pool.submit(lambda a, b=0: a + b, 1, b=2)
            bad = pool.submit(lambda: 1 // 0)
            self.assertEqual(ok.result(timeout=10), 3)
            self.assertIsInstance(bad.exception(timeout=10), ZeroDivisionError)
            self.assertRaises(ZeroDivisionError, bad.result, 10)
        self.assertTrue(ok.done() and bad.done())

    def test_timeout_and_cancel(self):
        gate = threading.Event()
        with futures.ThreadPoolExecutor(1) as pool:
            first = pool.submit(gate.wait, 30)
            queued = pool.submit(lambda: 'never')
            self.assertRaises(futures.TimeoutError, first.result, 0.05)
            self.assertTrue(queued.cancel())
            self.assertTrue(queued.cancelled())
            self.assertRaises(futures.CancelledError, queued.result)
            gate.set()
            self.assertTrue(first.result(10))
        self.assertFalse(first.cancel())

    def test_wait_first_exception_and_all_completed(self):
        gate = threading.Event()
        with futures.ThreadPoolExecutor(3) as pool:
            slow = pool.submit(gate.wait, 30)
            failing = pool.submit(lambda: {}['x'])
            done, not_done = futures.wait([slow, failing], timeout=10,
                                          return_when=futures.FIRST_EXCEPTION)
            self.assertEqual((done, not_done), (set([failing]), set([slow])))
            gate.set()
            done, not_done = futures.wait([slow, failing], timeout=10)
            self.assertEqual((done, not_done), (set([slow, failing]), set()))

    def test_wait_first_completed(self):
        gate = threading.Event()
        with futures.ThreadPoolExecutor(2) as pool:
            slow = pool.submit(gate.wait, 30)
            quick = pool.submit(lambda: 1)
            done, _ = futures.wait([slow, quick], timeout=10, return_when=futures.FIRST_COMPLETED)
            self.assertIn(quick, done)
            gate.set()

    def test_as_completed_map_and_callbacks(self):
        seen = []
        called = threading.Event()
        with futures.ThreadPoolExecutor(4) as pool:
            fs = [pool.submit(pow, 2, n) for n in range(20)]
            self.assertEqual(sorted(f.result() for f in futures.as_completed(fs, timeout=10)),
                             sorted(2 ** n for n in range(20)))
            self.assertEqual(list(pool.map(lambda a, b: a * b, [1, 2, 3], [4, 5, 6])), [4, 10, 18])
            last = pool.submit(lambda: 'x')
            last.add_done_callback(lambda f: (seen.append(f.result()), called.set()))
            self.assertTrue(called.wait(10))
            last.add_done_callback(lambda f: seen.append('again'))
        self.assertEqual(seen, ['x', 'again'])

    def test_shutdown_refuses_new_work_and_threads_are_bounded(self):
        pool = futures.ThreadPoolExecutor(3)
        names = set()
        lock = threading.Lock()

        def record():
            with lock:
                names.add(threading.current_thread().name)
        fs = [pool.submit(record) for _ in range(50)]
        futures.wait(fs, timeout=10)
        pool.shutdown(wait=True)
        self.assertLessEqual(len(names), 3)
        self.assertRaises(RuntimeError, pool.submit, record)

    def test_traceback_is_kept(self):
        with futures.ThreadPoolExecutor(1) as pool:
            future = pool.submit(lambda: [][1])
            try:
                future.result(10)
            except IndexError:
                import traceback
                text = ''.join(traceback.format_exception(*sys.exc_info()))
                self.assertIn('<lambda>', text)
            else:
                self.fail('no IndexError')


if __name__ == '__main__':
    print('concurrent.futures from %s' % os.path.dirname(futures.__file__))
    unittest.main(verbosity=1)
