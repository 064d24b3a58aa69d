package e2e

import (
	"context"
	"net/url"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/vasto-kv/vasto/bus"
	"github.com/vasto-kv/vasto/chaos"
	"github.com/vasto-kv/vasto/internal/devcluster"
	"github.com/vasto-kv/vasto/topology"
)

// A master cut off from NATS hears no heartbeat; when it is back it must not
// take its own isolation for every store dying.
func TestMasterNATSOutageMarksNoStoreDown(t *testing.T) {
	var proxy *chaos.Proxy
	c := startCluster(t, 2, func(cfg *devcluster.Config) {
		cfg.MasterNATSVia = func(natsURL string) string {
			u, err := url.Parse(natsURL)
			require.NoError(t, err)
			proxy = chaos.NewProxy(u.Host)
			require.NoError(t, proxy.Start(context.Background(), "127.0.0.1:0"))
			t.Cleanup(proxy.Shutdown)
			return "nats://" + proxy.Addr()
		}
	})
	cl := newClient(t, c)
	createKeyspace(t, c, cl, "users", 2, 2)

	// Every topology the master publishes from now on.
	conn, err := bus.Connect(ctxT(t), bus.ConnConfig{URL: c.NATSURL(), Name: "watcher"})
	require.NoError(t, err)
	t.Cleanup(conn.Close)
	var mu sync.Mutex
	var seen []*topology.Topology
	w, err := conn.WatchTopology(context.Background(), c.DC(), func(doc []byte, _ uint64) {
		top, err := topology.Decode(doc)
		if err == nil {
			mu.Lock()
			seen = append(seen, top)
			mu.Unlock()
		}
	})
	require.NoError(t, err)
	t.Cleanup(w.Stop)
	start := cl.Topology().Version

	// The fault: the master's link to NATS is cut for twice the time after
	// which a silent store counts as dead.
	proxy.Cut()
	faultFor(2 * topology.DeadAfter)
	proxy.Restore()

	// Once the master answers again, it publishes a change; every topology
	// published since the cut must show both stores healthy.
	require.Eventually(t, func() bool {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		return cl.CreateKeyspace(ctx, "probe", 1, 2) == nil
	}, 20*time.Second, 100*time.Millisecond)
	// A few more ticks of the master after the reconnection.
	probe := cl.Topology().Version
	require.NoError(t, cl.DeleteKeyspace(ctxT(t), "probe"))
	require.Greater(t, cl.Topology().Version, probe)

	mu.Lock()
	defer mu.Unlock()
	for _, top := range seen {
		if top.Version <= start {
			continue
		}
		for id, st := range top.Stores {
			require.True(t, st.Healthy, "version %d marks %s down after the master's own outage", top.Version, id)
		}
	}
}

// faultFor holds a fault for d: the length of the fault is what the test is
// about, not a wait for something to happen.
func faultFor(d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	<-t.C
}
