package resp

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math"
	"runtime"
	"strings"
	"testing"
	"testing/iotest"
	"time"

	"github.com/stretchr/testify/require"
)

// chunkings feed the same bytes to a Reader in different read sizes.
var chunkings = []struct {
	name string
	wrap func(io.Reader) io.Reader
}{
	{"whole", func(r io.Reader) io.Reader { return r }},
	{"onebyte", iotest.OneByteReader},
	{"half", iotest.HalfReader},
	{"dataerr", iotest.DataErrReader},
}

// smallLimits are tight limits for exercising the limit checks.
var smallLimits = Limits{MaxArgs: 3, MaxArgSize: 8, MaxInlineSize: 16, MaxCommandSize: 12}

// cmd encodes args as a RESP command array.
func cmd(args ...string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "*%d\r\n", len(args))
	for _, a := range args {
		fmt.Fprintf(&b, "$%d\r\n%s\r\n", len(a), a)
	}
	return b.String()
}

// strs converts arguments to strings for readable comparisons.
func strs(args [][]byte) []string {
	if args == nil {
		return nil
	}
	out := make([]string, len(args))
	for i, a := range args {
		out[i] = string(a)
	}
	return out
}

// readAll reads commands until the first non-recoverable error, recording
// recoverable errors as a nil command.
func readAll(r *Reader) ([][]string, []error, error) {
	var cmds [][]string
	var recovered []error
	for {
		args, err := r.ReadCommand()
		switch {
		case err == nil:
			cmds = append(cmds, strs(args))
		case IsRecoverable(err):
			cmds = append(cmds, nil)
			recovered = append(recovered, err)
		default:
			return cmds, recovered, err
		}
	}
}

func TestReadCommandMultiBulk(t *testing.T) {
	for _, c := range chunkings {
		t.Run(c.name, func(t *testing.T) {
			in := cmd("SET", "key", "va\r\nlue") + cmd("GET", "") + cmd("PING")
			r := NewReader(c.wrap(strings.NewReader(in)), DefaultLimits())
			cmds, rec, err := readAll(r)
			require.ErrorIs(t, err, io.EOF)
			require.Empty(t, rec)
			require.Equal(t, [][]string{{"SET", "key", "va\r\nlue"}, {"GET", ""}, {"PING"}}, cmds)
		})
	}
}

func TestReadCommandPipelinedInOrder(t *testing.T) {
	var in strings.Builder
	var want [][]string
	for i := range 2000 {
		args := []string{"SET", fmt.Sprintf("key:%d", i), strings.Repeat("v", i%300)}
		want = append(want, args)
		if i%7 == 3 {
			fmt.Fprintf(&in, "SET %s %q\r\n", args[1], args[2])
		} else {
			in.WriteString(cmd(args...))
		}
	}
	for _, c := range chunkings {
		t.Run(c.name, func(t *testing.T) {
			r := NewReader(c.wrap(strings.NewReader(in.String())), DefaultLimits())
			cmds, rec, err := readAll(r)
			require.ErrorIs(t, err, io.EOF)
			require.Empty(t, rec)
			require.Equal(t, want, cmds)
		})
	}
}

func TestReadCommandLargerThanBuffer(t *testing.T) {
	big := strings.Repeat("0123456789abcdef", 20000) // 320000 bytes, 5 buffers
	in := cmd("SET", "k", big) + cmd("GET", "k") + cmd("SET", big[:1000], big[:70000], big[:100])
	for _, c := range chunkings {
		t.Run(c.name, func(t *testing.T) {
			r := NewReader(c.wrap(strings.NewReader(in)), DefaultLimits())
			cmds, _, err := readAll(r)
			require.ErrorIs(t, err, io.EOF)
			require.Equal(t, [][]string{{"SET", "k", big}, {"GET", "k"}, {"SET", big[:1000], big[:70000], big[:100]}}, cmds)
		})
	}
}

func TestReadCommandArgsOwnedByCaller(t *testing.T) {
	for _, c := range chunkings {
		t.Run(c.name, func(t *testing.T) {
			in := cmd("SET", "a", "b") + "SET c d\r\n" + cmd("SET", "e", "f")
			r := NewReader(c.wrap(strings.NewReader(in)), DefaultLimits())
			var all [][][]byte
			for {
				args, err := r.ReadCommand()
				if errors.Is(err, io.EOF) {
					break
				}
				require.NoError(t, err)
				all = append(all, args)
			}
			require.Len(t, all, 3)
			for _, args := range all {
				for _, a := range args {
					require.Equal(t, len(a), cap(a), "argument capacity must not reach the next one")
				}
				_ = append(args[0], 'X') // must not overwrite args[1]
			}
			require.Equal(t, []string{"SET", "a", "b"}, strs(all[0]))
			require.Equal(t, []string{"SET", "c", "d"}, strs(all[1]))
			require.Equal(t, []string{"SET", "e", "f"}, strs(all[2]))
		})
	}
}

func TestReadCommandEmptyArgIsNotNil(t *testing.T) {
	r := NewReader(strings.NewReader(cmd("")+`""`+"\r\n"), DefaultLimits())
	for range 2 {
		args, err := r.ReadCommand()
		require.NoError(t, err)
		require.Len(t, args, 1)
		require.NotNil(t, args[0])
		require.Empty(t, args[0])
	}
}

func TestReadCommandSkipsEmptyCommands(t *testing.T) {
	in := "*0\r\n*-1\r\n\r\n\n  \t \r\n" + cmd("PING") + "\r\n*0\r\n" + "ECHO x\n" + "\r\n"
	for _, c := range chunkings {
		t.Run(c.name, func(t *testing.T) {
			r := NewReader(c.wrap(strings.NewReader(in)), DefaultLimits())
			cmds, _, err := readAll(r)
			require.ErrorIs(t, err, io.EOF)
			require.Equal(t, [][]string{{"PING"}, {"ECHO", "x"}}, cmds)
		})
	}
}

func TestReaderBuffered(t *testing.T) {
	in := cmd("PING") + "PING\r\n" + cmd("PING") + "\r\n*0\r\n\r\n"
	r := NewReader(strings.NewReader(in), DefaultLimits())
	_, err := r.ReadCommand()
	require.NoError(t, err)
	require.Positive(t, r.Buffered())
	_, err = r.ReadCommand()
	require.NoError(t, err)
	require.Positive(t, r.Buffered())
	_, err = r.ReadCommand()
	require.NoError(t, err)
	require.Zero(t, r.Buffered(), "trailing blank lines and empty arrays are consumed")
	_, err = r.ReadCommand()
	require.ErrorIs(t, err, io.EOF)
}

func TestReadCommandInline(t *testing.T) {
	tests := []struct {
		in   string
		want []string
	}{
		{"PING\r\n", []string{"PING"}},
		{"PING\n", []string{"PING"}},
		{"  set\t a   b \r\n", []string{"set", "a", "b"}},
		{"SET k \"hello world\"\r\n", []string{"SET", "k", "hello world"}},
		{`SET k "a\"b\\c\n\r\t\b\a\x41\x4a\x6b\xzz\q"` + "\r\n", []string{"SET", "k", "a\"b\\c\n\r\t\b\aAJkxzzq"}},
		{`SET k "\x00\xff\xFf"` + "\n", []string{"SET", "k", "\x00\xff\xff"}},
		{`SET k 'it\'s' 'a\nb' 'x"y'` + "\r\n", []string{"SET", "k", "it's", `a\nb`, `x"y`}},
		{`SET k "" ''` + "\r\n", []string{"SET", "k", "", ""}},
		{`a"b c" d 'e'` + "\r\n", []string{"ab c", "d", "e"}},
		{"a\vb\fc\r\n", []string{"a\vb\fc"}},
		{"\va b\f\r\n", []string{"a", "b\f"}}, // only space, tab, CR, LF end a word
		{"x\x00y\r\n", []string{"x\x00y"}},
		{"GET k\r\r\n", []string{"GET", "k"}},
		{"\"a b\"\r\n", []string{"a b"}},
		{"é ü\r\n", []string{"é", "ü"}},
	}
	for _, tt := range tests {
		for _, c := range chunkings {
			t.Run(fmt.Sprintf("%q/%s", tt.in, c.name), func(t *testing.T) {
				r := NewReader(c.wrap(strings.NewReader(tt.in+cmd("NEXT"))), DefaultLimits())
				cmds, _, err := readAll(r)
				require.ErrorIs(t, err, io.EOF)
				require.Equal(t, [][]string{tt.want, {"NEXT"}}, cmds)
			})
		}
	}
}

func TestReadCommandUnbalancedQuotes(t *testing.T) {
	for _, in := range []string{
		`SET k "abc`,
		`SET k 'abc`,
		`SET k "abc"def`,
		`SET k 'abc'def`,
		`SET k "abc\"`,
		`SET k 'abc\'`,
		`SET k "abc\`,
		`"`,
		`'`,
		`""x`,
	} {
		t.Run(in, func(t *testing.T) {
			r := NewReader(strings.NewReader(in+"\r\n"+cmd("PING")), DefaultLimits())
			_, err := r.ReadCommand()
			require.ErrorIs(t, err, ErrUnbalancedQuotes)
			require.ErrorIs(t, err, ErrProtocol)
			require.False(t, IsRecoverable(err))
			require.Contains(t, err.Error(), "unbalanced quotes in request")
		})
	}
}

func TestReadCommandMalformed(t *testing.T) {
	tests := []struct {
		in   string
		want error
	}{
		{"*x\r\n", ErrInvalidMultiBulkLength},
		{"*\r\n", ErrInvalidMultiBulkLength},
		{"*-2\r\n", ErrInvalidMultiBulkLength},
		{"*-0\r\n", ErrInvalidMultiBulkLength},
		{"*01\r\n", ErrInvalidMultiBulkLength},
		{"*+1\r\n", ErrInvalidMultiBulkLength},
		{"* 1\r\n", ErrInvalidMultiBulkLength},
		{"*1 \r\n", ErrInvalidMultiBulkLength},
		{"*" + strings.Repeat("1", 40) + "\r\n", ErrInvalidMultiBulkLength},
		{"*2000000\r\n", ErrInvalidMultiBulkLength},
		{"*1\n$1\r\na\r\n", ErrMissingCRLF},
		{"*1\r\n$1\na\r\n", ErrMissingCRLF},
		{"*1\r\n$3\r\nfoo\n", ErrMissingCRLF},
		{"*1\r\n$3\r\nfooXY", ErrMissingCRLF},
		{"*1\r\n$3\r\nfoo\r\r", ErrMissingCRLF},
		{"*1\r\n$3\r\nfoo\n\n", ErrMissingCRLF},
		{"*1\r\n:1\r\n", ErrExpectedBulk},
		{"*1\r\n+OK\r\n", ErrExpectedBulk},
		{"*1\r\n*1\r\n$1\r\na\r\n", ErrExpectedBulk},
		{"*1\r\nGET\r\n", ErrExpectedBulk},
		{"*1\r\n$-1\r\n", ErrExpectedBulk},
		{"*2\r\n$3\r\nGET\r\n$-1\r\n", ErrExpectedBulk},
		{"*1\r\n$-2\r\n", ErrInvalidBulkLength},
		{"*1\r\n$x\r\n", ErrInvalidBulkLength},
		{"*1\r\n$\r\n", ErrInvalidBulkLength},
		{"*1\r\n$03\r\nfoo\r\n", ErrInvalidBulkLength},
		{"*1\r\n$4294967296\r\n", ErrInvalidBulkLength},
		{"*1\r\n$536870913\r\n", ErrInvalidBulkLength},
		{"*1\r\n$99999999999999999999999999\r\n", ErrInvalidBulkLength},
		{"+OK\r\n", ErrUnexpectedType},
		{"-ERR x\r\n", ErrUnexpectedType},
		{":1\r\n", ErrUnexpectedType},
		{"$3\r\nfoo\r\n", ErrUnexpectedType},
		{"\x16\x03\x01\x02\x00", ErrUnexpectedType},
		{"\x00PING\r\n", ErrUnexpectedType},
		{"PING\r\n\x7f", ErrUnexpectedType},
	}
	for _, tt := range tests {
		for _, c := range chunkings {
			t.Run(fmt.Sprintf("%q/%s", tt.in, c.name), func(t *testing.T) {
				r := NewReader(c.wrap(strings.NewReader(tt.in+cmd("PING"))), DefaultLimits())
				_, _, err := readAll(r)
				require.ErrorIs(t, err, tt.want)
				require.ErrorIs(t, err, ErrProtocol)
				require.NotErrorIs(t, err, ErrTooLarge)
				require.False(t, IsRecoverable(err))
				_, again := r.ReadCommand()
				require.Equal(t, err, again, "protocol errors are sticky")
			})
		}
	}
}

func TestReadCommandEOF(t *testing.T) {
	tests := []struct {
		in   string
		want error
	}{
		{"", io.EOF},
		{"\r\n", io.EOF},
		{"*0\r\n", io.EOF},
		{"*", io.ErrUnexpectedEOF},
		{"*1", io.ErrUnexpectedEOF},
		{"*1\r", io.ErrUnexpectedEOF},
		{"*1\r\n", io.ErrUnexpectedEOF},
		{"*1\r\n$3", io.ErrUnexpectedEOF},
		{"*1\r\n$3\r\nfo", io.ErrUnexpectedEOF},
		{"*1\r\n$3\r\nfoo", io.ErrUnexpectedEOF},
		{"*1\r\n$3\r\nfoo\r", io.ErrUnexpectedEOF},
		{"PING", io.ErrUnexpectedEOF},
		{"PING\r", io.ErrUnexpectedEOF},
	}
	for _, tt := range tests {
		for _, c := range chunkings {
			t.Run(fmt.Sprintf("%q/%s", tt.in, c.name), func(t *testing.T) {
				r := NewReader(c.wrap(strings.NewReader(tt.in)), DefaultLimits())
				_, err := r.ReadCommand()
				require.ErrorIs(t, err, tt.want)
				require.False(t, IsRecoverable(err))
			})
		}
	}
}

func TestReadCommandIOErrorPassedThrough(t *testing.T) {
	boom := errors.New("boom")
	r := NewReader(io.MultiReader(strings.NewReader("*1\r\n$3\r\nfo"), iotest.ErrReader(boom)), DefaultLimits())
	_, err := r.ReadCommand()
	require.ErrorIs(t, err, boom)
	require.False(t, IsRecoverable(err))
}

func TestReaderReset(t *testing.T) {
	r := NewReader(strings.NewReader("+OK\r\n"), DefaultLimits())
	_, err := r.ReadCommand()
	require.ErrorIs(t, err, ErrProtocol)
	r.Reset(strings.NewReader(cmd("PING")))
	args, err := r.ReadCommand()
	require.NoError(t, err)
	require.Equal(t, []string{"PING"}, strs(args))
}

func TestLimitsRecoverable(t *testing.T) {
	next := cmd("NEXT")
	tests := []struct {
		name string
		in   string
	}{
		{"arg over MaxArgSize", cmd("SET", "k", "123456789")},
		{"first arg over MaxArgSize", cmd("123456789", "k", "v")},
		{"huge arg within hard cap", "*2\r\n$3\r\nSET\r\n$1000\r\n" + strings.Repeat("x", 1000) + "\r\n"},
		{"too many args", cmd("a", "b", "c", "d")},
		{"many more args", "*100000\r\n" + strings.Repeat("$1\r\nx\r\n", 100000)},
		{"command over MaxCommandSize", cmd("12345678", "12345678")},
		{"inline too many args", "a b c d\r\n"},
		{"inline arg over MaxArgSize", "SET \"123456789\"\r\n"},
		{"inline command over MaxCommandSize", "12345 12345 123\r\n"},
	}
	for _, tt := range tests {
		for _, c := range chunkings {
			t.Run(tt.name+"/"+c.name, func(t *testing.T) {
				in := cmd("FIRST") + tt.in + next
				r := NewReader(c.wrap(strings.NewReader(in)), smallLimits)
				cmds, rec, err := readAll(r)
				require.ErrorIs(t, err, io.EOF)
				require.Equal(t, [][]string{{"FIRST"}, nil, {"NEXT"}}, cmds)
				require.Len(t, rec, 1)
				require.ErrorIs(t, rec[0], ErrTooLarge)
				require.NotErrorIs(t, rec[0], ErrProtocol)
			})
		}
	}
}

func TestLimitsExactlyAtLimit(t *testing.T) {
	in := cmd("12345678", "1234", "") + "12345678 1234 ''\r\n"
	for _, c := range chunkings {
		t.Run(c.name, func(t *testing.T) {
			r := NewReader(c.wrap(strings.NewReader(in)), smallLimits)
			cmds, rec, err := readAll(r)
			require.ErrorIs(t, err, io.EOF)
			require.Empty(t, rec)
			require.Equal(t, [][]string{{"12345678", "1234", ""}, {"12345678", "1234", ""}}, cmds)
		})
	}
}

func TestLimitsSkipMeetsMalformedFrame(t *testing.T) {
	for _, in := range []string{
		"*4\r\n$1\r\na\r\n:1\r\n",                  // too many args, then not a bulk
		"*2\r\n$9\r\n123456789XY$1\r\na\r\n",       // skipped arg lacks CRLF
		"*2\r\n$9\r\n123456789\r\n$-1\r\n",         // null bulk in the skipped rest
		"*2\r\n$9\r\n123456789\r\n$4294967296\r\n", // hard cap in the skipped rest
	} {
		t.Run(fmt.Sprintf("%q", in), func(t *testing.T) {
			r := NewReader(strings.NewReader(in+cmd("NEXT")), smallLimits)
			_, err := r.ReadCommand()
			require.ErrorIs(t, err, ErrProtocol)
			require.False(t, IsRecoverable(err))
		})
	}
}

func TestInlineTooLargeIsProtocolError(t *testing.T) {
	for _, c := range chunkings {
		for _, in := range []string{
			strings.Repeat("a", 17) + "\r\n",
			strings.Repeat("a", 17) + "\n",
			strings.Repeat("a ", 100) + "\r\n",
			strings.Repeat("a", 1000),
		} {
			t.Run(c.name, func(t *testing.T) {
				r := NewReader(c.wrap(strings.NewReader(in+cmd("NEXT"))), smallLimits)
				_, err := r.ReadCommand()
				require.ErrorIs(t, err, ErrInlineTooLarge)
				require.ErrorIs(t, err, ErrProtocol)
				require.False(t, IsRecoverable(err))
			})
		}
	}
}

func TestInlineTooLargeDefaultLimitSpansBuffers(t *testing.T) {
	in := strings.Repeat("x", 3*bufferSize)
	r := NewReader(strings.NewReader(in+"\r\n"), DefaultLimits())
	_, err := r.ReadCommand()
	require.ErrorIs(t, err, ErrInlineTooLarge)

	// A line longer than the bufio buffer but within MaxInlineSize.
	lim := Limits{MaxInlineSize: 200 << 10, MaxArgSize: 200 << 10}
	word := strings.Repeat("y", 150<<10)
	r = NewReader(strings.NewReader("SET k "+word+"\r\n"+cmd("NEXT")), lim)
	cmds, _, err := readAll(r)
	require.ErrorIs(t, err, io.EOF)
	require.Equal(t, [][]string{{"SET", "k", word}, {"NEXT"}}, cmds)
}

// xs is an endless stream of 'x' bytes.
type xs struct{}

var xBlock = bytes.Repeat([]byte{'x'}, 4096)

func (xs) Read(p []byte) (int, error) {
	n := 0
	for n < len(p) {
		n += copy(p[n:], xBlock)
	}
	return n, nil
}

// allocatedBytes returns how many bytes f allocated on the heap.
func allocatedBytes(f func()) uint64 {
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	f()
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc
}

// leastAllocatedBytes is the least allocatedBytes of n calls of f: the
// heap counters are the process's, so whatever else runs meanwhile (the
// race detector's runtime, another test's goroutines) can only add to one
// call's figure.
func leastAllocatedBytes(n int, f func()) uint64 {
	least := uint64(math.MaxUint64)
	for range n {
		least = min(least, allocatedBytes(f))
	}
	return least
}

func TestSkipOversizedArgDoesNotAllocate(t *testing.T) {
	const size = 256 << 20 // 256 MiB streamed through a 1 KiB MaxArgSize
	src := io.MultiReader(
		strings.NewReader(fmt.Sprintf("*2\r\n$3\r\nSET\r\n$%d\r\n", size)),
		io.LimitReader(xs{}, size),
		strings.NewReader("\r\n"+cmd("NEXT")),
	)
	r := NewReader(src, Limits{MaxArgSize: 1 << 10})
	var err error
	allocated := allocatedBytes(func() { _, err = r.ReadCommand() })
	require.ErrorIs(t, err, ErrTooLarge)
	require.True(t, IsRecoverable(err))
	require.Less(t, allocated, uint64(64<<10))
	args, err := r.ReadCommand()
	require.NoError(t, err)
	require.Equal(t, []string{"NEXT"}, strs(args))
}

func TestHardCapDoesNotAllocateOrWait(t *testing.T) {
	for _, hdr := range []string{
		"*1\r\n$4294967296\r\n",
		"*1\r\n$536870913\r\n",
		"*2000000\r\n",
		"*4294967296\r\n",
	} {
		t.Run(fmt.Sprintf("%q", hdr), func(t *testing.T) {
			// The header alone, then EOF: waiting for the body would
			// give io.ErrUnexpectedEOF instead.
			src := bytes.NewReader(nil)
			r := NewReader(src, DefaultLimits())
			var err error
			run := func() {
				src.Reset([]byte(hdr))
				r.Reset(src)
				_, err = r.ReadCommand()
			}
			run()
			require.ErrorIs(t, err, ErrProtocol)
			require.False(t, IsRecoverable(err))
			require.LessOrEqual(t, testing.AllocsPerRun(100, run), 8.0)
			require.Less(t, leastAllocatedBytes(5, run), uint64(1<<10))
		})
	}
}

func TestHardCapReturnsWithoutMoreInput(t *testing.T) {
	pr, pw := io.Pipe()
	defer pr.Close()
	go func() { _, _ = pw.Write([]byte("*1\r\n$4294967296\r\n")) }() // and never more
	r := NewReader(pr, DefaultLimits())
	done := make(chan error, 1)
	go func() {
		_, err := r.ReadCommand()
		done <- err
	}()
	select {
	case err := <-done:
		require.ErrorIs(t, err, ErrInvalidBulkLength)
	case <-time.After(10 * time.Second):
		t.Fatal("ReadCommand waited for the body of a hard-capped bulk string")
	}
}

func TestLimitsValidate(t *testing.T) {
	require.NoError(t, DefaultLimits().Validate())
	require.NoError(t, Limits{}.Validate())
	require.NoError(t, Limits{MaxArgs: HardMaxArgs, MaxArgSize: HardMaxBulkLen, MaxInlineSize: HardMaxInlineSize, MaxCommandSize: HardMaxCommandSize}.Validate())
	for _, l := range []Limits{
		{MaxArgs: -1},
		{MaxArgs: HardMaxArgs + 1},
		{MaxArgSize: HardMaxBulkLen + 1},
		{MaxInlineSize: -5},
		{MaxInlineSize: HardMaxInlineSize + 1},
		{MaxCommandSize: HardMaxCommandSize + 1},
	} {
		require.ErrorIs(t, l.Validate(), ErrInvalidLimits, "%+v", l)
	}
}

func TestNewReaderNormalizesLimits(t *testing.T) {
	r := NewReader(strings.NewReader(""), Limits{MaxArgs: -1, MaxArgSize: HardMaxBulkLen + 1, MaxInlineSize: 10})
	require.Equal(t, Limits{
		MaxArgs:        DefaultMaxArgs,
		MaxArgSize:     HardMaxBulkLen,
		MaxInlineSize:  10,
		MaxCommandSize: DefaultMaxCommandSize,
	}, r.Limits())
}

func TestParseLen(t *testing.T) {
	tests := []struct {
		in   string
		want int
		ok   bool
	}{
		{"0", 0, true},
		{"-1", -1, true},
		{"7", 7, true},
		{"536870912", 536870912, true},
		{"999999999", 999999999, true},
		{"1073741823", saturation, true},
		{"99999999999999999999999", saturation, true},
		{"", 0, false},
		{"-", 0, false},
		{"-2", 0, false},
		{"-10", 0, false},
		{"00", 0, false},
		{"01", 0, false},
		{"1a", 0, false},
		{"+1", 0, false},
	}
	for _, tt := range tests {
		n, ok := parseLen([]byte(tt.in))
		require.Equal(t, tt.ok, ok, tt.in)
		if ok {
			require.Equal(t, tt.want, n, tt.in)
		}
	}
}

// repeatReader endlessly repeats data.
type repeatReader struct {
	data []byte
	off  int
}

func (r *repeatReader) Read(p []byte) (int, error) {
	n := 0
	for n < len(p) {
		k := copy(p[n:], r.data[r.off:])
		n += k
		r.off = (r.off + k) % len(r.data)
	}
	return n, nil
}

func BenchmarkReadCommandSet(b *testing.B) {
	in := cmd("SET", strings.Repeat("k", 16), strings.Repeat("v", 100))
	r := NewReader(&repeatReader{data: []byte(in)}, DefaultLimits())
	b.SetBytes(int64(len(in)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := r.ReadCommand(); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkReadCommandSetSplit(b *testing.B) {
	in := cmd("SET", strings.Repeat("k", 16), strings.Repeat("v", 100))
	r := NewReader(iotest.HalfReader(&repeatReader{data: []byte(in)}), DefaultLimits())
	b.SetBytes(int64(len(in)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := r.ReadCommand(); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkReadCommandInline(b *testing.B) {
	in := "SET " + strings.Repeat("k", 16) + " \"" + strings.Repeat("v", 100) + "\"\r\n"
	r := NewReader(&repeatReader{data: []byte(in)}, DefaultLimits())
	b.SetBytes(int64(len(in)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := r.ReadCommand(); err != nil {
			b.Fatal(err)
		}
	}
}

// TestHardCapErrorNamesLengthSent checks that a length claim over a hard
// cap is reported as the client sent it, with the cap, not as the number
// the parser stopped counting at.
func TestHardCapErrorNamesLengthSent(t *testing.T) {
	tests := []struct {
		in, want string
	}{
		{"*1\r\n$999999999999\r\n", "resp: protocol error: invalid bulk length: 999999999999 bytes, hard cap is 536870912"},
		{"*1\r\n$536870913\r\n", "resp: protocol error: invalid bulk length: 536870913 bytes, hard cap is 536870912"},
		{"*1\r\n$99999999999999999999999999\r\n", "resp: protocol error: invalid bulk length: 99999999999999999999999999 bytes, hard cap is 536870912"},
		{"*4294967296\r\n", "resp: protocol error: invalid multibulk length: 4294967296 elements, hard cap is 1048576"},
		{"*1048577\r\n", "resp: protocol error: invalid multibulk length: 1048577 elements, hard cap is 1048576"},
		{"*2\r\n$9\r\n123456789\r\n$4294967296\r\n", "resp: protocol error: invalid bulk length: 4294967296 bytes, hard cap is 536870912"},
	}
	for _, tt := range tests {
		for _, c := range chunkings {
			t.Run(fmt.Sprintf("%q/%s", tt.in, c.name), func(t *testing.T) {
				r := NewReader(c.wrap(strings.NewReader(tt.in)), smallLimits)
				_, err := r.ReadCommand()
				require.ErrorIs(t, err, ErrProtocol)
				require.EqualError(t, err, tt.want)
			})
		}
	}
}

// TestInlineTooLargeErrorNamesLengthRead checks that an inline line over
// the limit is reported with the bytes read and the limit.
func TestInlineTooLargeErrorNamesLengthRead(t *testing.T) {
	r := NewReader(strings.NewReader(strings.Repeat("a", 20)+"\r\n"), smallLimits)
	_, err := r.ReadCommand()
	require.EqualError(t, err, "resp: protocol error: too big inline request: 20 bytes, limit is 16")

	// A line with no end in sight is cut off after a bit more than the
	// limit: the error says how much was read without a line end.
	lim := Limits{MaxInlineSize: 100 << 10}
	r = NewReader(io.LimitReader(xs{}, 1<<20), lim)
	_, err = r.ReadCommand()
	require.ErrorIs(t, err, ErrInlineTooLarge)
	require.Regexp(t, `^resp: protocol error: too big inline request: \d+ bytes without a line end, limit is 102400$`, err.Error())
	var n int
	_, scanErr := fmt.Sscanf(strings.TrimPrefix(err.Error(), "resp: protocol error: too big inline request: "), "%d", &n)
	require.NoError(t, scanErr)
	require.Greater(t, n, 100<<10)
}
