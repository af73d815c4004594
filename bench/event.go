package bench

import (
	"bytes"
	"fmt"
	"strconv"
)

// Event sizes: the largest the benchmarks send is just under the emulator's 6 MiB request limit
// (6,291,456 bytes), above which it truncates requests; the other large shapes are 5 MiB.
const (
	EventSize6MB = 6*1024*1024 - 1024
	EventSize5MB = 5 * 1024 * 1024
	// NestedDepth is how deep NestedEvent nests its objects. Every adapter must decode and encode
	// it: Python's json recurses once or twice per level (its recursion limit is 1000), Tcl's
	// json.tcl accepts 10000 levels and Go's encoding/json 10000; 500 is deep for any real event
	// and leaves Python's stack room for the adapter's and the handler's frames.
	NestedDepth = 500
)

// All events are written the way Python's json.dumps writes them by default (", " between members
// and elements, ": " after keys, non-ASCII as UTF-8 as with ensure_ascii=False, no "<", ">" or "&"
// that Go would escape), so that every echo handler, decoding the event or not, gives back the
// same bytes (aws-lambda-go: their compact form) and can be checked byte for byte.

// Event returns a JSON object of exactly size bytes (size >= 64) that looks like a batch of small
// records: {"source": "polybench", "records": [{"id": 0, ...}, ...], "pad": "xx…"}.
func Event(size int) ([]byte, error) {
	b, err := begin(size, `{"source": "polybench", "records": [`, `], "pad": "`+`"}`)
	if err != nil {
		return nil, err
	}
	for i := 0; ; i++ {
		rec := record(i)
		if i > 0 {
			rec = append([]byte(", "), rec...)
		}
		if len(b)+len(rec)+len(`], "pad": "`)+len(`"}`) > size {
			break
		}
		b = append(b, rec...)
	}
	return pad(append(b, `], "pad": "`...), size, `"}`), nil
}

// StringEvent returns a JSON object of exactly size bytes that is one long string full of
// non-ASCII text and escapes: {"source": "polybench", "text": "café \"quoted\" back\\slash …"}.
func StringEvent(size int) ([]byte, error) {
	const unit = `café \"quoted\" back\\slash, naïve résumé; `
	b, err := begin(size, `{"source": "polybench", "text": "`, `"}`)
	if err != nil {
		return nil, err
	}
	for len(b)+len(unit)+len(`"}`) <= size {
		b = append(b, unit...)
	}
	return pad(b, size, `"}`), nil
}

// NestedEvent returns a JSON object of exactly size bytes nested NestedDepth levels deep, each
// level a few records and the next level: {"depth": 0, "records": [...], "next": {"depth": 1, ...}}.
func NestedEvent(size int) ([]byte, error) {
	const levelHead, levelTail = `{"depth": `, `, "records": [`
	closing := bytes.Repeat([]byte("}"), NestedDepth)
	end := `], "pad": "` + `"}` + string(closing)
	b, err := begin(size, "", end)
	if err != nil {
		return nil, err
	}
	perLevel := max(0, (size-len(end))/(NestedDepth+1)-len(levelHead)-len(levelTail)-len(`], "next": `)-3)
	for d := 0; d <= NestedDepth; d++ {
		if d > 0 {
			b = append(b, `], "next": `...)
		}
		b = strconv.AppendInt(append(b, levelHead...), int64(d), 10)
		b = append(b, levelTail...)
		for i, start := 0, len(b); ; i++ {
			rec := record(i)
			if i > 0 {
				rec = append([]byte(", "), rec...)
			}
			if len(b)-start+len(rec) > perLevel {
				break
			}
			b = append(b, rec...)
		}
	}
	if len(b)+len(end) > size {
		return nil, fmt.Errorf("nested event size %d: too small for %d levels", size, NestedDepth)
	}
	return pad(append(b, `], "pad": "`...), size, `"}`+string(closing)), nil
}

// begin starts an event of size bytes with head, checking that head and tail fit.
func begin(size int, head, tail string) ([]byte, error) {
	if size < len(head)+len(tail) {
		return nil, fmt.Errorf("event size %d: want at least %d bytes", size, len(head)+len(tail))
	}
	return append(make([]byte, 0, size), head...), nil
}

// pad fills b with 'x' up to size bytes, tail included, and ends it with tail.
func pad(b []byte, size int, tail string) []byte {
	for len(b) < size-len(tail) {
		b = append(b, 'x')
	}
	return append(b, tail...)
}

// record is one element of the events' "records" arrays.
func record(i int) []byte {
	r := make([]byte, 0, 128)
	r = append(r, `{"id": `...)
	r = strconv.AppendInt(r, int64(i), 10)
	r = append(r, `, "name": "record-`...)
	r = strconv.AppendInt(r, int64(i), 10)
	r = append(r, `", "active": true, "score": 0.5, "tags": ["alpha", "beta"], "parent": null}`...)
	return r
}
