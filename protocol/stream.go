package protocol

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
)

// Response streaming headers and trailers.
const (
	HeaderResponseMode = "Lambda-Runtime-Function-Response-Mode"
	HeaderErrorBody    = "Lambda-Runtime-Function-Error-Body"
	responseModeStream = "streaming"
)

// StreamTrailer returns the trailer map for RespondStream: the error trailers declared, empty.
func StreamTrailer() http.Header {
	return http.Header{HeaderErrorType: nil, HeaderErrorBody: nil}
}

// SetStreamError fills the trailers that report an error after the stream began: the type, and
// Lambda's error body in base64. Call it before the body reader returns EOF.
func SetStreamError(trailer http.Header, report *ErrorReport) {
	if report.StackTrace == nil {
		cp := *report
		cp.StackTrace = []string{}
		report = &cp
	}
	body, _ := json.Marshal(report) // strings only: cannot fail
	trailer.Set(HeaderErrorType, ErrorTypeHeader(report.Type))
	trailer.Set(HeaderErrorBody, base64.StdEncoding.EncodeToString(body))
}

// RespondStream posts a response as it is produced: body is sent with chunked transfer encoding
// until it returns EOF, with Lambda-Runtime-Function-Response-Mode: streaming. trailer (from
// StreamTrailer) is sent after the body; fill it with SetStreamError to report a failure after
// the first byte.
func (c *Client) RespondStream(ctx context.Context, requestID string, body io.Reader, trailer http.Header) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.base+invocationPath(requestID, "response"), body)
	if err != nil {
		return fmt.Errorf("runtime api streamed response: %w", err)
	}
	req.ContentLength = -1 // chunked
	req.Header.Set(HeaderResponseMode, responseModeStream)
	req.Header.Set("Content-Type", "application/octet-stream")
	req.Trailer = trailer // Go announces the keys in a Trailer header and sends the values after the body
	resp, err := c.do(req)
	if err != nil {
		return fmt.Errorf("runtime api streamed response: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return statusError("streamed response", resp)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	return nil
}
