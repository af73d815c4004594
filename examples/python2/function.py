# -*- coding: utf-8 -*-
"""A polyboot Python 2.7 handler. Set the function's handler to "function.handler"."""
import logging
import platform

logger = logging.getLogger()
logger.setLevel(logging.INFO)  # keeps the runtime's log format
invocations = [0]  # module state survives between invocations: the interpreter stays warm


def handler(event, context):
    invocations[0] += 1
    name = event.get('name', 'world') if isinstance(event, dict) else 'world'
    left = context.get_remaining_time_in_millis()  # the milliseconds left before the deadline
    logger.info('invocation %d of this environment, %d ms left', invocations[0], left)
    return {
        'message': u'Hello, %s, from Python %s!' % (name, platform.python_version()),
        'request_id': context.aws_request_id,
        'remaining_ms': left,
        'invocations': invocations[0],
        'event': event,
    }
