package s3test

import (
	"encoding/base64"
	"encoding/xml"
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"
)

const s3Namespace = "http://s3.amazonaws.com/doc/2006-03-01/"

// Error is an S3 error answer.
type Error struct {
	Status  int
	Code    string
	Message string
}

func (e *Error) Error() string { return fmt.Sprintf("%d %s: %s", e.Status, e.Code, e.Message) }

func errorf(status int, code, format string, args ...any) *Error {
	return &Error{Status: status, Code: code, Message: fmt.Sprintf(format, args...)}
}

type errorBody struct {
	XMLName   xml.Name `xml:"Error"`
	Code      string
	Message   string
	Resource  string
	RequestID string `xml:"RequestId"`
}

// writeError answers e as S3 does: an XML body, none for HEAD.
func writeError(w http.ResponseWriter, r *http.Request, e *Error, requestID string) {
	if r.Method == http.MethodHead {
		w.WriteHeader(e.Status)
		return
	}
	_ = writeXML(w, e.Status, errorBody{Code: e.Code, Message: e.Message, Resource: r.URL.Path, RequestID: requestID})
}

func writeXML(w http.ResponseWriter, status int, v any) *Error {
	data, err := xml.Marshal(v)
	if err != nil {
		return errorf(http.StatusInternalServerError, "InternalError", "encoding the answer: %v", err)
	}
	w.Header().Set("Content-Type", "application/xml")
	w.Header().Set("Content-Length", strconv.Itoa(len(xml.Header)+len(data)))
	w.WriteHeader(status)
	_, _ = w.Write([]byte(xml.Header))
	_, _ = w.Write(data)
	return nil
}

func s3Time(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000Z") }

type owner struct {
	ID          string
	DisplayName string
}

type bucketEntry struct {
	Name         string
	CreationDate string
}

type listAllMyBucketsResult struct {
	XMLName xml.Name      `xml:"ListAllMyBucketsResult"`
	Xmlns   string        `xml:"xmlns,attr"`
	Owner   owner         `xml:"Owner"`
	Buckets []bucketEntry `xml:"Buckets>Bucket"`
}

type contentEntry struct {
	Key          string
	LastModified string
	ETag         string
	Size         int
	StorageClass string
}

type commonPrefix struct {
	Prefix string
}

type listBucketResult struct {
	XMLName               xml.Name `xml:"ListBucketResult"`
	Xmlns                 string   `xml:"xmlns,attr"`
	Name                  string
	Prefix                string
	Delimiter             string `xml:",omitempty"`
	MaxKeys               int
	EncodingType          string `xml:",omitempty"`
	KeyCount              int
	IsTruncated           bool
	ContinuationToken     string         `xml:",omitempty"`
	NextContinuationToken string         `xml:",omitempty"`
	StartAfter            string         `xml:",omitempty"`
	Contents              []contentEntry `xml:"Contents"`
	CommonPrefixes        []commonPrefix `xml:"CommonPrefixes"`
}

// listObjectsV2 answers GET /BUCKET?list-type=2 with prefix, delimiter, max-keys, start-after,
// continuation-token and encoding-type=url.
func listObjectsV2(w http.ResponseWriter, r *http.Request, name string, b *bucket) *Error {
	q := r.URL.Query()
	prefix, delim := q.Get("prefix"), q.Get("delimiter")
	maxKeys := 1000
	if v := q.Get("max-keys"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			return errorf(http.StatusBadRequest, "InvalidArgument", "max-keys %q is not a non-negative integer", v)
		}
		maxKeys = min(n, 1000)
	}
	enc := func(s string) string { return s }
	switch q.Get("encoding-type") {
	case "":
	case "url":
		enc = func(s string) string { return strings.ReplaceAll(url.QueryEscape(s), "%2F", "/") }
	default:
		return errorf(http.StatusBadRequest, "InvalidArgument", "Invalid Encoding Method specified in Request")
	}
	after, skipUnder := q.Get("start-after"), ""
	if tok := q.Get("continuation-token"); tok != "" {
		raw, err := base64.RawURLEncoding.DecodeString(tok)
		if err != nil {
			return errorf(http.StatusBadRequest, "InvalidArgument", "The continuation token provided is incorrect")
		}
		after = string(raw)
		if delim != "" && strings.HasSuffix(after, delim) {
			skipUnder = after // the last page ended with this common prefix
		}
	}
	keys := make([]string, 0, len(b.objects))
	for k := range b.objects {
		if strings.HasPrefix(k, prefix) && k > after && (skipUnder == "" || !strings.HasPrefix(k, skipUnder)) {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	res := listBucketResult{Xmlns: s3Namespace, Name: name, Prefix: enc(prefix), Delimiter: enc(delim), MaxKeys: maxKeys,
		EncodingType: q.Get("encoding-type"), ContinuationToken: q.Get("continuation-token"), StartAfter: enc(q.Get("start-after"))}
	last := ""
	for _, k := range keys {
		entry := k
		if delim != "" {
			if i := strings.Index(k[len(prefix):], delim); i >= 0 {
				entry = k[:len(prefix)+i+len(delim)]
			}
		}
		if entry == last {
			continue // another key under the common prefix just listed
		}
		if res.KeyCount == maxKeys {
			res.IsTruncated = true
			res.NextContinuationToken = base64.RawURLEncoding.EncodeToString([]byte(last))
			break
		}
		last = entry
		res.KeyCount++
		if entry != k {
			res.CommonPrefixes = append(res.CommonPrefixes, commonPrefix{Prefix: enc(entry)})
			continue
		}
		o := b.objects[k]
		res.Contents = append(res.Contents, contentEntry{Key: enc(k), LastModified: s3Time(o.modified), ETag: o.etag, Size: len(o.data), StorageClass: "STANDARD"})
	}
	return writeXML(w, http.StatusOK, res)
}
