package e2e

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/vasto-kv/vasto/chaos"
	"github.com/vasto-kv/vasto/client"
	"github.com/vasto-kv/vasto/internal/devcluster"
)

// startLinkedDCs starts dc1 and dc2 whose leafnode link goes through a
// proxy the test can cut; opts may adjust the configuration.
func startLinkedDCs(t *testing.T, grace time.Duration, opts ...func(*devcluster.Config)) ([]*devcluster.Cluster, *chaos.Proxy) {
	t.Helper()
	var proxy *chaos.Proxy
	cfg := devcluster.DefaultConfig(t.TempDir())
	cfg.Stores = 1
	cfg.Logger = testLogger(t)
	cfg.TombstoneGrace = grace
	for _, o := range opts {
		o(&cfg)
	}
	cfg.LinkVia = func(leafURL string) string {
		proxy = chaos.NewProxy(trimScheme(leafURL))
		require.NoError(t, proxy.Start(context.Background(), "127.0.0.1:0"))
		return "nats-leaf://" + proxy.Addr()
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cs, err := devcluster.StartMulti(ctx, cfg, []string{"dc1", "dc2"})
	require.NoError(t, err)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		require.NoError(t, devcluster.ShutdownAll(ctx, cs))
		proxy.Shutdown()
	})
	for _, c := range cs {
		require.NoError(t, c.WaitReady(ctx))
	}
	return cs, proxy
}

func trimScheme(u string) string {
	for i := 0; i+2 < len(u); i++ {
		if u[i:i+3] == "://" {
			return u[i+3:]
		}
	}
	return u
}

// TestPartitionLongerThanGraceKeepsDeletes cuts the link between two DCs,
// deletes a key in dc1 while dc2 writes it with an earlier event time,
// waits past the tombstone grace period and compacts, then heals: the key
// must end deleted in both DCs (the tombstone was not purged while dc2
// could still send older writes). Meanwhile each DC keeps serving alone.
func TestPartitionLongerThanGraceKeepsDeletes(t *testing.T) {
	cs, proxy := startLinkedDCs(t, 300*time.Millisecond)
	c1, c2 := newClient(t, cs[0]), newClient(t, cs[1])
	createKeyspace(t, cs[0], c1, "p", 1, 1)
	createKeyspace(t, cs[1], c2, "p", 1, 1)
	ctx := ctxT(t)

	_, err := c1.Put(ctx, "p", []byte("k"), []byte("v0"))
	require.NoError(t, err)
	require.Eventually(t, func() bool {
		_, err := c2.Get(ctx, "p", []byte("k"))
		return err == nil
	}, 30*time.Second, 50*time.Millisecond)

	proxy.Cut()
	del, err := c1.Delete(ctx, "p", []byte("k"))
	require.NoError(t, err)
	// A concurrent write in dc2 that loses to the delete under LWW.
	_, err = c2.Put(ctx, "p", []byte("k"), []byte("late"), client.WithEventTime(del.Version.Time-int64(time.Millisecond)))
	require.NoError(t, err)
	// Each DC keeps serving on its own.
	_, err = c1.Put(ctx, "p", []byte("only-dc1"), []byte("1"))
	require.NoError(t, err)
	_, err = c2.Put(ctx, "p", []byte("only-dc2"), []byte("2"))
	require.NoError(t, err)
	it, err := c2.Get(ctx, "p", []byte("k"))
	require.NoError(t, err)
	require.Equal(t, "late", string(it.Value))

	// Past the grace period a compaction must still keep dc1's tombstone.
	grace := time.Now().Add(time.Second)
	require.Eventually(t, func() bool { return time.Now().After(grace) }, 5*time.Second, 50*time.Millisecond)
	sh, err := cs[0].Engine(0).Shard("p", 0)
	require.NoError(t, err)
	require.NoError(t, sh.Compact())
	rec, ok, err := sh.GetRecord([]byte("k"))
	require.NoError(t, err)
	require.True(t, ok, "the tombstone survives compaction while dc2 is cut off")
	require.True(t, rec.IsTombstone())

	proxy.Restore()
	for _, cl := range []*client.Client{c1, c2} {
		require.Eventually(t, func() bool {
			_, errK := cl.Get(ctx, "p", []byte("k"))
			_, err1 := cl.Get(ctx, "p", []byte("only-dc1"))
			_, err2 := cl.Get(ctx, "p", []byte("only-dc2"))
			return errK != nil && err1 == nil && err2 == nil
		}, 90*time.Second, 100*time.Millisecond, "both DCs converge after the link returns, the key deleted")
	}
}
