# Conformance handlers for the Python adapter (e2e/conformance_test.go), for 2.7 and 3.
import os

count = 0


def echo(event, context):
    return event


def context(event, context):
    cc = context.client_context
    return {
        "request_id": context.aws_request_id,
        "deadline_ms": None,
        "arn": context.invoked_function_arn,
        "trace_id": os.environ.get("_X_AMZN_TRACE_ID", ""),
        "function_name": context.function_name,
        "remaining_ms": context.get_remaining_time_in_millis(),
        "client_context": {"custom": cc.custom} if cc else None,
        "identity_id": context.identity.cognito_identity_id if context.identity else "",
        "tenant_id": context.tenant_id or "",
    }


def fail(event, context):
    raise ValueError("boom")


def logs(event, context):
    print("log-marker")
    return {}


def counter(event, context):
    global count
    count += 1
    return {"count": count}


def crash(event, context):
    import sys
    sys.stderr.write("dying\n")
    sys.stderr.flush()
    os._exit(3)


def slow(event, context):
    import subprocess
    import sys
    import time
    if event.get("fast"):
        return {}
    sys.stderr.write("slow start\n")
    sys.stderr.flush()
    subprocess.Popen(["sleep", "300"])
    time.sleep(301)


def noise(event, context):
    import sys
    sys.stdout.write("partial")
    sys.stdout.write("\x01\xff\r")
    sys.stdout.write("N" * 1000000 + "\n")
    sys.stderr.write("err-tail")
    return {"ok": True}
