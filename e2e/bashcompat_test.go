package e2e

import (
	"strings"
	"testing"
)

// bashLambdaLayerHandler is a bash-lambda-layer handler (response on stderr, logs on stdout, its
// AWS_LAMBDA_* names) behind the README's compat wrapper, verbatim.
const bashLambdaLayerHandler = `handler() {
  echo "log line for $AWS_LAMBDA_REQUEST_ID"
  printf '{"id":"%s","arn":"%s"}' "$AWS_LAMBDA_REQUEST_ID" "$AWS_LAMBDA_FUNCTION_ARN" >&2
}
compat() {
  export AWS_LAMBDA_REQUEST_ID=$LAMBDA_REQUEST_ID AWS_LAMBDA_DEADLINE_MS=$LAMBDA_DEADLINE_MS \
    AWS_LAMBDA_FUNCTION_ARN=$LAMBDA_FUNCTION_ARN AWS_LAMBDA_TRACE_ID=${_X_AMZN_TRACE_ID-}
  handler "$@" 3>&1 1>&2 2>&3 3>&-    # its stderr is the response, its stdout the log
}`

// TestBashLambdaLayerCompat: the README's migration wrapper serves a bash-lambda-layer handler
// unchanged: its stderr is the response, its stdout reaches the log, its names are set.
func TestBashLambdaLayerCompat(t *testing.T) {
	e := startEmulator(t, function{taskDir: writeTask(t, map[string]string{"function.sh": bashLambdaLayerHandler}), handler: "function.compat"})
	status, body := e.Invoke(t, []byte(`{}`))
	if status != 200 || !strings.HasPrefix(string(body), `{"id":"`) || strings.Contains(string(body), `"id":""`) ||
		!strings.Contains(string(body), `"arn":"arn:aws:lambda:`) {
		t.Fatalf("%d %s", status, body)
	}
	id := strings.SplitN(string(body), `"`, 5)[3]
	e.waitLog(t, "log line for "+id)
}
