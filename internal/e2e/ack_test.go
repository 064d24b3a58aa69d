package e2e

import (
	"os"
	"testing"
	"time"

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
