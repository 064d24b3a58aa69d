package dc

import (
	"context"
	"fmt"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/vasto-kv/vasto/bus"
	"github.com/vasto-kv/vasto/internal/bustest"
	"github.com/vasto-kv/vasto/lww"
	"github.com/vasto-kv/vasto/store"
	"github.com/vasto-kv/vasto/topology"
	"github.com/vasto-kv/vasto/wire"
)

// fakeDC is store "t1" of dc2, applying dc1's changes to keyspace ks (two
// shards here, both held by t1) through an in-memory bus (bustest).
type fakeDC struct {
	bus   *bustest.Bus
	eng   *store.Engine
	clock *lww.ManualClock
	r     *Replicator
	top   *topology.Topology
}

const fakeSrc = "VASTO_SRC_dc1"

func startFakeDC(t *testing.T, open bool) *fakeDC {
	t.Helper()
	ctx := context.Background()
	d := &fakeDC{bus: bustest.New()}
	d.eng, d.clock = testEngine(t, func(c *store.Config) { c.DC, c.Node = "dc2", "t1" })
	d.top = topology.New("dc2")
	d.top.Version = 1
	d.top.Stores["t1"] = &topology.Store{ID: "t1", Addr: "127.0.0.1:1", Healthy: true}
	d.top.Keyspaces["ks"] = &topology.Keyspace{Name: "ks", Shards: 2, Replicas: 1, Placement: [][]string{{"t1"}, {"t1"}}}
	if open {
		d.openShards(t)
	}
	r, err := New(Config{DC: "dc2", Store: "t1", RemoteDCs: []string{"dc1"}, Bus: d.bus, Shards: EngineShards(d.eng), Logger: testLogger(t)})
	require.NoError(t, err)
	require.NoError(t, r.Start(ctx))
	t.Cleanup(func() { require.NoError(t, r.Shutdown(context.Background())) })
	r.Follow(d.top)
	r.Reconcile(d.top, []string{"ks"})
	d.r = r
	return d
}

// openShards creates the local shards of ks.
func (d *fakeDC) openShards(t *testing.T) {
	t.Helper()
	for i := uint32(0); i < 2; i++ {
		_, err := d.eng.CreateShard("ks", i)
		require.NoError(t, err)
	}
}

// copyIn stores, in dc2's copy of dc1's stream, changes of origin s1 on
// dc1's shard 0 of keyspace with the given log indexes; index i writes key
// "<keyspace>-k<i mod keys>" with event time baseTime+i.
func (d *fakeDC) copyIn(t *testing.T, keyspace string, keys uint64, idxs ...uint64) {
	t.Helper()
	subj, err := bus.ChangeSubject("dc1", keyspace, 0, "s1")
	require.NoError(t, err)
	var msgs []bus.Message
	for _, i := range idxs {
		data, err := lww.AppendChange(nil, lww.Change{Key: []byte(fmt.Sprintf("%s-k%03d", keyspace, i%keys)),
			Record: rec(baseTime+int64(i), "dc1", "s1", "v"+strconv.FormatUint(i, 10))})
		require.NoError(t, err)
		msgs = append(msgs, bus.Message{Subject: subj,
			Header: map[string]string{wire.HeaderIndex: strconv.FormatUint(i, 10)}, Data: data})
	}
	_, err = d.bus.CopyIn(fakeSrc, msgs...)
	require.NoError(t, err)
}

// pending returns what the applier of ks has not applied yet.
func (d *fakeDC) pending(t *testing.T) uint64 {
	t.Helper()
	n, _, err := d.bus.ConsumerPending(context.Background(), fakeSrc, Durable("t1", "dc1", "ks"))
	require.NoError(t, err)
	return n
}

// cursor returns the highest index of dc1's s1/0 this store processed.
func (d *fakeDC) cursor(t *testing.T) uint64 {
	t.Helper()
	var held []Shard
	for i := uint32(0); i < 2; i++ {
		sh, err := d.eng.Shard("ks", i)
		require.NoError(t, err)
		held = append(held, sh)
	}
	c, err := processedUpTo(held, store.RemoteSource("dc1", "s1", "0"))
	require.NoError(t, err)
	return c
}

// value returns the value of key in the local shard ks routes it to.
func (d *fakeDC) value(t *testing.T, key string) string {
	t.Helper()
	r, ok := routedRecord(t, d.eng.Shard, key)
	require.True(t, ok, "key %s", key)
	return string(r.Value)
}

// TestFakeBusApplier: the applier of a remote DC's keyspace consumes the
// local copy of its stream in batches, routes each change through the
// local layout (two shards here, one there), applies it, moves the cursor
// to the last index and acknowledges; changes of another keyspace are left
// to that keyspace's applier. When the keyspace leaves the topology, its
// consumer is deleted.
func TestFakeBusApplier(t *testing.T) {
	d := startFakeDC(t, true)
	const keys = 40
	var idxs []uint64
	for i := uint64(1); i <= 300; i++ { // more than one batch
		idxs = append(idxs, i)
	}
	d.copyIn(t, "ks", keys, idxs...)
	d.copyIn(t, "other", keys, 1, 2, 3)
	require.Eventually(t, func() bool { return d.pending(t) == 0 }, 10*time.Second, 5*time.Millisecond)
	require.Equal(t, uint64(300), d.cursor(t))
	for k := uint64(0); k < keys; k++ {
		last := 300 - (300-k)%keys // the last index writing key k
		require.Equal(t, "v"+strconv.FormatUint(last, 10), d.value(t, fmt.Sprintf("ks-k%03d", k)))
	}
	// Nothing of keyspace "other" was consumed by ks's applier.
	sh, err := d.eng.Shard("ks", 0)
	require.NoError(t, err)
	res, err := sh.Scan(store.ScanOptions{Limit: store.MaxScanLimit})
	require.NoError(t, err)
	sh1, err := d.eng.Shard("ks", 1)
	require.NoError(t, err)
	res1, err := sh1.Scan(store.ScanOptions{Limit: store.MaxScanLimit})
	require.NoError(t, err)
	require.Equal(t, keys, len(res.Items)+len(res1.Items))

	// Later changes continue from the acknowledged position.
	d.copyIn(t, "ks", keys, 301, 302)
	require.Eventually(t, func() bool { return d.cursor(t) == 302 }, 10*time.Second, 5*time.Millisecond)
	require.Equal(t, "v301", d.value(t, fmt.Sprintf("ks-k%03d", 301%keys)))
	require.Equal(t, "v302", d.value(t, fmt.Sprintf("ks-k%03d", 302%keys)))

	// ks dropped from the topology: its applier stops and its consumer goes.
	durable := Durable("t1", "dc1", "ks")
	require.True(t, d.bus.HasConsumer(fakeSrc, durable))
	gone := topology.New("dc2")
	gone.Version = 2
	d.r.Reconcile(gone, nil)
	require.False(t, d.bus.HasConsumer(fakeSrc, durable))
}

// TestFakeBusWatermark: a remote DC's mark advances only when SourceStatus
// says its copy is caught up and the appliers have nothing pending, to the
// time asked less a second; it freezes while the copy is not caught up. A
// copy silent since it started is restarted, at most once per interval.
func TestFakeBusWatermark(t *testing.T) {
	ctx := context.Background()
	d := startFakeDC(t, false) // the shards are not open: the applier cannot apply yet
	maxFuture := d.eng.Config().MaxFuture
	never := store.PurgeBound([]int64{0}, maxFuture)

	// Not caught up, heard from recently: no mark, no restart.
	d.bus.SetStatus("dc1", bus.SourceInfo{Active: time.Second})
	require.Equal(t, never, d.r.Watermark(ctx))
	require.Empty(t, d.bus.Restarted())

	// Silent since it started: restarted once, not again right after.
	d.bus.SetStatus("dc1", bus.SourceInfo{Active: -1})
	require.Equal(t, never, d.r.Watermark(ctx))
	require.Equal(t, never, d.r.Watermark(ctx))
	require.Equal(t, []string{"dc1"}, d.bus.Restarted())

	// Caught up, but the applier has changes it cannot apply yet.
	d.copyIn(t, "ks", 10, 1, 2, 3)
	d.bus.SetStatus("dc1", bus.SourceInfo{Active: time.Second, CaughtUp: true})
	require.Equal(t, never, d.r.Watermark(ctx))
	require.NotZero(t, d.pending(t))

	// The shards open, the applier catches up: the mark is the time asked
	// less a second.
	d.openShards(t)
	require.Eventually(t, func() bool { return d.pending(t) == 0 }, 10*time.Second, 5*time.Millisecond)
	require.Equal(t, uint64(3), d.cursor(t))
	asked := d.clock.Now()
	want := store.PurgeBound([]int64{asked - int64(time.Second)}, maxFuture)
	require.Equal(t, want, d.r.Watermark(ctx))

	// The link is cut: the mark stays where it was while time passes.
	d.bus.SetStatus("dc1", bus.SourceInfo{Active: time.Second, RemoteError: "no responders"})
	d.clock.Advance(time.Minute)
	require.Equal(t, want, d.r.Watermark(ctx))

	// Back and caught up: it advances again.
	d.bus.SetStatus("dc1", bus.SourceInfo{Active: time.Second, CaughtUp: true})
	require.Equal(t, want+int64(time.Minute), d.r.Watermark(ctx))
	require.Equal(t, []string{"dc1"}, d.bus.Restarted())
}
