# The Python 2.7 handler of the image test: reports the interpreter that answered, and the event.
import sys


def handler(event, context):
    return {"lang": "python2", "version": "%d.%d" % sys.version_info[:2], "exe": sys.executable, "event": event}
