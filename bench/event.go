package bench

import (
	"fmt"
	"strconv"
)

// EventSize6MB is the largest event the benchmarks send: just under the emulator's 6 MiB request
// limit (6,291,456 bytes), above which it truncates requests.
const EventSize6MB = 6*1024*1024 - 1024

// Event returns a JSON object of exactly size bytes (size >= 64) that looks like a batch of
// records, written the way Python's json.dumps writes it by default: ", " between members and
// elements, ": " after keys, ASCII only. An adapter that decodes the event and encodes it again
// with json.dumps' defaults (the Python adapter) gives back the same bytes, so every echo handler
// can be checked byte for byte.
func Event(size int) ([]byte, error) {
	const (
		head = `{"source": "polybench", "records": [`
		tail = `], "pad": "`
		end  = `"}`
	)
	if size < len(head)+len(tail)+len(end) {
		return nil, fmt.Errorf("event size %d: want at least %d bytes", size, len(head)+len(tail)+len(end))
	}
	b := make([]byte, 0, size)
	b = append(b, head...)
	for i := 0; ; i++ {
		rec := record(i)
		sep := 0
		if i > 0 {
			sep = 2
		}
		if len(b)+sep+len(rec)+len(tail)+len(end) > size {
			break
		}
		if i > 0 {
			b = append(b, ", "...)
		}
		b = append(b, rec...)
	}
	b = append(b, tail...)
	for len(b) < size-len(end) {
		b = append(b, 'x')
	}
	b = append(b, end...)
	return b, nil
}

// record is one element of Event's "records" array.
func record(i int) []byte {
	r := make([]byte, 0, 128)
	r = append(r, `{"id": `...)
	r = strconv.AppendInt(r, int64(i), 10)
	r = append(r, `, "name": "record-`...)
	r = strconv.AppendInt(r, int64(i), 10)
	r = append(r, `", "active": true, "score": 0.5, "tags": ["alpha", "beta"], "parent": null}`...)
	return r
}
