# -*- coding: utf-8 -*-
"""Tests of adapter.py, run as a real child process under one interpreter.

run.py runs every class in TEST_CLASSES once per interpreter it finds, setting the class
attributes of AdapterTestCase; the handlers the tests load are in fixtures/task, copied to a
temporary task root per interpreter (plus bad_syntax.py, written there so that no file with a
syntax error lives in the repository).
"""
import calendar
import json
import os
import re
import shutil
import statistics
import subprocess
import tempfile
import time
import unittest

import harness

TESTS_DIR = os.path.dirname(os.path.abspath(__file__))
FIXTURES = os.path.join(TESTS_DIR, 'fixtures', 'task')
EXAMPLE = os.path.join(os.path.dirname(TESTS_DIR), 'example')
BAD_SYNTAX = 'def handler(event, context)\n    return 1\n'
O_CLOEXEC = 0o2000000
READY = {'type': 'ready', 'protocol': 2}

# Lines run.py prints after the tests: (interpreter label, text).
TIMINGS = []

LOG_PREFIX = r'\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z'


def make_task_root():
    """Temporary copies of fixtures/task (plus bad_syntax.py) and of example/, side by side.

    Returns (the directory to remove, the task root). Python 2 writes .pyc files next to what it
    imports: copies keep them out of the repository.
    """
    scratch = tempfile.mkdtemp(prefix='polyboot-python-tests-')
    task_root = os.path.join(scratch, 'task')
    ignore = shutil.ignore_patterns('__pycache__', '*.pyc')
    shutil.copytree(FIXTURES, task_root, ignore=ignore)
    shutil.copytree(EXAMPLE, os.path.join(scratch, 'example'), ignore=ignore)
    with open(os.path.join(task_root, 'bad_syntax.py'), 'w') as bad:
        bad.write(BAD_SYNTAX)
    return scratch, task_root


def encode_event(value):
    """An event the way Python writes JSON by default (json.dumps, ensure_ascii=False)."""
    return json.dumps(value, ensure_ascii=False).encode('utf-8')


class AdapterTestCase(unittest.TestCase):
    """Base class; run.py sets these attributes on a subclass per interpreter."""
    python = None      # path of the interpreter under test
    label = None       # e.g. 'python2.7 2.7.18'
    major = None       # 2 or 3
    task_root = None   # the temporary task root

    def setUp(self):
        if self.python is None:
            raise RuntimeError('run these tests with tests/run.py, which picks the interpreters')

    def start(self, handler, env=None, args=None):
        """A worker for _HANDLER=handler, killed when the test ends."""
        worker = harness.Worker(self.python, handler, self.task_root, env=env, args=args)
        self.addCleanup(worker.kill)
        return worker

    def start_ready(self, handler, env=None, args=None):
        """A worker whose first reply was ready."""
        worker = self.start(handler, env=env, args=args)
        first = worker.ready()
        self.assertEqual(first.reply, READY, first.log)
        return worker

    def path(self, name):
        return os.path.join(self.task_root, name)

    def assert_response(self, result, body=None):
        self.assertEqual(result.reply, {'type': 'response', 'id': result.request_id}, result.log)
        if body is not None:
            self.assertEqual(result.body, body)

    def assert_error(self, result, error_type):
        """Checks an error reply and returns it."""
        reply = result.reply
        self.assertEqual(reply.get('type'), 'error', reply)
        self.assertEqual(reply.get('id'), result.request_id)
        self.assertEqual(reply.get('errorType'), error_type, reply)
        self.assertIsInstance(reply.get('errorMessage'), str)
        self.assertIsInstance(reply.get('stackTrace'), list)
        for line in reply['stackTrace']:
            self.assertIsInstance(line, str)
        self.assertEqual(result.body, b'', 'an error reply must come without a body')
        return reply

    def assert_clean_exit(self, worker):
        status, out, log = worker.close()
        self.assertEqual(status, 0, log)
        self.assertEqual(out, '', 'nothing may follow on the channel out')

    def init_error(self, handler):
        """Starts a worker expected to fail loading; returns (reply, all of its log)."""
        worker = self.start(handler)
        first = worker.ready()
        reply = first.reply
        self.assertEqual(reply.get('type'), 'init_error', reply)
        self.assertEqual(sorted(reply),
                         ['errorMessage', 'errorType', 'requestId', 'stackTrace', 'type'])
        self.assertEqual(reply['requestId'], '', "awslambdaric's init error body has requestId ''")
        status, out, log = worker.close()
        self.assertEqual(status, 1, 'an adapter exits 1 after init_error')
        self.assertEqual(out, '', 'nothing may follow init_error')
        log = first.log + log
        self.assertIn('[ERROR] %s: ' % reply['errorType'], log)
        return reply, log


class ProtocolTests(AdapterTestCase):
    """The channel: ready, invoke/response, body bytes, EOF."""

    def test_ready_then_exit_zero_at_eof(self):
        worker = self.start('echo.handler')
        first = worker.ready()
        self.assertEqual(first.reply, READY)
        self.assertEqual(first.body, b'')
        self.assertEqual(first.log, '')
        started = time.monotonic()
        self.assert_clean_exit(worker)
        self.assertLess(time.monotonic() - started, 2.0)

    def test_start_runs_the_compiled_adapter_that_suits_the_interpreter(self):
        """start.py runs adapter.pyc (as layer/python2/compile.py makes it for the layer) under
        Python 2.7 without compiling adapter.py; under another Python, whose magic number the
        file does not carry, it compiles adapter.py."""
        copy = tempfile.mkdtemp(prefix='polyboot-start-')
        self.addCleanup(shutil.rmtree, copy)
        shutil.copy(os.path.join(harness.ADAPTER_DIR, 'start.py'), copy)
        source = os.path.join(harness.ADAPTER_DIR, 'adapter.py')
        if self.major == 2:
            compile_py = os.path.join(harness.ADAPTER_DIR, '..', '..', 'layer', 'python2', 'compile.py')
            subprocess.check_call([self.python, compile_py, source, os.path.join(copy, 'adapter.pyc')])
            with open(os.path.join(copy, 'adapter.py'), 'w') as f:
                f.write('raise SystemExit("start.py compiled adapter.py instead of running adapter.pyc")\n')
        else:
            shutil.copy(source, copy)
            with open(os.path.join(copy, 'adapter.pyc'), 'wb') as f:
                f.write(b'\x03\xf3\r\n\0\0\0\0not code for this Python')
        worker = harness.Worker(self.python, 'echo.handler', self.task_root,
                                adapter=os.path.join(copy, 'start.py'))
        self.addCleanup(worker.kill)
        first = worker.ready()
        self.assertEqual(first.reply, READY, first.log)
        self.assert_response(worker.invoke(b'{"a": 1}'), b'{"a": 1}')

    def test_echo_is_byte_exact(self):
        worker = self.start_ready('echo.handler')
        cases = [
            {'ascii': 'hello world', 'n': 1},
            {'name': 'José Ñandú', 'city': 'Zürich', 'jp': '日本語', 'ru': 'привет'},
            {'emoji': '😀🎉👩\u200d👩\u200d👧', 'flag': '🇯🇵', 'astral': '\U0001d11e'},
            {'nul': 'a\u0000b', 'controls': '\u0001\u001f\u007f', 'quote': 'say "hi"',
             'backslash': 'a\\b', 'newlines': 'one\ntwo\r\nthree\tfour', 'seps': '\u2028\u2029'},
            # non-ASCII strings that need escapes: Python 2's replace-based path for them
            {'é': 'café "quoted" back\\slash\\"\n\r\t\b\f\u0000\u001f\u007f\u2028 \\\\\"',
             'long': 'naïve \\"résumé\\" ' * 50, 'only': 'é\n'},
            {'z': [1, -2, 3.5, 0.1, 1e+100, 1.5e-10, 123456789012345678901234567890],
             'a': {'null': None, 'true': True, 'false': False, 'empty': {}, 'list': []},
             'm': [{'k': 'v'}, [[]], '']},
            'just a string é', 42, -0.5, None, True, [], {},
        ]
        for value in cases:
            with self.subTest(value=value):
                event = encode_event(value)
                self.assert_response(worker.invoke(event), event)
        self.assert_clean_exit(worker)

    def test_other_json_spellings_come_back_in_python_formatting(self):
        worker = self.start_ready('echo.handler')
        event = b'{"e":"\\u00e9\\ud83d\\ude00","n":1.0E2 ,"a" : [ 1,2 ],"s":"\\/"}'
        expected = encode_event(json.loads(event.decode('utf-8')))
        self.assert_response(worker.invoke(event), expected)

    def test_event_objects_look_like_dicts(self):
        worker = self.start_ready('echo.describe')
        result = worker.invoke(b'{"b": 1, "a": "x"}')
        self.assert_response(result)
        expected = "{u'b': 1, u'a': u'x'}" if self.major == 2 else "{'b': 1, 'a': 'x'}"
        self.assertEqual(json.loads(result.body.decode('utf-8')),
                         {'repr': expected, 'is_dict': True})

    def test_event_objects_keep_key_order_through_changes(self):
        worker = self.start_ready('echo.mutate')
        result = worker.invoke(b'{"b": 1, "a": 2, "c": 3, "d": {"x": 1, "w": 2}, "b": 4}')
        self.assert_response(result)
        got = json.loads(result.body.decode('utf-8'), object_pairs_hook=lambda pairs: pairs)
        got = dict(got)
        self.assertEqual([key for key, _ in got['event']], ['b', 'd', 'added', 'z', 'y'])
        self.assertEqual(got['keys'], ['b', 'd', 'added', 'z', 'y'])
        self.assertEqual(got['copy_keys'], ['b', 'd', 'added', 'z', 'y', 'only_in_copy'])
        self.assertEqual((got['popped'], got['missing'], got['len'], got['in']), (3, 'default', 5, True))
        self.assertEqual(got['values'], ['changed', [('x', 1), ('w', 2)]])
        self.assertEqual(got['items'], [['b', 'changed']])

    def test_lone_surrogate_is_escaped_not_sent_as_invalid_utf8(self):
        worker = self.start_ready('echo.handler')
        result = worker.invoke(b'{"s": "\\ud800x", "t": "\xc3\xa9"}')
        self.assert_response(result, b'{"s": "\\ud800x", "t": "\\u00e9"}')

    def test_many_invocations_in_a_row(self):
        worker = self.start_ready('echo.handler')
        for number in range(50):
            event = encode_event({'n': number, 'text': 'é' * number})
            self.assert_response(worker.invoke(event), event)
        self.assert_clean_exit(worker)

    def test_works_without_dash_u(self):
        worker = self.start_ready('logs.handler', args=[])
        result = worker.invoke(b'{}')
        self.assert_response(result, b'{"done": true}')
        for text in ('print line é😀', 'stdout no newline|', 'raw fd 1', 'child stdout'):
            self.assertIn(text, result.log)

    def test_unparseable_invoke_line_gets_unmarshal_error(self):
        worker = self.start_ready('echo.handler')
        fifo = worker.fifo()
        result = worker.exchange(harness.invoke_line('broken-1', b'{"open": ', fifo.path),
                                 fifo=fifo)
        self.assertEqual(result.reply['type'], 'error')
        self.assertEqual(result.reply['id'], 'broken-1')
        self.assertEqual(result.reply['errorType'], 'Runtime.UnmarshalError')
        self.assertTrue(result.reply['errorMessage'].startswith('Unable to unmarshal input: '))
        self.assert_response(worker.invoke(b'[1]'), b'[1]')

    def test_deeply_nested_events_are_refused_quickly_and_the_worker_stays(self):
        # A JSON text nested deeper than the recursion limit is Runtime.UnmarshalError, as in
        # awslambdaric, and costs the worker nothing: the next invocation is served by it.
        worker = self.start_ready('echo.handler')
        pid = worker.pid
        for depth in (1000, 100000, 500000):
            for opener, closer in ((b'[', b']'), (b'{"a":', b'}')):
                with self.subTest(depth=depth, opener=opener):
                    event = opener * depth + b'1' + closer * depth
                    started = time.monotonic()
                    reply = self.assert_error(worker.invoke(event), 'Runtime.UnmarshalError')
                    self.assertLess(time.monotonic() - started, 15.0)  # milliseconds here; loaded CI has room
                    self.assertTrue(reply['errorMessage'].startswith(
                        'Unable to unmarshal input: maximum recursion depth exceeded'), reply)
                    self.assert_response(worker.invoke(b'[1]'), b'[1]')
        self.assertEqual(worker.pid, pid, 'the worker must not be restarted')
        nested = b'[' * 500 + b']' * 500
        self.assert_response(worker.invoke(nested), nested)
        self.assert_clean_exit(worker)

    def test_message_that_is_not_an_invoke_is_ignored(self):
        worker = self.start_ready('echo.handler')
        fifo = worker.fifo()
        line = (b'{"type":"future-message","id":"x"}\n'
                + harness.invoke_line('after', b'"ok"', fifo.path))
        result = worker.exchange(line, fifo=fifo)
        self.assertEqual(result.reply, {'type': 'response', 'id': 'after'})
        self.assertEqual(result.body, b'"ok"')
        self.assertIn('not an invoke line', result.log)


class ContextTests(AdapterTestCase):
    """The context object and the per-invocation environment."""

    ENV = {'AWS_LAMBDA_FUNCTION_NAME': 'polyboot-fn', 'AWS_LAMBDA_FUNCTION_VERSION': '$LATEST',
           'AWS_LAMBDA_FUNCTION_MEMORY_SIZE': '256',
           'AWS_LAMBDA_LOG_GROUP_NAME': '/aws/lambda/polyboot-fn',
           'AWS_LAMBDA_LOG_STREAM_NAME': '2026/11/26/[$LATEST]0123abcd'}
    CLIENT_CONTEXT = {
        'client': {'installation_id': 'inst-1', 'app_title': 'Åpp', 'app_version_name': '1.0',
                   'app_version_code': '7', 'app_package_name': 'com.example'},
        'custom': {'k': 'v', 'n': 1}, 'env': {'platform': 'Android'}}
    COGNITO = {'cognitoIdentityId': 'us-east-1:id', 'cognitoIdentityPoolId': 'us-east-1:pool'}

    def invoke_context(self, worker, **members):
        result = worker.invoke(b'{}', **members)
        self.assert_response(result)
        return json.loads(result.body.decode('utf-8')), result

    def test_all_fields(self):
        worker = self.start_ready('context_info.handler', env=self.ENV)
        deadline = int(time.time() * 1000) + 5000
        arn = 'arn:aws:lambda:eu-west-1:123456789012:function:polyboot-fn:live'
        info, result = self.invoke_context(
            worker, request_id='6f1c-request', deadline_ms=deadline, arn=arn,
            trace_id='Root=1-5759e988-bd862e3fe1be46a994272793;Sampled=1',
            client_context=json.dumps(self.CLIENT_CONTEXT),
            cognito_identity=json.dumps(self.COGNITO), tenant_id='tenant-7')
        self.assertEqual(info['aws_request_id'], '6f1c-request')
        self.assertEqual(info['function_name'], 'polyboot-fn')
        self.assertEqual(info['function_version'], '$LATEST')
        self.assertEqual(info['memory_limit_in_mb'], '256')  # a string, as in awslambdaric
        self.assertEqual(info['log_group_name'], '/aws/lambda/polyboot-fn')
        self.assertEqual(info['log_stream_name'], '2026/11/26/[$LATEST]0123abcd')
        self.assertEqual(info['invoked_function_arn'], arn)
        self.assertEqual(info['identity'], {'cognito_identity_id': 'us-east-1:id',
                                            'cognito_identity_pool_id': 'us-east-1:pool'})
        self.assertEqual(info['client_context'], self.CLIENT_CONTEXT)
        self.assertEqual(info['tenant_id'], 'tenant-7')
        self.assertEqual(info['trace_id'], 'Root=1-5759e988-bd862e3fe1be46a994272793;Sampled=1')
        self.assertEqual(info['remaining_type'], 'int')
        self.assertGreater(info['remaining'], 3000)
        self.assertLessEqual(info['remaining'], 5000)
        self.assertTrue(info['repr'].startswith(
            'LambdaContext([aws_request_id=6f1c-request,log_group_name=/aws/lambda/polyboot-fn,'),
            info['repr'])
        self.assertIn('context.log without newline|', result.log)

    def test_absent_optional_headers(self):
        worker = self.start_ready('context_info.handler')
        info, _ = self.invoke_context(worker)
        self.assertIsNone(info['client_context'])
        self.assertEqual(info['identity'], {'cognito_identity_id': None,
                                            'cognito_identity_pool_id': None})
        self.assertIsNone(info['tenant_id'])
        self.assertIsNone(info['trace_id'])
        self.assertIsNone(info['function_name'])

    def test_remaining_time_is_zero_after_the_deadline(self):
        worker = self.start_ready('context_info.handler')
        info, _ = self.invoke_context(worker, deadline_ms=int(time.time() * 1000) - 1000)
        self.assertEqual(info['remaining'], 0)

    def test_trace_id_is_set_per_invocation_and_removed_when_empty(self):
        worker = self.start_ready('context_info.handler')
        self.assertEqual(self.invoke_context(worker, trace_id='Root=1-a')[0]['trace_id'],
                         'Root=1-a')
        self.assertIsNone(self.invoke_context(worker, trace_id='')[0]['trace_id'])
        self.assertEqual(self.invoke_context(worker, trace_id='Root=1-b')[0]['trace_id'],
                         'Root=1-b')

    def test_unparseable_client_context(self):
        worker = self.start_ready('context_info.handler')
        reply = self.assert_error(worker.invoke(b'{}', client_context='{not json'),
                                  'Runtime.LambdaContextUnmarshalError')
        self.assertTrue(reply['errorMessage'].startswith('Unable to parse Client Context JSON: '))
        self.invoke_context(worker)


class ErrorTests(AdapterTestCase):
    """Exceptions, exits and return values that cannot be sent."""

    def test_exception_with_stack_trace(self):
        worker = self.start_ready('errors.value_error')
        result = worker.invoke(b'{}')
        reply = self.assert_error(result, 'ValueError')
        self.assertEqual(reply['errorMessage'], 'boom é 😀')
        stack = reply['stackTrace']
        source = self.path('errors.py')
        self.assertEqual(len(stack), 3, stack)
        self.assertTrue(stack[0].startswith('  File "%s", line ' % source), stack[0])
        self.assertIn(', in value_error\n    _outer(', stack[0])
        self.assertIn(', in _inner\n    raise ValueError(message)\n', stack[2])
        self.assertFalse([line for line in stack if 'adapter.py' in line])
        # One log line, in awslambdaric's format: "\r" between lines, U+00A0 indentation.
        error_lines = [line for line in result.log_lines if line.startswith('[ERROR]')]
        self.assertEqual(len(error_lines), 1, result.log)
        self.assertTrue(error_lines[0].startswith(
            '[ERROR] ValueError: boom é 😀\rTraceback (most recent call last):\r'
            '\u00a0\u00a0File "%s", line ' % source), error_lines[0])

    def test_multi_line_message_is_one_log_line(self):
        worker = self.start_ready('errors.multiline')
        result = worker.invoke(b'{}')
        reply = self.assert_error(result, 'ValueError')
        self.assertEqual(reply['errorMessage'], 'line one\nline two')
        self.assertEqual(len(result.log_lines), 1, result.log)
        self.assertTrue(result.log.startswith('[ERROR] ValueError: line one\rline two\r'))

    def test_exception_class_name_is_the_error_type(self):
        worker = self.start_ready('errors.custom')
        reply = self.assert_error(worker.invoke(b'{}'), 'PaymentDeclined')
        self.assertEqual(reply['errorMessage'], 'card 4242 declined')

    def test_system_exit_is_an_error_and_the_worker_keeps_serving(self):
        worker = self.start_ready('errors.system_exit')
        for _ in range(2):
            reply = self.assert_error(worker.invoke(b'{}'), 'SystemExit')
            self.assertEqual(reply['errorMessage'], '3')
        self.assertIsNone(worker.proc.poll())
        self.assert_clean_exit(worker)

    def test_keyboard_interrupt_is_an_error_and_the_worker_keeps_serving(self):
        worker = self.start_ready('errors.keyboard_interrupt')
        for _ in range(2):
            self.assert_error(worker.invoke(b'{}'), 'KeyboardInterrupt')
        self.assert_clean_exit(worker)

    def test_unserialisable_return_values(self):
        for function, text in (('returns_set', 'is not JSON serializable'),
                               ('returns_object', 'is not JSON serializable'),
                               ('returns_circular', 'Circular reference')):
            with self.subTest(function=function):
                worker = self.start_ready('errors.' + function)
                for _ in range(2):
                    reply = self.assert_error(worker.invoke(b'{}'), 'Runtime.MarshalError')
                    self.assertTrue(reply['errorMessage'].startswith(
                        'Unable to marshal response: '), reply)
                    self.assertIn(text, reply['errorMessage'])
                    self.assertEqual(reply['stackTrace'], [])
                self.assert_clean_exit(worker)

    def test_decimal_is_written_with_its_exact_digits(self):
        worker = self.start_ready('errors.returns_decimal')
        result = worker.invoke(b'{}')
        self.assert_response(result)
        value = json.loads(result.body.decode('utf-8'), parse_float=str, parse_constant=str)
        self.assertEqual(value, {'price': '1.10', 'big': '12345678901234567890.000000001',
                                 'nan': 'NaN', 'list': ['-0.5', 2]})

    def test_bytes_return_value(self):
        worker = self.start_ready('errors.returns_bytes')
        result = worker.invoke(b'{}')
        if self.major >= 3:  # bytes are the body as they are (awslambdaric)
            self.assert_response(result, b'raw \x00 bytes')
        else:  # a Python 2 str is text: a JSON string (the python2.7 runtime)
            self.assert_response(result, b'"raw \\u0000 bytes"')

    def test_invalid_utf8_return_value(self):
        worker = self.start_ready('errors.returns_invalid_utf8')
        result = worker.invoke(b'{}')
        if self.major >= 3:
            self.assert_response(result, b'\xff\xfe')
        else:
            reply = self.assert_error(result, 'Runtime.MarshalError')
            self.assertIn('codec can', reply['errorMessage'])

    def test_python2_byte_strings_mixed_with_unicode(self):
        worker = self.start_ready('errors.returns_mixed_text')
        result = worker.invoke(b'{}')
        self.assert_response(result)
        self.assertEqual(json.loads(result.body.decode('utf-8')),
                         {'unicode': 'é', 'utf8_bytes': 'ü'})


class InitErrorTests(AdapterTestCase):
    """Handlers that cannot be loaded: one init_error line, then exit 1."""

    def test_missing_module(self):
        reply, _ = self.init_error('nope.handler')
        self.assertEqual(reply['errorType'], 'Runtime.ImportModuleError')
        self.assertTrue(reply['errorMessage'].startswith(
            "Unable to import module 'nope': No module named "), reply)
        self.assertEqual(reply['stackTrace'], [])

    def test_module_names_are_shown_as_handler_spells_them(self):
        reply, _ = self.init_error('nested/deep/nope.handler')
        self.assertEqual(reply['errorType'], 'Runtime.ImportModuleError')
        self.assertTrue(reply['errorMessage'].startswith(
            "Unable to import module 'nested/deep/nope': "), reply)

    def test_missing_dependency(self):
        reply, _ = self.init_error('missing_dep.handler')
        self.assertEqual(reply['errorType'], 'Runtime.ImportModuleError')
        self.assertTrue(reply['errorMessage'].startswith(
            "Unable to import module 'missing_dep': No module named "), reply)
        self.assertIn('polyboot_no_such_module', reply['errorMessage'])

    def test_syntax_error(self):
        reply, log = self.init_error('bad_syntax.handler')
        self.assertEqual(reply['errorType'], 'Runtime.UserCodeSyntaxError')
        self.assertTrue(reply['errorMessage'].startswith(
            "Syntax error in module 'bad_syntax': "), reply)
        self.assertIn('bad_syntax.py, line 1)', reply['errorMessage'])
        self.assertEqual(reply['stackTrace'], ['  File "%s" Line 1\n    %s'
                                               % (self.path('bad_syntax.py'),
                                                  BAD_SYNTAX.splitlines(True)[0])])

    def test_exception_at_import_keeps_its_class_name(self):
        reply, _ = self.init_error('raises_at_import.handler')
        self.assertEqual(reply['errorType'], 'KeyError')
        self.assertEqual(reply['errorMessage'], "'POLYBOOT_TEST_SETTING_THAT_IS_NOT_SET'")
        stack = reply['stackTrace']
        source = self.path('raises_at_import.py')
        self.assertTrue(stack[0].startswith('  File "%s", line ' % source), stack)
        self.assertIn(', in <module>\n', stack[0])
        self.assertTrue([line for line in stack if ', in _read_setting\n' in line], stack)
        self.assertFalse([line for line in stack if 'adapter.py' in line or 'importlib' in line])

    def test_exit_at_import(self):
        reply, _ = self.init_error('exits_at_import.handler')
        self.assertEqual(reply['errorType'], 'SystemExit')
        self.assertEqual(reply['errorMessage'], '4')

    def test_missing_handler_function(self):
        reply, _ = self.init_error('echo.nope')
        self.assertEqual(reply['errorType'], 'Runtime.HandlerNotFound')
        self.assertEqual(reply['errorMessage'], "Handler 'nope' missing on module 'echo'")

    def test_handler_that_is_not_callable(self):
        reply, _ = self.init_error('echo.not_callable')
        self.assertEqual(reply['errorType'], 'Runtime.HandlerNotFound')
        self.assertEqual(reply['errorMessage'],
                         "Handler 'not_callable' on module 'echo' is not callable")

    def test_built_in_module_name(self):
        reply, _ = self.init_error('sys.handler')
        self.assertEqual(reply['errorType'], 'Runtime.BuiltInModuleConflict')
        self.assertEqual(reply['errorMessage'], 'Cannot use built-in module sys as a handler module')


class OutputTests(AdapterTestCase):
    """stdin, stdout, stderr, subprocesses and logging never touch the channel."""

    def assert_log_line(self, log_lines, level, request_id, message):
        pattern = re.compile(r'^\[%s\]\t(%s)\t%s\t%s$' % (level, LOG_PREFIX,
                                                         re.escape(request_id), re.escape(message)))
        matches = [pattern.match(line) for line in log_lines if pattern.match(line)]
        self.assertEqual(len(matches), 1, 'no single %s line %r in:\n%s'
                         % (level, message, '\n'.join(log_lines)))
        stamp = calendar.timegm(time.strptime(matches[0].group(1)[:19], '%Y-%m-%dT%H:%M:%S'))
        self.assertLess(abs(stamp - time.time()), 120, 'timestamp is not the current UTC time')

    def test_print_subprocess_and_logging_go_to_the_log_stream(self):
        worker = self.start_ready('logs.handler')
        result = worker.invoke(b'{}')
        self.assert_response(result, b'{"done": true}')
        lines = result.log_lines
        for expected in ('print line é😀', 'print parts 42', 'raw fd 1', 'raw fd 2',
                         'child stdout', 'child stderr'):
            self.assertIn(expected, lines)
        self.assertIn('stdout no newline|stderr line', lines)
        self.assert_log_line(lines, 'WARNING', result.request_id, 'root warning ü')
        self.assert_log_line(lines, 'ERROR', result.request_id, 'app error')
        logged = [line for line in lines if '\twith traceback\r' in line]
        self.assertEqual(len(logged), 1, result.log)
        self.assertIn('\rTraceback (most recent call last):\r', logged[0])
        self.assertTrue(logged[0].endswith('\rRuntimeError: logged failure'), logged[0])
        self.assertNotIn('root info', result.log)  # the root logger stays at WARNING
        self.assertNotIn('root debug', result.log)
        self.assert_clean_exit(worker)

    def test_log_level_from_environment(self):
        worker = self.start_ready('logs.handler', env={'AWS_LAMBDA_LOG_LEVEL': 'TRACE'})
        result = worker.invoke(b'{}')
        self.assert_response(result)
        self.assert_log_line(result.log_lines, 'DEBUG', result.request_id, 'root debug')
        self.assert_log_line(result.log_lines, 'INFO', result.request_id, 'root info')

    def test_log_level_error_hides_warnings(self):
        worker = self.start_ready('logs.handler', env={'AWS_LAMBDA_LOG_LEVEL': 'error'})
        result = worker.invoke(b'{}')
        self.assert_response(result)
        self.assertNotIn('root warning', result.log)
        self.assert_log_line(result.log_lines, 'ERROR', result.request_id, 'app error')

    def test_logging_set_up_by_the_handler_wins(self):
        worker = self.start_ready('user_logging.handler')
        result = worker.invoke(b'{}')
        self.assert_response(result, b'"ok"')
        self.assertEqual(result.log_lines, ['USER INFO info from user config'])

    def test_printing_unicode_from_the_event(self):
        worker = self.start_ready('logs.unicode_print')
        result = worker.invoke(encode_event({'name': 'José 😀'}))
        self.assert_response(result, encode_event('José 😀'))
        self.assertEqual(result.log_lines, ['José 😀', 'José 😀'])

    def test_handler_cannot_reach_the_channel(self):
        worker = self.start_ready('stdio.handler')
        self.assert_private_channel(worker)
        result = worker.invoke(b'{}')
        self.assert_response(result)
        self.assertEqual(json.loads(result.body.decode('utf-8')), {
            'stdin_read': '', 'os_read_0': '', 'cat': '',
            'child_fds': '0 1 2 3',  # 3 is the listing's own directory descriptor
            'fd0_is_devnull': True, 'fd1_is_fd2': True})
        self.assert_response(worker.invoke(b'{}'))  # reading stdin swallowed no invoke line

    def assert_private_channel(self, worker):
        """Inspects the worker's descriptors in /proc: the channel is held close-on-exec only."""
        inodes = worker.pipe_inodes()
        fd_dir = '/proc/%d/fd' % worker.pid
        links = dict((int(fd), os.readlink(os.path.join(fd_dir, fd))) for fd in os.listdir(fd_dir))
        self.assertEqual(links[0], '/dev/null')
        self.assertEqual(links[1], 'pipe:[%d]' % inodes['log'])
        self.assertEqual(links[2], 'pipe:[%d]' % inodes['log'])
        for name in ('in', 'out'):
            holders = [fd for fd, link in links.items() if link == 'pipe:[%d]' % inodes[name]]
            self.assertEqual(len(holders), 1, '%s pipe held by fds %s' % (name, holders))
            self.assertGreater(holders[0], 2)
            with open('/proc/%d/fdinfo/%d' % (worker.pid, holders[0])) as info:
                flags = int(re.search(r'^flags:\s+([0-7]+)$', info.read(), re.M).group(1), 8)
            self.assertTrue(flags & O_CLOEXEC, '%s pipe fd %d is inheritable' % (name, holders[0]))


class FidelityTests(AdapterTestCase):
    """What AWS's python2.7 runtime (and awslambdaric) gave handlers, beyond the basics."""

    def test_utf8_is_the_default_encoding(self):
        worker = self.start_ready('fidelity.format_unicode')
        result = worker.invoke(b'{}')
        self.assert_response(result, u'"orqu\u00eddeas \u00e9t\u00e9"'.encode('utf-8'))

    def test_error_reply_carries_the_request_id(self):
        worker = self.start_ready('errors.value_error')
        result = worker.invoke(b'{}', request_id='req-\u00e9-1')
        reply = self.assert_error(result, 'ValueError')
        self.assertEqual(reply['requestId'], 'req-\u00e9-1')
        self.assertEqual(sorted(reply), ['errorMessage', 'errorType', 'id', 'requestId',
                                         'stackTrace', 'type'])

    def test_standard_library_frames_show_their_source_line(self):
        worker = self.start_ready('fidelity.stdlib_error')
        reply = self.assert_error(worker.invoke(b'{}'), 'ValueError' if self.major == 2
                                  else 'JSONDecodeError')
        stdlib = [frame for frame in reply['stackTrace']
                  if '/json/' in frame.split('\n')[0]]
        self.assertTrue(stdlib, reply['stackTrace'])
        for frame in stdlib:
            lines = frame.split('\n')
            self.assertTrue(len(lines) >= 2 and lines[1].strip(),
                            'no source line in %r' % frame)

    def test_handler_that_sets_debug_sees_its_debug_lines(self):
        worker = self.start_ready('fidelity.debug_logs')
        result = worker.invoke(b'{}')
        self.assert_response(result, b'"ok"')
        debug = [line for line in result.log_lines if line.startswith('[DEBUG]\t')]
        info = [line for line in result.log_lines if line.startswith('[INFO]\t')]
        self.assertTrue(debug and debug[-1].endswith('\troot debug line'), result.log)
        self.assertTrue(info and info[-1].endswith('\tapp info line'), result.log)


class LoadingTests(AdapterTestCase):
    """Where handlers come from, and that they stay loaded."""

    def test_module_state_persists_and_module_is_imported_once(self):
        worker = self.start('state.handler')
        first = worker.ready()
        self.assertEqual(first.reply, READY)
        self.assertEqual(first.log, 'state module imported\n')
        for number in (1, 2, 3):
            result = worker.invoke(b'{}')
            self.assert_response(result, str(number).encode('ascii'))
            self.assertEqual(result.log, '')

    def test_regular_package(self):
        for handler in ('pkg/mod.handler', 'pkg.mod.handler'):
            with self.subTest(handler=handler):
                worker = self.start_ready(handler)
                self.assert_response(worker.invoke(b'{}'), b'{"name": "pkg.mod"}')

    def test_folder_without_init_py_inside_a_regular_package(self):
        worker = self.start_ready('pkg/sub/mod.handler')
        self.assert_response(worker.invoke(b'{}'), b'{"name": "pkg.sub.mod"}')

    def test_folders_without_init_py(self):
        for handler in ('nested/deep/mod.handler', 'nested.deep.mod.handler'):
            with self.subTest(handler=handler):
                worker = self.start_ready(handler)
                result = worker.invoke(b'{}')
                self.assert_response(result)
                self.assertEqual(json.loads(result.body.decode('utf-8')),
                                 {'name': 'nested.deep.mod', 'helper': 'nested.deep.helper'})


class ExampleTests(AdapterTestCase):
    """example/function.py does what its comments say."""

    def test_example_handler(self):
        example_root = os.path.join(os.path.dirname(self.task_root), 'example')
        worker = harness.Worker(self.python, 'function.handler', example_root)
        self.addCleanup(worker.kill)
        self.assertEqual(worker.ready().reply, READY)
        result = worker.invoke(encode_event({'name': 'Zoë'}))
        self.assert_response(result)
        self.assertEqual(json.loads(result.body.decode('utf-8')),
                         {'greeting': 'Hello, Zoë!', 'invocations': 1})
        self.assertIn('request %s' % result.request_id, result.log_lines)
        self.assertIn('\tgreeting Zoë (', result.log)
        reply = self.assert_error(worker.invoke(b'{"name": "error"}'), 'ValueError')
        self.assertEqual(reply['errorMessage'], 'no greeting for "error"')
        result = worker.invoke(b'{}')
        self.assertEqual(json.loads(result.body.decode('utf-8')),
                         {'greeting': 'Hello, world!', 'invocations': 3})


class PerformanceTests(AdapterTestCase):
    """Round trips as the test driver sees them (its own pipe handling included).

    They check the bytes and report the times (run.py prints them); they never fail on a time,
    which on a shared machine measures the machine (make bench compares the adapters).
    """

    def test_6mb_round_trip(self):
        worker = self.start_ready('echo.handler')
        event = b'{"data": "' + b'x' * (6 * 1024 * 1024 - 12) + b'"}'
        self.assertEqual(len(event), 6 * 1024 * 1024)
        times = []
        for _ in range(3):
            result = worker.invoke(event)
            self.assert_response(result)
            self.assertTrue(result.body == event, '6 MB body differs from the event')
            times.append(result.seconds * 1000)
        TIMINGS.append((self.label, '6 MB echo round trip: best %.1f ms (runs: %s ms)'
                        % (min(times), ', '.join('%.1f' % t for t in times))))

    def test_1kb_invoke(self):
        worker = self.start_ready('echo.handler')
        event = encode_event({'key%02d' % n: 'value-é-%s' % ('x' * 19) for n in range(25)})
        self.assertAlmostEqual(len(event), 1024, delta=64)
        for _ in range(20):
            worker.invoke(event)
        times = []
        for _ in range(300):
            result = worker.invoke(event)
            self.assertEqual(result.body, event)
            times.append(result.seconds * 1000)
        times.sort()
        median = statistics.median(times)
        TIMINGS.append((self.label, '%d-byte echo round trip: median %.3f ms, p95 %.3f ms, '
                        'max %.3f ms (300 invokes)'
                        % (len(event), median, times[284], times[-1])))


class ChannelTests(AdapterTestCase):
    """Nothing crosses an invocation: the body FIFO, private channels, forks, huge errors."""

    def test_invoke_line_without_body_gets_unmarshal_error(self):
        worker = self.start_ready('echo.handler')
        line = (b'{"type":"invoke","id":"no-body","deadline_ms":1,"event":1}\n')
        result = worker.exchange(line)
        self.assertEqual((result.reply['type'], result.reply['id'], result.reply['errorType']),
                         ('error', 'no-body', 'Runtime.UnmarshalError'))
        self.assertIn('no body member', result.reply['errorMessage'])
        self.assert_response(worker.invoke(b'[1]'), b'[1]')

    def test_event_is_freed_once_the_reply_is_out(self):
        # Not when the next invoke line replaces it: that invocation would wait for the free
        # (about 50 ms for 6 MB of records in Python 2.7).
        worker = self.start_ready('echo.track_event')
        result = worker.invoke(b'{"a": 1}')
        self.assert_response(result, b'"tracked"')
        self.assertTrue('event freed' in result.log or worker.wait_log('event freed', timeout=10),
                        'the event was not freed after the reply')
        self.assert_clean_exit(worker)

    def test_body_goes_to_the_invocations_own_fifo(self):
        worker = self.start_ready('channel.echo')
        for number in range(3):
            result = worker.invoke(encode_event({'n': number}))
            self.assert_response(result, encode_event({'n': number}))
        self.assertEqual(os.listdir(worker.fifo_dir), [], 'every FIFO was unlinked')

    def test_program_the_handler_starts_holds_only_0_1_2(self):
        worker = self.start_ready('channel.child_fds')
        inodes = worker.pipe_inodes()
        result = worker.invoke(b'{}')
        self.assert_response(result)
        self.assertEqual(json.loads(result.body.decode('utf-8')), [
            '0 -> /dev/null', '1 -> pipe:[%d]' % inodes['log'], '2 -> pipe:[%d]' % inodes['log']])

    def test_program_writing_replies_to_inherited_fds_changes_nothing(self):
        worker = self.start_ready('channel.forge')
        result = worker.invoke(b'{}')
        self.assert_response(result, b'"ok"')
        self.assertIn('"forged"', result.log)  # its fds 1 and 2: the log stream
        self.assert_response(worker.invoke(b'{}'), b'"ok"')

    def assert_forked_child_stays_out(self, handler, child_status):
        worker = self.start_ready(handler)
        result = worker.invoke(b'{}')
        self.assert_response(result)
        self.assertEqual(json.loads(result.body.decode('utf-8')),
                         {'from': 'parent', 'status': child_status << 8})
        # A child acting as the adapter would have answered first, or taken this invoke line.
        self.assert_response(worker.invoke(b'{}'))
        self.assert_clean_exit(worker)

    def test_forked_child_that_returns_into_the_adapter_exits(self):
        self.assert_forked_child_stays_out('channel.fork_return', 0)

    def test_forked_child_that_calls_sys_exit_exits_with_its_status(self):
        self.assert_forked_child_stays_out('channel.fork_exit', 5)

    def test_forked_child_that_raises_into_the_adapter_exits(self):
        self.assert_forked_child_stays_out('channel.fork_raise', 1)

    def assert_late_write_lost(self, handler, expected_body, outcomes):
        marker = os.path.join(tempfile.mkdtemp(prefix='polyboot-late-'), 'ended')
        self.addCleanup(shutil.rmtree, os.path.dirname(marker), True)
        worker = self.start_ready(handler)
        self.assert_response(worker.invoke(encode_event({'marker': marker})), expected_body)
        open(marker, 'w').close()
        deadline = time.monotonic() + 10
        while not os.path.exists(marker + '.done'):
            self.assertLess(time.monotonic(), deadline, 'the late writer never reported')
            time.sleep(0.01)
        with open(marker + '.done') as done:
            self.assertIn(done.read(), outcomes)
        self.assert_response(worker.invoke(b'{"n": 2}'), b'{"n": 2}')

    def test_forked_child_writing_after_the_reply_reaches_no_other_body(self):
        self.assert_late_write_lost('channel.late_fork_write', b'"early"',
                                    ('BrokenPipeError', 'FileNotFoundError', 'OSError', 'IOError'))

    def test_thread_writing_after_the_reply_reaches_no_other_body(self):
        self.assert_late_write_lost('channel.late_thread_write', b'"early"', ('ValueError',))

    def test_9mb_error_message_is_a_valid_truncated_error(self):
        worker = self.start_ready('channel.huge_error')
        result = worker.invoke(encode_event({'size': 9 * 1024 * 1024, 'line': 300 * 1024}))
        reply = self.assert_error(result, 'ValueError')
        message = reply['errorMessage'].encode('utf-8')
        self.assertLessEqual(len(message), 256 * 1024)
        self.assertGreater(len(message), 255 * 1024)
        self.assertRegex(reply['errorMessage'], r'^(\u00e9)+ \[\u2026 \d+ bytes truncated\]$')
        dropped = int(re.search(r'(\d+) bytes truncated', reply['errorMessage']).group(1))
        suffix = (' [\u2026 %d bytes truncated]' % dropped).encode('utf-8')
        self.assertEqual(len(message) - len(suffix) + dropped, 9 * 1024 * 1024)
        trace = reply['stackTrace']
        self.assertLessEqual(sum(len(line.encode('utf-8')) for line in trace), 256 * 1024)
        self.assertRegex(trace[-1], r'^\[\u2026 \d+ bytes truncated\]$')
        again = worker.invoke(encode_event({'size': 10, 'line': 10}))
        self.assertEqual(self.assert_error(again, 'ValueError')['errorMessage'], '\u00e9' * 5)
        self.assertIsNone(worker.proc.poll(), 'the worker survives')


TEST_CLASSES = [ProtocolTests, ContextTests, ErrorTests, InitErrorTests, OutputTests, FidelityTests,
                LoadingTests, ExampleTests, ChannelTests, PerformanceTests]
