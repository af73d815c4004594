package supervisor

// newlineTrimmer passes a byte stream on without the "\n" bytes that end it, as bash's command
// substitution drops them: newlines are held back (only counted) until a byte that is not a
// newline follows, and those still held at the end are never passed on. It keeps no bytes, so it
// works on a stream of any length.
type newlineTrimmer struct {
	emit func([]byte)
	held int      // newlines seen and not yet passed on
	nl   [64]byte // newlines to pass held ones on from
}

// newNewlineTrimmer returns a trimmer that passes what it keeps to emit.
func newNewlineTrimmer(emit func([]byte)) *newlineTrimmer {
	t := &newlineTrimmer{emit: emit}
	for i := range t.nl {
		t.nl[i] = '\n'
	}
	return t
}

// write takes the next bytes of the stream.
func (t *newlineTrimmer) write(b []byte) {
	end := len(b)
	for end > 0 && b[end-1] == '\n' {
		end--
	}
	if end == 0 {
		t.held += len(b)
		return
	}
	t.release()
	t.emit(b[:end])
	t.held = len(b) - end
}

// release passes the held newlines on: more bytes follow them.
func (t *newlineTrimmer) release() {
	for t.held > 0 {
		n := min(t.held, len(t.nl))
		t.emit(t.nl[:n])
		t.held -= n
	}
}
