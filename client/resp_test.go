package client

import (
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestCmdBufEncodesArraysOfBulkStrings(t *testing.T) {
	var b cmdBuf
	b.add("VSET", []byte("k\r\n"), []byte{}, int64(-5), 7, uint64(9))
	b.addBytes([][]byte{[]byte("GET"), []byte("x")})
	require.Equal(t, 2, b.n)
	require.Equal(t, "*6\r\n$4\r\nVSET\r\n$3\r\nk\r\n\r\n$0\r\n\r\n$2\r\n-5\r\n$1\r\n7\r\n$1\r\n9\r\n"+
		"*2\r\n$3\r\nGET\r\n$1\r\nx\r\n", string(b.b))
	require.Panics(t, func() { b.add(1.5) }, "an argument type the client never sends is a bug")
}

func TestReplyReaderReadsEveryType(t *testing.T) {
	in := "+OK\r\n" +
		"-NOSHARD ks/3 is not held\r\n" +
		":-42\r\n" +
		"$5\r\nhe\r\nl\r\n" +
		"$0\r\n\r\n" +
		"$-1\r\n" +
		"*-1\r\n" +
		"*0\r\n" +
		"*3\r\n:1\r\n*2\r\n$1\r\na\r\n-ERR inner\r\n$-1\r\n"
	rr := newReplyReader(strings.NewReader(in))
	want := []any{
		"OK",
		errorReply("NOSHARD ks/3 is not held"),
		int64(-42),
		"he\r\nl",
		"",
		nil,
		nil,
		[]any{},
		[]any{int64(1), []any{"a", errorReply("ERR inner")}, nil},
	}
	for i, w := range want {
		v, err := rr.read()
		require.NoError(t, err, "reply %d", i)
		require.Equal(t, w, v, "reply %d", i)
	}
	_, err := rr.read()
	require.ErrorIs(t, err, io.EOF, "a clean end between replies is EOF")
}

func TestReplyReaderRejectsMalformedReplies(t *testing.T) {
	cases := []struct {
		in, msg string
	}{
		{"?what\r\n", "unknown reply type"},
		{"\r\n", "empty reply line"},
		{":12a\r\n", "integer reply"},
		{"$abc\r\n", "length"},
		{"$-2\r\n", "negative length"},
		{"*-7\r\n", "negative length"},
		{"$3\r\nabcXY", "not followed by CRLF"},
		{"+OK\n", "not ended by CRLF"},
		{"$999999999999\r\n", "over the limit"},
		{"*99999999999\r\n", "over the limit"},
		{strings.Repeat("*1\r\n", maxReplyDepth+1) + ":1\r\n", "nested deeper"},
		{"+" + strings.Repeat("x", 40<<10) + "\r\n", "longer than"},
	}
	for _, tc := range cases {
		_, err := newReplyReader(strings.NewReader(tc.in)).read()
		require.ErrorIs(t, err, errMalformed, "%q", clip([]byte(tc.in)))
		require.ErrorContains(t, err, tc.msg, "%q", clip([]byte(tc.in)))
		require.True(t, strings.HasPrefix(err.Error(), "client: malformed reply: "), err.Error())
	}

	// A stream cut inside a reply is an unexpected EOF, not a clean end.
	for _, in := range []string{"+OK", "$5\r\nab", "*2\r\n:1\r\n", ":1\r"} {
		_, err := newReplyReader(strings.NewReader(in)).read()
		require.ErrorIs(t, err, io.ErrUnexpectedEOF, "%q", in)
	}
}

func TestReplyReaderReadsLargeBulkStrings(t *testing.T) {
	val := bytes.Repeat([]byte("v"), 1<<20)
	in := appendBulk(nil, val)
	v, err := newReplyReader(bytes.NewReader(in)).read()
	require.NoError(t, err)
	require.Equal(t, string(val), v)
}

func TestErrorReplyIsAStoreError(t *testing.T) {
	// An error reply read from a store classifies as that store's error.
	v, err := newReplyReader(strings.NewReader("-TOOLARGE key of 70000 bytes\r\n")).read()
	require.NoError(t, err)
	e, ok := v.(errorReply)
	require.True(t, ok)
	got, retry := classify(t.Context(), e, "s1", "a")
	require.False(t, retry)
	require.ErrorIs(t, got, ErrTooLarge)
	var se *StoreError
	require.True(t, errors.As(got, &se))
	require.Equal(t, "TOOLARGE", se.Code)
}
