package resp

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// Decoded reply values, as decodeReply returns them.
type (
	simpleReply string
	errorReply  string
	nullBulk    struct{}
	nullArray   struct{}
)

// decodeReply is a minimal RESP2 reply decoder for round-trip tests.
func decodeReply(br *bufio.Reader) (any, error) {
	line, err := br.ReadString('\n')
	if err != nil {
		return nil, err
	}
	if !strings.HasSuffix(line, "\r\n") || len(line) < 3 {
		return nil, fmt.Errorf("bad line %q", line)
	}
	typ, body := line[0], line[1:len(line)-2]
	switch typ {
	case '+':
		return simpleReply(body), nil
	case '-':
		return errorReply(body), nil
	case ':':
		return strconv.ParseInt(body, 10, 64)
	case '$':
		return decodeBulk(br, body)
	case '*':
		return decodeArray(br, body)
	}
	return nil, fmt.Errorf("bad type %q", typ)
}

// decodeBulk decodes the rest of a bulk string reply of length body.
func decodeBulk(br *bufio.Reader, body string) (any, error) {
	n, err := strconv.Atoi(body)
	if err != nil || n < -1 {
		return nil, fmt.Errorf("bad bulk length %q", body)
	}
	if n == -1 {
		return nullBulk{}, nil
	}
	b := make([]byte, n+2)
	if _, err := io.ReadFull(br, b); err != nil {
		return nil, err
	}
	if string(b[n:]) != "\r\n" {
		return nil, fmt.Errorf("bulk not followed by CRLF")
	}
	return b[:n], nil
}

// decodeArray decodes the rest of an array reply of length body.
func decodeArray(br *bufio.Reader, body string) (any, error) {
	n, err := strconv.Atoi(body)
	if err != nil || n < -1 {
		return nil, fmt.Errorf("bad array length %q", body)
	}
	if n == -1 {
		return nullArray{}, nil
	}
	out := make([]any, n)
	for i := range out {
		if out[i], err = decodeReply(br); err != nil {
			return nil, err
		}
	}
	return out, nil
}

func TestWriterExactBytes(t *testing.T) {
	tests := []struct {
		write func(w *Writer)
		want  string
	}{
		{func(w *Writer) { w.WriteSimple("OK") }, "+OK\r\n"},
		{func(w *Writer) { w.WriteSimple("") }, "+\r\n"},
		{func(w *Writer) { w.WriteError("ERR unknown command 'foo'") }, "-ERR unknown command 'foo'\r\n"},
		{func(w *Writer) { w.WriteError("") }, "-ERR\r\n"},
		{func(w *Writer) { w.WriteInt(0) }, ":0\r\n"},
		{func(w *Writer) { w.WriteHello("gateway") }, "*6\r\n$6\r\nserver\r\n$5\r\nvasto\r\n$5\r\nproto\r\n:2\r\n$4\r\nmode\r\n$7\r\ngateway\r\n"},
		{func(w *Writer) { w.WriteInt(-42) }, ":-42\r\n"},
		{func(w *Writer) { w.WriteInt(math.MaxInt64) }, ":9223372036854775807\r\n"},
		{func(w *Writer) { w.WriteInt(math.MinInt64) }, ":-9223372036854775808\r\n"},
		{func(w *Writer) { w.WriteBulk([]byte("a\r\nb")) }, "$4\r\na\r\nb\r\n"},
		{func(w *Writer) { w.WriteBulk(nil) }, "$0\r\n\r\n"},
		{func(w *Writer) { w.WriteBulkString("hello") }, "$5\r\nhello\r\n"},
		{func(w *Writer) { w.WriteBulkString("") }, "$0\r\n\r\n"},
		{func(w *Writer) { w.WriteNull() }, "$-1\r\n"},
		{func(w *Writer) { w.WriteArray(0) }, "*0\r\n"},
		{func(w *Writer) { w.WriteArray(3) }, "*3\r\n"},
		{func(w *Writer) { w.WriteArray(-1) }, "*-1\r\n"},
		{func(w *Writer) { w.WriteNullArray() }, "*-1\r\n"},
	}
	for _, tt := range tests {
		var buf bytes.Buffer
		w := NewWriter(&buf)
		tt.write(w)
		require.Equal(t, len(tt.want), w.Buffered())
		require.NoError(t, w.Flush())
		require.Equal(t, tt.want, buf.String())
		require.Zero(t, w.Buffered())
	}
}

func TestWriterStripsCRLF(t *testing.T) {
	var buf bytes.Buffer
	w := NewWriter(&buf)
	w.WriteError("ERR bad\r\n+OK\r\nthing\r")
	w.WriteSimple("\nO\rK\r\n")
	w.WriteSimple("\r\n")
	require.NoError(t, w.Flush())
	require.Equal(t, "-ERR bad+OKthing\r\n+OK\r\n+\r\n", buf.String())
}

func TestWriterRoundTrip(t *testing.T) {
	big := bytes.Repeat([]byte("0123456789\r\n"), 30000) // larger than the buffer
	var buf bytes.Buffer
	w := NewWriter(&buf)
	w.WriteSimple("OK")
	w.WriteError("WRONGTYPE Operation against a key holding the wrong kind of value")
	w.WriteInt(math.MinInt64)
	w.WriteInt(12345)
	w.WriteBulk([]byte("bin\x00\xff\r\n"))
	w.WriteBulk(big)
	w.WriteBulkString("")
	w.WriteNull()
	w.WriteNullArray()
	w.WriteArray(4)
	w.WriteBulkString("a")
	w.WriteNull()
	w.WriteInt(7)
	w.WriteArray(1)
	w.WriteSimple("nested")
	w.WriteArray(0)
	require.NoError(t, w.Flush())

	want := []any{
		simpleReply("OK"),
		errorReply("WRONGTYPE Operation against a key holding the wrong kind of value"),
		int64(math.MinInt64),
		int64(12345),
		[]byte("bin\x00\xff\r\n"),
		big,
		[]byte{},
		nullBulk{},
		nullArray{},
		[]any{[]byte("a"), nullBulk{}, int64(7), []any{simpleReply("nested")}},
		[]any{},
	}
	br := bufio.NewReader(&buf)
	for _, v := range want {
		got, err := decodeReply(br)
		require.NoError(t, err)
		require.Equal(t, v, got)
	}
	_, err := br.ReadByte()
	require.ErrorIs(t, err, io.EOF)
}

func TestWriterCommandsReadBack(t *testing.T) {
	var buf bytes.Buffer
	w := NewWriter(&buf)
	want := [][]string{{"SET", "k", "v\r\n"}, {""}, {"GET", strings.Repeat("x", 100000)}}
	for _, args := range want {
		w.WriteArray(len(args))
		for _, a := range args {
			w.WriteBulkString(a)
		}
	}
	require.NoError(t, w.Flush())
	cmds, _, err := readAll(NewReader(&buf, DefaultLimits()))
	require.ErrorIs(t, err, io.EOF)
	require.Equal(t, want, cmds)
}

func TestWriterDoesNotAllocate(t *testing.T) {
	w := NewWriter(io.Discard)
	payload := bytes.Repeat([]byte("v"), 100)
	allocs := testing.AllocsPerRun(1000, func() {
		w.WriteSimple("OK")
		w.WriteError("ERR some\r\nthing")
		w.WriteInt(-1234567890)
		w.WriteBulk(payload)
		w.WriteBulkString("value")
		w.WriteNull()
		w.WriteArray(2)
		w.WriteNullArray()
		_ = w.Flush()
	})
	require.Zero(t, allocs)
}

// failWriter fails every write.
type failWriter struct{ err error }

func (f failWriter) Write([]byte) (int, error) { return 0, f.err }

func TestWriterErrorIsSticky(t *testing.T) {
	boom := errors.New("boom")
	w := NewWriter(failWriter{boom})
	w.WriteBulk(make([]byte, 2*bufferSize))
	w.WriteSimple("OK")
	require.ErrorIs(t, w.Flush(), boom)
	require.ErrorIs(t, w.Flush(), boom)

	var buf bytes.Buffer
	w.Reset(&buf)
	w.WriteSimple("OK")
	require.NoError(t, w.Flush())
	require.Equal(t, "+OK\r\n", buf.String())
}

func BenchmarkWriterBulk(b *testing.B) {
	w := NewWriter(io.Discard)
	payload := bytes.Repeat([]byte("v"), 100)
	b.SetBytes(int64(len(payload)))
	b.ReportAllocs()
	for b.Loop() {
		w.WriteBulk(payload)
	}
	if err := w.Flush(); err != nil {
		b.Fatal(err)
	}
}
