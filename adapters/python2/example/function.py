# -*- coding: utf-8 -*-
"""A polyboot Python handler (Python 2.7 or 3): _HANDLER=function.handler"""
from __future__ import print_function

import logging

logger = logging.getLogger()
logger.setLevel(logging.INFO)  # keeps the runtime's log format; basicConfig() would replace it

STATE = {'invocations': 0}  # module state lives as long as the execution environment


def handler(event, context):
    STATE['invocations'] += 1
    name = event.get('name', 'world') if isinstance(event, dict) else 'world'
    logger.info('greeting %s (%d ms left)', name, context.get_remaining_time_in_millis())
    print('request', context.aws_request_id)  # stdout goes to the log, never into the response
    if name == 'error':
        raise ValueError('no greeting for "error"')  # becomes errorType ValueError
    return {'greeting': u'Hello, %s!' % name, 'invocations': STATE['invocations']}
