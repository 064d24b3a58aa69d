package store

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/vasto-kv/vasto/lww"
)

// commitRecorder is an Observer that keeps what it was told.
type commitRecorder struct {
	mu     sync.Mutex
	writes []int
}

func (r *commitRecorder) Committed(_ ShardID, writes int, took time.Duration) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if took < 0 {
		panic("negative commit time")
	}
	r.writes = append(r.writes, writes)
}

func TestStatsCountOutcomesAndConflicts(t *testing.T) {
	obs := &commitRecorder{}
	s, _ := testShard(t, func(c *Config) { c.DC, c.Observer = "dc1", obs })
	ctx := context.Background()

	// A local write applied, a stale local write not applied.
	_, err := s.Write(ctx, Mutation{Key: []byte("a"), Value: []byte("1"), EventTime: baseTime})
	require.NoError(t, err)
	res, err := s.Write(ctx, Mutation{Key: []byte("a"), Value: []byte("0"), EventTime: baseTime - 10})
	require.NoError(t, err)
	require.False(t, res[0].Applied)

	// Another DC's newer write wins over dc1's (a conflict won), then an
	// older dc1 write loses against it (a conflict lost), and a replayed
	// dc2 write is stale but no conflict.
	_, err = s.ApplyRemote(ctx, "x_dc2", 1, []lww.Change{{Key: []byte("a"), Record: rec(baseTime+10, "dc2", "n1", "2")}})
	require.NoError(t, err)
	_, err = s.ApplyRemote(ctx, "r_peer", 1, []lww.Change{{Key: []byte("a"), Record: rec(baseTime+5, "dc1", "p", "3")}})
	require.NoError(t, err)
	_, err = s.ApplyRemote(ctx, "x_dc2", 1, []lww.Change{{Key: []byte("a"), Record: rec(baseTime+10, "dc2", "n1", "2")}})
	require.NoError(t, err)

	st := s.Stats()
	require.Equal(t, uint64(1), st.Applied)
	require.Equal(t, uint64(1), st.NotApplied)
	require.Equal(t, uint64(1), st.RemoteApplied)
	require.Equal(t, uint64(2), st.RemoteNotApplied)
	require.Equal(t, uint64(1), st.ConflictsWon)
	require.Equal(t, uint64(1), st.ConflictsLost)
	require.Equal(t, uint64(5), st.Commits)
	require.Equal(t, uint64(5), st.CommitWrites)

	obs.mu.Lock()
	require.Equal(t, []int{1, 1, 1, 1, 1}, obs.writes)
	obs.mu.Unlock()
}

func TestDBStatsAndOldestLogTime(t *testing.T) {
	s, _ := testShard(t, func(c *Config) { c.Statistics = true })
	ctx := context.Background()
	_, ok := s.OldestLogTime()
	require.False(t, ok, "empty log")
	for i := range 50 {
		_, err := s.Write(ctx, Mutation{Key: []byte{byte(i)}, Value: []byte("v"), EventTime: baseTime + int64(i)})
		require.NoError(t, err)
	}
	oldest, ok := s.OldestLogTime()
	require.True(t, ok)
	require.Equal(t, baseTime, oldest)

	require.NoError(t, s.Compact())
	for i := range 50 {
		_, err := s.Get([]byte{byte(i)})
		require.NoError(t, err)
	}
	st := s.DBStats()
	require.True(t, st.Statistics)
	require.NotZero(t, st.SSTBytes, "compacted data is in SST files")
	require.NotZero(t, st.MemtableBytes)
	require.NotZero(t, st.BlockCacheHits+st.BlockCacheMisses, "reads went through the block cache")
	require.False(t, st.WriteStopped)

	require.NoError(t, s.Close())
	require.Equal(t, DBStats{}, s.DBStats(), "a closed shard reports zeros")
}

func TestParseTickers(t *testing.T) {
	dump := "rocksdb.block.cache.miss COUNT : 12\nrocksdb.block.cache.hit COUNT : 30\n" +
		"rocksdb.db.get.micros P50 : 1.0 P95 : 2.0 COUNT : 4 SUM : 5\nrocksdb.stall.micros COUNT : x\n"
	got := parseTickers(dump, "rocksdb.block.cache.hit", "rocksdb.block.cache.miss", "rocksdb.stall.micros")
	require.Equal(t, map[string]uint64{"rocksdb.block.cache.hit": 30, "rocksdb.block.cache.miss": 12}, got)
}

func TestTally(t *testing.T) {
	changes := []lww.Change{{Record: rec(5, "dc1", "n", "a")}, {Record: rec(9, "dc1", "n", "b")}, {Record: rec(7, "dc1", "n", "c")}}
	applied, newest := Tally(changes, []Result{{Applied: true}, {}, {Applied: true}})
	require.Equal(t, 2, applied)
	require.Equal(t, int64(9), newest)
	applied, newest = Tally(nil, nil)
	require.Zero(t, applied)
	require.Zero(t, newest)
}
