package dc

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/vasto-kv/vasto/bus"
	"github.com/vasto-kv/vasto/internal/bustest"
	"github.com/vasto-kv/vasto/internal/shardtest"
	"github.com/vasto-kv/vasto/lww"
	"github.com/vasto-kv/vasto/store"
	"github.com/vasto-kv/vasto/topology"
	"github.com/vasto-kv/vasto/wire"
)

// Cross-DC replication on the in-memory twins: the bus (bustest), the
// shard engines and the network between stores (shardtest). No NATS, no
// RocksDB, no sockets.

// twinShards is a twin engine as the replicator's Shards.
type twinShards = shardtest.ShardsAs[Shard]

var _ Shards = twinShards{}

// twinXDC is store t1 of dc2 (holding both shards of keyspace ks, two
// shards here) applying the changes of dc1, where store s1 holds the only
// shard of ks, at remoteAddr.
type twinXDC struct {
	bus    *bustest.Bus
	local  *shardtest.Engine
	remote *shardtest.Engine
	peers  *shardtest.Peers
	clock  *lww.ManualClock
	r      *Replicator
}

const remoteAddr = "127.0.0.1:7001"

func startTwinXDC(t *testing.T) *twinXDC {
	t.Helper()
	return startTwinXDCPlaced(t, [][]string{{"t1"}, {"t1"}})
}

// startTwinXDCPlaced is startTwinXDC with the local placement of ks's two
// shards given: t1 holds (and has open) those placed on it.
func startTwinXDCPlaced(t *testing.T, placement [][]string) *twinXDC {
	t.Helper()
	ctx := context.Background()
	clock := lww.NewManualClock(baseTime + int64(time.Hour))
	x := &twinXDC{bus: bustest.New(), peers: shardtest.NewPeers(), clock: clock,
		local:  shardtest.New(shardtest.Config{DC: "dc2", Node: "t1", Clock: clock}),
		remote: shardtest.New(shardtest.Config{DC: "dc1", Node: "s1", Clock: clock})}
	x.peers.Add(remoteAddr, x.remote)
	for i, reps := range placement {
		if slices.Contains(reps, "t1") {
			_, err := x.local.CreateShard("ks", uint32(i))
			require.NoError(t, err)
		}
	}
	_, err := x.remote.CreateShard("ks", 0)
	require.NoError(t, err)

	rt := topology.New("dc1")
	rt.Version = 1
	rt.Stores["s1"] = &topology.Store{ID: "s1", Addr: remoteAddr, Healthy: true}
	rt.Keyspaces["ks"] = &topology.Keyspace{Name: "ks", Shards: 1, Replicas: 1, Placement: [][]string{{"s1"}}}
	doc, err := rt.Encode()
	require.NoError(t, err)
	x.bus.SetRemoteTopology("dc1", doc)

	lt := topology.New("dc2")
	lt.Version = 1
	lt.Stores["t1"] = &topology.Store{ID: "t1", Addr: "127.0.0.1:7002", Healthy: true}
	lt.Keyspaces["ks"] = &topology.Keyspace{Name: "ks", Shards: 2, Replicas: 1, Placement: placement}
	x.r, err = New(Config{DC: "dc2", Store: "t1", RemoteDCs: []string{"dc1"}, Bus: x.bus,
		Shards: twinShards{Engine: x.local}, Dial: shardtest.DialAs[Peer](x.peers), Logger: testLogger(t)})
	require.NoError(t, err)
	require.NoError(t, x.r.Start(ctx))
	t.Cleanup(func() { require.NoError(t, x.r.Shutdown(context.Background())) })
	x.r.Follow(lt)
	x.r.Reconcile(lt, []string{"ks"})
	return x
}

// write makes s1 accept the writes of log indexes idxs (index i writes key
// "k<i>" with value "v<i>") and returns their change messages.
func (x *twinXDC) write(t *testing.T, idxs ...uint64) []bus.Message {
	t.Helper()
	sh, err := x.remote.Shard("ks", 0)
	require.NoError(t, err)
	subj, err := bus.ChangeSubject("dc1", "ks", 0, "s1")
	require.NoError(t, err)
	var msgs []bus.Message
	for _, i := range idxs {
		ch := lww.Change{Key: []byte(fmt.Sprintf("k%03d", i)),
			Record: rec(baseTime+int64(i), "dc1", "s1", "v"+strconv.FormatUint(i, 10))}
		_, err := sh.ApplyRemote(context.Background(), "local", 0, []lww.Change{ch})
		require.NoError(t, err)
		data, err := lww.AppendChange(nil, ch)
		require.NoError(t, err)
		msgs = append(msgs, bus.Message{Subject: subj,
			Header: map[string]string{wire.HeaderIndex: strconv.FormatUint(i, 10)}, Data: data})
	}
	return msgs
}

// value returns key's value where the local topology routes it ("" if
// absent).
func (x *twinXDC) value(t *testing.T, key string) string {
	t.Helper()
	r, ok := routedRecord(t, x.local.Shard, key)
	if !ok {
		return ""
	}
	return string(r.Value)
}

// routedRecord returns key's record in the shard of ks (two shards) it
// routes to, opened with shard, and whether the key is there.
func routedRecord[S interface {
	GetRecord(key []byte) (lww.Record, bool, error)
}](t *testing.T, shard func(keyspace string, shard uint32) (S, error), key string) (lww.Record, bool) {
	t.Helper()
	sh, err := shard("ks", topology.ShardOf([]byte(key), 2))
	require.NoError(t, err)
	r, ok, err := sh.GetRecord([]byte(key))
	require.NoError(t, err)
	return r, ok
}

// cursor is the highest index of s1's shard 0 this store processed.
func (x *twinXDC) cursor(t *testing.T) uint64 {
	t.Helper()
	var held []Shard
	for _, id := range x.local.Shards() {
		sh, err := x.local.Shard(id.Keyspace, id.Shard)
		require.NoError(t, err)
		held = append(held, sh)
	}
	c, err := processedUpTo(held, store.RemoteSource("dc1", "s1", "0"))
	require.NoError(t, err)
	return c
}

func (x *twinXDC) pending(t *testing.T) uint64 {
	t.Helper()
	n, _, err := x.bus.ConsumerPending(context.Background(), fakeSrc, Durable("t1", "dc1", "ks"))
	require.NoError(t, err)
	return n
}

// TestTwinGapRebootstrapsFromRemoteDC: the copy of dc1's stream lost
// changes 1..50 of s1 (retention) before this store applied any: the
// applier sees the stream start at 51, copies the keyspace from s1 over a
// store-to-store connection, routes every record through the local layout,
// moves the cursor to 50 and then applies 51..55. Nothing of 1..50 is
// missing.
func TestTwinGapRebootstrapsFromRemoteDC(t *testing.T) {
	x := startTwinXDC(t)
	var all []uint64
	for i := uint64(1); i <= 55; i++ {
		all = append(all, i)
	}
	msgs := x.write(t, all...)
	_, err := x.bus.CopyIn(fakeSrc, msgs[50:]...) // 1..50 aged out
	require.NoError(t, err)

	require.Eventually(t, func() bool { return x.pending(t) == 0 }, 10*time.Second, 5*time.Millisecond)
	require.Equal(t, uint64(55), x.cursor(t))
	for i := 1; i <= 55; i++ {
		require.Equal(t, "v"+strconv.Itoa(i), x.value(t, fmt.Sprintf("k%03d", i)), "key %d", i)
	}
	require.Equal(t, 1, x.peers.Dials(remoteAddr), "one connection copies the keyspace")

	// Changes that continue the cursor apply without another copy.
	_, err = x.bus.CopyIn(fakeSrc, x.write(t, 56, 57)...)
	require.NoError(t, err)
	require.Eventually(t, func() bool { return x.cursor(t) == 57 }, 10*time.Second, 5*time.Millisecond)
	require.Equal(t, "v57", x.value(t, "k057"))
	require.Equal(t, 1, x.peers.Dials(remoteAddr))
}

// TestTwinGapWaitsForTheRemoteStore: while the remote store cannot be
// copied, the batch after the gap is not applied and the cursor stays
// (nothing is skipped); once it can, the copy and the batch go through.
func TestTwinGapWaitsForTheRemoteStore(t *testing.T) {
	x := startTwinXDC(t)
	x.peers.Cut(remoteAddr, true)
	var all []uint64
	for i := uint64(1); i <= 20; i++ {
		all = append(all, i)
	}
	msgs := x.write(t, all...)
	_, err := x.bus.CopyIn(fakeSrc, msgs[10:]...) // 1..10 aged out
	require.NoError(t, err)

	// The applier retries (the twin bus's nak delay is 10 ms): give it a
	// few rounds, and check it applied nothing.
	require.Never(t, func() bool { return x.pending(t) == 0 || x.cursor(t) != 0 }, 200*time.Millisecond, 10*time.Millisecond)
	require.Equal(t, "", x.value(t, "k015"), "no change after the gap is applied before the copy")

	x.peers.Cut(remoteAddr, false)
	require.Eventually(t, func() bool { return x.pending(t) == 0 }, 10*time.Second, 5*time.Millisecond)
	require.Equal(t, uint64(20), x.cursor(t))
	for i := 1; i <= 20; i++ {
		require.Equal(t, "v"+strconv.Itoa(i), x.value(t, fmt.Sprintf("k%03d", i)), "key %d", i)
	}
}

// TestTwinGapFreeBatchesNeedNoCopy: a stream that still holds everything
// from index 1 applies without any store-to-store connection, a batch
// redelivered out of order included.
func TestTwinGapFreeBatchesNeedNoCopy(t *testing.T) {
	x := startTwinXDC(t)
	msgs := x.write(t, 1, 2, 3, 4, 5, 6)
	// 5 is stored after 6 (a retried publish): no hole.
	_, err := x.bus.CopyIn(fakeSrc, msgs[0], msgs[1], msgs[2], msgs[3], msgs[5], msgs[4])
	require.NoError(t, err)
	require.Eventually(t, func() bool { return x.pending(t) == 0 }, 10*time.Second, 5*time.Millisecond)
	require.Equal(t, uint64(6), x.cursor(t))
	require.Zero(t, x.peers.Dials(remoteAddr))
}

// TestTwinCursorRecordsWhatWasProcessed: t1 holds only shard 0 here; a
// batch whose keys all land on shard 1 (held by t2) still records on shard
// 0 that t1 processed the origin up to the batch's last index, so a later
// batch that continues it is not taken for a gap (no copy).
func TestTwinCursorRecordsWhatWasProcessed(t *testing.T) {
	x := startTwinXDCPlaced(t, [][]string{{"t1"}, {"t2"}})
	var elsewhere []uint64 // indexes whose keys route to shard 1 here
	for i := uint64(1); len(elsewhere) < 5; i++ {
		if topology.ShardOf([]byte(fmt.Sprintf("k%03d", i)), 2) == 1 {
			elsewhere = append(elsewhere, i)
		}
	}
	// The batch is the origin's indexes 1..n, renumbered so that only keys
	// of shard 1 are written.
	msgs := x.write(t, elsewhere...)
	for i := range msgs {
		msgs[i].Header[wire.HeaderIndex] = strconv.Itoa(i + 1)
	}
	_, err := x.bus.CopyIn(fakeSrc, msgs...)
	require.NoError(t, err)
	require.Eventually(t, func() bool { return x.pending(t) == 0 }, 10*time.Second, 5*time.Millisecond)
	require.Equal(t, uint64(len(msgs)), x.cursor(t), "processed, though nothing was kept")
	sh, err := x.local.Shard("ks", 0)
	require.NoError(t, err)
	res, err := sh.Scan(store.ScanOptions{Limit: 10, IncludeDead: true})
	require.NoError(t, err)
	require.Empty(t, res.Items)

	more := x.write(t, 900)
	more[0].Header[wire.HeaderIndex] = strconv.Itoa(len(msgs) + 1)
	_, err = x.bus.CopyIn(fakeSrc, more...)
	require.NoError(t, err)
	require.Eventually(t, func() bool { return x.cursor(t) == uint64(len(msgs)+1) }, 10*time.Second, 5*time.Millisecond)
	require.Zero(t, x.peers.Dials(remoteAddr), "no gap, no copy")
}
