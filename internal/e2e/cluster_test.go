package e2e

import (
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/vasto-kv/vasto/client"
	"github.com/vasto-kv/vasto/internal/devcluster"
)

func TestPutGetScanDeleteThroughClient(t *testing.T) {
	c := startCluster(t, 3, nil)
	cl := newClient(t, c)
	createKeyspace(t, c, cl, "users", 3, 2)
	ctx := ctxT(t)

	var want []string
	for i := 0; i < 60; i++ {
		k := fmt.Sprintf("user:%03d", i)
		r, err := cl.Put(ctx, "users", []byte(k), []byte("v-"+k))
		require.NoError(t, err)
		require.True(t, r.Applied)
		want = append(want, k)
	}
	it, err := cl.Get(ctx, "users", []byte("user:007"))
	require.NoError(t, err)
	require.Equal(t, "v-user:007", string(it.Value))
	require.Equal(t, c.DC(), it.Version.DC)

	items, err := cl.Scan(ctx, "users", client.ScanOptions{Prefix: []byte("user:"), Limit: 1000})
	require.NoError(t, err)
	var got []string
	for _, it := range items {
		got = append(got, string(it.Key))
	}
	require.Equal(t, want, got, "scan merges the shards in key order")

	items, err = cl.Scan(ctx, "users", client.ScanOptions{Start: []byte("user:010"), End: []byte("user:015"), Limit: 3})
	require.NoError(t, err)
	require.Len(t, items, 3)
	require.Equal(t, "user:010", string(items[0].Key))

	_, err = cl.Delete(ctx, "users", []byte("user:007"))
	require.NoError(t, err)
	_, err = cl.Get(ctx, "users", []byte("user:007"))
	require.ErrorIs(t, err, client.ErrNotFound)

	// An older write is acknowledged as not applied, with the winner.
	now := time.Now().UnixNano()
	_, err = cl.Put(ctx, "users", []byte("lww"), []byte("new"), client.WithEventTime(now))
	require.NoError(t, err)
	r, err := cl.Put(ctx, "users", []byte("lww"), []byte("old"), client.WithEventTime(now-1000))
	require.NoError(t, err)
	require.False(t, r.Applied)
	require.Equal(t, now, r.Version.Time)

	// Batches.
	kvs := []client.KV{{Key: []byte("b1"), Value: []byte("1")}, {Key: []byte("b2"), Value: []byte("2")}, {Key: []byte("b3"), Value: []byte("3")}}
	res, err := cl.BatchPut(ctx, "users", kvs)
	require.NoError(t, err)
	require.Len(t, res, 3)
	got2, err := cl.BatchGet(ctx, "users", [][]byte{[]byte("b1"), []byte("nope"), []byte("b3")})
	require.NoError(t, err)
	require.Equal(t, "1", string(got2[0].Value))
	require.Nil(t, got2[1])
	require.Equal(t, "3", string(got2[2].Value))
}

func TestReplicasConverge(t *testing.T) {
	c := startCluster(t, 3, nil)
	cl := newClient(t, c)
	createKeyspace(t, c, cl, "conv", 2, 3)
	ctx := ctxT(t)
	for i := 0; i < 200; i++ {
		_, err := cl.Put(ctx, "conv", []byte(fmt.Sprintf("k%03d", i)), []byte(fmt.Sprintf("v%d", i)))
		require.NoError(t, err)
	}
	// Every store holds every key of both shards (R = 3 on 3 stores).
	require.Eventually(t, func() bool {
		for i := range c.Stores() {
			if countKeys(t, c, i, "conv") != 200 {
				return false
			}
		}
		return true
	}, 20*time.Second, 50*time.Millisecond)
}

// countKeys counts the live keys of a keyspace held by store i.
func countKeys(t *testing.T, c *devcluster.Cluster, i int, ks string) int {
	e := c.Engine(i)
	if e == nil {
		return -1
	}
	n := 0
	for _, id := range e.Shards() {
		if id.Keyspace != ks {
			continue
		}
		sh, err := e.Shard(id.Keyspace, id.Shard)
		if err != nil {
			return -1
		}
		res, err := sh.Scan(scanAll())
		if err != nil {
			return -1
		}
		n += len(res.Items)
	}
	return n
}

func TestLateClientGetsTopologyAtOnce(t *testing.T) {
	c := startCluster(t, 2, nil)
	cl := newClient(t, c)
	createKeyspace(t, c, cl, "late", 2, 2)
	late := newClient(t, c)
	require.NotNil(t, late.Topology())
	_, ok := late.Topology().Keyspaces["late"]
	require.True(t, ok, "a client that joins late has the current topology as soon as New returns")
}

func TestBadNamesAndUnknownKeyspaces(t *testing.T) {
	c := startCluster(t, 1, nil)
	cl := newClient(t, c)
	ctx := ctxT(t)
	for _, bad := range []string{"a.b", "x*", "y>", "has space", "$JS", ""} {
		require.ErrorIs(t, cl.CreateKeyspace(ctx, bad, 1, 1), client.ErrBadName, "name %q", bad)
		_, err := cl.Put(ctx, bad, []byte("k"), []byte("v"))
		require.ErrorIs(t, err, client.ErrBadName, "name %q", bad)
	}
	_, err := cl.Put(ctx, "nope", []byte("k"), []byte("v"))
	require.ErrorIs(t, err, client.ErrUnknownKeyspace)
	_, err = cl.Get(ctx, "nope", []byte("k"))
	require.ErrorIs(t, err, client.ErrUnknownKeyspace)
	require.ErrorIs(t, cl.CreateKeyspace(ctx, "two", 1, 2), client.ErrNotEnoughStores)
	require.ErrorIs(t, cl.DeleteKeyspace(ctx, "nope"), client.ErrUnknownKeyspace)
	createKeyspace(t, c, cl, "taken", 1, 1)
	require.ErrorIs(t, cl.CreateKeyspace(ctx, "taken", 1, 1), client.ErrKeyspaceExists)
}

// TestStoreDownWritesGoOnAndItCatchesUp stops a store while clients write,
// checks every acknowledged write is readable from the other replicas, then
// restarts it and checks it caught up.
func TestStoreDownWritesGoOnAndItCatchesUp(t *testing.T) {
	c := startCluster(t, 3, nil)
	cl := newClient(t, c)
	createKeyspace(t, c, cl, "ha", 3, 2)
	ctx := ctxT(t)

	acked := runWriters(t, cl, "ha", 4, func() {
		require.NoError(t, c.StopStore(ctx, 0))
	})
	require.NotEmpty(t, acked)
	for k, v := range acked {
		it, err := cl.Get(ctx, "ha", []byte(k))
		require.NoError(t, err, "acknowledged key %s lost while a store is down", k)
		require.Equal(t, v, string(it.Value))
	}

	require.NoError(t, c.StartStore(ctx, 0))
	waitServing(t, cl, "ha")
	// The restarted store holds every acknowledged key of its shards.
	e := c.Engine(0)
	top := cl.Topology()
	ks := top.Keyspaces["ha"]
	require.Eventually(t, func() bool {
		for k, v := range acked {
			shard := shardOf(k, ks.Shards)
			if !slices.Contains(ks.Placement[shard], "store1") {
				continue
			}
			sh, err := e.Shard("ha", shard)
			if err != nil {
				return false
			}
			got, err := sh.Get([]byte(k))
			if err != nil || string(got.Value) != v {
				return false
			}
		}
		return true
	}, 20*time.Second, 50*time.Millisecond)
}

// TestMasterRestartDuringTraffic stops the master while clients write and
// read: traffic goes on; a new master keeps the topology and its version.
func TestMasterRestartDuringTraffic(t *testing.T) {
	c := startCluster(t, 2, nil)
	cl := newClient(t, c)
	createKeyspace(t, c, cl, "m", 2, 2)
	ctx := ctxT(t)
	before := cl.Topology().Version
	acked := runWriters(t, cl, "m", 3, func() {
		require.NoError(t, c.StopMaster(ctx))
	})
	for k, v := range acked {
		it, err := cl.Get(ctx, "m", []byte(k))
		require.NoError(t, err)
		require.Equal(t, v, string(it.Value))
	}
	require.NoError(t, c.StartMaster(ctx))
	require.GreaterOrEqual(t, c.Master().Topology().Version, before, "no topology regression")
	createKeyspace(t, c, cl, "after", 1, 2)
	require.Greater(t, cl.Topology().Version, before)
	_, ok := cl.Topology().Keyspaces["m"]
	require.True(t, ok)
}

// runWriters runs writers that each put their own keys until disrupt has run
// and another 100 writes each have been acknowledged; it returns every
// acknowledged key and value. Writes that fail are indeterminate and not
// counted.
func runWriters(t *testing.T, cl *client.Client, ks string, n int, disrupt func()) map[string]string {
	t.Helper()
	var mu sync.Mutex
	acked := map[string]string{}
	var disrupted atomic.Bool
	var after atomic.Int64
	var wg sync.WaitGroup
	ctx := ctxT(t)
	for w := 0; w < n; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ctx.Err() == nil; i++ {
				k, v := fmt.Sprintf("w%d-%05d", w, i), fmt.Sprintf("v%d", i)
				if _, err := cl.Put(ctx, ks, []byte(k), []byte(v)); err != nil {
					continue
				}
				mu.Lock()
				acked[k] = v
				mu.Unlock()
				if disrupted.Load() && after.Add(1) >= int64(100*n) {
					return
				}
				if i == 50 && w == 0 {
					disrupt()
					disrupted.Store(true)
				}
			}
		}()
	}
	wg.Wait()
	require.True(t, disrupted.Load())
	return acked
}

// TestDeleteAndRecreateKeyspace deletes a keyspace and creates it again at
// once: no acknowledged write to the new keyspace is lost, and nothing of
// the old one comes back.
func TestDeleteAndRecreateKeyspace(t *testing.T) {
	c := startCluster(t, 2, nil)
	cl := newClient(t, c)
	createKeyspace(t, c, cl, "re", 2, 2)
	ctx := ctxT(t)
	for i := 0; i < 30; i++ {
		_, err := cl.Put(ctx, "re", []byte(fmt.Sprintf("old%d", i)), []byte("old"))
		require.NoError(t, err)
	}
	require.NoError(t, cl.DeleteKeyspace(ctx, "re"))
	require.NoError(t, cl.CreateKeyspace(ctx, "re", 2, 2))
	acked := map[string]string{} // key -> read-your-writes token
	for i := 0; i < 30; i++ {
		k := fmt.Sprintf("new%d", i)
		if r, err := cl.Put(ctx, "re", []byte(k), []byte("new")); err == nil {
			acked[k] = r.Token()
		}
	}
	require.NotEmpty(t, acked)
	waitServing(t, cl, "re")
	for k, tok := range acked {
		// Replicas converge asynchronously: read with the write's token so
		// whichever replica answers has applied it.
		it, err := cl.Get(ctx, "re", []byte(k), client.WithAfter(tok, 10*time.Second))
		require.NoError(t, err, "acknowledged write %s to the new keyspace lost", k)
		require.Equal(t, "new", string(it.Value))
	}
	// Every replica converges on the new incarnation only.
	require.Eventually(t, func() bool {
		for i := range c.Stores() {
			if n := countKeys(t, c, i, "re"); n != len(acked) {
				t.Logf("store %d holds %d keys, want %d", i, n, len(acked))
				return false
			}
		}
		return true
	}, 20*time.Second, 500*time.Millisecond)
	_, err := cl.Get(ctx, "re", []byte("old1"))
	require.ErrorIs(t, err, client.ErrNotFound)
}
