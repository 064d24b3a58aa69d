package resp

import (
	"bufio"
	"errors"
	"fmt"
)

// readInline reads an inline command: one line of words terminated by LF or
// CRLF. A blank line yields nil, nil.
func (r *Reader) readInline() ([][]byte, error) {
	line, err := r.readLine()
	if err != nil {
		return nil, err
	}
	data, ends, err := splitArgs(line, r.scratch[:0], r.offs[:0])
	r.scratch, r.offs = data, ends
	if err != nil {
		return nil, err
	}
	if len(ends) == 0 {
		return nil, nil
	}
	if err := r.checkInline(ends); err != nil {
		return nil, err
	}
	owned := make([]byte, len(data))
	copy(owned, data)
	return buildArgs(owned, ends), nil
}

// checkInline checks the split arguments of an inline command, given by
// their end offsets, against the limits. The line has been consumed, so the
// error is recoverable.
func (r *Reader) checkInline(ends []int) error {
	if len(ends) > r.lim.MaxArgs {
		return fmt.Errorf("%w: %d arguments, limit is %d", ErrTooLarge, len(ends), r.lim.MaxArgs)
	}
	start := 0
	for _, end := range ends {
		if !r.fits(end-start, start) {
			return r.tooLarge(end - start)
		}
		start = end
	}
	return nil
}

// readLine reads an inline line and returns it without its terminator. The
// result aliases the bufio buffer or r.line and is valid until the next read.
// A line longer than MaxInlineSize is an ErrInlineTooLarge protocol error; it
// is detected as soon as more than MaxInlineSize+1 bytes arrived without LF.
func (r *Reader) readLine() ([]byte, error) {
	limit := r.lim.MaxInlineSize
	line, err := r.br.ReadSlice('\n')
	if err == nil {
		return trimInline(line, limit)
	}
	acc := append(r.line[:0], line...)
	for errors.Is(err, bufio.ErrBufferFull) && len(acc) <= limit+1 {
		line, err = r.br.ReadSlice('\n')
		acc = append(acc, line...)
	}
	r.line = acc
	switch {
	case err == nil:
		return trimInline(acc, limit)
	case len(acc) > limit+1:
		return nil, fmt.Errorf("%w: %d bytes without a line end, limit is %d", ErrInlineTooLarge, len(acc), limit)
	default:
		return nil, unexpected(err)
	}
}

// trimInline strips the LF or CRLF that ends line and checks its length.
func trimInline(line []byte, limit int) ([]byte, error) {
	line = line[:len(line)-1]
	if n := len(line); n > 0 && line[n-1] == '\r' {
		line = line[:n-1]
	}
	if len(line) > limit {
		return nil, fmt.Errorf("%w: %d bytes, limit is %d", ErrInlineTooLarge, len(line), limit)
	}
	return line, nil
}

// isInlineStart reports whether c may start an inline command: anything but
// a RESP type byte and control characters other than white space. Rejecting
// these turns clients speaking another protocol (or replies sent back by
// mistake) into an immediate protocol error.
func isInlineStart(c byte) bool {
	switch c {
	case '$', '+', '-', ':', '_', ',', '#', '!', '=', '(', '%', '~', '>', '|', 0x7f:
		return false
	}
	return c >= 0x20 || isSpace(c)
}

// splitArgs splits an inline command line into arguments the way Redis's
// sdssplitargs does, appending the unescaped arguments to dst and the end
// offset in dst of each to ends. Words are separated by white space. A word
// may contain "double quoted" parts, with the escapes \xHH \n \r \t \b \a and
// \<any byte>, and 'single quoted' parts, with the escape \'. A closing
// quote must be followed by white space or the end of the line. Unlike
// Redis, a NUL byte is an ordinary byte rather than the end of the line.
func splitArgs(line, dst []byte, ends []int) ([]byte, []int, error) {
	i := 0
	for {
		for i < len(line) && isSpace(line[i]) {
			i++
		}
		if i == len(line) {
			return dst, ends, nil
		}
		var err error
		if dst, i, err = scanWord(line, i, dst); err != nil {
			return dst, ends, err
		}
		ends = append(ends, len(dst))
	}
}

// scanWord appends the word starting at line[i] to dst and returns the
// position after it.
func scanWord(line []byte, i int, dst []byte) ([]byte, int, error) {
	for ; i < len(line); i++ {
		switch c := line[i]; c {
		case ' ', '\t', '\r', '\n':
			return dst, i, nil
		case '"':
			return scanDoubleQuoted(line, i+1, dst)
		case '\'':
			return scanSingleQuoted(line, i+1, dst)
		default:
			dst = append(dst, c)
		}
	}
	return dst, i, nil
}

// scanDoubleQuoted appends the unescaped double-quoted text starting at
// line[i] (after the opening quote) to dst and returns the position after
// the closing quote.
func scanDoubleQuoted(line []byte, i int, dst []byte) ([]byte, int, error) {
	for i < len(line) {
		c := line[i]
		switch {
		case c == '\\' && i+3 < len(line) && line[i+1] == 'x' && isHex(line[i+2]) && isHex(line[i+3]):
			dst = append(dst, unhex(line[i+2])<<4|unhex(line[i+3]))
			i += 4
		case c == '\\' && i+1 < len(line):
			dst = append(dst, unescape(line[i+1]))
			i += 2
		case c == '"':
			return closeQuote(line, i+1, dst)
		default:
			dst = append(dst, c)
			i++
		}
	}
	return dst, i, ErrUnbalancedQuotes
}

// scanSingleQuoted is scanDoubleQuoted for single quotes, where the only
// escape is \'.
func scanSingleQuoted(line []byte, i int, dst []byte) ([]byte, int, error) {
	for i < len(line) {
		c := line[i]
		switch {
		case c == '\\' && i+1 < len(line) && line[i+1] == '\'':
			dst = append(dst, '\'')
			i += 2
		case c == '\'':
			return closeQuote(line, i+1, dst)
		default:
			dst = append(dst, c)
			i++
		}
	}
	return dst, i, ErrUnbalancedQuotes
}

// closeQuote checks that the closing quote before line[i] ends the word.
func closeQuote(line []byte, i int, dst []byte) ([]byte, int, error) {
	if i < len(line) && !isSpace(line[i]) {
		return dst, i, ErrUnbalancedQuotes
	}
	return dst, i, nil
}

// unescape returns the byte that a backslash followed by c stands for.
func unescape(c byte) byte {
	switch c {
	case 'n':
		return '\n'
	case 'r':
		return '\r'
	case 't':
		return '\t'
	case 'b':
		return '\b'
	case 'a':
		return '\a'
	}
	return c
}

// isSpace reports whether c is white space as C's isspace sees it.
func isSpace(c byte) bool {
	switch c {
	case ' ', '\t', '\n', '\v', '\f', '\r':
		return true
	}
	return false
}

// isHex reports whether c is a hexadecimal digit.
func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

// unhex returns the value of the hexadecimal digit c.
func unhex(c byte) byte {
	switch {
	case c <= '9':
		return c - '0'
	case c <= 'F':
		return c - 'A' + 10
	}
	return c - 'a' + 10
}
