package store

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/vasto-kv/vasto/lww"
)

func TestPutGetDelete(t *testing.T) {
	s, _ := testShard(t, nil)
	ctx := context.Background()

	_, err := s.Get([]byte("k"))
	require.ErrorIs(t, err, ErrNotFound)

	r, err := s.Put(ctx, []byte("k"), []byte("v1"))
	require.NoError(t, err)
	require.True(t, r.Applied)
	require.Equal(t, uint64(1), r.LogIndex)
	require.Equal(t, "dc1", r.Version.DC)
	require.Equal(t, "store1", r.Version.Node)

	got, err := s.Get([]byte("k"))
	require.NoError(t, err)
	require.Equal(t, "v1", string(got.Value))
	require.Equal(t, r.Version, got.Version)

	d, err := s.Delete(ctx, []byte("k"))
	require.NoError(t, err)
	require.True(t, d.Applied)
	require.Equal(t, uint64(2), d.LogIndex)
	require.True(t, r.Version.Less(d.Version), "the clock orders a later write after an earlier one")
	_, err = s.Get([]byte("k"))
	require.ErrorIs(t, err, ErrNotFound)

	raw, ok, err := s.GetRecord([]byte("k"))
	require.NoError(t, err)
	require.True(t, ok)
	require.True(t, raw.IsTombstone())
}

func TestOlderWriteIsNotApplied(t *testing.T) {
	s, _ := testShard(t, nil)
	ctx := context.Background()
	res, err := s.Write(ctx, Mutation{Key: []byte("k"), Value: []byte("new"), EventTime: baseTime - 10})
	require.NoError(t, err)
	require.True(t, res[0].Applied)

	res, err = s.Write(ctx, Mutation{Key: []byte("k"), Value: []byte("old"), EventTime: baseTime - 20})
	require.NoError(t, err)
	require.False(t, res[0].Applied)
	require.Equal(t, baseTime-10, res[0].Version.Time, "a losing write reports the winner")
	require.Zero(t, res[0].LogIndex)

	got, err := s.Get([]byte("k"))
	require.NoError(t, err)
	require.Equal(t, "new", string(got.Value))
	first, last := s.LogBounds()
	require.Equal(t, uint64(1), first)
	require.Equal(t, uint64(1), last, "a write that lost never enters the change log")
}

func TestWriteSameKeyInOneBatch(t *testing.T) {
	s, _ := testShard(t, nil)
	res, err := s.Write(context.Background(),
		Mutation{Key: []byte("k"), Value: []byte("b"), EventTime: baseTime - 5},
		Mutation{Key: []byte("k"), Value: []byte("a"), EventTime: baseTime - 9},
		Mutation{Key: []byte("k"), Value: []byte("c"), EventTime: baseTime - 1},
	)
	require.NoError(t, err)
	require.True(t, res[0].Applied)
	require.False(t, res[1].Applied)
	require.True(t, res[2].Applied)
	require.Equal(t, []uint64{1, 0, 2}, []uint64{res[0].LogIndex, res[1].LogIndex, res[2].LogIndex})
	got, err := s.Get([]byte("k"))
	require.NoError(t, err)
	require.Equal(t, "c", string(got.Value))
}

// TestOrderIndependence applies the same writes, permuted and duplicated,
// to several shards and checks that they end in identical states.
func TestOrderIndependence(t *testing.T) {
	e, _ := testEngine(t, nil)
	ctx := context.Background()
	rng := rand.New(rand.NewPCG(1, 2))
	var changes []lww.Change
	for i := 0; i < 400; i++ {
		key := []byte(fmt.Sprintf("key-%02d", rng.IntN(20)))
		ts := baseTime - int64(rng.IntN(50))
		dc := []string{"dc1", "dc2", "dc3"}[rng.IntN(3)]
		node := []string{"a", "b"}[rng.IntN(2)]
		r := rec(ts, dc, node, fmt.Sprintf("v%d", i))
		if rng.IntN(4) == 0 {
			r = tomb(ts, dc, node)
		}
		changes = append(changes, lww.Change{Key: key, Record: r})
	}
	var states []map[string]lww.Record
	for replica := 0; replica < 4; replica++ {
		s, err := e.CreateShard("ks", uint32(replica))
		require.NoError(t, err)
		perm := append([]lww.Change(nil), changes...)
		rng.Shuffle(len(perm), func(i, j int) { perm[i], perm[j] = perm[j], perm[i] })
		perm = append(perm, perm[:rng.IntN(len(perm))]...) // duplicates
		for start := 0; start < len(perm); {
			n := 1 + rng.IntN(30)
			if start+n > len(perm) {
				n = len(perm) - start
			}
			_, err := s.ApplyRemote(ctx, "peer", uint64(start+n), perm[start:start+n])
			require.NoError(t, err)
			start += n
		}
		res, err := s.Scan(ScanOptions{Limit: 1000, IncludeDead: true})
		require.NoError(t, err)
		st := map[string]lww.Record{}
		for _, it := range res.Items {
			st[string(it.Key)] = it.Record
		}
		states = append(states, st)
	}
	require.Len(t, states[0], 20)
	for i := 1; i < len(states); i++ {
		require.Equal(t, states[0], states[i], "replica %d diverged", i)
	}
	// And each key holds the maximum under Merge.
	want := map[string]lww.Record{}
	for _, c := range changes {
		if cur, ok := want[string(c.Key)]; ok {
			want[string(c.Key)] = lww.Merge(cur, c.Record)
		} else {
			want[string(c.Key)] = c.Record
		}
	}
	for k, r := range want {
		require.Equal(t, 0, lww.Compare(r, states[0][k]), "key %s", k)
	}
}

func TestConcurrentWritersLogIsGapFree(t *testing.T) {
	s, _ := testShard(t, nil)
	ctx := context.Background()
	const writers, per = 8, 200
	var wg sync.WaitGroup
	indexes := make(chan uint64, writers*per)
	for w := 0; w < writers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < per; i++ {
				// All writers hit a few hot keys and some of their own.
				key := fmt.Sprintf("hot-%d", i%3)
				if i%2 == 0 {
					key = fmt.Sprintf("w%d-%d", w, i)
				}
				r, err := s.Put(ctx, []byte(key), []byte("v"))
				if err != nil {
					t.Error(err)
					return
				}
				if !r.Applied {
					t.Error("a clock-assigned write lost")
					return
				}
				indexes <- r.LogIndex
			}
		}()
	}
	wg.Wait()
	close(indexes)
	seen := map[uint64]bool{}
	for i := range indexes {
		require.False(t, seen[i], "index %d given twice", i)
		seen[i] = true
	}
	first, last := s.LogBounds()
	require.Equal(t, uint64(1), first)
	require.Equal(t, uint64(writers*per), last)
	entries, err := s.ReadLog(1, writers*per+10)
	require.NoError(t, err)
	require.Len(t, entries, writers*per)
	for i, e := range entries {
		require.Equal(t, uint64(i+1), e.Index, "log has a gap")
		require.True(t, seen[e.Index])
	}
}

func TestChangeLogReadTrimAndReopen(t *testing.T) {
	dir := t.TempDir()
	open := func() (*Engine, *Shard) {
		cfg := DefaultConfig(dir)
		cfg.Logger = testLogger(t)
		e, err := Open(cfg)
		require.NoError(t, err)
		s, err := e.EnsureShard("ks", 3)
		require.NoError(t, err)
		return e, s
	}
	e, s := open()
	ctx := context.Background()
	for i := 0; i < 10; i++ {
		_, err := s.Put(ctx, []byte(fmt.Sprintf("k%d", i)), []byte(fmt.Sprintf("v%d", i)))
		require.NoError(t, err)
	}
	entries, err := s.ReadLog(4, 3)
	require.NoError(t, err)
	require.Len(t, entries, 3)
	require.Equal(t, uint64(4), entries[0].Index)
	require.Equal(t, "k3", string(entries[0].Change.Key))
	require.Equal(t, "v3", string(entries[0].Change.Record.Value))

	require.NoError(t, s.TrimLog(6))
	first, last := s.LogBounds()
	require.Equal(t, uint64(6), first)
	require.Equal(t, uint64(10), last)
	entries, err = s.ReadLog(1, 100)
	require.NoError(t, err)
	require.Len(t, entries, 5)
	require.Equal(t, uint64(6), entries[0].Index, "reading below the trim point starts at the first entry held")

	require.NoError(t, s.TrimLog(100)) // clamped to last+1
	first, last = s.LogBounds()
	require.Equal(t, uint64(11), first)
	require.Equal(t, uint64(10), last)
	require.NoError(t, e.Close())

	e, s = open()
	defer func() { require.NoError(t, e.Close()) }()
	first, last = s.LogBounds()
	require.Equal(t, uint64(11), first, "trim point survives a reopen")
	require.Equal(t, uint64(10), last, "last index survives a reopen even with an empty log")
	r, err := s.Put(ctx, []byte("after"), []byte("x"))
	require.NoError(t, err)
	require.Equal(t, uint64(11), r.LogIndex, "indexes continue without reuse")
}

func TestApplyRemoteNoEchoAndCursor(t *testing.T) {
	s, _ := testShard(t, nil)
	ctx := context.Background()
	res, err := s.ApplyRemote(ctx, "peer-a", 7, []lww.Change{
		{Key: []byte("x"), Record: rec(baseTime-100, "dc2", "n1", "remote")},
	})
	require.NoError(t, err)
	require.True(t, res[0].Applied)
	require.Zero(t, res[0].LogIndex)
	_, last := s.LogBounds()
	require.Zero(t, last, "remote writes never enter the local change log")

	cur, err := s.Cursor("peer-a")
	require.NoError(t, err)
	require.Equal(t, uint64(7), cur)

	// A replay with an older position applies nothing new and keeps the cursor.
	_, err = s.ApplyRemote(ctx, "peer-a", 3, nil)
	require.NoError(t, err)
	cur, err = s.Cursor("peer-a")
	require.NoError(t, err)
	require.Equal(t, uint64(7), cur)

	got, err := s.Get([]byte("x"))
	require.NoError(t, err)
	require.Equal(t, "dc2", got.Version.DC)
	require.Equal(t, "n1", got.Version.Node)

	_, err = s.ApplyRemote(ctx, "bad source*", 1, nil)
	require.ErrorIs(t, err, ErrBadName)
	_, err = s.ApplyRemote(ctx, "peer-a", 8, []lww.Change{{Key: []byte("y"), Record: lww.Record{Kind: lww.KindValue}}})
	require.ErrorIs(t, err, lww.ErrEventTimeNotPositive)
	cur, err = s.Cursor("peer-a")
	require.NoError(t, err)
	require.Equal(t, uint64(7), cur, "a rejected apply moves nothing")
}

func TestScan(t *testing.T) {
	s, clock := testShard(t, nil)
	ctx := context.Background()
	for _, k := range []string{"a1", "a2", "a3", "b1", "b2", "c"} {
		_, err := s.Put(ctx, []byte(k), []byte("v-"+k))
		require.NoError(t, err)
	}
	_, err := s.Delete(ctx, []byte("a2"))
	require.NoError(t, err)
	_, err = s.Write(ctx, Mutation{Key: []byte("b1"), Value: []byte("short"), TTL: time.Second})
	require.NoError(t, err)

	keys := func(r ScanResult) []string {
		var out []string
		for _, it := range r.Items {
			out = append(out, string(it.Key))
		}
		return out
	}
	r, err := s.Scan(ScanOptions{Prefix: []byte("a"), Limit: 10})
	require.NoError(t, err)
	require.Equal(t, []string{"a1", "a3"}, keys(r))
	require.Nil(t, r.Next)

	r, err = s.Scan(ScanOptions{Start: []byte("a2"), End: []byte("c"), Limit: 10})
	require.NoError(t, err)
	require.Equal(t, []string{"a3", "b1", "b2"}, keys(r))

	r, err = s.Scan(ScanOptions{Limit: 2})
	require.NoError(t, err)
	require.Equal(t, []string{"a1", "a3"}, keys(r))
	require.Equal(t, "b1", string(r.Next))
	r, err = s.Scan(ScanOptions{Start: r.Next, Limit: 2})
	require.NoError(t, err)
	require.Equal(t, []string{"b1", "b2"}, keys(r))

	clock.Advance(2 * time.Second)
	r, err = s.Scan(ScanOptions{Prefix: []byte("b"), Limit: 10})
	require.NoError(t, err)
	require.Equal(t, []string{"b2"}, keys(r), "expired values are invisible")

	_, err = s.Scan(ScanOptions{Limit: 0})
	require.ErrorIs(t, err, ErrBadRange)
	_, err = s.Scan(ScanOptions{Start: []byte("z"), End: []byte("a"), Limit: 1})
	require.ErrorIs(t, err, ErrBadRange)
	r, err = s.Scan(ScanOptions{Prefix: []byte{0xff, 0xff}, Limit: 5})
	require.NoError(t, err)
	require.Empty(t, r.Items)
}

func TestMultiGet(t *testing.T) {
	s, _ := testShard(t, nil)
	ctx := context.Background()
	_, err := s.Write(ctx, Mutation{Key: []byte("a"), Value: []byte("1")}, Mutation{Key: []byte("c"), Value: []byte("3")})
	require.NoError(t, err)
	recs, found, err := s.MultiGet([][]byte{[]byte("a"), []byte("b"), []byte("c")})
	require.NoError(t, err)
	require.Equal(t, []bool{true, false, true}, found)
	require.Equal(t, "1", string(recs[0].Value))
	require.Equal(t, "3", string(recs[2].Value))
}

func TestBadInputChangesNothing(t *testing.T) {
	s, clock := testShard(t, nil)
	ctx := context.Background()
	huge := make([]byte, MaxValueSize+1)
	cases := []struct {
		name string
		m    Mutation
		want error
	}{
		{"empty key", Mutation{Key: nil, Value: []byte("v")}, ErrKeyTooLarge},
		{"key too large", Mutation{Key: make([]byte, MaxKeySize+1), Value: []byte("v")}, ErrKeyTooLarge},
		{"value too large", Mutation{Key: []byte("k"), Value: huge}, ErrValueTooLarge},
		{"future event time", Mutation{Key: []byte("k"), Value: []byte("v"), EventTime: clock.Now() + int64(6*time.Second)}, lww.ErrEventTimeInFuture},
		{"negative event time", Mutation{Key: []byte("k"), Value: []byte("v"), EventTime: -1}, lww.ErrEventTimeNotPositive},
		{"negative ttl", Mutation{Key: []byte("k"), Value: []byte("v"), TTL: -time.Second}, lww.ErrInvalidTTL},
		{"ttl overflow", Mutation{Key: []byte("k"), Value: []byte("v"), EventTime: baseTime, TTL: time.Duration(1<<63 - 1)}, lww.ErrExpiryOverflow},
		{"delete with value", Mutation{Key: []byte("k"), Value: []byte("v"), Delete: true}, lww.ErrInvalidRecord},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			// A valid write in the same batch must not land either.
			_, err := s.Write(ctx, Mutation{Key: []byte("ok"), Value: []byte("v")}, tc.m)
			require.ErrorIs(t, err, tc.want)
			_, err = s.Get([]byte("ok"))
			require.ErrorIs(t, err, ErrNotFound)
			_, last := s.LogBounds()
			require.Zero(t, last)
		})
	}
	// The limit itself is accepted.
	_, err := s.Write(ctx, Mutation{Key: make([]byte, MaxKeySize), Value: make([]byte, MaxValueSize)})
	require.NoError(t, err)
	// Exactly at the future bound is accepted.
	_, err = s.Write(ctx, Mutation{Key: []byte("edge"), Value: []byte("v"), EventTime: clock.Now() + int64(5*time.Second)})
	require.NoError(t, err)

	many := make([]Mutation, MaxBatchWrites+1)
	_, err = s.Write(ctx, many...)
	require.ErrorIs(t, err, ErrBatchTooLarge)
}

func TestTTLAndPurge(t *testing.T) {
	s, clock := testShard(t, func(c *Config) { c.TombstoneGrace = time.Hour })
	ctx := context.Background()
	_, err := s.Write(ctx,
		Mutation{Key: []byte("ttl"), Value: []byte("soon gone"), TTL: time.Minute},
		Mutation{Key: []byte("keep"), Value: []byte("forever")},
		Mutation{Key: []byte("del"), Value: []byte("x")},
	)
	require.NoError(t, err)
	_, err = s.Delete(ctx, []byte("del"))
	require.NoError(t, err)

	got, err := s.Get([]byte("ttl"))
	require.NoError(t, err)
	require.NotZero(t, got.ExpiresAt)

	clock.Advance(2 * time.Minute)
	_, err = s.Get([]byte("ttl"))
	require.ErrorIs(t, err, ErrNotFound, "expired value is invisible before compaction")

	// Compaction drops the expired value's bytes but keeps its version.
	require.NoError(t, s.Compact())
	raw, ok, err := s.GetRecord([]byte("ttl"))
	require.NoError(t, err)
	require.True(t, ok)
	require.True(t, raw.IsTombstone())
	require.Empty(t, raw.Value)
	raw, ok, err = s.GetRecord([]byte("del"))
	require.NoError(t, err)
	require.True(t, ok, "tombstone kept within the grace period")

	// An older write arriving late cannot resurrect the expired key.
	res, err := s.ApplyRemote(ctx, "peer", 1, []lww.Change{{Key: []byte("ttl"), Record: rec(baseTime-1, "dc2", "n", "old")}})
	require.NoError(t, err)
	require.False(t, res[0].Applied)

	// After the grace period both are purged, but only below the watermark.
	clock.Advance(2 * time.Hour)
	s.SetPurgeWatermark(baseTime - 1)
	require.NoError(t, s.Compact())
	_, ok, err = s.GetRecord([]byte("del"))
	require.NoError(t, err)
	require.True(t, ok, "tombstone above the watermark is kept")

	s.SetPurgeWatermark(clock.Now())
	require.NoError(t, s.Compact())
	_, ok, err = s.GetRecord([]byte("del"))
	require.NoError(t, err)
	require.False(t, ok, "tombstone purged after grace and watermark")
	_, ok, err = s.GetRecord([]byte("ttl"))
	require.NoError(t, err)
	require.False(t, ok)
	got, err = s.Get([]byte("keep"))
	require.NoError(t, err)
	require.Equal(t, "forever", string(got.Value))
}

func TestEngineShardsAndNames(t *testing.T) {
	e, _ := testEngine(t, nil)
	_, err := e.CreateShard("bad.name", 0)
	require.ErrorIs(t, err, ErrBadName)
	_, err = e.CreateShard("a*", 0)
	require.ErrorIs(t, err, ErrBadName)
	_, err = e.CreateShard("../x", 0)
	require.ErrorIs(t, err, ErrBadName)
	_, err = e.Shard("ks", 0)
	require.ErrorIs(t, err, ErrNoShard)
	_, err = e.CreateShard("ks", 1)
	require.NoError(t, err)
	_, err = e.CreateShard("ks", 1)
	require.ErrorIs(t, err, ErrShardExists)
	_, err = e.CreateShard("ks", 0)
	require.NoError(t, err)
	require.Equal(t, []ShardID{{"ks", 0}, {"ks", 1}}, e.Shards())
	require.NoError(t, e.DropShard("ks", 1))
	require.Equal(t, []ShardID{{"ks", 0}}, e.Shards())
	require.ErrorIs(t, e.DropShard("ks", 1), ErrNoShard)
}

func TestCloseIsIdempotentAndRejectsLaterCalls(t *testing.T) {
	s, _ := testShard(t, nil)
	_, err := s.Put(context.Background(), []byte("k"), []byte("v"))
	require.NoError(t, err)
	require.NoError(t, s.Close())
	require.NoError(t, s.Close())
	_, err = s.Put(context.Background(), []byte("k"), []byte("v"))
	require.ErrorIs(t, err, ErrClosed)
	_, err = s.Get([]byte("k"))
	require.ErrorIs(t, err, ErrClosed)
}

func TestCheckpointIsOpenable(t *testing.T) {
	e, _ := testEngine(t, nil)
	s, err := e.CreateShard("ks", 0)
	require.NoError(t, err)
	_, err = s.Put(context.Background(), []byte("k"), []byte("v"))
	require.NoError(t, err)
	cp := t.TempDir() + "/cp"
	require.NoError(t, s.Checkpoint(cp))

	cfg := DefaultConfig(t.TempDir())
	cfg.Logger = testLogger(t)
	require.NoError(t, copyDir(cp, cfg.Dir+"/ks/0"))
	e2, err := Open(cfg)
	require.NoError(t, err)
	defer func() { require.NoError(t, e2.Close()) }()
	s2, err := e2.Shard("ks", 0)
	require.NoError(t, err)
	got, err := s2.Get([]byte("k"))
	require.NoError(t, err)
	require.Equal(t, "v", string(got.Value))
	_, last := s2.LogBounds()
	require.Equal(t, uint64(1), last)
}

func TestForgetRemovesOnlyTheRecordSeen(t *testing.T) {
	s, _ := testShard(t, nil)
	ctx := context.Background()
	_, err := s.Write(ctx, Mutation{Key: []byte("a"), Value: []byte("1")}, Mutation{Key: []byte("b"), Value: []byte("2")})
	require.NoError(t, err)
	a, _, err := s.GetRecord([]byte("a"))
	require.NoError(t, err)
	b, _, err := s.GetRecord([]byte("b"))
	require.NoError(t, err)
	// b changes after it was seen: forgetting the old b must keep the new.
	_, err = s.Put(ctx, []byte("b"), []byte("3"))
	require.NoError(t, err)
	_, lastBefore := s.LogBounds()
	require.NoError(t, s.Forget(ctx, []Item{{Key: []byte("a"), Record: a}, {Key: []byte("b"), Record: b}}))
	_, ok, err := s.GetRecord([]byte("a"))
	require.NoError(t, err)
	require.False(t, ok, "the record seen is removed, without a tombstone")
	got, err := s.Get([]byte("b"))
	require.NoError(t, err)
	require.Equal(t, "3", string(got.Value), "a newer write is kept")
	_, lastAfter := s.LogBounds()
	require.Equal(t, lastBefore, lastAfter, "forgetting writes nothing to the change log")
}

// A conditional write is decided by the committer against what the shard
// holds, including the earlier writes of the same batch and expiry.
func TestConditionalWrite(t *testing.T) {
	s, clock := testShard(t, nil)
	ctx := context.Background()
	k := []byte("k")
	res, err := s.Write(ctx,
		Mutation{Key: k, Value: []byte("x"), Cond: CondPresent},
		Mutation{Key: k, Value: []byte("a"), Cond: CondAbsent, TTL: time.Second},
		Mutation{Key: k, Value: []byte("b"), Cond: CondAbsent},
	)
	require.NoError(t, err)
	require.True(t, res[0].Skipped, "XX on a missing key")
	require.False(t, res[0].Applied)
	require.True(t, res[1].Applied)
	require.True(t, res[2].Skipped, "NX after an NX write of the same batch")
	require.Equal(t, res[1].Version, res[2].Version, "a skipped write reports the version held")
	got, err := s.Get(k)
	require.NoError(t, err)
	require.Equal(t, "a", string(got.Value))
	_, last := s.LogBounds()
	require.Equal(t, uint64(1), last, "skipped writes take no log index")

	clock.Advance(2 * time.Second)
	res, err = s.Write(ctx, Mutation{Key: k, Value: []byte("c"), Cond: CondAbsent})
	require.NoError(t, err)
	require.True(t, res[0].Applied, "an expired value is absent")

	_, err = s.Write(ctx, Mutation{Key: k, Value: []byte("d"), Cond: Cond(9)})
	require.ErrorIs(t, err, lww.ErrInvalidRecord)
}

// TestWaitPublished: a waiter for a log index returns once a trim passes
// it, not before; a deadline first gives ErrNotPublished, and index 0 (a
// write that logged nothing) fails at once.
func TestWaitPublished(t *testing.T) {
	e, _ := testEngine(t, nil)
	s, err := e.EnsureShard("ks", 0)
	require.NoError(t, err)
	ctx := context.Background()
	var last uint64
	for i := 0; i < 3; i++ {
		r, err := s.Put(ctx, []byte(fmt.Sprintf("k%d", i)), []byte("v"))
		require.NoError(t, err)
		last = r.LogIndex
	}
	done := make(chan error, 1)
	go func() { done <- s.WaitPublished(ctx, last) }()
	require.NoError(t, s.TrimLog(last)) // entries below last only
	short, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	defer cancel()
	require.ErrorIs(t, s.WaitPublished(short, last), ErrNotPublished)
	select {
	case err := <-done:
		t.Fatalf("returned before its entry was trimmed: %v", err)
	default:
	}
	require.NoError(t, s.TrimLog(last+1))
	select {
	case err := <-done:
		require.NoError(t, err)
	case <-time.After(10 * time.Second):
		t.Fatal("waiter not woken by the trim")
	}
	require.NoError(t, s.WaitPublished(ctx, 1), "long published")
	require.ErrorIs(t, s.WaitPublished(ctx, 0), ErrNotPublished)
}
