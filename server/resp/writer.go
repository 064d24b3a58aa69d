package resp

import (
	"bufio"
	"io"
	"strconv"
)

// Writer writes RESP2 replies through a 64 KiB buffer. Its methods do not
// allocate. Write errors are sticky: after one, writes are dropped and Flush
// returns the error.
//
// A Writer is not safe for concurrent use.
type Writer struct {
	bw  *bufio.Writer
	hdr [32]byte // scratch for "<type><integer>\r\n"
}

// NewWriter returns a Writer writing to w through a 64 KiB bufio.Writer.
func NewWriter(w io.Writer) *Writer {
	return &Writer{bw: bufio.NewWriterSize(w, bufferSize)}
}

// Reset discards unflushed data and any error and makes w write to dst, so
// that Writers can be pooled.
func (w *Writer) Reset(dst io.Writer) { w.bw.Reset(dst) }

// WriteSimple writes a simple string reply, such as +OK. CR and LF bytes
// are left out of s so that it cannot break the framing.
func (w *Writer) WriteSimple(s string) {
	_ = w.bw.WriteByte('+')
	w.writeLine(s)
}

// WriteError writes an error reply. msg must start with the error code, as
// in "ERR unknown command 'foo'" or "WRONGTYPE ..."; an empty msg is sent as
// "ERR". CR and LF bytes are left out of msg so that it cannot break the
// framing.
func (w *Writer) WriteError(msg string) {
	if msg == "" {
		msg = "ERR"
	}
	_ = w.bw.WriteByte('-')
	w.writeLine(msg)
}

// WriteInt writes an integer reply, such as :42.
func (w *Writer) WriteInt(n int64) { w.writeHeader(':', n) }

// WriteBulk writes a bulk string reply holding b; a nil b is written as the
// empty bulk string, not as null (use WriteNull).
func (w *Writer) WriteBulk(b []byte) {
	w.writeHeader('$', int64(len(b)))
	_, _ = w.bw.Write(b)
	w.writeCRLF()
}

// WriteBulkString writes a bulk string reply holding s.
func (w *Writer) WriteBulkString(s string) {
	w.writeHeader('$', int64(len(s)))
	_, _ = w.bw.WriteString(s)
	w.writeCRLF()
}

// WriteNull writes the null bulk string $-1, Redis's nil reply.
func (w *Writer) WriteNull() { _, _ = w.bw.WriteString("$-1\r\n") }

// WriteArray writes the header of an array of n elements; the caller then
// writes the n elements. A negative n writes the null array.
func (w *Writer) WriteArray(n int) {
	if n < 0 {
		w.WriteNullArray()
		return
	}
	w.writeHeader('*', int64(n))
}

// WriteNullArray writes the null array *-1.
func (w *Writer) WriteNullArray() { _, _ = w.bw.WriteString("*-1\r\n") }

// Buffered returns the number of bytes written but not yet flushed.
func (w *Writer) Buffered() int { return w.bw.Buffered() }

// Flush writes buffered data to the underlying writer and returns the first
// write error met since the Writer was created or reset.
func (w *Writer) Flush() error { return w.bw.Flush() }

// writeHeader writes typ, the decimal n and CRLF in one buffered write.
func (w *Writer) writeHeader(typ byte, n int64) {
	b := append(w.hdr[:0], typ)
	b = strconv.AppendInt(b, n, 10)
	b = append(b, '\r', '\n')
	_, _ = w.bw.Write(b)
}

// writeLine writes s without its CR and LF bytes, then CRLF.
func (w *Writer) writeLine(s string) {
	for len(s) > 0 {
		i := indexCRLF(s)
		if i < 0 {
			_, _ = w.bw.WriteString(s)
			break
		}
		_, _ = w.bw.WriteString(s[:i])
		s = s[i+1:]
	}
	w.writeCRLF()
}

// indexCRLF returns the index of the first CR or LF in s, or -1.
func indexCRLF(s string) int {
	for i := 0; i < len(s); i++ {
		if s[i] == '\r' || s[i] == '\n' {
			return i
		}
	}
	return -1
}

// writeCRLF writes the CRLF terminator.
func (w *Writer) writeCRLF() { _, _ = w.bw.WriteString("\r\n") }

// WriteHello writes a Vasto server's answer to HELLO: the map (as a RESP2
// array) server vasto, proto 2, mode mode.
func (w *Writer) WriteHello(mode string) {
	w.WriteArray(6)
	w.WriteBulkString("server")
	w.WriteBulkString("vasto")
	w.WriteBulkString("proto")
	w.WriteInt(2)
	w.WriteBulkString("mode")
	w.WriteBulkString(mode)
}
