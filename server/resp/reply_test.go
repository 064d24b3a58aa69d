package resp

import (
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// replyReader reads the replies in s.
func replyReader(s string) *ReplyReader {
	return NewReplyReader(strings.NewReader(s), 64, 16)
}

// TestReplyReaderTypes reads every reply type the Writer writes, in order.
func TestReplyReaderTypes(t *testing.T) {
	var buf bytes.Buffer
	w := NewWriter(&buf)
	w.WriteSimple("OK")
	w.WriteInt(-42)
	w.WriteBulk([]byte("hello"))
	w.WriteNull()
	w.WriteArray(2)
	w.WriteInt(7)
	w.WriteBulk([]byte(""))
	w.WriteError("NOSHARD default 3")
	w.WriteSimple("after")
	require.NoError(t, w.Flush())
	r := NewReplyReader(&buf, 64, 16)

	s, err := r.ReadStatus()
	require.NoError(t, err)
	require.Equal(t, "OK", s)
	n, err := r.ReadInt()
	require.NoError(t, err)
	require.EqualValues(t, -42, n)
	b, err := r.ReadBulk(nil)
	require.NoError(t, err)
	require.Equal(t, "hello", string(b))
	b, err = r.ReadBulk(nil)
	require.NoError(t, err)
	require.Nil(t, b, "null bulk string")
	k, err := r.ReadArrayLen()
	require.NoError(t, err)
	require.Equal(t, 2, k)
	n, err = r.ReadInt()
	require.NoError(t, err)
	require.EqualValues(t, 7, n)
	arena := make([]byte, 0, 8)
	b, err = r.ReadBulk(func(n int) []byte { arena = arena[:n]; return arena })
	require.NoError(t, err)
	require.Equal(t, []byte{}, b)
	_, err = r.ReadArrayLen()
	var re *ReplyError
	require.ErrorAs(t, err, &re, "an error reply where an array was expected")
	require.Equal(t, "NOSHARD default 3", re.Msg)
	s, err = r.ReadStatus()
	require.NoError(t, err, "the stream is in sync after an error reply")
	require.Equal(t, "after", s)
	_, err = r.ReadStatus()
	require.ErrorIs(t, err, io.ErrUnexpectedEOF)
}

// TestReplyReaderSkip drops whole replies of every type.
func TestReplyReaderSkip(t *testing.T) {
	r := replyReader("*3\r\n$3\r\nabc\r\n*2\r\n:1\r\n-ERR x\r\n+OK\r\n$-1\r\n:5\r\n")
	require.NoError(t, r.Skip())
	require.NoError(t, r.Skip())
	n, err := r.ReadInt()
	require.NoError(t, err)
	require.EqualValues(t, 5, n)

	deep := strings.Repeat("*1\r\n", maxReplyDepth+2) + ":1\r\n"
	require.ErrorIs(t, replyReader(deep).Skip(), ErrProtocol)
}

// TestReplyReaderMalformed: malformed replies are protocol errors.
func TestReplyReaderMalformed(t *testing.T) {
	for name, tc := range map[string]struct {
		in   string
		read func(*ReplyReader) error
	}{
		"wrong type":      {":1\r\n", func(r *ReplyReader) error { _, err := r.ReadStatus(); return err }},
		"bad integer":     {":1x\r\n", func(r *ReplyReader) error { _, err := r.ReadInt(); return err }},
		"bad array len":   {"*-2\r\n", func(r *ReplyReader) error { _, err := r.ReadArrayLen(); return err }},
		"bulk over limit": {"$17\r\n", func(r *ReplyReader) error { _, err := r.ReadBulk(nil); return err }},
		"bulk no CRLF":    {"$1\r\nab\r\n", func(r *ReplyReader) error { _, err := r.ReadBulk(nil); return err }},
		"bare LF":         {"+OK\n", func(r *ReplyReader) error { _, err := r.ReadStatus(); return err }},
		"long line":       {"+" + strings.Repeat("a", 100) + "\r\n", func(r *ReplyReader) error { _, err := r.ReadStatus(); return err }},
		"unknown type":    {"?1\r\n", (*ReplyReader).Skip},
	} {
		t.Run(name, func(t *testing.T) {
			err := tc.read(replyReader(tc.in))
			require.ErrorIs(t, err, ErrProtocol)
			var re *ReplyError
			require.False(t, errors.As(err, &re))
		})
	}
}

// FuzzReplyReader skips replies until an error: it never panics, always
// makes progress, and reads what the Writer wrote back unchanged.
func FuzzReplyReader(f *testing.F) {
	for _, s := range []string{"+OK\r\n", "-ERR x\r\n", ":12\r\n", "$3\r\nabc\r\n", "$-1\r\n",
		"*2\r\n$1\r\na\r\n:1\r\n", "*-1\r\n", "*1\r\n*1\r\n+x\r\n", "$2\r\nab", "+\n"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		r := replyReader(string(data))
		for i := 0; ; i++ {
			if i > len(data) {
				t.Fatalf("Skip made no progress on %q", data)
			}
			if err := r.Skip(); err != nil {
				break
			}
		}
		var buf bytes.Buffer
		w := NewWriter(&buf)
		w.WriteBulk(data)
		require.NoError(t, w.Flush())
		b, err := NewReplyReader(&buf, 64, len(data)).ReadBulk(nil)
		require.NoError(t, err)
		require.Equal(t, string(data), string(b))
	})
}
