package resp

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"strconv"
)

// maxReplyLine is the longest simple string, error or integer reply line
// a ReplyReader accepts, CRLF included.
const maxReplyLine = 4 << 10

// maxReplyDepth is how deep arrays may nest in a reply that Skip drops.
const maxReplyDepth = 32

// ReplyError is an error reply ("-NOSHARD ..."): the peer refused the
// command, and the stream is still in sync.
type ReplyError struct{ Msg string }

func (e *ReplyError) Error() string { return e.Msg }

// ReplyReader reads replies sent by a server: simple strings, errors,
// integers, bulk strings and arrays, one typed element at a time, so that
// a caller that knows the shape of a reply reads it without building a
// generic tree. Bulk strings are read into memory the caller provides.
//
// Every method returns a *ReplyError for an error reply where it expected
// its type; the stream is then in sync. Any other error (malformed input,
// wrapping ErrProtocol, or I/O) leaves the stream out of sync.
//
// A ReplyReader is not safe for concurrent use.
type ReplyReader struct {
	br      *bufio.Reader
	maxBulk int
}

// NewReplyReader returns a ReplyReader reading from rd through a bufio
// reader of size bytes, accepting bulk strings up to maxBulk bytes (at
// most HardMaxBulkLen).
func NewReplyReader(rd io.Reader, size, maxBulk int) *ReplyReader {
	return &ReplyReader{br: bufio.NewReaderSize(rd, size), maxBulk: min(maxBulk, HardMaxBulkLen)}
}

// ReadStatus reads a simple string reply ("+OK") and returns its text.
func (r *ReplyReader) ReadStatus() (string, error) {
	line, err := r.readLine('+')
	return string(line), err
}

// ReadInt reads an integer reply (":42").
func (r *ReplyReader) ReadInt() (int64, error) {
	line, err := r.readLine(':')
	if err != nil {
		return 0, err
	}
	n, err := strconv.ParseInt(string(line), 10, 64)
	if err != nil {
		return 0, fmt.Errorf("%w: integer %q", ErrProtocol, line)
	}
	return n, nil
}

// ReadArrayLen reads an array header ("*3") and returns its element count,
// -1 for the null array. The elements follow.
func (r *ReplyReader) ReadArrayLen() (int, error) {
	line, err := r.readLine('*')
	if err != nil {
		return 0, err
	}
	n, ok := parseLen(line)
	if !ok || n > HardMaxArgs {
		return 0, fmt.Errorf("%w %q", ErrInvalidMultiBulkLength, line)
	}
	return n, nil
}

// ReadBulk reads a bulk string reply into alloc(n) (nil alloc: a new
// slice), which must return exactly n bytes; nil for the null bulk string.
func (r *ReplyReader) ReadBulk(alloc func(n int) []byte) ([]byte, error) {
	line, err := r.readLine('$')
	if err != nil {
		return nil, err
	}
	n, ok := parseLen(line)
	if !ok || n > r.maxBulk {
		return nil, fmt.Errorf("%w %q", ErrInvalidBulkLength, line)
	}
	if n < 0 {
		return nil, nil
	}
	var b []byte
	if alloc != nil {
		b = alloc(n)
	} else {
		b = make([]byte, n)
	}
	if _, err := io.ReadFull(r.br, b); err != nil {
		return nil, unexpected(err)
	}
	return b, r.readCRLF()
}

// Skip reads and drops one whole reply of any type, an error reply
// included (it returns nil for it). Arrays may nest maxReplyDepth deep.
func (r *ReplyReader) Skip() error { return r.skip(0) }

// skip drops one reply nested depth arrays deep.
func (r *ReplyReader) skip(depth int) error {
	if depth > maxReplyDepth {
		return fmt.Errorf("%w: arrays nested deeper than %d", ErrProtocol, maxReplyDepth)
	}
	b, err := r.br.Peek(1)
	if err != nil {
		return unexpected(err)
	}
	switch b[0] {
	case '+', '-', ':':
		_, err := r.rawLine()
		return err
	case '$':
		return r.skipBulk()
	case '*':
		n, err := r.ReadArrayLen()
		for ; err == nil && n > 0; n-- {
			err = r.skip(depth + 1)
		}
		return err
	default:
		return fmt.Errorf("%w %q", ErrUnexpectedType, b[0])
	}
}

// skipBulk drops one bulk string without holding it in memory.
func (r *ReplyReader) skipBulk() error {
	line, err := r.readLine('$')
	if err != nil {
		return err
	}
	n, ok := parseLen(line)
	if !ok || n > r.maxBulk {
		return fmt.Errorf("%w %q", ErrInvalidBulkLength, line)
	}
	if n < 0 {
		return nil
	}
	if _, err := io.CopyN(io.Discard, r.br, int64(n)); err != nil {
		return unexpected(err)
	}
	return r.readCRLF()
}

// readLine reads a reply line of type typ and returns it without its type
// byte and CRLF; an error reply is returned as a *ReplyError.
func (r *ReplyReader) readLine(typ byte) ([]byte, error) {
	line, err := r.rawLine()
	switch {
	case err != nil:
		return nil, err
	case line[0] == '-' && typ != '-':
		return nil, &ReplyError{Msg: string(line[1:])}
	case line[0] != typ:
		return nil, fmt.Errorf("%w %q, expected %q", ErrUnexpectedType, line[0], typ)
	}
	return line[1:], nil
}

// rawLine reads one line and returns it without its CRLF; it holds at
// least the type byte. The slice is valid until the next read.
func (r *ReplyReader) rawLine() ([]byte, error) {
	b, err := r.br.ReadSlice('\n')
	switch {
	case errors.Is(err, bufio.ErrBufferFull) || err == nil && len(b) > maxReplyLine:
		return nil, fmt.Errorf("%w: reply line longer than %d bytes", ErrProtocol, maxReplyLine)
	case err != nil:
		return nil, unexpected(err)
	case len(b) < 3 || b[len(b)-2] != '\r':
		return nil, fmt.Errorf("%w in reply line %q", ErrMissingCRLF, b)
	}
	return b[:len(b)-2], nil
}

// readCRLF consumes the CRLF that ends a bulk string.
func (r *ReplyReader) readCRLF() error {
	b, err := r.br.Peek(2)
	if len(b) > 0 && b[0] != '\r' || len(b) > 1 && b[1] != '\n' {
		return fmt.Errorf("%w after bulk string, got %q", ErrMissingCRLF, b)
	}
	if err != nil {
		return unexpected(err)
	}
	_, _ = r.br.Discard(2)
	return nil
}
