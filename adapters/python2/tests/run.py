#!/usr/bin/env python3
"""Runs the python2 adapter's tests under every Python interpreter found on this machine.

    python3 adapters/python2/tests/run.py [-v] [-k PATTERN] [--all-pyenv]
                                          [--allow-missing-python27]

Interpreters, found at run time (never hard-coded):
  - Python 2.7: python2.7 and python2 on PATH, and pyenv's 2.7 versions
    ($(pyenv root)/versions/2.7*/bin/python2.7, or PYENV_VERSION=<v> pyenv which python2.7);
  - Python 3: the python3 running this script, and python3 on PATH;
  - $POLYBOOT_PYTHON, when set (the interpreter override the bootstrap honours);
  - with --all-pyenv, every version pyenv has.
Each candidate is asked for its version; one that does not run is reported, not used.

Exit status: 0 when every test passed under every interpreter found, 1 when a test failed,
3 when no Python 2.7 was found (the adapter's target; --allow-missing-python27 accepts that).
"""
import argparse
import glob
import os
import shutil
import subprocess
import sys
import unittest

sys.dont_write_bytecode = True  # no __pycache__ in the repository
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import adapter_tests  # noqa: E402
import harness  # noqa: E402

PROBE = 'import sys; print("%d.%d.%d" % sys.version_info[:3]); print(sys.executable)'


class Interpreter(object):
    """A Python interpreter that ran the probe."""

    def __init__(self, command, version, executable, found_as):
        self.command = command
        self.version = version
        self.executable = executable
        self.found_as = found_as
        self.label = 'python%s %s' % ('.'.join(version.split('.')[:2]), version)

    @property
    def major(self):
        return int(self.version.split('.')[0])


def probe(command, found_as, notes):
    """An Interpreter for command, or None (with a note saying why)."""
    env = harness.child_env(os.getcwd())
    try:
        output = subprocess.run([command, '-c', PROBE], stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, env=env, timeout=30)
    except (OSError, subprocess.TimeoutExpired) as error:
        notes.append('%s (%s) does not run: %s' % (command, found_as, error))
        return None
    lines = output.stdout.decode('utf-8', 'replace').split()
    if output.returncode != 0 or len(lines) != 2:
        reason = output.stderr.decode('utf-8', 'replace').strip().splitlines()
        notes.append('%s (%s) does not run: exit %d%s' % (
            command, found_as, output.returncode, ': ' + reason[0] if reason else ''))
        return None
    return Interpreter(command, lines[0], lines[1], found_as)


def _pyenv(*args, **env):
    """Output of a pyenv command, or None."""
    pyenv = shutil.which('pyenv')
    if pyenv is None:
        return None
    environ = dict(os.environ)
    environ.update(env)
    try:
        result = subprocess.run([pyenv] + list(args), stdout=subprocess.PIPE,
                                stderr=subprocess.DEVNULL, env=environ, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return result.stdout.decode('utf-8', 'replace').strip() if result.returncode == 0 else None


def candidates(all_pyenv):
    """(command, found_as) pairs to probe, in order of preference."""
    found = []
    for name in ('python2.7', 'python2'):
        path = shutil.which(name)
        if path:
            found.append((path, '%s on PATH' % name))
    root = _pyenv('root')
    if root:
        for path in sorted(glob.glob(os.path.join(root, 'versions', '2.7*', 'bin', 'python2.7'))):
            found.append((path, 'pyenv'))
        for version in (_pyenv('versions', '--bare') or '').split():
            if version.startswith('2.7'):
                path = _pyenv('which', 'python2.7', PYENV_VERSION=version)
                if path:
                    found.append((path, 'pyenv which (PYENV_VERSION=%s)' % version))
    found.append((sys.executable, 'the python3 running run.py'))
    path = shutil.which('python3')
    if path:
        found.append((path, 'python3 on PATH'))
    if os.environ.get('POLYBOOT_PYTHON'):
        found.append((os.environ['POLYBOOT_PYTHON'], '$POLYBOOT_PYTHON'))
    if all_pyenv and root:
        for path in sorted(glob.glob(os.path.join(root, 'versions', '*', 'bin', 'python'))):
            found.append((path, 'pyenv (--all-pyenv)'))
    return found


def discover(all_pyenv):
    """(interpreters to test, notes about candidates that were not used)."""
    interpreters, notes, seen = [], [], {}
    for command, found_as in candidates(all_pyenv):
        interpreter = probe(command, found_as, notes)
        if interpreter is None:
            continue
        key = os.path.realpath(interpreter.executable)
        if key in seen:
            notes.append('%s (%s) is %s, already listed' % (command, found_as, seen[key]))
            continue
        if interpreter.label in [other.label for other in interpreters]:
            interpreter.label += ' (%s)' % found_as
        seen[key] = interpreter.executable
        interpreters.append(interpreter)
    return interpreters, notes


def suite_for(interpreter, task_root, pattern):
    """Every test class bound to one interpreter."""
    loader = unittest.TestLoader()
    if pattern:
        loader.testNamePatterns = ['*%s*' % pattern]
    suite = unittest.TestSuite()
    for base in adapter_tests.TEST_CLASSES:
        name = '%s[%s]' % (base.__name__, interpreter.label)
        bound = type(name, (base,), {'python': interpreter.command, 'label': interpreter.label,
                                     'major': interpreter.major, 'task_root': task_root})
        suite.addTests(loader.loadTestsFromTestCase(bound))
    return suite


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('-v', '--verbose', action='store_true', help='one line per test')
    parser.add_argument('-k', metavar='PATTERN', help='run only tests whose name contains it')
    parser.add_argument('--all-pyenv', action='store_true',
                        help='also test every Python version pyenv has')
    parser.add_argument('--allow-missing-python27', action='store_true',
                        help='exit 0 even when no Python 2.7 was found')
    options = parser.parse_args()

    interpreters, notes = discover(options.all_pyenv)
    has_27 = any(i.version.startswith('2.7.') for i in interpreters)
    print('polyboot python adapter tests: %s' % harness.ADAPTER)
    print('interpreters to test:')
    for interpreter in interpreters:
        print('  %-18s %s  (found as %s)' % (interpreter.label, interpreter.command,
                                            interpreter.found_as))
    for note in notes:
        print('  not used: %s' % note)
    if not has_27:
        print('\n' + '!' * 78)
        print('!!! NO PYTHON 2.7 FOUND: the adapter was NOT tested under Python 2.7, its target.')
        print('!!! Looked for python2.7/python2 on PATH and pyenv 2.7 versions.')
        print('!' * 78)
    print()

    failed = 0
    summary = []
    for interpreter in interpreters:
        print('=== %s (%s)' % (interpreter.label, interpreter.command))
        sys.stdout.flush()
        scratch, task_root = adapter_tests.make_task_root()
        try:
            runner = unittest.TextTestRunner(stream=sys.stdout,
                                             verbosity=2 if options.verbose else 1)
            result = runner.run(suite_for(interpreter, task_root, options.k))
        finally:
            shutil.rmtree(scratch, ignore_errors=True)
        bad = len(result.failures) + len(result.errors) + len(result.unexpectedSuccesses)
        failed += bad
        summary.append('  %-18s %d tests, %s' % (
            interpreter.label, result.testsRun, 'FAILED: %d' % bad if bad else 'all passed'))
        if result.skipped:
            summary.append('  %-18s %d SKIPPED' % ('', len(result.skipped)))
        print()

    print('timings (round trips as the test driver sees them, its own pipe handling included):')
    for label, text in adapter_tests.TIMINGS:
        print('  %-18s %s' % (label, text))
    print('summary:')
    for line in summary:
        print(line)
    if not has_27:
        print('  python2.7          NOT FOUND, NOT TESTED')
    if failed:
        return 1
    if not has_27 and not options.allow_missing_python27:
        return 3
    return 0


if __name__ == '__main__':
    sys.exit(main())
