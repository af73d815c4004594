// Package s3test is a small S3-compatible server for tests, to run on loopback: in-memory buckets
// and five operations (ListBuckets, ListObjectsV2, GetObject, PutObject, HeadObject, plus
// CreateBucket and HeadBucket), path-style addressing (http://127.0.0.1:PORT/BUCKET/KEY), and
// every request's AWS Signature Version 4 verified against one set of credentials: the access
// key, the secret key (the signature is computed again with the AWS SDK for Go v2's signer) and
// the session token, which must be sent and signed when the credentials have one. A request that
// fails the check gets S3's error (SignatureDoesNotMatch, InvalidAccessKeyId, InvalidToken, ...)
// and is recorded as rejected.
//
// It is what the AWS CLI of the tools layer and boto3 of the Python 2.7 layer are tested against
// (aws --endpoint-url http://127.0.0.1:PORT s3 ...). Command s3serve (./internal/s3test/s3serve)
// serves one on a port for shell tests.
package s3test

import (
	"bytes"
	"crypto/md5"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"sort"
	"strings"
	"sync"
	"time"

	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
)

// maxBody bounds the body of one request held in memory.
const maxBody = 64 << 20

// Credentials are the only keys a Server accepts.
type Credentials struct {
	AccessKeyID     string
	SecretAccessKey string
	SessionToken    string // "" when the credentials have none
}

// Config sets up a Server.
type Config struct {
	Credentials Credentials
	Region      string           // the region requests must be signed for; default us-east-1
	Now         func() time.Time // the clock the request time is checked against; default time.Now
}

// Request is what the server recorded of one request it received.
type Request struct {
	Operation     string   `json:"operation"` // ListBuckets, PutObject, ... ("" when not known)
	Method        string   `json:"method"`
	Path          string   `json:"path"`
	Query         string   `json:"query,omitempty"`
	AccessKeyID   string   `json:"access_key_id,omitempty"` // from the Authorization header
	SignedHeaders []string `json:"signed_headers,omitempty"`
	Verified      bool     `json:"verified"`         // the signature matched the credentials
	Status        int      `json:"status"`           // the HTTP status answered
	Error         string   `json:"error,omitempty"`  // the S3 error code answered, if any
	Detail        string   `json:"detail,omitempty"` // its message
}

// Server is an in-memory S3 stand-in; it is an http.Handler. Its methods are safe for concurrent use.
type Server struct {
	cfg    Config
	signer *v4.Signer

	mu      sync.Mutex
	buckets map[string]*bucket
	log     []Request
	nextID  int
	onLog   func(Request)
}

type bucket struct {
	created time.Time
	objects map[string]*object
}

type object struct {
	data        []byte
	etag        string // quoted hex MD5
	contentType string
	modified    time.Time
}

// New returns a Server with no buckets.
func New(cfg Config) *Server {
	if cfg.Region == "" {
		cfg.Region = "us-east-1"
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &Server{cfg: cfg, signer: v4.NewSigner(), buckets: map[string]*bucket{}}
}

// OnRequest sets a function called with each request's record once it is answered (s3serve
// prints them).
func (s *Server) OnRequest(f func(Request)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.onLog = f
}

// CreateBucket adds an empty bucket (no error when it exists).
func (s *Server) CreateBucket(name string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.createBucket(name)
}

func (s *Server) createBucket(name string) {
	if _, ok := s.buckets[name]; !ok {
		s.buckets[name] = &bucket{created: s.cfg.Now().UTC(), objects: map[string]*object{}}
	}
}

// PutObject stores data under bucket/key as a client's PutObject would.
func (s *Server) PutObject(bucketName, key string, data []byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	b, ok := s.buckets[bucketName]
	if !ok {
		return fmt.Errorf("put %s/%s: no bucket %s", bucketName, key, bucketName)
	}
	b.objects[key] = s.newObject(data, "")
	return nil
}

// Object returns a copy of the object stored under bucket/key.
func (s *Server) Object(bucketName, key string) ([]byte, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	b, ok := s.buckets[bucketName]
	if !ok {
		return nil, false
	}
	o, ok := b.objects[key]
	if !ok {
		return nil, false
	}
	return bytes.Clone(o.data), true
}

// Requests returns the record of every request received so far, oldest first.
func (s *Server) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Request(nil), s.log...)
}

func (s *Server) newObject(data []byte, contentType string) *object {
	sum := md5.Sum(data)
	if contentType == "" {
		contentType = "binary/octet-stream"
	}
	return &object{data: data, etag: `"` + hex.EncodeToString(sum[:]) + `"`, contentType: contentType, modified: s.cfg.Now().UTC().Truncate(time.Second)}
}

// ServeHTTP verifies the request's signature, then answers the S3 operation it asks for.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	rec := Request{Method: r.Method, Path: r.URL.EscapedPath(), Query: r.URL.RawQuery}
	s.mu.Lock()
	s.nextID++
	requestID := fmt.Sprintf("S3TEST%010d", s.nextID)
	s.mu.Unlock()
	w.Header().Set("x-amz-request-id", requestID)
	w.Header().Set("Server", "polyboot-s3test")

	bucketName, key := splitPath(r.URL.Path)
	rec.Operation = operation(r, bucketName, key)
	a, e := s.verify(r)
	rec.AccessKeyID, rec.SignedHeaders = a.accessKeyID, a.signedHeaders
	var body []byte
	if e == nil {
		rec.Verified = true
		body, e = readBody(r)
	}
	if e == nil {
		e = s.serve(w, r, rec.Operation, bucketName, key, body)
	}
	rec.Status = http.StatusOK
	if e != nil {
		rec.Status, rec.Error, rec.Detail = e.Status, e.Code, e.Message
		writeError(w, r, e, requestID)
	}
	s.mu.Lock()
	s.log = append(s.log, rec)
	onLog := s.onLog
	s.mu.Unlock()
	if onLog != nil {
		onLog(rec)
	}
}

// splitPath reads a path-style request path: /, /BUCKET[/], /BUCKET/KEY.
func splitPath(p string) (bucketName, key string) {
	p = strings.TrimPrefix(p, "/")
	bucketName, key, _ = strings.Cut(p, "/")
	return bucketName, key
}

// operation names the S3 operation a request asks for, or "" when the stand-in has none for it.
func operation(r *http.Request, bucketName, key string) string {
	q := r.URL.Query()
	switch {
	case bucketName == "" && r.Method == http.MethodGet:
		return "ListBuckets"
	case bucketName == "":
		return ""
	case key == "" && r.Method == http.MethodGet && q.Get("list-type") == "2":
		return "ListObjectsV2"
	case key == "" && r.Method == http.MethodPut && len(q) == 0:
		return "CreateBucket"
	case key == "" && r.Method == http.MethodHead:
		return "HeadBucket"
	case key == "" || len(q) > 0:
		return ""
	case r.Method == http.MethodGet:
		return "GetObject"
	case r.Method == http.MethodHead:
		return "HeadObject"
	case r.Method == http.MethodPut && r.Header.Get("X-Amz-Copy-Source") == "":
		return "PutObject"
	}
	return ""
}

// readBody reads the request's body and checks it against the SHA-256 it was signed with and
// its Content-MD5.
func readBody(r *http.Request) ([]byte, *Error) {
	body, err := io.ReadAll(io.LimitReader(r.Body, maxBody+1))
	if err != nil {
		return nil, errorf(http.StatusBadRequest, "IncompleteBody", "reading the body: %v", err)
	}
	if len(body) > maxBody {
		return nil, errorf(http.StatusBadRequest, "EntityTooLarge", "this stand-in holds at most %d bytes per request", maxBody)
	}
	if declared := r.Header.Get(contentSHA256); declared != unsignedBody {
		sum := sha256.Sum256(body)
		if !strings.EqualFold(declared, hex.EncodeToString(sum[:])) {
			return nil, errorf(http.StatusBadRequest, "XAmzContentSHA256Mismatch", "The provided 'x-amz-content-sha256' header does not match what was computed.")
		}
	}
	if declared := r.Header.Get("Content-Md5"); declared != "" {
		sum := md5.Sum(body)
		if declared != base64.StdEncoding.EncodeToString(sum[:]) {
			return nil, errorf(http.StatusBadRequest, "BadDigest", "The Content-MD5 you specified did not match what we received.")
		}
	}
	return body, nil
}

// serve answers one verified request.
func (s *Server) serve(w http.ResponseWriter, r *http.Request, op, bucketName, key string, body []byte) *Error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if op == "" {
		return errorf(http.StatusNotImplemented, "NotImplemented", "%s %s is not an operation this stand-in implements", r.Method, r.URL.RequestURI())
	}
	if op == "ListBuckets" {
		return s.listBuckets(w)
	}
	if op == "CreateBucket" {
		s.createBucket(bucketName)
		w.Header().Set("Location", "/"+bucketName)
		return nil
	}
	b, ok := s.buckets[bucketName]
	if !ok {
		return errorf(http.StatusNotFound, "NoSuchBucket", "The specified bucket does not exist")
	}
	switch op {
	case "HeadBucket":
		return nil
	case "ListObjectsV2":
		return listObjectsV2(w, r, bucketName, b)
	case "PutObject":
		o := s.newObject(body, r.Header.Get("Content-Type"))
		b.objects[key] = o
		w.Header().Set("ETag", o.etag)
		return nil
	}
	o, ok := b.objects[key]
	if !ok {
		return errorf(http.StatusNotFound, "NoSuchKey", "The specified key does not exist.")
	}
	// GetObject and HeadObject: ServeContent answers HEAD, Range and the conditional headers.
	w.Header().Set("ETag", o.etag)
	w.Header().Set("Content-Type", o.contentType)
	w.Header().Set("Accept-Ranges", "bytes")
	http.ServeContent(w, r, key, o.modified, bytes.NewReader(o.data))
	return nil
}

func (s *Server) listBuckets(w http.ResponseWriter) *Error {
	res := listAllMyBucketsResult{Xmlns: s3Namespace, Owner: owner{ID: "polyboot-s3test", DisplayName: "polyboot-s3test"}}
	names := make([]string, 0, len(s.buckets))
	for name := range s.buckets {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		res.Buckets = append(res.Buckets, bucketEntry{Name: name, CreationDate: s3Time(s.buckets[name].created)})
	}
	return writeXML(w, http.StatusOK, res)
}
