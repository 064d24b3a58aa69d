package replica

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/vasto-kv/vasto/bus"
	"github.com/vasto-kv/vasto/internal/bustest"
	"github.com/vasto-kv/vasto/internal/shardtest"
	"github.com/vasto-kv/vasto/internal/storetest"
	"github.com/vasto-kv/vasto/lww"
	"github.com/vasto-kv/vasto/store"
	"github.com/vasto-kv/vasto/topology"
	"github.com/vasto-kv/vasto/wire"
)

// The agent on the in-memory twins: the bus (bustest), the shard engines
// and the network between stores (shardtest). No NATS, no RocksDB, no
// sockets.

// twinShards is a twin engine as the agent's Shards.
type twinShards = shardtest.ShardsAs[Shard]

var _ Shards = twinShards{}

// twinShard creates fakeRef's shard on e.
func twinShard(t *testing.T, e *shardtest.Engine) *shardtest.Shard {
	t.Helper()
	sh, err := e.CreateShard(fakeRef.Keyspace, fakeRef.Shard)
	require.NoError(t, err)
	return sh
}

// startTwinWorker starts a's worker for fakeRef's shard sh, replicating
// from the stores peerIDs; it stops when the test ends.
func startTwinWorker(t *testing.T, a *Agent, sh *shardtest.Shard, peerIDs ...string) {
	t.Helper()
	w := newShardWorker(a, sh, fakeRef, peerIDs, nil, twinTopology())
	w.start(a.ctx)
	t.Cleanup(w.stop)
}

// twinPeerWithKeys starts the agent of store2 with fakeRef's shard holding
// k1..kn (value "v"), and returns its engine and that shard.
func twinPeerWithKeys(t *testing.T, b *bustest.Bus, peers *shardtest.Peers, clock lww.Clock, n int) (*shardtest.Engine, *shardtest.Shard) {
	t.Helper()
	_, e := twinAgent(t, b, peers, clock, "store2")
	sh := twinShard(t, e)
	for i := 1; i <= n; i++ {
		_, err := sh.Put(context.Background(), []byte(fmt.Sprintf("k%d", i)), []byte("v"))
		require.NoError(t, err)
	}
	return e, sh
}

// requireKeys checks that sh holds k1..kn.
func requireKeys(t *testing.T, sh *shardtest.Shard, n int) {
	t.Helper()
	for i := 1; i <= n; i++ {
		_, ok := value(t, sh, fmt.Sprintf("k%d", i))
		require.True(t, ok, "key %d", i)
	}
}

// twinAddr is where store id answers other stores.
func twinAddr(id string) string { return id + ":6379" }

// twinAgent returns the agent of store id in dc1 on a twin engine, talking
// to b and dialling peers, with its context set as Start would (nothing
// else runs). The engine answers at twinAddr(id).
func twinAgent(t *testing.T, b *bustest.Bus, peers *shardtest.Peers, clock lww.Clock, id string) (*Agent, *shardtest.Engine) {
	t.Helper()
	e := shardtest.New(shardtest.Config{DC: "dc1", Node: id, Clock: clock})
	peers.Add(twinAddr(id), e)
	cfg := DefaultAgentConfig("dc1", id, twinAddr(id), nil, nil)
	cfg.Bus, cfg.Shards, cfg.Logger = b, twinShards{Engine: e}, testLogger(t)
	cfg.Dial = shardtest.DialAs[Peer](peers)
	cfg.CatchUpIdle = time.Hour // caught up only by draining the peer
	a, err := NewAgent(cfg)
	require.NoError(t, err)
	a.ctx, a.cancel = context.WithCancel(context.Background())
	t.Cleanup(a.cancel)
	require.NoError(t, b.EnsureChangeStream(a.ctx, cfg.Stream))
	return a, e
}

// twinTopology places fakeRef on store1 and store2.
func twinTopology() *topology.Topology {
	t := topology.New("dc1")
	t.Version = 1
	for _, id := range []string{"store1", "store2"} {
		t.Stores[id] = &topology.Store{ID: id, Addr: twinAddr(id), Healthy: true}
	}
	t.Keyspaces[fakeRef.Keyspace] = &topology.Keyspace{Name: fakeRef.Keyspace, Shards: 1, Replicas: 2,
		Placement: [][]string{{"store1", "store2"}}}
	return t
}

// publishLog publishes the entries from..to of sh's change log as origin's
// change messages, as its publisher would.
func publishLog(t *testing.T, b *bustest.Bus, sh *shardtest.Shard, origin string, from, to uint64) {
	t.Helper()
	entries, err := sh.ReadLog(from, int(to-from+1))
	require.NoError(t, err)
	var msgs []bus.Message
	for _, e := range entries {
		data, err := lww.AppendChange(nil, e.Change)
		require.NoError(t, err)
		idx := strconv.FormatUint(e.Index, 10)
		msgs = append(msgs, bus.Message{Subject: changeSubject(t, origin), ID: origin + "." + idx,
			Header: map[string]string{wire.HeaderIndex: idx, wire.HeaderStore: origin}, Data: data})
	}
	n, err := b.PublishBatch(context.Background(), msgs)
	require.NoError(t, err)
	require.Equal(t, len(msgs), n)
}

// refuseFrom makes b refuse every publish of origin's changes.
func refuseFrom(t *testing.T, b *bustest.Bus, origin string) {
	subj := changeSubject(t, origin)
	b.SetOnPublish(func(_ int, msgs []bus.Message) (int, error) {
		if msgs[0].Subject == subj {
			return 0, errors.New("injected: not published")
		}
		return len(msgs), nil
	})
}

func value(t *testing.T, sh Shard, key string) (string, bool) {
	t.Helper()
	r, ok, err := sh.(*shardtest.Shard).GetRecord([]byte(key))
	require.NoError(t, err)
	return string(r.Value), ok && r.Kind == lww.KindValue
}

// TestTwinRebootstrapFromPeer: the stream lost changes 1..10 of the peer
// before this new replica applied any. The replica copies the peer first:
// it merges the peer's records, removes what it holds that the peer no
// longer has (but its own unpublished writes), moves its cursor to just
// before the first change the stream holds, then replays 11..20 and serves.
func TestTwinRebootstrapFromPeer(t *testing.T) {
	ctx := context.Background()
	b := bustest.New()
	peers := shardtest.NewPeers()
	clock := lww.NewManualClock(storetest.BaseTime)
	_, e2 := twinAgent(t, b, peers, clock, "store2")
	peer := twinShard(t, e2)
	for i := 1; i <= 20; i++ {
		_, err := peer.Put(ctx, []byte(fmt.Sprintf("k%02d", i)), []byte(fmt.Sprintf("v%d", i)))
		require.NoError(t, err)
	}
	publishLog(t, b, peer, "store2", 11, 20) // 1..10 aged out of the stream

	a, e1 := twinAgent(t, b, peers, clock, "store1")
	refuseFrom(t, b, "store1") // its own write stays in its outbox
	sh := twinShard(t, e1)
	// A key the peer no longer has (it purged the tombstone), and a write
	// of this replica not yet published.
	_, err := sh.ApplyRemote(ctx, store.PeerSource("store3"), 0, []lww.Change{{Key: []byte("gone"),
		Record: lww.Record{Version: lww.Version{Time: storetest.BaseTime - 10, DC: "dc1", Node: "store3"}, Kind: lww.KindTombstone}}})
	require.NoError(t, err)
	_, err = sh.Put(ctx, []byte("mine"), []byte("unpublished"))
	require.NoError(t, err)

	startTwinWorker(t, a, sh, "store2")
	require.Eventually(t, sh.Serving, 10*time.Second, 5*time.Millisecond)

	cur, err := sh.Cursor(store.PeerSource("store2"))
	require.NoError(t, err)
	require.Equal(t, uint64(20), cur)
	for i := 1; i <= 20; i++ {
		v, ok := value(t, sh, fmt.Sprintf("k%02d", i))
		require.True(t, ok, "key %d", i)
		require.Equal(t, fmt.Sprintf("v%d", i), v)
	}
	_, ok, err := sh.GetRecord([]byte("gone"))
	require.NoError(t, err)
	require.False(t, ok, "what the peer no longer has is removed")
	v, ok := value(t, sh, "mine")
	require.True(t, ok, "an unpublished write of this replica survives the copy")
	require.Equal(t, "unpublished", v)
	require.Equal(t, 1, peers.Dials(twinAddr("store2")), "one connection for the copy")
}

// TestTwinRebootstrapWhenStreamHoldsNothing: the stream holds nothing of a
// peer whose log says it published 1..5 (VLOGINFO: first 6, last 5): they
// aged out, so the replica copies the peer and moves its cursor to 5. A
// peer that never logged anything is not copied.
func TestTwinRebootstrapWhenStreamHoldsNothing(t *testing.T) {
	b := bustest.New()
	peers := shardtest.NewPeers()
	clock := lww.NewManualClock(storetest.BaseTime)
	e2, peer := twinPeerWithKeys(t, b, peers, clock, 5)
	require.NoError(t, peer.TrimLog(6)) // published and trimmed

	a, e1 := twinAgent(t, b, peers, clock, "store1")
	sh := twinShard(t, e1)
	startTwinWorker(t, a, sh, "store2")
	require.Eventually(t, sh.Serving, 10*time.Second, 5*time.Millisecond)
	cur, err := sh.Cursor(store.PeerSource("store2"))
	require.NoError(t, err)
	require.Equal(t, uint64(5), cur)
	requireKeys(t, sh, 5)

	// A replica of another shard whose peer logged nothing: no copy.
	ref := topology.ShardRef{Keyspace: fakeRef.Keyspace, Shard: 1}
	_, err = e2.CreateShard(ref.Keyspace, ref.Shard)
	require.NoError(t, err)
	sh1, err := e1.CreateShard(ref.Keyspace, ref.Shard)
	require.NoError(t, err)
	w1 := newShardWorker(a, sh1, ref, []string{"store2"}, nil, twinTopology())
	w1.start(a.ctx)
	defer w1.stop()
	require.Eventually(t, sh1.Serving, 10*time.Second, 5*time.Millisecond)
	cur, err = sh1.Cursor(store.PeerSource("store2"))
	require.NoError(t, err)
	require.Zero(t, cur)
}

// TestTwinRebootstrapWaitsForThePeer: while a peer whose changes aged out
// cannot be copied, the replica does not serve and applies nothing past the
// gap; once the peer answers, it copies, replays and serves.
func TestTwinRebootstrapWaitsForThePeer(t *testing.T) {
	b := bustest.New()
	peers := shardtest.NewPeers()
	clock := lww.NewManualClock(storetest.BaseTime)
	_, peer := twinPeerWithKeys(t, b, peers, clock, 4)
	publishLog(t, b, peer, "store2", 3, 4)
	peers.Cut(twinAddr("store2"), true)

	a, e1 := twinAgent(t, b, peers, clock, "store1")
	sh := twinShard(t, e1)
	startTwinWorker(t, a, sh, "store2")
	require.Never(t, func() bool {
		_, ok := value(t, sh, "k4")
		return sh.Serving() || ok
	}, 300*time.Millisecond, 10*time.Millisecond)

	peers.Cut(twinAddr("store2"), false)
	require.Eventually(t, sh.Serving, 10*time.Second, 5*time.Millisecond)
	requireKeys(t, sh, 4)
}

// TestTwinPeerWatermark: a peer's mark advances only while this replica's
// consumer of its log has nothing pending, to the time asked less a
// second; the shard's bound is the lowest mark less MaxFuture. No peer: no
// bound.
func TestTwinPeerWatermark(t *testing.T) {
	ctx := context.Background()
	b := bustest.New()
	peers := shardtest.NewPeers()
	clock := lww.NewManualClock(storetest.BaseTime)
	a, e1 := twinAgent(t, b, peers, clock, "store1")
	sh := twinShard(t, e1)
	maxFuture := e1.MaxFuture()

	alone := newShardWorker(a, sh, fakeRef, nil, nil, twinTopology())
	require.Equal(t, int64(math.MaxInt64), alone.peerWatermark(ctx))

	w := newShardWorker(a, sh, fakeRef, []string{"store2", "store3"}, nil, twinTopology())
	// No consumer yet: nothing is known to be applied.
	require.Equal(t, store.PurgeBound([]int64{0, 0}, maxFuture), w.peerWatermark(ctx))

	// store3's consumer is idle; store2's has a change it cannot apply yet.
	stream := changeStream(t)
	var accept = make(chan struct{})
	for _, p := range []string{"store2", "store3"} {
		c, err := b.NewConsumer(bus.ConsumerConfig{Stream: stream, Durable: peerDurable("store1", fakeRef, p),
			FilterSubject: changeSubject(t, p)}, func(context.Context, []bus.Delivered) error {
			select {
			case <-accept:
				return nil
			default:
				return errors.New("injected: not yet")
			}
		})
		require.NoError(t, err)
		require.NoError(t, c.Start(ctx))
		defer func() { require.NoError(t, c.Shutdown(context.Background())) }()
	}
	_, err := b.PublishBatch(ctx, []bus.Message{{Subject: changeSubject(t, "store2"),
		Header: map[string]string{wire.HeaderIndex: "1"}}})
	require.NoError(t, err)
	asked := clock.Now()
	require.Equal(t, store.PurgeBound([]int64{0, asked - int64(time.Second)}, maxFuture), w.peerWatermark(ctx),
		"only the idle peer's mark advances; the bound waits for the other")

	// store2's change is applied: both marks advance with the clock.
	close(accept)
	require.Eventually(t, func() bool {
		n, _, err := b.ConsumerPending(ctx, stream, peerDurable("store1", fakeRef, "store2"))
		return err == nil && n == 0
	}, 10*time.Second, 5*time.Millisecond)
	clock.Advance(time.Minute)
	asked = clock.Now()
	require.Equal(t, store.PurgeBound([]int64{asked - int64(time.Second)}, maxFuture), w.peerWatermark(ctx))
}

// TestTwinCatchUpWaitsForEveryPeer: a replica serves once every peer's log
// is replayed. One peer's log drains at once; the other's batch keeps
// failing (a key the shard refuses), so the replica waits for it until the
// catch-up idle time has passed without a batch applied.
func TestTwinCatchUpWaitsForEveryPeer(t *testing.T) {
	ctx := context.Background()
	b := bustest.New()
	peers := shardtest.NewPeers()
	clock := lww.NewManualClock(storetest.BaseTime)
	_, e2 := twinAgent(t, b, peers, clock, "store2")
	p2 := twinShard(t, e2)
	_, err := p2.Put(ctx, []byte("k2"), []byte("v2"))
	require.NoError(t, err)
	publishLog(t, b, p2, "store2", 1, 1)
	data, err := lww.AppendChange(nil, lww.Change{Key: make([]byte, store.MaxKeySize+1),
		Record: lww.Record{Version: lww.Version{Time: storetest.BaseTime, DC: "dc1", Node: "store3"}, Kind: lww.KindTombstone}})
	require.NoError(t, err)
	_, err = b.PublishBatch(ctx, []bus.Message{{Subject: changeSubject(t, "store3"),
		Header: map[string]string{wire.HeaderIndex: "1"}, Data: data}})
	require.NoError(t, err)

	a, e1 := twinAgent(t, b, peers, clock, "store1")
	a.cfg.CatchUpIdle = 3 * time.Second
	sh := twinShard(t, e1)
	startTwinWorker(t, a, sh, "store2", "store3")
	require.Eventually(t, func() bool { _, ok := value(t, sh, "k2"); return ok }, 10*time.Second, 5*time.Millisecond)
	require.Never(t, sh.Serving, 300*time.Millisecond, 10*time.Millisecond, "store3 is not replayed yet")
	require.Eventually(t, sh.Serving, 10*time.Second, 10*time.Millisecond, "idle for CatchUpIdle: counted as replayed")
	cur, err := sh.Cursor(store.PeerSource("store3"))
	require.NoError(t, err)
	require.Zero(t, cur, "nothing of store3 was applied")
}

// TestTwinFillCopiesMovingKeys: a resize fill copies from a source replica
// exactly the records that move to its target shard (tombstones included),
// ingests them, and counts them for the heartbeat; a record the target
// already holds in a newer version is kept.
func TestTwinFillCopiesMovingKeys(t *testing.T) {
	ctx := context.Background()
	b := bustest.New()
	peers := shardtest.NewPeers()
	clock := lww.NewManualClock(storetest.BaseTime)
	_, e2 := twinAgent(t, b, peers, clock, "store2")
	src, err := e2.CreateShard(fakeRef.Keyspace, 0)
	require.NoError(t, err)
	want := map[string]bool{}
	for i := 0; i < 200; i++ {
		k := fmt.Sprintf("k%03d", i)
		if i%10 == 0 {
			_, err = src.Delete(ctx, []byte(k))
		} else {
			_, err = src.Put(ctx, []byte(k), []byte("old"))
		}
		require.NoError(t, err)
		if topology.ShardOf([]byte(k), 2) == 1 {
			want[k] = true
		}
	}

	a, e1 := twinAgent(t, b, peers, clock, "store1")
	a.cfg.FillRate = 1 << 20 // paced: the limiter path runs too
	ref := topology.ShardRef{Keyspace: fakeRef.Keyspace, Shard: 1}
	tgt, err := e1.CreateShard(ref.Keyspace, ref.Shard)
	require.NoError(t, err)
	var newer string
	for k := range want {
		newer = k
		break
	}
	_, err = tgt.ApplyRemote(ctx, store.PeerSource("store3"), 0, []lww.Change{{Key: []byte(newer),
		Record: lww.Record{Version: lww.Version{Time: clock.Now() + int64(time.Second), DC: "dc1", Node: "store3"}, Kind: lww.KindValue, Value: []byte("new")}}})
	require.NoError(t, err)

	f := newFiller(a, ref, tgt, 7)
	r := &topology.Resize{ID: 7, From: 1, To: 2, Phase: topology.PhaseCopy}
	require.NoError(t, f.dump(ctx, twinAddr("store2"), r, 0))

	res, err := tgt.Scan(store.ScanOptions{Limit: store.MaxScanLimit, IncludeDead: true})
	require.NoError(t, err)
	got := map[string]bool{}
	for _, it := range res.Items {
		got[string(it.Key)] = true
		if string(it.Key) == newer {
			require.Equal(t, "new", string(it.Record.Value), "a newer record is kept")
		}
	}
	require.Equal(t, want, got, "exactly the keys that move to the target")
	require.Equal(t, uint64(len(want)), f.report().Keys, "every record copied is counted")
}
