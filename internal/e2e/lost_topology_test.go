package e2e

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/vasto-kv/vasto/bus"
	"github.com/vasto-kv/vasto/client"
	"github.com/vasto-kv/vasto/internal/devcluster"
	"github.com/vasto-kv/vasto/store"
	"github.com/vasto-kv/vasto/topology"
)

// A DC whose NATS data directory is lost (disk replaced) while its stores
// keep theirs: the topology is gone, the data is not. Nothing may be
// deleted because of it, and the keyspaces come back with their
// incarnation and every acknowledged write.

// lostDC is a DC run in a directory that survives restarts of the DC.
type lostDC struct {
	t   *testing.T
	cfg devcluster.Config
	c   *devcluster.Cluster
	cl  *client.Client
}

func newLostDC(t *testing.T, stores int, cb func(*devcluster.Config)) *lostDC {
	cfg := devcluster.DefaultConfig(t.TempDir())
	cfg.Stores = stores
	cfg.Logger = testLogger(t)
	if cb != nil {
		cb(&cfg)
	}
	d := &lostDC{t: t, cfg: cfg}
	d.start()
	t.Cleanup(d.stop)
	return d
}

func (d *lostDC) start() {
	d.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c, err := devcluster.Start(ctx, d.cfg)
	require.NoError(d.t, err)
	d.c = c
	require.NoError(d.t, c.WaitReady(ctx))
	ccfg := client.DefaultConfig(c.NATSURL(), c.DC())
	ccfg.Logger = testLogger(d.t)
	cl, err := client.New(ctx, ccfg)
	require.NoError(d.t, err)
	d.cl = cl
}

// stop stops the whole DC cleanly (idempotent).
func (d *lostDC) stop() {
	if d.cl != nil {
		d.cl.Close()
		d.cl = nil
	}
	if d.c != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		require.NoError(d.t, d.c.Shutdown(ctx))
		d.c = nil
	}
}

// loseNATSData stops the DC, wipes NATS's data directory (streams, the
// topology bucket) and starts the DC again: NATS, master and stores, the
// stores with their data intact.
func (d *lostDC) loseNATSData() {
	d.t.Helper()
	d.stop()
	natsDir := filepath.Join(d.cfg.Dir, "nats")
	_, err := os.Stat(natsDir)
	require.NoError(d.t, err, "the NATS data directory the test wipes")
	require.NoError(d.t, os.RemoveAll(natsDir))
	d.start()
}

// loadAndLose creates and deletes a keyspace "earlier" (so the next
// keyspace's epoch is not the first version a new topology would reach),
// writes n keys to a keyspace "users" of shards x replicas, waits until
// every replica has them, then loses NATS's data. It returns "users" as it
// was and the acknowledged writes.
func (d *lostDC) loadAndLose(shards, replicas, n int) (*topology.Keyspace, map[string]string) {
	t := d.t
	createKeyspace(t, d.c, d.cl, "earlier", 1, 1)
	require.NoError(t, d.cl.DeleteKeyspace(ctxT(t), "earlier"))
	createKeyspace(t, d.c, d.cl, "users", shards, replicas)
	before := d.cl.Topology().Keyspaces["users"]
	acked := writeKeys(t, d.cl, "users", n)
	waitReplicated(t, d.c, before, len(acked))
	d.loseNATSData()
	return before, acked
}

// writeKeys writes n keys to ks and returns the acknowledged ones.
func writeKeys(t *testing.T, cl *client.Client, ks string, n int) map[string]string {
	t.Helper()
	acked := map[string]string{}
	for i := 0; i < n; i++ {
		k, v := fmt.Sprintf("key%05d", i), fmt.Sprintf("value%d", i)
		_, err := cl.Put(ctxT(t), ks, []byte(k), []byte(v))
		require.NoError(t, err)
		acked[k] = v
	}
	return acked
}

// waitReplicated waits until every replica of ks holds every key it owns.
func waitReplicated(t *testing.T, c *devcluster.Cluster, ks *topology.Keyspace, n int) {
	t.Helper()
	require.Eventually(t, func() bool {
		total := 0
		for i := range c.Stores() {
			total += max(countKeys(t, c, i, ks.Name), 0)
		}
		return total == n*ks.Replicas
	}, 30*time.Second, 50*time.Millisecond)
}

func requireAllReadable(t *testing.T, cl *client.Client, ks string, acked map[string]string) {
	t.Helper()
	for k, v := range acked {
		it, err := cl.Get(ctxT(t), ks, []byte(k))
		require.NoError(t, err, "acknowledged write %s lost", k)
		require.Equal(t, v, string(it.Value), k)
	}
}

func TestLostNATSDataRecoversKeyspaces(t *testing.T) {
	d := newLostDC(t, 3, nil)
	before, acked := d.loadAndLose(3, 2, 2000)

	// The master rebuilds the keyspace from what the stores hold.
	require.NoError(t, d.cl.WaitForKeyspace(ctxT(t), "users"))
	after := d.cl.Topology().Keyspaces["users"]
	require.Equal(t, before.Epoch, after.Epoch, "the keyspace keeps its incarnation")
	require.Equal(t, before.Shards, after.Shards)
	require.Equal(t, before.Replicas, after.Replicas)
	for i := range before.Placement {
		require.ElementsMatch(t, before.Placement[i], after.Placement[i], "shard %d stays where it was", i)
	}
	require.NotContains(t, d.cl.Topology().Keyspaces, "earlier", "a deleted keyspace is not recovered")
	waitServing(t, d.cl, "users")
	requireAllReadable(t, d.cl, "users", acked)
	waitReplicated(t, d.c, after, len(acked))

	// The DC takes writes again, and a new keyspace gets an incarnation no
	// store holds data of.
	_, err := d.cl.Put(ctxT(t), "users", []byte("after"), []byte("recovery"))
	require.NoError(t, err)
	createKeyspace(t, d.c, d.cl, "fresh", 1, 1)
	require.Greater(t, d.cl.Topology().Keyspaces["fresh"].Epoch, before.Epoch)
}

func TestLostNATSDataWithoutAutoRecoveryKeepsAndReportsShards(t *testing.T) {
	d := newLostDC(t, 2, func(c *devcluster.Config) { c.AutoRecoverAfter = -1 })
	before, acked := d.loadAndLose(2, 2, 300)

	// Every store reports what it holds; nothing is deleted.
	want := []string{fmt.Sprintf("users/0@%d", before.Epoch), fmt.Sprintf("users/1@%d", before.Epoch)}
	require.Eventually(t, func() bool {
		stores, err := d.cl.ListStores(ctxT(t))
		if err != nil || len(stores) != 2 {
			return false
		}
		for _, s := range stores {
			if fmt.Sprint(s.Unplaced) != fmt.Sprint(want) {
				return false
			}
		}
		return true
	}, 20*time.Second, 50*time.Millisecond)
	for i := range d.c.Stores() {
		require.Equal(t, len(acked), countKeys(t, d.c, i, "users"), "store %d keeps the shards", i)
	}
	_, err := d.cl.Get(ctxT(t), "users", []byte("key00001"))
	require.ErrorIs(t, err, client.ErrUnknownKeyspace)

	// Creating the name again would make a new incarnation next to the
	// data: refused, with the way out.
	err = d.cl.CreateKeyspace(ctxT(t), "users", 2, 2)
	require.ErrorIs(t, err, client.ErrKeyspaceExists)
	require.Contains(t, err.Error(), "vasto keyspace recover users")

	dry, err := d.cl.RecoverKeyspaces(ctxT(t), nil, true)
	require.NoError(t, err)
	require.Len(t, dry.Recovered, 1)
	_, ok := d.cl.Topology().Keyspaces["users"]
	require.False(t, ok, "a dry run recovers nothing")

	r, err := d.cl.RecoverKeyspaces(ctxT(t), []string{"users"}, false)
	require.NoError(t, err)
	require.Len(t, r.Recovered, 1)
	require.Equal(t, before.Epoch, d.cl.Topology().Keyspaces["users"].Epoch)
	waitServing(t, d.cl, "users")
	requireAllReadable(t, d.cl, "users", acked)

	// The stores still hold the shards after a restart of the whole DC on
	// the recovered topology.
	d.stop()
	d.start()
	waitServing(t, d.cl, "users")
	requireAllReadable(t, d.cl, "users", acked)
}

// A topology that does not know a keyspace, or names another incarnation
// of it, never makes a store delete the shard: it keeps it (reported in
// INFO) or sets it aside.
func TestForeignTopologyNeverDeletesShards(t *testing.T) {
	c := startCluster(t, 2, func(cfg *devcluster.Config) { cfg.AutoRecoverAfter = -1 })
	cl := newClient(t, c)
	createKeyspace(t, c, cl, "users", 1, 2)
	ks := cl.Topology().Keyspaces["users"]
	acked := writeKeys(t, cl, "users", 200)
	waitReplicated(t, c, ks, len(acked))
	require.NoError(t, c.StopMaster(ctxT(t)))

	conn, err := bus.Connect(ctxT(t), bus.ConnConfig{URL: c.NATSURL(), Name: "forger"})
	require.NoError(t, err)
	t.Cleanup(conn.Close)
	publish := func(mut func(*topology.Topology)) uint64 {
		doc, rev, err := conn.GetTopology(ctxT(t), c.DC())
		require.NoError(t, err)
		top, err := topology.Decode(doc)
		require.NoError(t, err)
		mut(top)
		top.Version++
		doc, err = top.Encode()
		require.NoError(t, err)
		_, err = conn.PutTopology(ctxT(t), c.DC(), doc, rev)
		require.NoError(t, err)
		return top.Version
	}
	followed := func(v uint64) {
		require.Eventually(t, func() bool { return cl.Topology().Version >= v }, 10*time.Second, 20*time.Millisecond)
	}

	// 1. A rebuilt topology that does not know the keyspace.
	followed(publish(func(top *topology.Topology) {
		top.ID = "rebuilt1"
		delete(top.Keyspaces, "users")
	}))
	for i := range c.Stores() {
		require.Eventually(t, func() bool {
			return c.Engine(i).Unplaced()[store.ShardID{Keyspace: "users"}] != ""
		}, 10*time.Second, 20*time.Millisecond)
		require.Equal(t, len(acked), countKeys(t, c, i, "users"), "store %d keeps the shard", i)
	}

	// 2. Then one that places another incarnation of the name without
	// recording the held one as deleted.
	followed(publish(func(top *topology.Topology) {
		other := *ks
		other.Epoch = ks.Epoch + 1_000_000
		top.Keyspaces["users"] = &other
	}))
	for i := range c.Stores() {
		require.Eventually(t, func() bool {
			return len(c.Engine(i).AsideShards()) == 1 && countKeys(t, c, i, "users") == 0
		}, 10*time.Second, 20*time.Millisecond, "store %d sets the old shard aside", i)
		aside := filepath.Join(c.Stores()[i].Dir, ".aside", c.Engine(i).AsideShards()[0])
		_, err := os.Stat(filepath.Join(aside, "CURRENT"))
		require.NoError(t, err, "the set-aside shard keeps its RocksDB files")
	}

	// 3. Recording that incarnation deleted is what drops a shard.
	followed(publish(func(top *topology.Topology) {
		delete(top.Keyspaces, "users")
		top.RecordDeleted("users", top.Version+1, ks.Epoch+1_000_000)
	}))
	for i := range c.Stores() {
		require.Eventually(t, func() bool { return len(c.Engine(i).Shards()) == 0 },
			10*time.Second, 20*time.Millisecond, "store %d drops the deleted incarnation", i)
	}
}
