package resp

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
)

const (
	// bufferSize is the size of the Reader's and Writer's bufio buffers.
	bufferSize = 64 << 10
	// maxHeaderLen is the longest array or bulk header line accepted,
	// type byte and CRLF included. Valid headers are at most 12 bytes long.
	maxHeaderLen = 32
	// discardChunk is the most bytes skipped by one bufio Discard call.
	discardChunk = 64 << 10
	// keepScratch is the largest scratch capacity (bytes) kept between
	// commands; larger scratch buffers are dropped so that one big command
	// does not pin memory for the life of the connection.
	keepScratch = 64 << 10
	// minGrow is the smallest argument buffer allocated on the slow path.
	minGrow = 64
	// saturation is where parseLen stops counting: above every hard cap,
	// and small enough that n*10+9 fits a 32-bit int.
	saturation = 1 << 30
)

// Reader reads commands sent by a client: RESP arrays of bulk strings, or
// inline commands (a line of words, as telnet and redis-cli send them).
//
// A Reader is not safe for concurrent use.
type Reader struct {
	br      *bufio.Reader
	lim     Limits
	err     error  // sticky non-recoverable error
	offs    []int  // scratch: argument offsets
	line    []byte // scratch: an inline line spanning buffer refills
	scratch []byte // scratch: unescaped inline arguments
}

// NewReader returns a Reader reading from rd through a 64 KiB bufio.Reader
// and enforcing lim. Zero or negative fields of lim take their default and
// fields above a hard cap are lowered to it; use Limits.Validate to reject
// such limits up front.
func NewReader(rd io.Reader, lim Limits) *Reader {
	return &Reader{br: bufio.NewReaderSize(rd, bufferSize), lim: lim.normalized()}
}

// Reset discards all state, including buffered data and a sticky error, and
// makes r read from rd with the same limits, so that Readers can be pooled.
func (r *Reader) Reset(rd io.Reader) {
	r.br.Reset(rd)
	r.err = nil
}

// Limits returns the limits r enforces, with defaults and caps applied.
func (r *Reader) Limits() Limits { return r.lim }

// Buffered reports how many bytes have been read from the underlying reader
// but not yet parsed. A pipelining server reads commands while Buffered() > 0
// and flushes its replies when it drops to 0. Because blank lines and empty
// arrays that follow a command are consumed with it, Buffered() > 0 means
// that (part of) another command has arrived; ReadCommand blocks only if
// that command is incomplete.
func (r *Reader) Buffered() int { return r.br.Buffered() }

// ReadCommand reads the next command and returns its arguments (at least
// one). Empty arrays (*0 and *-1) and blank inline lines are skipped.
//
// The arguments are freshly allocated and owned by the caller: they stay
// valid after later calls and may be kept or modified. All arguments of a
// command share one backing []byte (one allocation when the whole command
// was already buffered), each capped at its own length so that appending to
// one never overwrites another.
//
// Errors are classified in the package documentation. After a
// non-recoverable error every later call returns the same error, until
// Reset.
func (r *Reader) ReadCommand() ([][]byte, error) {
	if r.err != nil {
		return nil, r.err
	}
	args, err := r.next()
	r.trimScratch()
	if err != nil && !IsRecoverable(err) {
		r.err = err
		return nil, err
	}
	r.skipBufferedBlanks()
	return args, err
}

// next reads commands until one is not empty or an error occurs.
func (r *Reader) next() ([][]byte, error) {
	for {
		args, err := r.readOne()
		if err != nil || args != nil {
			return args, err
		}
	}
}

// readOne reads one command; it returns nil, nil for an empty one.
func (r *Reader) readOne() ([][]byte, error) {
	b, err := r.br.Peek(1)
	if err != nil {
		return nil, err // io.EOF here is a clean end between commands
	}
	switch c := b[0]; {
	case c == '*':
		return r.readMultiBulk()
	case isInlineStart(c):
		return r.readInline()
	default:
		return nil, fmt.Errorf("%w %q", ErrUnexpectedType, c)
	}
}

// readMultiBulk reads a command sent as a RESP array of bulk strings.
func (r *Reader) readMultiBulk() ([][]byte, error) {
	if args := r.parseBuffered(); args != nil {
		return args, nil
	}
	n, err := r.readHeader('*', ErrInvalidMultiBulkLength, HardMaxArgs, "elements")
	switch {
	case err != nil:
		return nil, err
	case n <= 0:
		return nil, nil // *0 or *-1: ignored, as Redis does
	case n > r.lim.MaxArgs:
		return nil, r.skipBulks(n, fmt.Errorf("%w: %d arguments, limit is %d", ErrTooLarge, n, r.lim.MaxArgs))
	}
	return r.readBulks(n)
}

// parseBuffered is the fast path: if a whole valid command within the limits
// is already buffered, it copies its arguments into one exact allocation and
// consumes it. Otherwise it returns nil, consumes nothing, and the slow path
// reads (or rejects) the command.
func (r *Reader) parseBuffered() [][]byte {
	buf, _ := r.br.Peek(r.br.Buffered())
	n, pos, ok := scanHeader(buf, 0, '*')
	if !ok || n <= 0 || n > r.lim.MaxArgs {
		return nil
	}
	spans := r.offs[:0]
	total := 0
	for range n {
		size, start, ok := scanHeader(buf, pos, '$')
		if !ok || size < 0 || !r.fits(size, total) {
			return nil
		}
		end := start + size
		if end+2 > len(buf) || buf[end] != '\r' || buf[end+1] != '\n' {
			return nil
		}
		spans = append(spans, start, end)
		total += size
		pos = end + 2
	}
	r.offs = spans
	args := copyArgs(buf, spans, total)
	_, _ = r.br.Discard(pos) // cannot fail: pos bytes are buffered
	return args
}

// copyArgs copies the (start, end) spans of buf into one new buffer of
// total bytes and returns the arguments pointing into it.
func copyArgs(buf []byte, spans []int, total int) [][]byte {
	data := make([]byte, total)
	args := make([][]byte, len(spans)/2)
	off := 0
	for i := range args {
		k := copy(data[off:], buf[spans[2*i]:spans[2*i+1]])
		args[i] = data[off : off+k : off+k]
		off += k
	}
	return args
}

// readBulks reads the n bulk strings of a command array (the slow path,
// reading as data arrives). A bulk string over the limits is skipped with
// the rest of the command.
func (r *Reader) readBulks(n int) ([][]byte, error) {
	var data []byte
	ends := r.offs[:0]
	for i := range n {
		size, err := r.readBulkLen()
		if err != nil {
			return nil, err
		}
		if !r.fits(size, len(data)) {
			return nil, r.skipRest(size, n-i-1, r.tooLarge(size))
		}
		if data, err = r.readBulkBody(data, size); err != nil {
			return nil, err
		}
		ends = append(ends, len(data))
	}
	r.offs = ends
	return buildArgs(data, ends), nil
}

// fits reports whether an argument of size bytes may follow total bytes of
// earlier arguments.
func (r *Reader) fits(size, total int) bool {
	return size <= r.lim.MaxArgSize && size <= r.lim.MaxCommandSize-total
}

// tooLarge returns the recoverable error for an argument of size bytes that
// does not fit.
func (r *Reader) tooLarge(size int) error {
	if size > r.lim.MaxArgSize {
		return fmt.Errorf("%w: argument of %d bytes, limit is %d", ErrTooLarge, size, r.lim.MaxArgSize)
	}
	return fmt.Errorf("%w: arguments exceed %d bytes", ErrTooLarge, r.lim.MaxCommandSize)
}

// buildArgs slices data at the end offsets ends.
func buildArgs(data []byte, ends []int) [][]byte {
	if data == nil {
		data = []byte{}
	}
	args := make([][]byte, len(ends))
	start := 0
	for i, end := range ends {
		args[i] = data[start:end:end]
		start = end
	}
	return args
}

// readBulkLen reads a bulk string header of a command argument.
func (r *Reader) readBulkLen() (int, error) {
	n, err := r.readHeader('$', ErrInvalidBulkLength, HardMaxBulkLen, "bytes")
	switch {
	case err != nil:
		return 0, err
	case n < 0:
		return 0, fmt.Errorf("%w, got null bulk string", ErrExpectedBulk)
	}
	return n, nil
}

// readBulkBody appends the next size bytes and their CRLF terminator to
// data, growing it first. The caller has checked size against the limits.
func (r *Reader) readBulkBody(data []byte, size int) ([]byte, error) {
	data = grow(data, size, r.lim.MaxCommandSize)
	start := len(data)
	data = data[:start+size]
	if _, err := io.ReadFull(r.br, data[start:]); err != nil {
		return nil, unexpected(err)
	}
	return data, r.readCRLF()
}

// grow returns data with room for n more bytes, doubling its capacity but
// never beyond limit, which is at least len(data)+n.
func grow(data []byte, n, limit int) []byte {
	if cap(data)-len(data) >= n {
		return data
	}
	c := min(max(2*cap(data), minGrow), limit)
	c = max(c, len(data)+n)
	grown := make([]byte, len(data), c)
	copy(grown, data)
	return grown
}

// skipRest skips the body of a bulk string of size bytes and the remaining
// bulk strings of its command, then returns cause.
func (r *Reader) skipRest(size, remaining int, cause error) error {
	if err := r.discardBulk(size); err != nil {
		return err
	}
	return r.skipBulks(remaining, cause)
}

// skipBulks skips n bulk strings, then returns cause. Framing errors met on
// the way are returned instead.
func (r *Reader) skipBulks(n int, cause error) error {
	for ; n > 0; n-- {
		size, err := r.readBulkLen()
		if err != nil {
			return err
		}
		if err := r.discardBulk(size); err != nil {
			return err
		}
	}
	return cause
}

// discardBulk skips size bytes in bounded chunks, without allocating, and
// their CRLF terminator.
func (r *Reader) discardBulk(size int) error {
	for size > 0 {
		n, err := r.br.Discard(min(size, discardChunk))
		size -= n
		if err != nil {
			return unexpected(err)
		}
	}
	return r.readCRLF()
}

// readCRLF consumes the CRLF that ends a bulk string.
func (r *Reader) readCRLF() error {
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

// readHeader reads a header line "<typ><length>\r\n" and returns the
// length, which is -1 or 0 to hardCap. A malformed length, or one above
// hardCap, yields an error wrapping lenErr; the latter names the length as
// sent (parseLen saturates) and the cap, counted in unit.
func (r *Reader) readHeader(typ byte, lenErr error, hardCap int, unit string) (int, error) {
	b, err := r.br.Peek(1)
	if err != nil {
		return 0, unexpected(err)
	}
	if b[0] != typ {
		return 0, fmt.Errorf("%w, got %q", ErrExpectedBulk, b[0])
	}
	line, err := r.peekLine(lenErr)
	if err != nil {
		return 0, err
	}
	digits := line[1 : len(line)-2]
	n, ok := parseLen(digits)
	if !ok {
		return 0, fmt.Errorf("%w %q", lenErr, line)
	}
	if n > hardCap {
		return 0, fmt.Errorf("%w: %s %s, hard cap is %d", lenErr, digits, unit, hardCap)
	}
	_, _ = r.br.Discard(len(line))
	return n, nil
}

// peekLine returns the buffered header line, CRLF included, without
// consuming it. It reads no further than maxHeaderLen bytes.
func (r *Reader) peekLine(lenErr error) ([]byte, error) {
	for want := 1; ; {
		if _, err := r.br.Peek(want); err != nil {
			return nil, unexpected(err)
		}
		buf, _ := r.br.Peek(min(r.br.Buffered(), maxHeaderLen))
		if i := bytes.IndexByte(buf, '\n'); i >= 0 {
			if buf[i-1] != '\r' { // i >= 1: buf[0] is the type byte
				return nil, fmt.Errorf("%w in header %q", ErrMissingCRLF, buf[:i+1])
			}
			return buf[:i+1], nil
		}
		if len(buf) >= maxHeaderLen {
			return nil, fmt.Errorf("%w: header longer than %d bytes", lenErr, maxHeaderLen)
		}
		want = len(buf) + 1
	}
}

// scanHeader parses the header line "<typ><length>\r\n" at buf[pos:] and
// returns the length and the position after the line. ok is false if the
// line is incomplete or malformed.
func scanHeader(buf []byte, pos int, typ byte) (n, next int, ok bool) {
	if pos >= len(buf) || buf[pos] != typ {
		return 0, 0, false
	}
	line := buf[pos:min(len(buf), pos+maxHeaderLen)]
	i := bytes.IndexByte(line, '\n')
	if i < 3 || line[i-1] != '\r' {
		return 0, 0, false
	}
	n, ok = parseLen(line[1 : i-1])
	return n, pos + i + 1, ok
}

// parseLen parses a RESP length: "-1", or a decimal number without sign or
// leading zeros. Numbers above saturation are returned as saturation.
func parseLen(b []byte) (int, bool) {
	if len(b) == 0 {
		return 0, false
	}
	if b[0] == '-' {
		return -1, len(b) == 2 && b[1] == '1'
	}
	if b[0] == '0' {
		return 0, len(b) == 1
	}
	n := 0
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		if n < saturation/10 {
			n = n*10 + int(c-'0')
		} else {
			n = saturation
		}
	}
	return n, true
}

// unexpected turns io.EOF inside a command into io.ErrUnexpectedEOF.
func unexpected(err error) error {
	if errors.Is(err, io.EOF) {
		return io.ErrUnexpectedEOF
	}
	return err
}

// skipBufferedBlanks consumes blank lines and empty arrays that are already
// buffered, so that Buffered() > 0 means a real command follows.
func (r *Reader) skipBufferedBlanks() {
	for {
		buf, _ := r.br.Peek(r.br.Buffered())
		n := r.blankPrefix(buf)
		if n == 0 {
			return
		}
		_, _ = r.br.Discard(n)
	}
}

// blankPrefix returns the length of the complete empty array or blank
// inline line at the start of buf, or 0 if there is none. It accepts
// exactly what readOne would skip.
func (r *Reader) blankPrefix(buf []byte) int {
	if len(buf) == 0 {
		return 0
	}
	if buf[0] == '*' {
		n, next, ok := scanHeader(buf, 0, '*')
		if ok && n <= 0 {
			return next
		}
		return 0
	}
	for i, c := range buf[:min(len(buf), r.lim.MaxInlineSize+2)] {
		if c == '\n' {
			if _, err := trimInline(buf[:i+1], r.lim.MaxInlineSize); err != nil {
				return 0
			}
			return i + 1
		}
		if !isSpace(c) {
			return 0
		}
	}
	return 0
}

// trimScratch drops scratch buffers that one large command made big.
func (r *Reader) trimScratch() {
	if cap(r.line) > keepScratch {
		r.line = nil
	}
	if cap(r.scratch) > keepScratch {
		r.scratch = nil
	}
	if cap(r.offs) > keepScratch/8 {
		r.offs = nil
	}
}
