# The benchmark's echo handler for Python (2.7 and 3): the event, decoded and encoded again.
def handler(event, context):
    return event
