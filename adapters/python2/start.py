# -*- coding: utf-8 -*-
"""Starts the polyboot Python adapter (adapter.py, beside this file) from its compiled code.

The bootstrap runs `python2.7 -u start.py <handler file> <function> <module>`. Python compiles the
script it is given at every start, and caches nothing where /opt is read-only (Lambda's layers),
so compiling adapter.py (1,100 lines) would cost every cold start a few milliseconds. The layer
ships adapter.pyc, made at build time (layer/python2/compile.py): this file runs its code when it
was made for this interpreter (its magic number says so), and compiles adapter.py otherwise
(another Python, such as python3, or a layer built without a Python 2.7). The adapter then runs
as if it had been started itself: as __main__, with __file__ naming adapter.py.

This file must stay valid Python 2.7 and Python 3.6+ at the same time.
"""
import marshal
import os
import sys


def _magic():
    """The magic number of this interpreter's compiled files."""
    if sys.version_info[0] == 2:
        import imp
        return imp.get_magic()
    import importlib.util
    return importlib.util.MAGIC_NUMBER


def _adapter_code(source):
    """The code of adapter.py: from adapter.pyc when it suits this interpreter, else compiled."""
    try:
        with open(source + 'c', 'rb') as compiled:
            if compiled.read(4) == _magic():
                compiled.read(4)  # Python 2's source time: not checked (zip and /opt change it)
                return marshal.load(compiled)
    except (IOError, OSError, EOFError, ValueError, TypeError):
        pass
    with open(source, 'rb') as f:
        return compile(f.read(), source, 'exec', 0, True)


_source = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'adapter.py')
__file__ = _source
exec(_adapter_code(_source))
