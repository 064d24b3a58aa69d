package store

import (
	"context"
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestDumpSnapshotSeesOneInstant(t *testing.T) {
	sh, _ := testShard(t, nil)
	ctx := context.Background()
	for i := 0; i < 50; i++ {
		_, err := sh.Put(ctx, fmt.Appendf(nil, "k%02d", i), []byte("old"))
		require.NoError(t, err)
	}
	sn, err := sh.NewDumpSnapshot()
	require.NoError(t, err)
	first, last := sh.LogBounds()
	require.Equal(t, last, sn.LogLast)
	require.LessOrEqual(t, first, last)

	// Writes after the snapshot: overwrites, deletes, new keys.
	for i := 0; i < 50; i += 2 {
		_, err := sh.Put(ctx, fmt.Appendf(nil, "k%02d", i), []byte("new"))
		require.NoError(t, err)
	}
	_, err = sh.Delete(ctx, []byte("k01"))
	require.NoError(t, err)
	_, err = sh.Put(ctx, []byte("k99"), []byte("new"))
	require.NoError(t, err)

	var keys int
	var start []byte
	for {
		res, err := sn.DumpShardOf(start, 1, 0, 7)
		require.NoError(t, err)
		for _, it := range res.Items {
			keys++
			require.Equal(t, "old", string(it.Record.Value), string(it.Key))
		}
		if res.Next == nil {
			break
		}
		start = res.Next
	}
	require.Equal(t, 50, keys)
	live, err := sh.DumpShardOf(nil, 1, 0, 100)
	require.NoError(t, err)
	require.Len(t, live.Items, 51)

	sn.Release()
	sn.Release()
	_, err = sn.DumpShardOf(nil, 1, 0, 10)
	require.ErrorIs(t, err, ErrSnapshotReleased)
}

func TestDumpSnapshotReleasedByClose(t *testing.T) {
	sh, _ := testShard(t, nil)
	_, err := sh.Put(context.Background(), []byte("k"), []byte("v"))
	require.NoError(t, err)
	sn, err := sh.NewDumpSnapshot()
	require.NoError(t, err)
	require.NoError(t, sh.Close())
	_, err = sn.DumpShardOf(nil, 1, 0, 10)
	require.ErrorIs(t, err, ErrClosed)
	sn.Release()
	_, err = sh.NewDumpSnapshot()
	require.ErrorIs(t, err, ErrClosed)
}
