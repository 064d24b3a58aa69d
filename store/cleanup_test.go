package store

import (
	"context"
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/vasto-kv/vasto/lww"
)

func TestRemoveUnowned(t *testing.T) {
	s, _ := testShard(t, nil)
	ctx := context.Background()
	model := map[string]lww.Record{}
	var muts []Mutation
	for i := 0; i < 3000; i++ {
		muts = append(muts, Mutation{Key: []byte(fmt.Sprintf("k%05d", i)), Value: []byte("v")})
	}
	for i := 0; i < len(muts); i += 1000 {
		_, err := s.Write(ctx, muts[i:i+1000]...)
		require.NoError(t, err)
	}
	for i := 0; i < 3000; i += 7 {
		_, err := s.Delete(ctx, []byte(fmt.Sprintf("k%05d", i)))
		require.NoError(t, err)
	}
	var remote []lww.Change
	for i := 0; i < 500; i++ {
		remote = append(remote, lww.Change{Key: []byte(fmt.Sprintf("r%05d", i)), Record: tomb(baseTime-int64(i), "dc2", "store2")})
	}
	_, err := s.ApplyRemote(ctx, "peer", 1, remote)
	require.NoError(t, err)

	n, err := s.RemoveUnowned(ctx, 100)
	require.NoError(t, err)
	require.Zero(t, n, "the zero owner owns every key")

	for start := []byte(nil); ; {
		res, err := s.Scan(ScanOptions{Start: start, Limit: 1000, IncludeDead: true})
		require.NoError(t, err)
		for _, it := range res.Items {
			model[string(it.Key)] = it.Record
		}
		if res.Next == nil {
			break
		}
		start = res.Next
	}
	require.Len(t, model, 3500)

	o := Owner{Shards: 3, Index: 1}
	_, err = s.SetOwner(ctx, o, 1)
	require.NoError(t, err)
	unowned := 0
	for k := range model {
		if !o.Owns([]byte(k)) {
			delete(model, k)
			unowned++
		}
	}
	first, last := s.LogBounds()

	n, err = s.RemoveUnowned(ctx, 100)
	require.NoError(t, err)
	require.Equal(t, unowned, n)
	requireShardHolds(t, s, model)
	f, l := s.LogBounds()
	require.Equal(t, first, f, "removal does not touch the change log")
	require.Equal(t, last, l)

	n, err = s.RemoveUnowned(ctx, 0)
	require.NoError(t, err)
	require.Zero(t, n, "nothing left to remove")

	cctx, cancel := context.WithCancel(ctx)
	cancel()
	_, err = s.RemoveUnowned(cctx, 100)
	require.ErrorIs(t, err, context.Canceled)
}

// TestRemoveUnownedChecksTheCommitOwner removes under one owner records a
// concurrent SetOwner gave back to the shard: the commit keeps them.
func TestRemoveUnownedChecksTheCommitOwner(t *testing.T) {
	s, _ := testShard(t, nil)
	ctx := context.Background()
	o := Owner{Shards: 2, Index: 0}
	key := keysOf(o, false, "k", 1)[0]
	_, err := s.Put(ctx, key, []byte("v"))
	require.NoError(t, err)
	r, ok, err := s.GetRecord(key)
	require.NoError(t, err)
	require.True(t, ok)

	// As RemoveUnowned does after scanning under o, but with the zero owner
	// back when the removal commits.
	_, err = s.SetOwner(ctx, Owner{}, 2)
	require.NoError(t, err)
	res, err := s.submit(ctx, &commitReq{
		writes:  []Prepared{{Change: lww.Change{Key: key, Record: r}, forget: true}},
		source:  "cleanup",
		unowned: true,
	})
	require.NoError(t, err)
	require.False(t, res[0].Applied)
	_, ok, err = s.GetRecord(key)
	require.NoError(t, err)
	require.True(t, ok, "a key the owner owns again is kept")

	_, err = s.SetOwner(ctx, o, 3)
	require.NoError(t, err)
	n, err := s.RemoveUnowned(ctx, 10)
	require.NoError(t, err)
	require.Equal(t, 1, n)
	_, ok, err = s.GetRecord(key)
	require.NoError(t, err)
	require.False(t, ok)
}
