package resp

import (
	"bytes"
	"errors"
	"io"
	"reflect"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// fuzzLimits are small so that the fuzzer reaches every limit.
var fuzzLimits = Limits{MaxArgs: 4, MaxArgSize: 16, MaxInlineSize: 32, MaxCommandSize: 40}

// outcome is the result of one ReadCommand call.
type outcome struct {
	Args []string
	Err  string
}

// collect reads commands from rd with r, reset to rd, until a
// non-recoverable error, checking the invariants of every result.
func collect(t *testing.T, r *Reader, rd io.Reader, inputLen int) []outcome {
	r.Reset(rd)
	lim := r.Limits()
	var out []outcome
	for {
		args, err := r.ReadCommand()
		if err == nil {
			checkCommand(t, args, lim)
			out = append(out, outcome{Args: strs(args)})
		} else {
			out = append(out, outcome{Err: err.Error()})
		}
		if len(out) > inputLen+1 { // every non-final call consumes input
			t.Fatalf("ReadCommand made no progress: %q", out)
		}
		if err != nil && !IsRecoverable(err) {
			checkTerminal(t, r, err)
			return out
		}
	}
}

// checkCommand checks that a returned command respects lim. It avoids
// testify in this hot loop to keep fuzzing fast.
func checkCommand(t *testing.T, args [][]byte, lim Limits) {
	if len(args) == 0 || len(args) > lim.MaxArgs {
		t.Fatalf("%d arguments, limit %d", len(args), lim.MaxArgs)
	}
	total := 0
	for _, a := range args {
		if a == nil || len(a) > lim.MaxArgSize || len(a) != cap(a) {
			t.Fatalf("bad argument %q (cap %d), limit %d", a, cap(a), lim.MaxArgSize)
		}
		total += len(a)
	}
	if total > lim.MaxCommandSize {
		t.Fatalf("%d bytes of arguments, limit %d", total, lim.MaxCommandSize)
	}
}

// checkTerminal checks the class of a non-recoverable error and that it is
// sticky.
func checkTerminal(t *testing.T, r *Reader, err error) {
	known := errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, ErrProtocol)
	require.True(t, known, "unexpected error %v", err)
	require.False(t, errors.Is(err, ErrTooLarge) && errors.Is(err, ErrProtocol))
	_, again := r.ReadCommand()
	require.Equal(t, err, again)
}

// readerSeeds are inputs for FuzzReadCommand.
var readerSeeds = []string{
	"",
	"*1\r\n$4\r\nPING\r\n",
	"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$1\r\nv\r\n*2\r\n$3\r\nGET\r\n$1\r\nk\r\n",
	"*0\r\n*-1\r\n\r\n  \r\n*1\r\n$0\r\n\r\n",
	"PING\r\nSET k \"a b\\x41\\n\" 'c\\'d'\nGET k\r\n",
	"SET k \"unterminated\r\n",
	"SET k 'x'y\r\n",
	"a b c d e\r\nPING\r\n",
	strings.Repeat("x", 40) + "\r\n",
	"*5\r\n$1\r\na\r\n$1\r\nb\r\n$1\r\nc\r\n$1\r\nd\r\n$1\r\ne\r\n*1\r\n$1\r\nz\r\n",
	"*2\r\n$3\r\nSET\r\n$17\r\n12345678901234567\r\n*1\r\n$1\r\nz\r\n",
	"*3\r\n$16\r\n1234567890123456\r\n$16\r\n1234567890123456\r\n$16\r\n1234567890123456\r\nPING\r\n",
	"*1\r\n$4294967296\r\n",
	"*1\r\n$536870913\r\n",
	"*1048577\r\n",
	"*1\r\n$-1\r\n",
	"*1\r\n$-2\r\n",
	"*1\r\n:1\r\n",
	"*1\r\n$3\r\nfooXY",
	"*1\r\n$3\r\nfoo",
	"*01\r\n",
	"*1\n",
	"+OK\r\n",
	"\x16\x03\x01\x00\xa5",
	"*1\r\n$99999999999999999999999999999\r\n",
}

func FuzzReadCommand(f *testing.F) {
	for _, s := range readerSeeds {
		f.Add([]byte(s))
	}
	// The fuzz function runs sequentially within a worker process, so the
	// Readers (and their 64 KiB buffers) are reused across inputs.
	readers := make([]*Reader, len(chunkings))
	for i := range readers {
		readers[i] = NewReader(nil, fuzzLimits)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		want := collect(t, readers[0], bytes.NewReader(data), len(data))
		for i, c := range chunkings[1:] {
			got := collect(t, readers[i+1], c.wrap(bytes.NewReader(data)), len(data))
			if !reflect.DeepEqual(want, got) {
				t.Fatalf("results depend on read sizes (%s):\nwhole: %q\n%s: %q", c.name, want, c.name, got)
			}
		}
	})
}

// quoteArg appends a to dst as a double-quoted inline argument, escaping
// every byte that is not printable ASCII.
func quoteArg(dst, a []byte) []byte {
	const hexDigits = "0123456789abcdef"
	dst = append(dst, '"')
	for _, c := range a {
		if c >= 0x20 && c < 0x7f && c != '"' && c != '\\' {
			dst = append(dst, c)
			continue
		}
		dst = append(dst, '\\', 'x', hexDigits[c>>4], hexDigits[c&15])
	}
	return append(dst, '"')
}

// cut slices data at the end offsets ends.
func cut(data []byte, ends []int) []string {
	out := []string{}
	start := 0
	for _, end := range ends {
		out = append(out, string(data[start:end]))
		start = end
	}
	return out
}

// checkInlineReader checks that the Reader parses line as splitArgs does.
func checkInlineReader(t *testing.T, line []byte, words []string, splitErr error) {
	if len(line) > 1000 || bytes.IndexByte(line, '\n') >= 0 || len(line) > 0 && line[0] == '*' {
		return
	}
	r := NewReader(bytes.NewReader(append(line, '\r', '\n')), DefaultLimits())
	args, err := r.ReadCommand()
	switch {
	case len(line) > 0 && !isInlineStart(line[0]):
		require.ErrorIs(t, err, ErrUnexpectedType)
	case splitErr != nil:
		require.ErrorIs(t, err, ErrUnbalancedQuotes)
	case len(words) == 0:
		require.ErrorIs(t, err, io.EOF)
	default:
		require.NoError(t, err)
		require.Equal(t, words, strs(args))
	}
}

func FuzzInline(f *testing.F) {
	for _, s := range []string{
		"PING",
		"SET k v",
		`SET k "hello world" 'it\'s'`,
		`"\x00\xff\xzz\n\r\t\b\a\"\\"`,
		`a"b c"d`,
		`"unterminated`,
		`'unterminated`,
		`"x"y`,
		"  \t\v\f ",
		"a\x00b \r c",
		`""`,
		`"\`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, line []byte) {
		data, ends, err := splitArgs(line, nil, nil)
		if err != nil {
			require.ErrorIs(t, err, ErrUnbalancedQuotes)
			checkInlineReader(t, line, nil, err)
			return
		}
		require.LessOrEqual(t, len(data), len(line))
		words := cut(data, ends)
		var quoted []byte
		for i, w := range words {
			if i > 0 {
				quoted = append(quoted, ' ')
			}
			quoted = quoteArg(quoted, []byte(w))
		}
		data2, ends2, err := splitArgs(quoted, nil, nil)
		require.NoError(t, err)
		require.Equal(t, words, cut(data2, ends2), "quoted: %q", quoted)
		checkInlineReader(t, line, words, nil)
	})
}

func FuzzWriterReaderRoundTrip(f *testing.F) {
	f.Add([]byte("SET\xffk\xffv"), uint8(0))
	f.Add([]byte(""), uint8(1))
	f.Add([]byte("\r\n\xff\x00"), uint8(2))
	f.Fuzz(func(t *testing.T, data []byte, chunking uint8) {
		args := bytes.Split(data, []byte{0xff})
		var buf bytes.Buffer
		w := NewWriter(&buf)
		w.WriteArray(len(args))
		for _, a := range args {
			w.WriteBulk(a)
		}
		require.NoError(t, w.Flush())
		c := chunkings[int(chunking)%len(chunkings)]
		r := NewReader(c.wrap(&buf), DefaultLimits())
		got, err := r.ReadCommand()
		require.NoError(t, err)
		require.Equal(t, strs(args), strs(got))
		_, err = r.ReadCommand()
		require.ErrorIs(t, err, io.EOF)
	})
}
