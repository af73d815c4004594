import json, sys
def handler(event, context):
    return {"lang": "python2", "version": "%d.%d" % sys.version_info[:2], "exe": sys.executable, "event": event}
