package s3test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/xml"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
)

// AWS's example keys (from the Signature Version 4 documentation).
var docCreds = Credentials{AccessKeyID: "AKIAIOSFODNN7EXAMPLE", SecretAccessKey: "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"}

// TestDocumentedSignature checks the verifier against the example request of Amazon S3's
// "Signature Calculations for the Authorization Header" page (GET /test.txt with a Range header),
// whose signature AWS publishes: a check that does not depend on the signer used to verify.
func TestDocumentedSignature(t *testing.T) {
	const emptySHA = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
	day := time.Date(2013, 5, 24, 0, 0, 0, 0, time.UTC)
	cases := []struct {
		name, rangeHeader, secret, signature string
		verified                             bool
		code                                 string
	}{
		{"as documented", "bytes=0-9", docCreds.SecretAccessKey, "f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41", true, "NotImplemented"},
		{"signed header changed", "bytes=0-10", docCreds.SecretAccessKey, "f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41", false, "SignatureDoesNotMatch"},
		{"other secret", "bytes=0-9", "not-the-secret", "f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41", false, "SignatureDoesNotMatch"},
		{"signature changed", "bytes=0-9", docCreds.SecretAccessKey, "f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb42", false, "SignatureDoesNotMatch"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			creds := docCreds
			creds.SecretAccessKey = c.secret
			s := New(Config{Credentials: creds, Now: func() time.Time { return day.Add(time.Minute) }})
			r := httptest.NewRequest(http.MethodGet, "http://examplebucket.s3.amazonaws.com/test.txt", nil)
			r.Header.Set("Range", c.rangeHeader)
			r.Header.Set("X-Amz-Content-Sha256", emptySHA)
			r.Header.Set("X-Amz-Date", "20130524T000000Z")
			r.Header.Set("Authorization", "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request,SignedHeaders=host;range;x-amz-content-sha256;x-amz-date,Signature="+c.signature)
			w := httptest.NewRecorder()
			s.ServeHTTP(w, r)
			got := s.Requests()[0]
			if got.Verified != c.verified || got.Error != c.code {
				t.Fatalf("verified %v, error %s (%s); want verified %v, error %s", got.Verified, got.Error, got.Detail, c.verified, c.code)
			}
		})
	}
}

var testCreds = Credentials{AccessKeyID: "ASIATESTKEY", SecretAccessKey: "test/secret+key", SessionToken: "IQoJb3JpZ2luX2VjE//session+token=="}

// client signs requests to a test server with the AWS SDK for Go v2's signer, as the SDKs do.
type client struct {
	t      *testing.T
	url    string
	creds  Credentials
	region string
	when   time.Time
	// tamper changes the request after signing.
	tamper func(*http.Request)
}

func (c client) do(method, path string, body string, headers ...string) (*http.Response, string) {
	c.t.Helper()
	req, err := http.NewRequest(method, c.url+path, strings.NewReader(body))
	if err != nil {
		c.t.Fatal(err)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	sum := sha256.Sum256([]byte(body))
	hash := hex.EncodeToString(sum[:])
	req.Header.Set("X-Amz-Content-Sha256", hash)
	region, when := c.region, c.when
	if region == "" {
		region = "us-east-1"
	}
	if when.IsZero() {
		when = time.Now()
	}
	if c.creds.AccessKeyID != "" {
		awsCreds := aws.Credentials{AccessKeyID: c.creds.AccessKeyID, SecretAccessKey: c.creds.SecretAccessKey, SessionToken: c.creds.SessionToken}
		err := v4.NewSigner().SignHTTP(context.Background(), awsCreds, req, hash, "s3", region, when, func(o *v4.SignerOptions) { o.DisableURIPathEscaping = true })
		if err != nil {
			c.t.Fatal(err)
		}
	}
	if c.tamper != nil {
		c.tamper(req)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		c.t.Fatal(err)
	}
	return resp, string(data)
}

func newTestServer(t *testing.T) (*Server, client) {
	s := New(Config{Credentials: testCreds})
	hs := httptest.NewServer(s)
	t.Cleanup(hs.Close)
	return s, client{t: t, url: hs.URL, creds: testCreds}
}

func TestOperations(t *testing.T) {
	s, c := newTestServer(t)
	s.CreateBucket("polyboot-test")
	resp, body := c.do(http.MethodPut, "/polyboot-test/dir/hello%20world.txt", "hello, S3\n", "Content-Type", "text/plain")
	if resp.StatusCode != http.StatusOK || resp.Header.Get("ETag") == "" {
		t.Fatalf("PutObject: %d %s", resp.StatusCode, body)
	}
	if data, ok := s.Object("polyboot-test", "dir/hello world.txt"); !ok || string(data) != "hello, S3\n" {
		t.Fatalf("stored %q, %v", data, ok)
	}
	if err := s.PutObject("polyboot-test", "top.txt", []byte("top")); err != nil {
		t.Fatal(err)
	}

	resp, body = c.do(http.MethodGet, "/", "")
	var buckets listAllMyBucketsResult
	if err := xml.Unmarshal([]byte(body), &buckets); err != nil || resp.StatusCode != 200 || len(buckets.Buckets) != 1 || buckets.Buckets[0].Name != "polyboot-test" {
		t.Fatalf("ListBuckets: %d %v %s", resp.StatusCode, err, body)
	}

	resp, body = c.do(http.MethodGet, "/polyboot-test/dir/hello%20world.txt", "")
	if resp.StatusCode != 200 || body != "hello, S3\n" || resp.Header.Get("Content-Type") != "text/plain" {
		t.Fatalf("GetObject: %d %q %v", resp.StatusCode, body, resp.Header)
	}
	resp, body = c.do(http.MethodGet, "/polyboot-test/top.txt", "", "Range", "bytes=1-")
	if resp.StatusCode != http.StatusPartialContent || body != "op" {
		t.Fatalf("GetObject with Range: %d %q", resp.StatusCode, body)
	}
	resp, body = c.do(http.MethodHead, "/polyboot-test/top.txt", "")
	if resp.StatusCode != 200 || resp.ContentLength != 3 || body != "" {
		t.Fatalf("HeadObject: %d %d %q", resp.StatusCode, resp.ContentLength, body)
	}
	resp, _ = c.do(http.MethodHead, "/polyboot-test/missing", "")
	if resp.StatusCode != http.StatusNotFound {
		t.Fatalf("HeadObject of a missing key: %d", resp.StatusCode)
	}
	resp, body = c.do(http.MethodGet, "/polyboot-test/missing", "")
	if resp.StatusCode != http.StatusNotFound || !strings.Contains(body, "<Code>NoSuchKey</Code>") {
		t.Fatalf("GetObject of a missing key: %d %s", resp.StatusCode, body)
	}
	resp, body = c.do(http.MethodGet, "/nobucket?list-type=2", "")
	if resp.StatusCode != http.StatusNotFound || !strings.Contains(body, "<Code>NoSuchBucket</Code>") {
		t.Fatalf("ListObjectsV2 of a missing bucket: %d %s", resp.StatusCode, body)
	}
	for _, r := range s.Requests() {
		if !r.Verified || r.AccessKeyID != testCreds.AccessKeyID {
			t.Errorf("request %+v was not verified", r)
		}
	}
}

func TestListObjectsV2(t *testing.T) {
	s, c := newTestServer(t)
	s.CreateBucket("b")
	for _, k := range []string{"a/1", "a/2", "b/1", "c", "d e+f", "e"} {
		if err := s.PutObject("b", k, []byte(k)); err != nil {
			t.Fatal(err)
		}
	}
	list := func(query string) listBucketResult {
		t.Helper()
		resp, body := c.do(http.MethodGet, "/b?list-type=2"+query, "")
		var res listBucketResult
		if err := xml.Unmarshal([]byte(body), &res); err != nil || resp.StatusCode != 200 {
			t.Fatalf("ListObjectsV2%s: %d %v %s", query, resp.StatusCode, err, body)
		}
		return res
	}
	names := func(res listBucketResult) string {
		var out []string
		for _, p := range res.CommonPrefixes {
			out = append(out, p.Prefix+"(prefix)")
		}
		for _, c := range res.Contents {
			out = append(out, c.Key)
		}
		return strings.Join(out, ",")
	}
	cases := []struct{ query, want string }{
		{"", "a/1,a/2,b/1,c,d e+f,e"},
		{"&prefix=a%2F", "a/1,a/2"},
		{"&delimiter=%2F", "a/(prefix),b/(prefix),c,d e+f,e"},
		{"&delimiter=%2F&encoding-type=url", "a/(prefix),b/(prefix),c,d+e%2Bf,e"},
		{"&start-after=b%2F1", "c,d e+f,e"},
	}
	for _, tc := range cases {
		if got := names(list(tc.query)); got != tc.want {
			t.Errorf("ListObjectsV2%s = %s, want %s", tc.query, got, tc.want)
		}
	}
	// Pages of two, with the delimiter: a common prefix is never listed twice.
	var all []string
	query := "&delimiter=%2F&max-keys=2"
	for page := 0; ; page++ {
		if page > 5 {
			t.Fatal("pagination does not end")
		}
		res := list(query)
		all = append(all, names(res))
		if !res.IsTruncated {
			break
		}
		query = "&delimiter=%2F&max-keys=2&continuation-token=" + res.NextContinuationToken
	}
	if got := strings.Join(all, "|"); got != "a/(prefix),b/(prefix)|c,d e+f|e" {
		t.Errorf("pages: %s", got)
	}
}

// TestRejected: each request that does not carry a valid signature of the server's credentials
// gets S3's error and is recorded as not verified.
func TestRejected(t *testing.T) {
	other := testCreds
	other.SecretAccessKey = "another secret"
	noToken := testCreds
	noToken.SessionToken = ""
	otherToken := testCreds
	otherToken.SessionToken = "another token"
	cases := []struct {
		name   string
		c      func(client) client
		status int
		code   string
	}{
		{"unsigned", func(c client) client { c.creds = Credentials{}; return c }, 403, "AccessDenied"},
		{"unknown access key", func(c client) client { c.creds.AccessKeyID = "AKIAOTHER"; return c }, 403, "InvalidAccessKeyId"},
		{"wrong secret", func(c client) client { c.creds = other; return c }, 403, "SignatureDoesNotMatch"},
		{"no session token", func(c client) client { c.creds = noToken; return c }, 403, "AccessDenied"},
		{"another session token", func(c client) client { c.creds = otherToken; return c }, 400, "InvalidToken"},
		{"session token not signed", func(c client) client {
			c.creds = noToken
			c.tamper = func(r *http.Request) { r.Header.Set("X-Amz-Security-Token", testCreds.SessionToken) }
			return c
		}, 400, "AuthorizationHeaderMalformed"},
		{"another region", func(c client) client { c.region = "eu-west-1"; return c }, 400, "AuthorizationHeaderMalformed"},
		{"an hour late", func(c client) client { c.when = time.Now().Add(-time.Hour); return c }, 403, "RequestTimeTooSkewed"},
		{"path changed after signing", func(c client) client {
			c.tamper = func(r *http.Request) { r.URL.Path = "/b/other" }
			return c
		}, 403, "SignatureDoesNotMatch"},
		{"body changed after signing", func(c client) client {
			c.tamper = func(r *http.Request) { r.Body = io.NopCloser(strings.NewReader("evil")); r.ContentLength = 4 }
			return c
		}, 403, "SignatureDoesNotMatch"},
		{"body and length changed after signing", func(c client) client {
			c.tamper = func(r *http.Request) { r.Body = io.NopCloser(strings.NewReader("ev")); r.ContentLength = 2 }
			return c
		}, 400, "XAmzContentSHA256Mismatch"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s, c := newTestServer(t)
			s.CreateBucket("b")
			resp, body := tc.c(c).do(http.MethodPut, "/b/key", "ok", "Content-Type", "text/plain")
			if resp.StatusCode != tc.status || !strings.Contains(body, "<Code>"+tc.code+"</Code>") {
				t.Fatalf("got %d %s, want %d %s", resp.StatusCode, body, tc.status, tc.code)
			}
			if _, ok := s.Object("b", "key"); ok {
				t.Error("the object was stored anyway")
			}
			rec := s.Requests()
			if len(rec) != 1 || rec[0].Error != tc.code {
				t.Fatalf("recorded %+v", rec)
			}
			if tc.code != "XAmzContentSHA256Mismatch" && rec[0].Verified {
				t.Errorf("recorded as verified: %+v", rec[0])
			}
		})
	}
}
