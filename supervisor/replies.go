package supervisor

import (
	"errors"
	"fmt"
	"io"

	"github.com/polyboot/polyboot/protocol"
)

// maxReplyLine bounds one reply line from a worker. Bodies travel on their own FIFOs, so replies
// are small; this leaves room for very long error messages and stack traces. A longer line is cut
// to a truncated reply (protocol.TruncatedReply), and the channel stays in step.
const maxReplyLine = 8 * 1024 * 1024

// lineOrErr is one line of the channel out, parsed, or why it could not be.
type lineOrErr struct {
	reply *protocol.Reply
	err   error
	ended bool // err is the end of the channel: the worker closed it, or is probably dying
}

// readReplies turns the channel out into parsed replies until it ends.
func (p *process) readReplies() {
	lr := protocol.NewLineReader(p.out, maxReplyLine)
	for {
		line, err := lr.ReadLine()
		var long *protocol.LongLineError
		switch {
		case errors.As(err, &long):
			if !p.deliver(truncatedLine(long)) {
				return
			}
			continue
		case err != nil:
			ended := errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF)
			p.deliver(lineOrErr{err: fmt.Errorf("reading channel: %w", err), ended: ended})
			return
		}
		r, err := protocol.ParseReply(line)
		if err != nil {
			err = fmt.Errorf("%w (line: %.200q)", err, line)
		}
		if !p.deliver(lineOrErr{reply: r, err: err}) {
			return
		}
	}
}

// truncatedLine is the reply an over-long line still makes.
func truncatedLine(long *protocol.LongLineError) lineOrErr {
	r, err := protocol.TruncatedReply(long)
	if err != nil {
		return lineOrErr{err: fmt.Errorf("reading channel: %w (line: %.200q)", err, long.Head)}
	}
	return lineOrErr{reply: r}
}

// deliver hands a line to the worker. While nobody takes it, it waits until the process exited;
// a line that fits the buffer is always delivered, so a reply written just before an exit is kept.
func (p *process) deliver(l lineOrErr) bool {
	select {
	case p.lines <- l:
		return true
	default:
	}
	select {
	case p.lines <- l:
		return true
	case <-p.exited:
		return false
	}
}
