package check

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestRecorderConcurrentAppend(t *testing.T) {
	var buf bytes.Buffer
	r := NewRecorder(&buf)
	const workers, each = 8, 50
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				op := put(0, fmt.Sprintf("k%d", i%5), fmt.Sprintf("w%d-%d", w, i), ver(int64(100+i), "dc1", "s1"))
				op.Client = fmt.Sprintf("dc1/w%d", w)
				_, err := r.Append(op)
				assert.NoError(t, err)
			}
		}()
	}
	wg.Wait()
	require.NoError(t, r.Err())

	ops := r.Ops()
	require.Len(t, ops, workers*each)
	for i, op := range ops {
		require.Equal(t, int64(i+1), op.ID)
	}
	back, err := ReadHistory(&buf)
	require.NoError(t, err)
	require.ElementsMatch(t, ops, back)
}

func TestHistoryRoundTrip(t *testing.T) {
	ops := []Op{
		ttl(put(1, "a", "v1", ver(100, "dc1", "s1")), 500),
		with(del(2, "a", ver(200, "dc2", "s3")), OutcomeUnknown),
		get(3, "dc1/s1", "a", 300, 310, ver(100, "dc1", "s1"), "v1"),
		{ID: 4, Client: "dc1/r1", DC: "dc1", Kind: KindGet, Keyspace: ks, Key: "b", Outcome: OutcomeFail, Error: "refused", Replica: "dc1/s2"},
	}
	var buf bytes.Buffer
	require.NoError(t, WriteHistory(&buf, ops))
	lines := strings.Split(strings.TrimSuffix(buf.String(), "\n"), "\n")
	require.Len(t, lines, len(ops))
	require.Contains(t, lines[0], `"event_time":100`)
	require.Contains(t, lines[0], `"expires_at":500`)
	require.Contains(t, lines[0], `"version":{"time":100,"dc":"dc1","node":"s1"}`)
	require.NotContains(t, lines[1], `"version"`)
	require.Contains(t, lines[2], `"replica":"dc1/s1"`)

	back, err := ReadHistory(strings.NewReader(buf.String() + "\n  \n"))
	require.NoError(t, err)
	require.Equal(t, ops, back)

	r := NewRecorder(nil)
	got, err := r.Append(ops[0])
	require.NoError(t, err)
	require.Equal(t, int64(1), got.ID)
}

func TestReadHistoryErrors(t *testing.T) {
	good := `{"id":1,"kind":"put","outcome":"ok","keyspace":"ks","key":"a"}`
	tests := []struct {
		name string
		in   string
		want error
	}{
		{"not json", good + "\n{nope\n", ErrMalformedLine},
		{"not an object", "[1,2]\n", ErrMalformedLine},
		{"unknown kind", `{"id":1,"kind":"scan","outcome":"ok"}`, ErrUnknownKind},
		{"missing kind", `{"id":1,"outcome":"ok"}`, ErrUnknownKind},
		{"unknown outcome", `{"id":1,"kind":"get","outcome":"maybe"}`, ErrUnknownOutcome},
		{"duplicate id", good + "\n" + good + "\n", ErrDuplicateID},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ReadHistory(strings.NewReader(tt.in))
			require.ErrorIs(t, err, tt.want)
			require.True(t, strings.HasPrefix(err.Error(), "check: "), err.Error())
		})
	}
	_, err := ReadHistory(errReader{})
	require.True(t, errors.Is(err, errBoom))
}

var errBoom = errors.New("boom")

type errReader struct{}

func (errReader) Read([]byte) (int, error) { return 0, errBoom }

type failWriter struct{}

func (failWriter) Write([]byte) (int, error) { return 0, errBoom }

func TestRecorderWriteError(t *testing.T) {
	r := NewRecorder(failWriter{})
	_, err := r.Append(put(0, "a", "v", ver(1, "dc1", "s1")))
	require.ErrorIs(t, err, errBoom)
	_, err = r.Append(put(0, "a", "w", ver(2, "dc1", "s1")))
	require.ErrorIs(t, err, errBoom)
	require.Len(t, r.Ops(), 2)
	require.ErrorIs(t, WriteHistory(failWriter{}, r.Ops()), errBoom)
}
