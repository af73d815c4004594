package s3test

import (
	"context"
	"crypto/hmac"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/smithy-go/logging"
)

const (
	sigAlgorithm   = "AWS4-HMAC-SHA256"
	amzDateFormat  = "20060102T150405Z"
	maxClockSkew   = 15 * time.Minute
	unsignedBody   = "UNSIGNED-PAYLOAD"
	streamingBody  = "STREAMING-"
	contentSHA256  = "X-Amz-Content-Sha256"
	securityToken  = "X-Amz-Security-Token"
	amzDateHeader  = "X-Amz-Date"
	serviceName    = "s3"
	scopeTerminate = "aws4_request"
)

// authHeader is a parsed SigV4 Authorization header.
type authHeader struct {
	accessKeyID   string
	date          string // YYYYMMDD of the credential scope
	region        string
	service       string
	terminal      string
	signedHeaders []string
	signature     string
}

// parseAuthorization reads "AWS4-HMAC-SHA256 Credential=AKID/DATE/REGION/SERVICE/aws4_request,
// SignedHeaders=a;b, Signature=HEX".
func parseAuthorization(h string) (authHeader, error) {
	var a authHeader
	alg, rest, ok := strings.Cut(h, " ")
	if !ok || alg != sigAlgorithm {
		return a, fmt.Errorf("the authorization header is not %s", sigAlgorithm)
	}
	for _, part := range strings.Split(rest, ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(part), "=")
		if !ok {
			return a, fmt.Errorf("the authorization header has a malformed part %q", part)
		}
		switch k {
		case "Credential":
			f := strings.Split(v, "/")
			if len(f) != 5 {
				return a, fmt.Errorf("the credential %q is not KEY/DATE/REGION/SERVICE/aws4_request", v)
			}
			a.accessKeyID, a.date, a.region, a.service, a.terminal = f[0], f[1], f[2], f[3], f[4]
		case "SignedHeaders":
			a.signedHeaders = strings.Split(v, ";")
		case "Signature":
			a.signature = v
		}
	}
	if a.accessKeyID == "" || len(a.signedHeaders) == 0 || a.signature == "" {
		return a, fmt.Errorf("the authorization header lacks Credential, SignedHeaders or Signature")
	}
	return a, nil
}

// verify checks r's SigV4 signature against the server's credentials and region: it rebuilds the
// request from the headers the client says it signed and signs it again with the AWS SDK for Go
// v2's signer, then compares the signatures. It returns the parsed header, or an *Error.
func (s *Server) verify(r *http.Request) (authHeader, *Error) {
	h := r.Header.Get("Authorization")
	if h == "" {
		if r.URL.Query().Get("X-Amz-Algorithm") != "" {
			return authHeader{}, errorf(http.StatusNotImplemented, "NotImplemented", "presigned URLs are not supported by this stand-in")
		}
		return authHeader{}, errorf(http.StatusForbidden, "AccessDenied", "Access Denied: the request is not signed")
	}
	a, err := parseAuthorization(h)
	if err != nil {
		return a, errorf(http.StatusBadRequest, "AuthorizationHeaderMalformed", "%v", err)
	}
	c := s.cfg.Credentials
	if a.accessKeyID != c.AccessKeyID {
		return a, errorf(http.StatusForbidden, "InvalidAccessKeyId", "The AWS Access Key Id %q you provided does not exist in our records.", a.accessKeyID)
	}
	if a.region != s.cfg.Region || a.service != serviceName || a.terminal != scopeTerminate {
		return a, errorf(http.StatusBadRequest, "AuthorizationHeaderMalformed",
			"the credential scope %s/%s/%s is wrong; expecting %s/%s/%s", a.region, a.service, a.terminal, s.cfg.Region, serviceName, scopeTerminate)
	}
	signed := map[string]bool{}
	for _, name := range a.signedHeaders {
		signed[name] = true
	}
	for _, need := range []string{"host", "x-amz-date", "x-amz-content-sha256"} {
		if !signed[need] {
			return a, errorf(http.StatusBadRequest, "AuthorizationHeaderMalformed", "the signed headers %q lack %s", a.signedHeaders, need)
		}
	}
	if e := s.checkToken(r, signed); e != nil {
		return a, e
	}
	when, err := time.Parse(amzDateFormat, r.Header.Get(amzDateHeader))
	if err != nil {
		return a, errorf(http.StatusBadRequest, "AuthorizationHeaderMalformed", "X-Amz-Date %q: %v", r.Header.Get(amzDateHeader), err)
	}
	if when.Format("20060102") != a.date {
		return a, errorf(http.StatusBadRequest, "AuthorizationHeaderMalformed", "the credential date %s is not the day of X-Amz-Date %s", a.date, r.Header.Get(amzDateHeader))
	}
	if skew := s.cfg.Now().Sub(when); skew > maxClockSkew || skew < -maxClockSkew {
		return a, errorf(http.StatusForbidden, "RequestTimeTooSkewed", "The difference between the request time and the current time is too large (%v).", skew)
	}
	payloadHash := r.Header.Get(contentSHA256)
	if strings.HasPrefix(payloadHash, streamingBody) {
		return a, errorf(http.StatusNotImplemented, "NotImplemented", "%s payloads (aws-chunked) are not supported by this stand-in", payloadHash)
	}
	return a, s.compareSignature(r, a, when, payloadHash)
}

// checkToken requires the session token of the server's credentials, signed, when they have one,
// and no token when they have none.
func (s *Server) checkToken(r *http.Request, signed map[string]bool) *Error {
	want, got := s.cfg.Credentials.SessionToken, r.Header.Get(securityToken)
	switch {
	case want == "" && got != "":
		return errorf(http.StatusBadRequest, "InvalidToken", "The provided token is malformed or otherwise invalid: these credentials have no session token.")
	case want != "" && got == "":
		return errorf(http.StatusForbidden, "AccessDenied", "Access Denied: the request has no X-Amz-Security-Token (these credentials need one)")
	case want != "" && !hmac.Equal([]byte(got), []byte(want)):
		return errorf(http.StatusBadRequest, "InvalidToken", "The provided token is malformed or otherwise invalid.")
	case want != "" && !signed["x-amz-security-token"]:
		return errorf(http.StatusBadRequest, "AuthorizationHeaderMalformed", "X-Amz-Security-Token is not among the signed headers")
	}
	return nil
}

// compareSignature signs a copy of r made of its signed headers only and compares the result.
func (s *Server) compareSignature(r *http.Request, a authHeader, when time.Time, payloadHash string) *Error {
	u := &url.URL{Scheme: "http", Host: r.Host, Path: r.URL.Path, RawPath: r.URL.RawPath, RawQuery: r.URL.RawQuery}
	again := &http.Request{Method: r.Method, URL: u, Host: r.Host, Header: http.Header{}}
	for _, name := range a.signedHeaders {
		switch name {
		case "host":
		case "content-length":
			again.ContentLength = r.ContentLength
		default:
			again.Header[http.CanonicalHeaderKey(name)] = r.Header.Values(name)
		}
	}
	var canonical string
	creds := aws.Credentials{AccessKeyID: s.cfg.Credentials.AccessKeyID, SecretAccessKey: s.cfg.Credentials.SecretAccessKey, SessionToken: s.cfg.Credentials.SessionToken}
	err := s.signer.SignHTTP(context.Background(), creds, again, payloadHash, serviceName, s.cfg.Region, when, func(o *v4.SignerOptions) {
		o.DisableURIPathEscaping = true // S3 signs the path as sent, not escaped again
		o.LogSigning = true
		o.Logger = logging.LoggerFunc(func(_ logging.Classification, format string, v ...any) {
			canonical = fmt.Sprintf(format, v...)
		})
	})
	if err != nil {
		return errorf(http.StatusInternalServerError, "InternalError", "signing the request again: %v", err)
	}
	want, err := parseAuthorization(again.Header.Get("Authorization"))
	if err != nil {
		return errorf(http.StatusInternalServerError, "InternalError", "reading our own signature: %v", err)
	}
	if strings.Join(want.signedHeaders, ";") != strings.Join(a.signedHeaders, ";") {
		return errorf(http.StatusForbidden, "SignatureDoesNotMatch", "the signed headers %q are not those the signer signs for this request, %q", a.signedHeaders, want.signedHeaders)
	}
	if !hmac.Equal([]byte(want.signature), []byte(a.signature)) {
		return errorf(http.StatusForbidden, "SignatureDoesNotMatch",
			"The request signature we calculated does not match the signature you provided. Check your key and signing method. %s", canonical)
	}
	return nil
}
