# A polyboot bash handler. Set the function's handler to "function.handler".
# $1 is the event (JSON text). What the handler prints on stdout is the response;
# stderr goes to the log. A non-zero status is reported as an error.

invocations=0 # globals survive between invocations: the shell stays warm

handler() {
	local event=$1 left
	invocations=$((invocations + 1))
	lambda_remaining_ms left # the milliseconds left before the deadline
	echo "request $LAMBDA_REQUEST_ID: invocation $invocations of this environment, $left ms left" >&2
	printf '{"message":"Hello from bash!","request_id":"%s","remaining_ms":%d,"invocations":%d,"event":%s}' \
		"$LAMBDA_REQUEST_ID" "$left" "$invocations" "$event"
}
