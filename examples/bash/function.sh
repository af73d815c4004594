# A polyboot bash handler. Set the function's handler to "function.handler".
# $1 is the event (JSON text). What the handler prints to stdout is the response;
# stderr goes to the logs. A non-zero status is reported as an error.

invocations=0   # globals survive between invocations: the shell stays warm

handler() {
  local event=$1
  invocations=$((invocations + 1))
  echo "request $LAMBDA_REQUEST_ID, invocation $invocations of this environment" >&2
  printf '{"ok":true,"invocations":%d,"event":%s}' "$invocations" "$event"
}
