// Package protocol holds the two wire formats the bootstrap speaks: the AWS Lambda Runtime API
// (an HTTP client, [Client]) and the JSON-lines channel to interpreter workers described in
// docs/protocol.md ([AppendInvokeLine], [ParseReply], [LineReader]).
//
// The package knows no processes and no logger.
package protocol
