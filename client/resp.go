package client

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"strconv"
	"unsafe"
)

// The client's RESP2 codec: commands are written as arrays of bulk
// strings; replies are read as
//
//	simple string, bulk string   string
//	integer                      int64
//	array                        []any
//	null bulk string or array    nil
//	error                        errorReply (a value, not a Go error of
//	                             the read: the stream stays in sync)
//
// as go-redis parsed them before (Reply.Val documents these types).

// errorReply is a RESP error reply, e.g. "NOSHARD ks/3 is not held".
type errorReply string

func (e errorReply) Error() string { return string(e) }

// Limits of a reply the client accepts (a line, simple string or error
// reply is at most the reader's 32 KiB buffer). A store answers at most a
// scan page of values of at most 1 MiB; anything beyond these is a broken
// stream.
const (
	maxReplyBulk  = 512 << 20 // one bulk string (Redis' proto-max-bulk-len)
	maxReplyArray = 1 << 24   // elements of one array
	maxReplyDepth = 16        // nested arrays
)

// cmdBuf encodes commands into one buffer.
type cmdBuf struct {
	b []byte
	n int // commands encoded
}

// add appends one command; each argument is a string, []byte, int, int64
// or uint64.
func (c *cmdBuf) add(args ...any) {
	c.b = append(c.b, '*')
	c.b = strconv.AppendInt(c.b, int64(len(args)), 10)
	c.b = append(c.b, '\r', '\n')
	for _, a := range args {
		switch v := a.(type) {
		case string:
			c.b = appendBulkString(c.b, v)
		case []byte:
			c.b = appendBulk(c.b, v)
		case int:
			c.b = appendBulkString(c.b, strconv.Itoa(v))
		case int64:
			c.b = appendBulkString(c.b, strconv.FormatInt(v, 10))
		case uint64:
			c.b = appendBulkString(c.b, strconv.FormatUint(v, 10))
		default:
			// A programming error of the client, never input.
			panic(fmt.Sprintf("client: command argument of type %T", a))
		}
	}
	c.n++
}

// addBytes appends one command of byte-slice arguments.
func (c *cmdBuf) addBytes(args [][]byte) {
	c.b = append(c.b, '*')
	c.b = strconv.AppendInt(c.b, int64(len(args)), 10)
	c.b = append(c.b, '\r', '\n')
	for _, a := range args {
		c.b = appendBulk(c.b, a)
	}
	c.n++
}

func appendBulk(b, v []byte) []byte {
	b = append(b, '$')
	b = strconv.AppendInt(b, int64(len(v)), 10)
	b = append(b, '\r', '\n')
	b = append(b, v...)
	return append(b, '\r', '\n')
}

func appendBulkString(b []byte, v string) []byte {
	b = append(b, '$')
	b = strconv.AppendInt(b, int64(len(v)), 10)
	b = append(b, '\r', '\n')
	b = append(b, v...)
	return append(b, '\r', '\n')
}

// replyReader reads replies from a stream.
type replyReader struct {
	r *bufio.Reader
}

func newReplyReader(r io.Reader) *replyReader {
	return &replyReader{r: bufio.NewReaderSize(r, 32<<10)}
}

// malformed is the error of a reply that breaks the protocol: the stream
// cannot be read further.
func malformed(format string, args ...any) error {
	return fmt.Errorf("%w: %s", errMalformed, fmt.Sprintf(format, args...))
}

// read reads one reply. Its error is the stream's (I/O or a malformed
// reply); an error reply is a value of type errorReply.
func (rr *replyReader) read() (any, error) {
	return rr.readDepth(0)
}

func (rr *replyReader) readDepth(depth int) (any, error) {
	line, err := rr.line()
	if err != nil {
		return nil, err
	}
	if len(line) == 0 {
		return nil, malformed("empty reply line")
	}
	switch line[0] {
	case '+':
		return string(line[1:]), nil
	case '-':
		return errorReply(line[1:]), nil
	case ':':
		n, err := strconv.ParseInt(string(line[1:]), 10, 64)
		if err != nil {
			return nil, malformed("integer reply %q", clip(line))
		}
		return n, nil
	case '$':
		n, err := parseLen(line, maxReplyBulk)
		if err != nil || n < 0 {
			return nil, err
		}
		buf := make([]byte, n+2)
		if _, err := io.ReadFull(rr.r, buf); err != nil {
			return nil, unexpectedEOF(err)
		}
		if buf[n] != '\r' || buf[n+1] != '\n' {
			return nil, malformed("bulk string of %d bytes not followed by CRLF", n)
		}
		if n == 0 {
			return "", nil
		}
		// buf is this string's alone: no copy.
		return unsafe.String(&buf[0], n), nil
	case '*':
		if depth >= maxReplyDepth {
			return nil, malformed("arrays nested deeper than %d", maxReplyDepth)
		}
		n, err := parseLen(line, maxReplyArray)
		if err != nil || n < 0 {
			return nil, err
		}
		// Grown as elements arrive: a length alone allocates little.
		vals := make([]any, 0, min(n, 1024))
		for range n {
			v, err := rr.readDepth(depth + 1)
			if err != nil {
				return nil, unexpectedEOF(err)
			}
			vals = append(vals, v)
		}
		return vals, nil
	}
	return nil, malformed("unknown reply type %q in %q", line[0], clip(line))
}

// parseLen parses the length of a bulk string or array: -1 (null, returned
// as -1 with no error) up to limit.
func parseLen(line []byte, limit int) (int, error) {
	n, err := strconv.ParseInt(string(line[1:]), 10, 64)
	switch {
	case err != nil:
		return 0, malformed("length %q", clip(line))
	case n == -1:
		return -1, nil
	case n < 0:
		return 0, malformed("negative length in %q", clip(line))
	case n > int64(limit):
		return 0, malformed("length %d over the limit of %d", n, limit)
	}
	return int(n), nil
}

// line reads one CRLF-terminated line, without the CRLF. The slice is
// valid until the next read.
func (rr *replyReader) line() ([]byte, error) {
	line, err := rr.r.ReadSlice('\n')
	switch {
	case errors.Is(err, bufio.ErrBufferFull):
		return nil, malformed("reply line longer than %d bytes", rr.r.Size())
	case err != nil && len(line) > 0:
		return nil, unexpectedEOF(err)
	case err != nil:
		return nil, err
	case len(line) < 2 || line[len(line)-2] != '\r':
		return nil, malformed("reply line %q not ended by CRLF", clip(line))
	}
	return line[:len(line)-2], nil
}

// peek waits until the stream has a byte to read (or fails).
func (rr *replyReader) peek() error {
	_, err := rr.r.Peek(1)
	return err
}

// unexpectedEOF turns an EOF in the middle of a reply into
// io.ErrUnexpectedEOF.
func unexpectedEOF(err error) error {
	if errors.Is(err, io.EOF) {
		return io.ErrUnexpectedEOF
	}
	return err
}
