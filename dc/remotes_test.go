package dc

import (
	"context"
	"fmt"
	"math"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/vasto-kv/vasto/bus"
	"github.com/vasto-kv/vasto/internal/bustest"
	"github.com/vasto-kv/vasto/store"
	"github.com/vasto-kv/vasto/topology"
)

func TestConfigAcceptsNoRemoteDC(t *testing.T) {
	b := bustest.New()
	eng, _ := testEngine(t, func(c *store.Config) { c.DC, c.Node = "dc2", "t1" })
	cfg := Config{DC: "dc2", Store: "t1", Bus: b, Shards: EngineShards(eng), Logger: testLogger(t)}
	require.NoError(t, cfg.Validate(), "a DC may be added later")
	for _, bad := range []string{"dc2", "dc1.>", ""} {
		cfg.RemoteDCs = []string{bad}
		require.ErrorIs(t, cfg.Validate(), ErrInvalidConfig, "%q", bad)
	}
}

// TestRemoteDCsFollowTheTopology: a replicator configured with no remote DC
// applies none until the topology lists one; then it creates the DC's copy
// stream and applier and applies its changes, and the purge watermark waits
// for the DC. Removed from the topology, the DC's applier stops, its
// durable consumer is deleted, the copy stream stays and the watermark no
// longer waits for it.
func TestRemoteDCsFollowTheTopology(t *testing.T) {
	ctx := context.Background()
	d := &fakeDC{bus: bustest.New()}
	d.eng, d.clock = testEngine(t, func(c *store.Config) { c.DC, c.Node = "dc2", "t1" })
	d.openShards(t)
	top := topology.New("dc2")
	top.Version = 1
	top.Stores["t1"] = &topology.Store{ID: "t1", Addr: "127.0.0.1:1", Healthy: true}
	top.Keyspaces["ks"] = &topology.Keyspace{Name: "ks", Shards: 2, Replicas: 1, Placement: [][]string{{"t1"}, {"t1"}}}
	r, err := New(Config{DC: "dc2", Store: "t1", Bus: d.bus, Shards: EngineShards(d.eng), Logger: testLogger(t)})
	require.NoError(t, err)
	require.NoError(t, r.Start(ctx))
	t.Cleanup(func() { require.NoError(t, r.Shutdown(context.Background())) })
	d.r = r
	maxFuture := d.eng.Config().MaxFuture
	unbounded := int64(math.MaxInt64)
	never := store.PurgeBound([]int64{0}, maxFuture)
	durable := Durable("t1", "dc1", "ks")

	r.Follow(top)
	r.Reconcile(top, []string{"ks"})
	require.Empty(t, r.RemoteDCs())
	require.False(t, d.bus.HasConsumer(fakeSrc, durable))
	require.Equal(t, unbounded, r.Watermark(ctx), "no remote DC holds purging back")

	// dc1 added: its copy stream and applier start, its changes apply.
	added := top.Clone()
	added.Version, added.RemoteDCs, added.RemoteDCsManaged = 2, []string{"dc1"}, true
	r.Follow(added)
	r.Reconcile(added, []string{"ks"})
	require.Equal(t, []string{"dc1"}, r.RemoteDCs())
	require.True(t, d.bus.HasConsumer(fakeSrc, durable))
	d.copyIn(t, "ks", 10, 1, 2, 3)
	require.Eventually(t, func() bool { return d.pending(t) == 0 }, 10*time.Second, 5*time.Millisecond)
	require.Equal(t, "v3", d.value(t, "ks-k003"))
	// Not caught up yet: the watermark waits for dc1; caught up, it moves.
	require.Equal(t, never, r.Watermark(ctx))
	d.bus.SetStatus("dc1", bus.SourceInfo{Active: time.Second, CaughtUp: true})
	asked := d.clock.Now()
	require.Equal(t, store.PurgeBound([]int64{asked - int64(time.Second)}, maxFuture), r.Watermark(ctx))
	// The link is cut: dc1's mark freezes, and purging with it.
	d.bus.SetStatus("dc1", bus.SourceInfo{Active: time.Second, RemoteError: "no responders"})
	d.clock.Advance(time.Hour)
	frozen := r.Watermark(ctx)
	require.Equal(t, store.PurgeBound([]int64{asked - int64(time.Second)}, maxFuture), frozen)

	// dc1 removed: applier and consumer gone, purging no longer waits.
	removed := added.Clone()
	removed.Version, removed.RemoteDCs = 3, nil
	r.Follow(removed)
	r.Reconcile(removed, []string{"ks"})
	require.Empty(t, r.RemoteDCs())
	require.False(t, d.bus.HasConsumer(fakeSrc, durable))
	require.Equal(t, unbounded, r.Watermark(ctx))
	infos, err := d.bus.SourceStatus(ctx, "dc2", []string{"dc1"})
	require.NoError(t, err)
	require.True(t, infos[0].Exists, "the local copy stream is kept")
	d.copyIn(t, "ks", 10, 4)
	require.Never(t, func() bool { v, ok := routedRecord(t, d.eng.Shard, "ks-k004"); return ok && string(v.Value) == "v4" },
		300*time.Millisecond, 20*time.Millisecond, "nothing applies dc1's changes any more")

	// Added again: a new consumer applies what the copy holds, and the
	// watermark starts over (waits for dc1 until it is caught up).
	d.bus.SetStatus("dc1", bus.SourceInfo{Active: time.Second})
	again := removed.Clone()
	again.Version, again.RemoteDCs = 4, []string{"dc1"}
	r.Follow(again)
	r.Reconcile(again, []string{"ks"})
	require.Equal(t, never, r.Watermark(ctx), "a re-added DC's mark starts from nothing")
	require.Eventually(t, func() bool { return d.pending(t) == 0 && d.value(t, "ks-k004") == "v4" },
		10*time.Second, 5*time.Millisecond)
}

// TestUnmanagedTopologyKeepsTheConfiguredDCs: until the master manages the
// list, the configured remote DCs are applied whatever the topology says.
func TestUnmanagedTopologyKeepsTheConfiguredDCs(t *testing.T) {
	d := startFakeDC(t, true)
	require.Equal(t, []string{"dc1"}, d.r.RemoteDCs())
	top := d.top.Clone()
	top.Version = 2
	d.r.Reconcile(top, []string{"ks"})
	require.Equal(t, []string{"dc1"}, d.r.RemoteDCs())
	require.True(t, d.bus.HasConsumer(fakeSrc, Durable("t1", "dc1", "ks")))
	// Managed with another list: dc1 goes, dc3 comes.
	top = top.Clone()
	top.Version, top.RemoteDCs, top.RemoteDCsManaged = 3, []string{"dc3"}, true
	d.r.Reconcile(top, []string{"ks"})
	require.Equal(t, []string{"dc3"}, d.r.RemoteDCs())
	require.False(t, d.bus.HasConsumer(fakeSrc, Durable("t1", "dc1", "ks")))
	require.True(t, d.bus.HasConsumer("VASTO_SRC_dc3", Durable("t1", "dc3", "ks")), fmt.Sprint(d.r.RemoteDCs()))
}
