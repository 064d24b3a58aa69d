package store

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestSharedOptions checks that every shard database gets the settings the
// C API cannot make (through the grocksdb internals nativePtr relies on),
// and what they are for: no info log file, nothing preallocated.
func TestSharedOptions(t *testing.T) {
	s, _ := testShard(t, nil)
	require.True(t, sharedApplied(s.opts[0]), "shared write buffer manager, logger and no-flush options applied")

	_, err := s.Put(context.Background(), []byte("k"), []byte("v"))
	require.NoError(t, err)
	_, err = os.Stat(filepath.Join(s.Dir(), "LOG"))
	require.ErrorIs(t, err, os.ErrNotExist, "RocksDB's info log is discarded")
	used, err := diskAllocated(s.Dir())
	require.NoError(t, err)
	require.Less(t, used, int64(1<<20), "a shard with one write allocates less than 1 MiB (no preallocated WAL or manifest)")
}

// TestCloseWithoutFlushKeepsAcknowledgedWrites closes an engine whose
// writes are only in memtables and the write-ahead log: nothing is flushed
// on close (no table file appears) and everything is there after reopening.
func TestCloseWithoutFlushKeepsAcknowledgedWrites(t *testing.T) {
	dir := t.TempDir()
	cfg := DefaultConfig(dir)
	cfg.Logger = testLogger(t)
	e, err := Open(cfg)
	require.NoError(t, err)
	const nShards, perShard = 20, 50
	ctx := context.Background()
	for sh := uint32(0); sh < nShards; sh++ {
		s, err := e.CreateShard("ks", sh)
		require.NoError(t, err)
		for i := 0; i < perShard; i++ {
			_, err := s.Put(ctx, fmt.Appendf(nil, "k%d", i), fmt.Appendf(nil, "v%d-%d", sh, i))
			require.NoError(t, err)
		}
	}
	require.NoError(t, e.Close())
	tables, err := filepath.Glob(filepath.Join(dir, "ks", "*", "*.sst"))
	require.NoError(t, err)
	require.Empty(t, tables, "close flushed memtables")

	for round := 0; round < 2; round++ { // recovery does not flush either: replay twice
		e, err = Open(cfg)
		require.NoError(t, err)
		require.Len(t, e.Shards(), nShards)
		for sh := uint32(0); sh < nShards; sh++ {
			s, err := e.Shard("ks", sh)
			require.NoError(t, err)
			_, last := s.LogBounds()
			require.Equal(t, uint64(perShard), last, "change log of shard %d", sh)
			for i := 0; i < perShard; i++ {
				got, err := s.Get(fmt.Appendf(nil, "k%d", i))
				require.NoError(t, err)
				require.Equal(t, fmt.Sprintf("v%d-%d", sh, i), string(got.Value))
			}
		}
		require.NoError(t, e.Close())
	}
}

// TestKill9ManyShardsLosesNoAcknowledgedWrite kills a process writing to
// several shards at once and checks every acknowledged write after reopening.
func TestKill9ManyShardsLosesNoAcknowledgedWrite(t *testing.T) {
	dir := t.TempDir()
	t.Setenv(crashShardsEnv, fmt.Sprint(crashManyShards))
	for round := 0; round < 2; round++ {
		acked := runAndKill(t, dir, 2000)
		cfg := DefaultConfig(dir)
		cfg.Logger = testLogger(t)
		e, err := Open(cfg)
		require.NoError(t, err)
		require.Len(t, e.Shards(), crashManyShards)
		for key := range acked {
			s, err := e.Shard("ks", crashShardOf(key, crashManyShards))
			require.NoError(t, err)
			got, err := s.Get([]byte(key))
			require.NoError(t, err, "acknowledged key %s lost", key)
			require.Equal(t, "value-"+key, string(got.Value))
		}
		require.NoError(t, e.Close())
	}
}

func TestOpenFilesBudget(t *testing.T) {
	dir := t.TempDir()
	cfg := DefaultConfig(dir)
	cfg.Logger = testLogger(t)
	cfg.MaxOpenFiles = 3 * (defaultShardOpenFiles + shardFixedFiles)
	e, err := Open(cfg)
	require.NoError(t, err)
	for sh := uint32(0); sh < 3; sh++ {
		_, err := e.CreateShard("ks", sh)
		require.NoError(t, err)
	}
	_, err = e.CreateShard("ks", 3)
	require.ErrorIs(t, err, ErrTooManyShards)
	require.Len(t, e.Shards(), 3, "the refused shard is not there")
	_, err = os.Stat(filepath.Join(dir, "ks", "3"))
	require.ErrorIs(t, err, os.ErrNotExist, "nothing written for the refused shard")
	require.NoError(t, e.DropShard("ks", 0))
	_, err = e.CreateShard("ks", 3)
	require.NoError(t, err, "room again after a drop")
	require.NoError(t, e.Close())

	cfg.MaxOpenFiles = 2 * (defaultShardOpenFiles + shardFixedFiles)
	_, err = Open(cfg)
	require.ErrorIs(t, err, ErrTooManyShards, "more shards on disk than the budget holds")
}

// TestConcurrentCreate creates shards from many goroutines: each distinct
// shard once, a shard created twice at once exactly once.
func TestConcurrentCreate(t *testing.T) {
	e, _ := testEngine(t, nil)
	const n = 16
	var wg sync.WaitGroup
	errs := make([]error, 2*n)
	for i := range errs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, errs[i] = e.CreateShard("ks", uint32(i%n))
		}()
	}
	wg.Wait()
	var exists int
	for _, err := range errs {
		if err != nil {
			require.ErrorIs(t, err, ErrShardExists)
			exists++
		}
	}
	require.Equal(t, n, exists)
	require.Len(t, e.Shards(), n)
}

// TestMemtableBudget writes several times the memtable budget over several
// shards whose own write buffers are far larger: only the shared write
// buffer manager makes them flush, and it keeps the memtables of all shards
// within a small multiple of the budget.
func TestMemtableBudget(t *testing.T) {
	const budget = 2 << 20
	e, _ := testEngine(t, func(c *Config) {
		c.BlockCacheBytes, c.MemtableBytes, c.WriteBufferBytes = 16<<20, budget, 64<<20
	})
	ctx := context.Background()
	var shards []*Shard
	for sh := uint32(0); sh < 4; sh++ {
		s, err := e.CreateShard("ks", sh)
		require.NoError(t, err)
		shards = append(shards, s)
	}
	value := make([]byte, 1000)
	for i := 0; i < 12000; i++ { // about 24 MB of records and log entries
		_, err := shards[i%len(shards)].Put(ctx, fmt.Appendf(nil, "key-%06d", i), value)
		require.NoError(t, err)
	}
	require.Eventually(t, func() bool { return e.shared.memtableUsage() < 4*budget },
		10*time.Second, 10*time.Millisecond, "memtables held past the budget: %d", e.shared.memtableUsage())
	tables, err := filepath.Glob(filepath.Join(e.Config().Dir, "ks", "*", "*.sst"))
	require.NoError(t, err)
	require.NotEmpty(t, tables, "nothing flushed")
}
