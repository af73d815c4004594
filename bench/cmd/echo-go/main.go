// Command echo-go is the benchmark's floor: an echo function on AWS's own Go runtime library
// (github.com/aws/aws-lambda-go), built as the `bootstrap` the emulator runs. It answers each event
// with the event itself; the library re-encodes a json.RawMessage, so the answer is the event in
// compact form.
package main

import (
	"context"
	"encoding/json"

	"github.com/aws/aws-lambda-go/lambda"
)

func echo(_ context.Context, event json.RawMessage) (json.RawMessage, error) {
	return event, nil
}

func main() {
	lambda.Start(echo)
}
