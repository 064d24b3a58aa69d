package shardtest

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/vasto-kv/vasto/internal/storetest"
	"github.com/vasto-kv/vasto/lww"
	"github.com/vasto-kv/vasto/store"
	"github.com/vasto-kv/vasto/topology"
)

// contractShard is what both the real shard and the twin offer: the
// operations replica and dc use, and local writes and reads for the test.
type contractShard interface {
	ID() store.ShardID
	Put(ctx context.Context, key, value []byte) (store.Result, error)
	Delete(ctx context.Context, key []byte) (store.Result, error)
	GetRecord(key []byte) (lww.Record, bool, error)
	ApplyRemote(ctx context.Context, source string, seq uint64, changes []lww.Change) ([]store.Result, error)
	Cursor(source string) (uint64, error)
	Forget(ctx context.Context, items []store.Item) error
	Scan(opts store.ScanOptions) (store.ScanResult, error)
	Ingest(ctx context.Context, page []lww.Change) (store.IngestResult, error)
	RemoveUnowned(ctx context.Context, pageSize int) (int, error)
	LogBounds() (first, last uint64)
	ReadLog(from uint64, n int) ([]store.LogEntry, error)
	TrimLog(below uint64) error
	Logged() <-chan struct{}
	Epoch() uint64
	SetEpoch(epoch uint64) error
	Layout() (uint64, error)
	SetLayout(shards uint64) error
	Replicas() (uint64, error)
	SetReplicas(n uint64) error
	FillMark(id uint64) (uint64, bool, error)
	SetFillMark(id, startSeq uint64) error
	ClearFillMark(id uint64) error
	SetOwner(ctx context.Context, o store.Owner, version uint64) (uint64, error)
	Owner() (store.Owner, uint64)
	Serving() bool
	SetServing(ok bool)
}

// contractEngine is an engine, real or twin, as the contract drives it.
type contractEngine struct {
	create func(keyspace string, shard uint32, first uint64) (contractShard, error)
	get    func(keyspace string, shard uint32) (contractShard, error)
	drop   func(keyspace string, shard uint32) error
	shards func() []store.ShardID
	held   func() []store.HeldInfo
	clock  *lww.ManualClock
}

// withShards completes c with an engine's create and get, whose shards are
// S; on error they return a nil contractShard, not a typed nil.
func withShards[S contractShard](create func(string, uint32, uint64) (S, error), get func(string, uint32) (S, error),
	c contractEngine) contractEngine {
	as := func(sh S, err error) (contractShard, error) {
		if err != nil {
			return nil, err
		}
		return sh, nil
	}
	c.create = func(ks string, i uint32, first uint64) (contractShard, error) { return as(create(ks, i, first)) }
	c.get = func(ks string, i uint32) (contractShard, error) { return as(get(ks, i)) }
	return c
}

func realEngine(t *testing.T) contractEngine {
	e, clock := storetest.Engine(t, func(c *store.Config) { c.DC, c.Node = "dc1", "s1" })
	return withShards(e.CreateShardAt, e.Shard,
		contractEngine{drop: e.DropShard, shards: e.Shards, held: e.Held, clock: clock})
}

func twinEngine(*testing.T) contractEngine {
	clock := lww.NewManualClock(storetest.BaseTime)
	e := New(Config{DC: "dc1", Node: "s1", Clock: clock})
	return withShards(e.CreateShardAt, e.Shard,
		contractEngine{drop: e.DropShard, shards: e.Shards, held: e.Held, clock: clock})
}

// TestContractMatchesStore runs the same assertions against the real
// engine and the twin: what the replication packages rely on of a shard
// behaves the same in both.
func TestContractMatchesStore(t *testing.T) {
	for name, open := range map[string]func(*testing.T) contractEngine{"store": realEngine, "twin": twinEngine} {
		t.Run(name, func(t *testing.T) {
			t.Run("engine", func(t *testing.T) { contractEngineOps(t, open(t)) })
			t.Run("log", func(t *testing.T) { contractLog(t, open(t)) })
			t.Run("apply-remote", func(t *testing.T) { contractApplyRemote(t, open(t)) })
			t.Run("scan-forget", func(t *testing.T) { contractScanForget(t, open(t)) })
			t.Run("ingest", func(t *testing.T) { contractIngest(t, open(t)) })
			t.Run("meta", func(t *testing.T) { contractMeta(t, open(t)) })
			t.Run("owner", func(t *testing.T) { contractOwner(t, open(t)) })
		})
	}
}

func rec(t int64, node, value string) lww.Record {
	return lww.Record{Version: lww.Version{Time: t, DC: "dc2", Node: node}, Kind: lww.KindValue, Value: []byte(value)}
}

func tomb(t int64, node string) lww.Record {
	return lww.Record{Version: lww.Version{Time: t, DC: "dc2", Node: node}, Kind: lww.KindTombstone}
}

func contractEngineOps(t *testing.T, e contractEngine) {
	_, err := e.get("ks", 0)
	require.ErrorIs(t, err, store.ErrNoShard)
	_, err = e.create("bad.name", 0, 1)
	require.ErrorIs(t, err, store.ErrBadName)
	sh, err := e.create("ks", 1, 1)
	require.NoError(t, err)
	require.Equal(t, store.ShardID{Keyspace: "ks", Shard: 1}, sh.ID())
	_, err = e.create("ks", 1, 1)
	require.ErrorIs(t, err, store.ErrShardExists)
	at, err := e.create("ks", 0, 5)
	require.NoError(t, err)
	first, last := at.LogBounds()
	require.Equal(t, [2]uint64{5, 4}, [2]uint64{first, last}, "a shard created at 5 continues its log there")
	_, err = e.create("a", 3, 1)
	require.NoError(t, err)
	require.Equal(t, []store.ShardID{{Keyspace: "a", Shard: 3}, {Keyspace: "ks", Shard: 0}, {Keyspace: "ks", Shard: 1}}, e.shards())

	require.NoError(t, sh.SetEpoch(7))
	require.NoError(t, sh.SetLayout(4))
	require.NoError(t, sh.SetReplicas(3))
	require.Contains(t, e.held(), store.HeldInfo{ID: sh.ID(), Epoch: 7, Shards: 4, Replicas: 3})
	require.True(t, sh.Serving(), "a shard serves unless told otherwise")
	sh.SetServing(false)
	require.False(t, sh.Serving())

	require.NoError(t, e.drop("ks", 1))
	require.ErrorIs(t, e.drop("ks", 1), store.ErrNoShard)
	_, err = e.get("ks", 1)
	require.ErrorIs(t, err, store.ErrNoShard)
	_, err = sh.Cursor("peer:x")
	require.ErrorIs(t, err, store.ErrClosed, "a dropped shard is closed")
}

func contractLog(t *testing.T, e contractEngine) {
	ctx := context.Background()
	sh, err := e.create("ks", 0, 1)
	require.NoError(t, err)
	for i := 1; i <= 3; i++ {
		_, err := sh.Put(ctx, []byte(fmt.Sprintf("k%d", i)), []byte("v"))
		require.NoError(t, err)
	}
	select {
	case <-sh.Logged():
	case <-time.After(10 * time.Second):
		t.Fatal("Logged did not fire after a local write")
	}
	first, last := sh.LogBounds()
	require.Equal(t, [2]uint64{1, 3}, [2]uint64{first, last})
	es, err := sh.ReadLog(1, 2)
	require.NoError(t, err)
	require.Len(t, es, 2)
	require.Equal(t, uint64(1), es[0].Index)
	require.Equal(t, "k2", string(es[1].Change.Key))
	require.Equal(t, "dc1", es[1].Change.Record.Version.DC)
	_, err = sh.ReadLog(1, 0)
	require.ErrorIs(t, err, store.ErrBadRange)

	require.NoError(t, sh.TrimLog(3))
	first, last = sh.LogBounds()
	require.Equal(t, [2]uint64{3, 3}, [2]uint64{first, last})
	es, err = sh.ReadLog(1, 10)
	require.NoError(t, err)
	require.Len(t, es, 1, "reading from a trimmed index starts at the first held")
	require.Equal(t, uint64(3), es[0].Index)
	require.NoError(t, sh.TrimLog(2), "trimming below the first index does nothing")
	require.NoError(t, sh.TrimLog(100))
	first, last = sh.LogBounds()
	require.Equal(t, [2]uint64{4, 3}, [2]uint64{first, last}, "never trimmed past the last entry")
	es, err = sh.ReadLog(1, 10)
	require.NoError(t, err)
	require.Empty(t, es)

	// A local write after a remote one with a later event time is stamped
	// past it (the hybrid clock observed it): it wins and enters the log.
	_, err = sh.ApplyRemote(ctx, "peer:s2", 0, []lww.Change{{Key: []byte("k9"), Record: rec(e.clock.Now()+int64(time.Second), "s2", "later")}})
	require.NoError(t, err)
	_, last = sh.LogBounds()
	require.Equal(t, uint64(3), last, "a remote change does not enter the log")
	r, err := sh.Put(ctx, []byte("k9"), []byte("v"))
	require.NoError(t, err)
	require.True(t, r.Applied)
	require.Greater(t, r.Version.Time, e.clock.Now()+int64(time.Second)-1)
	_, last = sh.LogBounds()
	require.Equal(t, uint64(4), last)
}

func contractApplyRemote(t *testing.T, e contractEngine) {
	ctx := context.Background()
	sh, err := e.create("ks", 0, 1)
	require.NoError(t, err)
	const src = "remote:dc2:s2:0"
	c, err := sh.Cursor(src)
	require.NoError(t, err)
	require.Zero(t, c)

	base := e.clock.Now()
	res, err := sh.ApplyRemote(ctx, src, 7, []lww.Change{
		{Key: []byte("a"), Record: rec(base+10, "s2", "a10")},
		{Key: []byte("b"), Record: rec(base+10, "s2", "b10")},
	})
	require.NoError(t, err)
	require.True(t, res[0].Applied)
	require.True(t, res[1].Applied)
	res, err = sh.ApplyRemote(ctx, src, 3, []lww.Change{
		{Key: []byte("a"), Record: rec(base+5, "s2", "a5")},    // older: loses
		{Key: []byte("b"), Record: tomb(base+20, "s2")},        // newer tombstone: wins
		{Key: []byte("a"), Record: rec(base+10, "s1", "a10'")}, // same time, smaller node: loses
	})
	require.NoError(t, err)
	require.Equal(t, []bool{false, true, false}, []bool{res[0].Applied, res[1].Applied, res[2].Applied})
	require.Equal(t, rec(base+10, "s2", "a10").Version, res[0].Version, "a losing write reports the winner")
	c, err = sh.Cursor(src)
	require.NoError(t, err)
	require.Equal(t, uint64(7), c, "the cursor never moves backwards")
	_, err = sh.ApplyRemote(ctx, src, 9, nil)
	require.NoError(t, err)
	c, err = sh.Cursor(src)
	require.NoError(t, err)
	require.Equal(t, uint64(9), c, "an empty batch moves the cursor")

	ra, ok, err := sh.GetRecord([]byte("a"))
	require.NoError(t, err)
	require.True(t, ok)
	require.Equal(t, "a10", string(ra.Value))
	rb, ok, err := sh.GetRecord([]byte("b"))
	require.NoError(t, err)
	require.True(t, ok)
	require.Equal(t, lww.KindTombstone, rb.Kind)
	first, last := sh.LogBounds()
	require.Greater(t, first, last, "remote changes never enter the change log")

	_, err = sh.ApplyRemote(ctx, "bad source!", 1, nil)
	require.ErrorIs(t, err, store.ErrBadName)
	_, err = sh.ApplyRemote(ctx, src, 1, []lww.Change{{Key: nil, Record: rec(base, "s2", "x")}})
	require.Error(t, err, "an empty key is refused")
	c, err = sh.Cursor(src)
	require.NoError(t, err)
	require.Equal(t, uint64(9), c, "a refused batch changes nothing")
}

func contractScanForget(t *testing.T, e contractEngine) {
	ctx := context.Background()
	sh, err := e.create("ks", 0, 1)
	require.NoError(t, err)
	base := e.clock.Now()
	var changes []lww.Change
	for i := 0; i < 10; i++ {
		r := rec(base, "s2", fmt.Sprintf("v%d", i))
		if i%3 == 0 {
			r = tomb(base, "s2")
		}
		changes = append(changes, lww.Change{Key: []byte(fmt.Sprintf("k%02d", i)), Record: r})
	}
	_, err = sh.ApplyRemote(ctx, "peer:s2", 0, changes)
	require.NoError(t, err)

	live, err := sh.Scan(store.ScanOptions{Limit: 100})
	require.NoError(t, err)
	require.Len(t, live.Items, 6, "tombstones are not live")
	require.Nil(t, live.Next)
	_, err = sh.Scan(store.ScanOptions{Limit: 0})
	require.ErrorIs(t, err, store.ErrBadRange)

	var keys []string
	var start []byte
	for pages := 0; ; pages++ {
		require.Less(t, pages, 10)
		res, err := sh.Scan(store.ScanOptions{Start: start, End: []byte("k08"), Limit: 3, IncludeDead: true})
		require.NoError(t, err)
		for _, it := range res.Items {
			keys = append(keys, string(it.Key))
		}
		if res.Next == nil {
			break
		}
		require.Equal(t, fmt.Sprintf("k%02d", len(keys)), string(res.Next), "the next page starts at the first key not returned")
		start = res.Next
	}
	require.Equal(t, []string{"k00", "k01", "k02", "k03", "k04", "k05", "k06", "k07"}, keys)

	// Forget removes a record only if it is still the one given.
	stale := store.Item{Key: []byte("k01"), Record: rec(base-1, "s2", "old")}
	exact := store.Item{Key: []byte("k02"), Record: changes[2].Record}
	require.NoError(t, sh.Forget(ctx, []store.Item{stale, exact}))
	_, ok, err := sh.GetRecord([]byte("k01"))
	require.NoError(t, err)
	require.True(t, ok)
	_, ok, err = sh.GetRecord([]byte("k02"))
	require.NoError(t, err)
	require.False(t, ok)
	first, last := sh.LogBounds()
	require.Greater(t, first, last, "forgetting logs nothing")
}

func contractIngest(t *testing.T, e contractEngine) {
	ctx := context.Background()
	sh, err := e.create("ks", 0, 1)
	require.NoError(t, err)
	base := e.clock.Now()
	_, err = sh.ApplyRemote(ctx, "peer:s2", 0, []lww.Change{{Key: []byte("b"), Record: rec(base+10, "s2", "b10")}})
	require.NoError(t, err)
	res, err := sh.Ingest(ctx, []lww.Change{
		{Key: []byte("a"), Record: rec(base, "s3", "a")},
		{Key: []byte("b"), Record: rec(base, "s3", "b0")},
		{Key: []byte("c"), Record: tomb(base, "s3")},
	})
	require.NoError(t, err)
	require.Equal(t, 2, res.Written)
	require.Equal(t, 1, res.Skipped, "an older record never overwrites a newer one")
	r, _, err := sh.GetRecord([]byte("b"))
	require.NoError(t, err)
	require.Equal(t, "b10", string(r.Value))
	_, err = sh.Ingest(ctx, []lww.Change{{Key: []byte("z"), Record: rec(base, "s3", "z")}, {Key: []byte("y"), Record: rec(base, "s3", "y")}})
	require.ErrorIs(t, err, store.ErrBadPage)
	c, err := sh.Cursor("peer:s3")
	require.NoError(t, err)
	require.Zero(t, c, "ingest moves no cursor")
}

func contractMeta(t *testing.T, e contractEngine) {
	sh, err := e.create("ks", 0, 1)
	require.NoError(t, err)
	require.Zero(t, sh.Epoch())
	require.NoError(t, sh.SetEpoch(3))
	require.Equal(t, uint64(3), sh.Epoch())
	l, err := sh.Layout()
	require.NoError(t, err)
	require.Zero(t, l)
	require.NoError(t, sh.SetLayout(8))
	l, err = sh.Layout()
	require.NoError(t, err)
	require.Equal(t, uint64(8), l)
	n, err := sh.Replicas()
	require.NoError(t, err)
	require.Zero(t, n)

	seq, copied, err := sh.FillMark(42)
	require.NoError(t, err)
	require.Equal(t, uint64(0), seq)
	require.False(t, copied)
	require.NoError(t, sh.SetFillMark(42, 1000))
	seq, copied, err = sh.FillMark(42)
	require.NoError(t, err)
	require.Equal(t, uint64(1000), seq)
	require.True(t, copied)
	_, copied, err = sh.FillMark(43)
	require.NoError(t, err)
	require.False(t, copied, "fill marks are per resize")
	require.NoError(t, sh.ClearFillMark(42))
	seq, copied, err = sh.FillMark(42)
	require.NoError(t, err)
	require.Equal(t, uint64(0), seq)
	require.False(t, copied)
}

func contractOwner(t *testing.T, e contractEngine) {
	ctx := context.Background()
	sh, err := e.create("ks", 0, 1)
	require.NoError(t, err)
	o, v := sh.Owner()
	require.Equal(t, store.Owner{}, o)
	require.Zero(t, v)
	for i := 0; i < 20; i++ {
		_, err := sh.Put(ctx, []byte(fmt.Sprintf("k%02d", i)), []byte("v"))
		require.NoError(t, err)
	}
	_, err = sh.SetOwner(ctx, store.Owner{Shards: 2, Index: 2}, 1)
	require.ErrorIs(t, err, store.ErrInvalidConfig)
	fence, err := sh.SetOwner(ctx, store.Owner{Shards: 2, Index: 0}, 9)
	require.NoError(t, err)
	require.Equal(t, uint64(20), fence, "the fence is the last index written under the previous owner")
	o, v = sh.Owner()
	require.Equal(t, store.Owner{Shards: 2, Index: 0}, o)
	require.Equal(t, uint64(9), v)

	var moved []byte
	want := 0
	for i := 0; i < 20; i++ {
		if k := []byte(fmt.Sprintf("k%02d", i)); topology.ShardOf(k, 2) != 0 {
			want++
			moved = k
		}
	}
	require.NotZero(t, want)
	_, err = sh.Put(ctx, moved, []byte("v2"))
	require.ErrorIs(t, err, store.ErrMoved, "a local write of a key the shard does not own is refused")
	removed, err := sh.RemoveUnowned(ctx, 7)
	require.NoError(t, err)
	require.Equal(t, want, removed)
	res, err := sh.Scan(store.ScanOptions{Limit: 100, IncludeDead: true})
	require.NoError(t, err)
	require.Len(t, res.Items, 20-want)
}
