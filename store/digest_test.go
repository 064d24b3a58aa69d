package store

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/vasto-kv/vasto/lww"
)

// applyAll stores the changes as they are, through ApplyRemote.
func applyAll(t *testing.T, s *Shard, changes ...lww.Change) {
	t.Helper()
	_, err := s.ApplyRemote(context.Background(), "r_peer", 1, changes)
	require.NoError(t, err)
}

func ch(key string, r lww.Record) lww.Change { return lww.Change{Key: []byte(key), Record: r} }

func withExpiry(r lww.Record, exp int64) lww.Record { r.ExpiresAt = exp; return r }

func TestDigest(t *testing.T) {
	at := time.Unix(0, baseTime)
	base := []lww.Change{ch("a", rec(baseTime-10, "dc1", "s1", "1")), ch("b", rec(baseTime-9, "dc1", "s1", "2"))}
	digestOf := func(changes ...lww.Change) (string, int) {
		s, _ := testShard(t, nil)
		if len(changes) > 0 {
			applyAll(t, s, changes...)
		}
		d, n, err := s.Digest(at)
		require.NoError(t, err)
		return d, n
	}
	want, n := digestOf(base...)
	require.Equal(t, 2, n)
	require.Len(t, want, 64, "hex sha256")

	for _, tc := range []struct {
		name    string
		changes []lww.Change
		same    bool
		count   int
	}{
		{"same contents in another order", []lww.Change{base[1], base[0]}, true, 2},
		{"same write from another origin node", []lww.Change{base[0], ch("b", rec(baseTime-9, "dc2", "s7", "2"))}, true, 2},
		{"a deleted record is left out", append([]lww.Change{ch("c", tomb(baseTime-8, "dc1", "s1"))}, base...), true, 2},
		{"an expired record is left out", append([]lww.Change{ch("c", withExpiry(rec(baseTime-8, "dc1", "s1", "x"), baseTime))}, base...), true, 2},
		{"different value", []lww.Change{base[0], ch("b", rec(baseTime-9, "dc1", "s1", "3"))}, false, 2},
		{"different event time", []lww.Change{base[0], ch("b", rec(baseTime-7, "dc1", "s1", "2"))}, false, 2},
		{"a key more", append([]lww.Change{ch("c", rec(baseTime-8, "dc1", "s1", "x"))}, base...), false, 3},
		{"a key less", base[:1], false, 1},
		{"a live record with an expiry to come", append([]lww.Change{ch("c", withExpiry(rec(baseTime-8, "dc1", "s1", "x"), baseTime+1))}, base...), false, 3},
		{"keys and values not confused", []lww.Change{ch("a1", rec(baseTime-10, "dc1", "s1", "")), base[1]}, false, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, n := digestOf(tc.changes...)
			require.Equal(t, tc.count, n)
			if tc.same {
				require.Equal(t, want, got)
			} else {
				require.NotEqual(t, want, got)
			}
		})
	}

	empty, n := digestOf()
	require.Zero(t, n)
	require.Equal(t, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855", empty, "sha256 of nothing")
}

func TestDigestAtExcludesWhatExpiredByThen(t *testing.T) {
	s, _ := testShard(t, nil)
	applyAll(t, s, ch("a", withExpiry(rec(baseTime-10, "dc1", "s1", "1"), baseTime+100)))
	before, n, err := s.Digest(time.Unix(0, baseTime+99))
	require.NoError(t, err)
	require.Equal(t, 1, n)
	after, n, err := s.Digest(time.Unix(0, baseTime+100))
	require.NoError(t, err)
	require.Zero(t, n, "expired at its expiry")
	require.NotEqual(t, before, after)

	// A delete removes the key from the digest.
	_, err = s.Delete(context.Background(), []byte("a"))
	require.NoError(t, err)
	_, n, err = s.Digest(time.Unix(0, baseTime+99))
	require.NoError(t, err)
	require.Zero(t, n)

	require.NoError(t, s.Close())
	_, _, err = s.Digest(time.Unix(0, baseTime))
	require.ErrorIs(t, err, ErrClosed)
}
