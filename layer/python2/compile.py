"""Compile the Python adapter for the layer: python2.7 compile.py SOURCE OUTPUT.

Writes OUTPUT as a Python 2.7 compiled file of SOURCE (magic number, four zero bytes where Python
keeps the source's time, marshalled code), which adapters/python2/start.py runs. The time is
zero so that the file, and the layer zip, are the same bytes at every build; start.py checks the
magic number only. The code's file name is "adapter.py", as a traceback shows it.
"""
import imp
import marshal
import sys


def main(source, output):
    with open(source, 'rb') as f:
        code = compile(f.read(), 'adapter.py', 'exec', 0, True)
    with open(output, 'wb') as f:
        f.write(imp.get_magic() + b'\0\0\0\0' + marshal.dumps(code))


if __name__ == '__main__':
    if sys.version_info[:2] != (2, 7):
        sys.exit('compile.py: run it with Python 2.7, not %d.%d' % sys.version_info[:2])
    main(*sys.argv[1:])
