package e2e

import (
	"os"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"

	"github.com/vasto-kv/vasto/client"
)

// TestAckPublishedSurvivesLostDisk: writes acknowledged at level published
// survive the accepting store's kill -9 with its data directory deleted
// right after the burst: each is in the DC's change log, from which the
// other replica applies it.
func TestAckPublishedSurvivesLostDisk(t *testing.T) {
	c := startCluster(t, 2, nil)
	cl := newClient(t, c)
	child := startChildStore(t, c, cl, "child")
	createKeyspace(t, c, cl, "pub", 3, 2)
	ctx := ctxT(t)
	top := cl.Topology()
	ks := top.Keyspaces["pub"]
	var onChild int
	const n = 600
	for i := range n {
		r, err := cl.Put(ctx, "pub", []byte(keyN(i)), []byte(valN(i)), client.WithAck(client.AckPublished))
		require.NoError(t, err)
		require.Equal(t, client.AckPublished, r.Ack)
		if r.Store == "child" {
			onChild++
		}
	}
	require.Positive(t, onChild, "the child accepted some writes (it is the preferred replica of a shard of %v)", ks)
	child.kill()
	require.NoError(t, os.RemoveAll(child.dir))

	require.Eventually(t, func() bool {
		for i := range n {
			got, err := cl.Get(ctx, "pub", []byte(keyN(i)))
			if err != nil || string(got.Value) != valN(i) {
				return false
			}
		}
		return true
	}, 30*time.Second, 100*time.Millisecond, "every write acknowledged as published is readable without the store that accepted it")
}

// TestAckReplicatedIsOnAnotherReplica: a write acknowledged at level
// replicated is, at that moment, in the other replica's engine; and a
// keyspace created with the default level replicated gives it to writes
// that ask for none.
func TestAckReplicatedIsOnAnotherReplica(t *testing.T) {
	c := startCluster(t, 2, nil)
	cl := newClient(t, c)
	ctx := ctxT(t)
	require.NoError(t, cl.CreateKeyspace(ctx, "rep", 1, 2, client.WithDefaultAck(client.AckReplicated)))
	require.NoError(t, cl.WaitForKeyspace(ctx, "rep"))
	waitServing(t, cl, "rep")
	for i := range 50 {
		r, err := cl.Put(ctx, "rep", []byte(keyN(i)), []byte(valN(i)))
		require.NoError(t, err)
		require.Equal(t, client.AckReplicated, r.Ack)
		other := 0
		if r.Store == c.Stores()[0].ID {
			other = 1
		}
		sh, err := c.Engine(other).Shard("rep", 0)
		require.NoError(t, err)
		rec, err := sh.Get([]byte(keyN(i)))
		require.NoError(t, err, "write %d acknowledged replicated is not on %s", i, c.Stores()[other].ID)
		require.Equal(t, valN(i), string(rec.Value))
	}
}

// TestWaitCountsReplicas: Redis's WAIT numreplicas timeout on a store
// connection that wrote answers how many other replicas applied the writes:
// 1 for a keyspace of 2 replicas, and the value is then in the other
// replica's engine; asking for more replicas than the shard has answers 1
// once the timeout passes.
func TestWaitCountsReplicas(t *testing.T) {
	c := startCluster(t, 2, nil)
	cl := newClient(t, c)
	ctx := ctxT(t)
	createKeyspace(t, c, cl, "w", 1, 2)
	top := cl.Topology()
	acceptor := top.Keyspaces["w"].Placement[0][0]
	other := 0
	if c.Stores()[0].ID == acceptor {
		other = 1
	}
	rc := redis.NewClient(&redis.Options{Addr: top.Stores[acceptor].Addr, Protocol: 2, DisableIdentity: true})
	t.Cleanup(func() { _ = rc.Close() })
	conn := rc.Conn()
	t.Cleanup(func() { _ = conn.Close() })
	require.NoError(t, conn.Do(ctx, "VUSE", "w", "0").Err())
	for i := range 20 {
		require.NoError(t, conn.Do(ctx, "SET", keyN(i), valN(i)).Err())
		n, err := conn.Do(ctx, "WAIT", "1", "10000").Int64()
		require.NoError(t, err)
		require.EqualValues(t, 1, n)
		sh, err := c.Engine(other).Shard("w", 0)
		require.NoError(t, err)
		rec, err := sh.Get([]byte(keyN(i)))
		require.NoError(t, err, "write %d answered by WAIT is not on %s", i, c.Stores()[other].ID)
		require.Equal(t, valN(i), string(rec.Value))
	}
	n, err := conn.Do(ctx, "WAIT", "2", "200").Int64()
	require.NoError(t, err)
	require.EqualValues(t, 1, n, "the shard has one other replica")
}
