package e2e

import (
	"context"
	"fmt"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/stretchr/testify/require"

	"github.com/vasto-kv/vasto/bus"
	"github.com/vasto-kv/vasto/bus/embedded"
	"github.com/vasto-kv/vasto/client"
	"github.com/vasto-kv/vasto/internal/devcluster"
	"github.com/vasto-kv/vasto/topology"
)

// A DC's NATS tier is a 3-server cluster. Every server is lost at once with
// its data (the streams, the consumers, the topology bucket), and comes back
// empty on the same ports, while the stores (and, in one variant, the
// master) keep running: every acknowledged write stays readable, the
// topology comes back as it was, and the DC takes writes again.

func TestNATSClusterWipeMasterKeepsRunning(t *testing.T) {
	wipeNATSCluster(t, false)
}

func TestNATSClusterWipeMasterRestarted(t *testing.T) {
	wipeNATSCluster(t, true)
}

func wipeNATSCluster(t *testing.T, restartMaster bool) {
	servers := startNATSChildren(t, "dc1", 3)
	c := startCluster(t, 3, func(cfg *devcluster.Config) {
		cfg.ExternalNATS = natsChildURLs(servers)
		cfg.Stream = bus.StreamConfig{Replicas: 3}
	})
	cl := newClient(t, c)
	createKeyspace(t, c, cl, "wipe", 3, 2)
	before := cl.Topology().Keyspaces["wipe"]

	// Writes acknowledged once another replica applied them: each is on
	// two stores' disks when the NATS data goes.
	acked := map[string]string{}
	for i := 0; i < 300; i++ {
		k, v := fmt.Sprintf("old%04d", i), fmt.Sprintf("v%d", i)
		_, err := cl.Put(ctxT(t), "wipe", []byte(k), []byte(v), client.WithAck(client.AckReplicated))
		require.NoError(t, err)
		acked[k] = v
	}

	// Then a burst acknowledged from the stores' WALs only, and NATS lost
	// at once: some of it is still in outboxes, some in the stream and not
	// yet applied by the other replica (it must copy its peer then).
	var (
		mu sync.Mutex
		wg sync.WaitGroup
	)
	for w := 0; w < 4; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 250; i++ {
				k, v := fmt.Sprintf("burst%d-%04d", w, i), fmt.Sprintf("v%d", i)
				_, err := cl.Put(ctxT(t), "wipe", []byte(k), []byte(v))
				if err != nil {
					continue
				}
				mu.Lock()
				acked[k] = v
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	for _, s := range servers {
		s.kill()
		require.NoError(t, os.RemoveAll(s.dir))
	}
	if restartMaster {
		sctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		require.NoError(t, c.StopMaster(sctx))
		cancel()
	}
	lost := time.Now()
	restartNATSChildren(servers)
	back := time.Now()
	t.Logf("NATS cluster down and wiped for %s", back.Sub(lost).Round(time.Millisecond))
	if restartMaster {
		require.NoError(t, c.StartMaster(ctxT(t)))
	}

	// The topology is back in NATS with the keyspace as it was.
	conn, err := bus.Connect(ctxT(t), bus.ConnConfig{URL: c.NATSURL(), Name: t.Name(), Logger: embedded.TestLogger(t, hclog.Warn)})
	require.NoError(t, err)
	t.Cleanup(conn.Close)
	var after *topology.Keyspace
	require.Eventually(t, func() bool {
		ctx, cancel := context.WithTimeout(ctxT(t), 2*time.Second)
		defer cancel()
		doc, _, err := conn.GetTopology(ctx, c.DC())
		if err != nil {
			return false
		}
		top, err := topology.Decode(doc)
		if err != nil {
			return false
		}
		after = top.Keyspaces["wipe"]
		return after != nil
	}, 60*time.Second, 100*time.Millisecond, "the topology is published again")
	t.Logf("topology published again %s after NATS came back", time.Since(back).Round(time.Millisecond))
	require.Equal(t, before.Epoch, after.Epoch, "the keyspace keeps its incarnation")
	for i := range before.Placement {
		require.ElementsMatch(t, before.Placement[i], after.Placement[i], "shard %d stays where it was", i)
	}
	// Every replica ends with every write (the client reads any replica).
	requireConverged(t, c, "wipe", 30*time.Second)
	requireReadable(t, cl, "wipe", acked, "every acknowledged write is readable after the NATS data is lost")

	// New writes are acknowledged at every level once the stores created
	// the change log again.
	require.Eventually(t, func() bool {
		ctx, cancel := context.WithTimeout(ctxT(t), 3*time.Second)
		defer cancel()
		_, err := cl.Put(ctx, "wipe", []byte("first-after"), []byte("x"), client.WithAck(client.AckReplicated))
		return err == nil
	}, 60*time.Second, 100*time.Millisecond, "a replicated write is acknowledged after the wipe")
	t.Logf("first replicated write acknowledged %s after NATS came back", time.Since(back).Round(time.Millisecond))
	acked["first-after"] = "x"
	for i := 0; i < 100; i++ {
		k, v := fmt.Sprintf("new%04d", i), fmt.Sprintf("v%d", i)
		_, err := cl.Put(ctxT(t), "wipe", []byte(k), []byte(v), client.WithAck(client.AckReplicated))
		require.NoError(t, err)
		acked[k] = v
	}
	stream, _ := bus.ChangeStream(c.DC())
	st, err := conn.StreamState(ctxT(t), stream)
	require.NoError(t, err)
	require.True(t, st.Exists)
	require.Equal(t, 3, st.Replicas, "the change log is created again with its replicas")
	requireReadable(t, cl, "wipe", acked, "every acknowledged write is readable")
	requireConverged(t, c, "wipe", 30*time.Second)
	t.Logf("every replica converged %s after NATS came back", time.Since(back).Round(time.Millisecond))
}
