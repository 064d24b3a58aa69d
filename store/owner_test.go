package store

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/vasto-kv/vasto/lww"
	"github.com/vasto-kv/vasto/topology"
)

// keysOf returns n keys named prefix<i> that o owns (want true) or does not.
func keysOf(o Owner, want bool, prefix string, n int) [][]byte {
	var keys [][]byte
	for i := 0; len(keys) < n; i++ {
		k := []byte(fmt.Sprintf("%s%d", prefix, i))
		if o.Owns(k) == want {
			keys = append(keys, k)
		}
	}
	return keys
}

func TestOwnerOwns(t *testing.T) {
	require.True(t, Owner{}.Owns([]byte("anything")), "the zero owner owns every key")
	require.False(t, Owner{Shards: -1}.Owns([]byte("anything")), "a negative shard count owns none")
	for i := 0; i < 1000; i++ {
		k := []byte(fmt.Sprintf("k%d", i))
		n := topology.ShardOf(k, 5)
		for idx := uint32(0); idx < 5; idx++ {
			require.Equal(t, idx == n, Owner{Shards: 5, Index: idx}.Owns(k))
		}
	}
}

func TestOwnerRejectsLocalWritesAcceptsRemote(t *testing.T) {
	s, _ := testShard(t, nil)
	ctx := context.Background()
	o := Owner{Shards: 4, Index: 1}
	owned := keysOf(o, true, "own", 3)
	moved := keysOf(o, false, "moved", 3)

	got, version := s.Owner()
	require.Equal(t, Owner{}, got)
	require.Zero(t, version)
	_, err := s.Put(ctx, moved[0], []byte("before"))
	require.NoError(t, err, "every key is owned before SetOwner")

	fence, err := s.SetOwner(ctx, o, 7)
	require.NoError(t, err)
	require.Equal(t, uint64(1), fence)
	got, version = s.Owner()
	require.Equal(t, o, got)
	require.Equal(t, uint64(7), version)
	require.True(t, s.Owns(owned[0]))
	require.False(t, s.Owns(moved[0]))

	_, err = s.Put(ctx, moved[1], []byte("v"))
	require.ErrorIs(t, err, ErrMoved)
	_, err = s.Delete(ctx, moved[0])
	require.ErrorIs(t, err, ErrMoved)
	_, err = s.Write(ctx, Mutation{Key: owned[0], Value: []byte("v")}, Mutation{Key: moved[2], Value: []byte("v")})
	require.ErrorIs(t, err, ErrMoved, "one unowned key fails the whole request")
	_, ok, err := s.GetRecord(owned[0])
	require.NoError(t, err)
	require.False(t, ok, "nothing of a failed request is applied")
	_, ok, err = s.GetRecord(moved[1])
	require.NoError(t, err)
	require.False(t, ok)
	first, last := s.LogBounds()
	require.Equal(t, uint64(1), first)
	require.Equal(t, uint64(1), last, "nothing of a failed request is logged")

	r, err := s.Put(ctx, owned[1], []byte("v"))
	require.NoError(t, err)
	require.Equal(t, uint64(2), r.LogIndex)

	res, err := s.ApplyRemote(ctx, "peer", 3, []lww.Change{{Key: moved[2], Record: rec(baseTime, "dc1", "store2", "remote")}})
	require.NoError(t, err)
	require.True(t, res[0].Applied, "replication lands whoever owns the key")
	got2, err := s.Get(moved[2])
	require.NoError(t, err)
	require.Equal(t, "remote", string(got2.Value))

	fence, err = s.SetOwner(ctx, Owner{}, 8)
	require.NoError(t, err)
	require.Equal(t, uint64(2), fence)
	_, err = s.Put(ctx, moved[1], []byte("v"))
	require.NoError(t, err, "the zero owner owns every key again")

	_, err = s.SetOwner(ctx, Owner{Shards: 2, Index: 2}, 9)
	require.ErrorIs(t, err, ErrInvalidConfig)

	_, err = s.SetOwner(ctx, Owner{Shards: -1}, 10)
	require.NoError(t, err)
	require.False(t, s.Owns(owned[1]), "a negative shard count owns nothing")
	_, err = s.Put(ctx, owned[1], []byte("v"))
	require.ErrorIs(t, err, ErrMoved)
}

// TestOwnerFailsOnlyTheRequest commits one batch holding an unowned local
// request, an owned local request and an unowned remote request: only the
// first fails.
func TestOwnerFailsOnlyTheRequest(t *testing.T) {
	s, _ := testShard(t, nil)
	ctx := context.Background()
	o := Owner{Shards: 3, Index: 0}
	_, err := s.SetOwner(ctx, o, 1)
	require.NoError(t, err)
	owned := keysOf(o, true, "k", 1)[0]
	moved := keysOf(o, false, "k", 1)[0]

	prep := func(key string) Prepared {
		p, err := s.Prepare(Mutation{Key: []byte(key), Value: []byte("v")})
		require.NoError(t, err)
		return p
	}
	newReq := func(r *commitReq) *commitReq {
		r.done = make(chan struct{})
		r.results = make([]Result, len(r.writes))
		return r
	}
	bad := newReq(&commitReq{writes: []Prepared{prep(string(owned)), prep(string(moved))}, local: true})
	good := newReq(&commitReq{writes: []Prepared{prep(string(owned))}, local: true})
	remote := newReq(&commitReq{writes: []Prepared{{Change: lww.Change{Key: moved, Record: rec(baseTime, "dc1", "store2", "r")}}}, source: "peer", seq: 1})
	require.NoError(t, s.acquire())
	s.queue.enqueue(bad) // lead the batch as submit does
	s.queue.enqueue(good)
	s.queue.enqueue(remote)
	s.lead()
	s.mu.RUnlock()

	require.ErrorIs(t, bad.err, ErrMoved)
	require.False(t, bad.results[0].Applied)
	require.NoError(t, good.err)
	require.True(t, good.results[0].Applied)
	require.Equal(t, uint64(1), good.results[0].LogIndex, "the failed request took no log index")
	require.NoError(t, remote.err)
	require.True(t, remote.results[0].Applied)
	cur, err := s.Cursor("peer")
	require.NoError(t, err)
	require.Equal(t, uint64(1), cur)
	_, last := s.LogBounds()
	require.Equal(t, uint64(1), last)
}

// TestSetOwnerFence races writers with SetOwner: every write of a key the
// new owner does not own either committed at or below the fence or failed
// with ErrMoved, and every such write started after SetOwner returned
// failed.
func TestSetOwnerFence(t *testing.T) {
	s, _ := testShard(t, nil)
	ctx := context.Background()
	o := Owner{Shards: 2, Index: 0}
	moved := keysOf(o, false, "m", 64)
	owned := keysOf(o, true, "o", 64)

	type outcome struct {
		key   []byte
		owned bool
		after bool // started after SetOwner returned
		index uint64
		err   error
	}
	const writers, afterEach = 8, 40
	var (
		switched atomic.Bool
		total    atomic.Int64
		started  = make(chan struct{})
		once     sync.Once
		wg       sync.WaitGroup
		mu       sync.Mutex
		out      []outcome
	)
	for w := 0; w < writers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			keys := moved
			if w%4 == 3 {
				keys = owned
			}
			var mine []outcome
			for i, after := 0, 0; after < afterEach; i++ {
				k := keys[(i*writers+w)%len(keys)]
				sw := switched.Load()
				r, err := s.Put(ctx, k, []byte("v"))
				mine = append(mine, outcome{key: k, owned: o.Owns(k), after: sw, index: r.LogIndex, err: err})
				if total.Add(1) == 200 {
					once.Do(func() { close(started) })
				}
				if sw {
					after++
				}
			}
			mu.Lock()
			out = append(out, mine...)
			mu.Unlock()
		}(w)
	}
	<-started
	fence, err := s.SetOwner(ctx, o, 1)
	require.NoError(t, err)
	switched.Store(true)
	wg.Wait()

	moves, accepted := 0, 0
	for _, r := range out {
		switch {
		case r.owned:
			require.NoError(t, r.err)
		case r.err != nil:
			require.ErrorIs(t, r.err, ErrMoved)
			moves++
		default:
			require.False(t, r.after, "a write started after SetOwner returned was accepted")
			require.LessOrEqual(t, r.index, fence, "an unowned key was logged past the fence")
			accepted++
		}
	}
	require.Positive(t, moves)
	require.Positive(t, accepted)
	_, last := s.LogBounds()
	for from := fence + 1; from <= last; {
		entries, err := s.ReadLog(from, 1000)
		require.NoError(t, err)
		for _, e := range entries {
			require.True(t, o.Owns(e.Change.Key), "log entry %d past the fence has an unowned key", e.Index)
		}
		from = entries[len(entries)-1].Index + 1
	}
}
