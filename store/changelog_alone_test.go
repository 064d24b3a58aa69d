package store

import (
	"context"
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"
)

// putN writes n keys prefix0..prefix(n-1) to sh.
func putN(t *testing.T, sh *Shard, prefix string, n int) {
	t.Helper()
	for i := range n {
		_, err := sh.Put(context.Background(), fmt.Appendf(nil, "%s%d", prefix, i), []byte("v"))
		require.NoError(t, err)
	}
}

func requireBounds(t *testing.T, sh *Shard, first, last uint64) {
	t.Helper()
	f, l := sh.LogBounds()
	require.Equal(t, [2]uint64{first, last}, [2]uint64{f, l}, "log bounds of %s", sh.ID())
}

// TestNoChangeLog: with Config.NoChangeLog (a store running alone) local
// writes append no change-log entry to shards that never belonged to a DC,
// entries already logged are kept, and shards of a DC still log.
func TestNoChangeLog(t *testing.T) {
	dir := t.TempDir()
	open := func(noLog bool) *Engine {
		cfg := DefaultConfig(dir)
		cfg.Logger = testLogger(t)
		cfg.BlockCacheBytes, cfg.WriteBufferBytes = 8<<20, 4<<20
		cfg.NoChangeLog = noLog
		e, err := Open(cfg)
		require.NoError(t, err)
		return e
	}

	// An earlier run that logged: 5 entries in "old", and a shard of a DC.
	e := open(false)
	old, err := e.CreateShard("old", 0)
	require.NoError(t, err)
	putN(t, old, "a", 5)
	requireBounds(t, old, 1, 5)
	dc, err := e.CreateShard("dc", 0)
	require.NoError(t, err)
	require.NoError(t, dc.SetEpoch(3))
	putN(t, dc, "a", 2)
	require.NoError(t, e.Close())

	e = open(true)
	defer func() { require.NoError(t, e.Close()) }()
	alone, err := e.EnsureShard(defaultKeyspace, 0)
	require.NoError(t, err)
	putN(t, alone, "k", 200)
	requireBounds(t, alone, 1, 0)
	r, err := alone.Put(context.Background(), []byte("k0"), []byte("w"))
	require.NoError(t, err)
	require.True(t, r.Applied)
	require.Zero(t, r.LogIndex, "no log index without a log entry")
	it, err := alone.Get([]byte("k0"))
	require.NoError(t, err)
	require.Equal(t, "w", string(it.Value))
	require.Equal(t, 200, scanCount(t, alone))

	old, err = e.Shard("old", 0)
	require.NoError(t, err)
	putN(t, old, "b", 10)
	requireBounds(t, old, 1, 5)
	entries, err := old.ReadLog(1, 100)
	require.NoError(t, err)
	require.Len(t, entries, 5, "the entries of the earlier run are kept")
	require.Equal(t, "a4", string(entries[4].Change.Key))

	dc, err = e.Shard("dc", 0)
	require.NoError(t, err)
	putN(t, dc, "b", 3)
	requireBounds(t, dc, 1, 5)
}

func scanCount(t *testing.T, sh *Shard) int {
	t.Helper()
	res, err := sh.Scan(ScanOptions{Limit: MaxScanLimit})
	require.NoError(t, err)
	return len(res.Items)
}
