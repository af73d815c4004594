package protocol

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
)

// Runtime API header names.
const (
	HeaderRequestID       = "Lambda-Runtime-Aws-Request-Id"
	HeaderDeadlineMs      = "Lambda-Runtime-Deadline-Ms"
	HeaderFunctionARN     = "Lambda-Runtime-Invoked-Function-Arn"
	HeaderTraceID         = "Lambda-Runtime-Trace-Id"
	HeaderClientContext   = "Lambda-Runtime-Client-Context"
	HeaderCognitoIdentity = "Lambda-Runtime-Cognito-Identity"
	HeaderTenantID        = "Lambda-Runtime-Aws-Tenant-Id"
	HeaderErrorType       = "Lambda-Runtime-Function-Error-Type"

	apiVersion       = "/2018-06-01"
	errorContentType = "application/vnd.aws.lambda.error+json"
)

// MaxResponseSize is the largest synchronous response the Runtime API accepts (6 MB).
const MaxResponseSize = 6 * 1024 * 1024

// StatusError is a Runtime API answer with an unexpected HTTP status.
type StatusError struct {
	Op     string // "next", "response", "error", "init error"
	Status int
	Body   string
}

func (e *StatusError) Error() string {
	return fmt.Sprintf("runtime api %s: HTTP %d: %s", e.Op, e.Status, e.Body)
}

// StatusOf returns the HTTP status carried by err, or 0 when it carries none.
func StatusOf(err error) int {
	var se *StatusError
	if errors.As(err, &se) {
		return se.Status
	}
	return 0
}

// Client calls the Lambda Runtime API at one address (AWS_LAMBDA_RUNTIME_API). It is safe for
// concurrent use, as Lambda Managed Instances need.
type Client struct {
	base string
	http *http.Client
}

// NewClient returns a client for the Runtime API at addr (host:port). Requests carry no timeout:
// the execution environment is frozen while GET /next waits.
func NewClient(addr string) *Client {
	transport := &http.Transport{
		DialContext:         (&net.Dialer{KeepAlive: -1}).DialContext,
		MaxIdleConnsPerHost: 64,
		DisableCompression:  true,
	}
	return &Client{
		base: "http://" + addr + apiVersion,
		http: &http.Client{Transport: transport, Timeout: 0},
	}
}

// Next blocks until the next invocation arrives.
func (c *Client) Next(ctx context.Context) (*Invocation, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.base+"/runtime/invocation/next", nil)
	if err != nil {
		return nil, fmt.Errorf("runtime api next: %w", err)
	}
	resp, err := c.do(req)
	if err != nil {
		return nil, fmt.Errorf("runtime api next: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, statusError("next", resp)
	}
	payload, err := readBody(resp)
	if err != nil {
		return nil, fmt.Errorf("runtime api next: reading event: %w", err)
	}
	return invocationFrom(resp.Header, payload)
}

func invocationFrom(h http.Header, payload []byte) (*Invocation, error) {
	inv := &Invocation{
		RequestID:       h.Get(HeaderRequestID),
		FunctionARN:     h.Get(HeaderFunctionARN),
		TraceID:         h.Get(HeaderTraceID),
		ClientContext:   h.Get(HeaderClientContext),
		CognitoIdentity: h.Get(HeaderCognitoIdentity),
		TenantID:        h.Get(HeaderTenantID),
		Payload:         payload,
	}
	if inv.RequestID == "" {
		return nil, fmt.Errorf("runtime api next: no %s header", HeaderRequestID)
	}
	if _, sent := h[http.CanonicalHeaderKey(HeaderDeadlineMs)]; sent {
		d := h.Get(HeaderDeadlineMs)
		ms, err := strconv.ParseInt(d, 10, 64)
		if err != nil {
			return nil, &InvalidDeadlineError{Invocation: inv, Value: d, Err: err}
		}
		inv.DeadlineMs = ms
	}
	return inv, nil
}

// InvalidDeadlineError is Next's error for an invocation whose Lambda-Runtime-Deadline-Ms header is
// not a whole number of milliseconds (an empty header included; an absent one means no deadline).
// The Runtime API has handed the invocation out all the same, so it must still get its one post:
// aws-lambda-go answers it with an error and goes on (lambda/invoke_loop.go, parseDeadline).
type InvalidDeadlineError struct {
	Invocation *Invocation // everything else the Runtime API sent; DeadlineMs is 0
	Value      string      // the header's value
	Err        error       // strconv's error
}

func (e *InvalidDeadlineError) Error() string {
	return fmt.Sprintf("runtime api next: invocation %q has an invalid %s %q: %v",
		e.Invocation.RequestID, HeaderDeadlineMs, e.Value, e.Err)
}

// Unwrap returns strconv's error.
func (e *InvalidDeadlineError) Unwrap() error { return e.Err }

// readBody reads a response body, sized up front from Content-Length when the server gave one.
func readBody(resp *http.Response) ([]byte, error) {
	if n := resp.ContentLength; n >= 0 && n <= 64*MaxResponseSize {
		buf := make([]byte, n)
		_, err := io.ReadFull(resp.Body, buf)
		return buf, err
	}
	return io.ReadAll(resp.Body)
}

// Respond posts a successful invocation's response body.
func (c *Client) Respond(ctx context.Context, requestID string, body []byte) error {
	return c.post(ctx, "response", invocationPath(requestID, "response"), body, nil)
}

// Fail posts an invocation error.
func (c *Client) Fail(ctx context.Context, requestID string, report *ErrorReport) error {
	return c.postError(ctx, "error", invocationPath(requestID, "error"), report)
}

// invocationPath is the path of an invocation's /response or /error. The request id is one path
// segment whatever its bytes: escaped, so that "#", "?", "%", "/", control characters and
// non-UTF-8 bytes reach the Runtime API as the id, and "." and ".." are not path steps.
func invocationPath(requestID, what string) string {
	seg := url.PathEscape(requestID)
	if seg == "." || seg == ".." {
		seg = strings.Repeat("%2E", len(seg))
	}
	return "/runtime/invocation/" + seg + "/" + what
}

// InitError reports that the runtime could not initialise. The caller should exit non-zero after.
func (c *Client) InitError(ctx context.Context, report *ErrorReport) error {
	return c.postError(ctx, "init error", "/runtime/init/error", report)
}

func (c *Client) postError(ctx context.Context, op, path string, report *ErrorReport) error {
	if report.StackTrace == nil {
		cp := *report
		cp.StackTrace = []string{}
		report = &cp
	}
	body, err := json.Marshal(report)
	if err != nil {
		return fmt.Errorf("runtime api %s: encoding error body: %w", op, err)
	}
	h := http.Header{}
	h.Set(HeaderErrorType, ErrorTypeHeader(report.Type))
	h.Set("Content-Type", errorContentType)
	return c.post(ctx, op, path, body, h)
}

func (c *Client) post(ctx context.Context, op, path string, body []byte, h http.Header) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.base+path, bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("runtime api %s: %w", op, err)
	}
	for k, v := range h {
		req.Header[k] = v
	}
	resp, err := c.do(req)
	if err != nil {
		return fmt.Errorf("runtime api %s: %w", op, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return statusError(op, resp)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	return nil
}

func statusError(op string, resp *http.Response) error {
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	return &StatusError{Op: op, Status: resp.StatusCode, Body: string(bytes.TrimSpace(b))}
}
