# Conformance handlers for the bash adapter (e2e/conformance_test.go).
count=0
echo() { printf '%s' "$1"; }
context() {
  local left
  lambda_remaining_ms left
  local identity=${LAMBDA_COGNITO_IDENTITY#*\"cognitoIdentityId\":\"}
  identity=${identity%%\"*}
  printf '{"request_id":"%s","deadline_ms":%s,"arn":"%s","trace_id":"%s","function_name":"%s","remaining_ms":%d,"client_context":%s,"identity_id":"%s","tenant_id":"%s"}' \
    "$LAMBDA_REQUEST_ID" "$LAMBDA_DEADLINE_MS" "$LAMBDA_FUNCTION_ARN" "${_X_AMZN_TRACE_ID-}" \
    "${AWS_LAMBDA_FUNCTION_NAME-}" "$left" "${LAMBDA_CLIENT_CONTEXT:-null}" "$identity" "$LAMBDA_TENANT_ID"
}
fail() { printf 'boom\n' >&2; return 1; }
logs() { printf 'log-marker\n' >&2; printf '{}'; }
counter() { count=$((count + 1)); printf '{"count":%d}' "$count"; }
crash() { printf 'dying\n' >&2; kill -9 $$; }
slow() {
  [[ $1 == *fast* ]] && { printf '{}'; return; }
  printf 'slow start\n' >&2; sleep 300 & sleep 301
}
noise() {
  printf 'partial' >&2
  printf '\001\377\r' >&2
  head -c 1000000 /dev/zero | tr '\0' N >&2
  printf '\nerr-tail' >&2
  printf '{"ok":true}'
}
