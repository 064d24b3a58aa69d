package e2e

import (
	"context"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"

	"github.com/vasto-kv/vasto/client"
	"github.com/vasto-kv/vasto/internal/devcluster"
	"github.com/vasto-kv/vasto/internal/metrics"
)

// metricsEndpoint serves reg on a free loopback port for the test and
// returns a function that scrapes it over HTTP.
func metricsEndpoint(t *testing.T, reg *metrics.Registry) func() metrics.Families {
	t.Helper()
	srv, err := metrics.NewServer(metrics.ServerConfig{Listen: "127.0.0.1:0", Registry: reg, Logger: testLogger(t)})
	require.NoError(t, err)
	require.NoError(t, srv.Start(context.Background()))
	t.Cleanup(func() {
		require.NoError(t, srv.Shutdown(context.Background()))
		http.DefaultClient.CloseIdleConnections()
	})
	url := "http://" + srv.Addr().String() + "/metrics"
	return func() metrics.Families {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		f, err := metrics.Fetch(ctx, url)
		require.NoError(t, err)
		return f
	}
}

// sum is the sum of the samples of name matching the label pairs kv
// (absent: 0).
func sum(f metrics.Families, name string, kv ...string) float64 {
	match := map[string]string{}
	for i := 0; i+1 < len(kv); i += 2 {
		match[kv[i]] = kv[i+1]
	}
	v, _ := f.Sum(name, match)
	return v
}

// TestMetricsFollowWritesReplicationAndALinkCut runs two DCs of two stores
// in one process with one metrics endpoint (as `vasto dev --metrics-listen`
// does) and checks over HTTP that the numbers move: writes, same-DC and
// cross-DC replication, conflicts between the DCs, and the cross-DC link
// state when the leafnode link is cut and restored.
func TestMetricsFollowWritesReplicationAndALinkCut(t *testing.T) {
	reg := metrics.NewRegistry()
	scrape := metricsEndpoint(t, reg)
	cs, proxy := startLinkedDCs(t, time.Hour, func(c *devcluster.Config) {
		c.Stores = 2
		c.Metrics = reg
		c.Gateway = true
	})
	c1, c2 := newClient(t, cs[0]), newClient(t, cs[1])
	createKeyspace(t, cs[0], c1, "m", 2, 2)
	createKeyspace(t, cs[1], c2, "m", 2, 2)
	ctx := ctxT(t)

	f := scrape()
	for _, dc := range []string{"dc1", "dc2"} {
		require.Equal(t, 2.0, sum(f, "vasto_master_store_healthy", "dc", dc), "the master sees both stores of %s", dc)
		require.NotZero(t, sum(f, "vasto_master_topology_version", "dc", dc))
	}
	require.Eventually(t, func() bool {
		f := scrape()
		return sum(f, "vasto_dc_link_up", "dc", "dc2", "remote_dc", "dc1") == 2 &&
			sum(f, "vasto_dc_link_up", "dc", "dc1", "remote_dc", "dc2") == 2
	}, 30*time.Second, 100*time.Millisecond, "every store sees its link up")

	// Writes in dc1 replicate to dc1's other replicas and to dc2.
	const n = 20
	for i := range n {
		_, err := c1.Put(ctx, "m", fmt.Appendf(nil, "k%d", i), []byte("v"))
		require.NoError(t, err)
	}
	require.Eventually(t, func() bool {
		f := scrape()
		return sum(f, "vasto_store_writes_total", "dc", "dc1", "keyspace", "m", "outcome", "applied") == n &&
			sum(f, "vasto_replica_changes_total", "dc", "dc1", "keyspace", "m", "outcome", "applied") == n &&
			sum(f, "vasto_dc_changes_total", "dc", "dc2", "remote_dc", "dc1", "keyspace", "m", "outcome", "applied") == 2*n
	}, 30*time.Second, 100*time.Millisecond, "writes, same-DC and cross-DC replication counted")
	// Through dc1's gateway.
	gw := redis.NewClient(&redis.Options{Addr: cs[0].GatewayAddr(), Protocol: 2, DisableIdentity: true, PoolSize: 1,
		OnConnect: func(ctx context.Context, cn *redis.Conn) error { return cn.Do(ctx, "VUSE", "m").Err() }})
	defer gw.Close()
	require.NoError(t, gw.Set(ctx, "via-gateway", "v", 0).Err())
	require.Error(t, gw.Do(ctx, "HSET", "h", "f", "v").Err())

	f = scrape()
	require.Equal(t, 1.0, sum(f, "vasto_gateway_request_duration_seconds", "dc", "dc1", "command", "SET"))
	require.Equal(t, 1.0, sum(f, "vasto_gateway_errors_total", "dc", "dc1", "command", "unknown", "code", "ERR"))
	require.GreaterOrEqual(t, sum(f, "vasto_server_request_duration_seconds", "dc", "dc1", "command", "VSET"), float64(n))
	require.GreaterOrEqual(t, sum(f, "vasto_store_commit_duration_seconds", "dc", "dc1", "keyspace", "m"), float64(n))
	require.Zero(t, sum(f, "vasto_dc_lag_entries", "dc", "dc2"), "dc2 caught up")
	require.Zero(t, sum(f, "vasto_replica_lag_seconds", "dc", "dc1"), "dc1's replicas caught up")
	require.NotZero(t, sum(f, "vasto_rocksdb_memtable_bytes", "dc", "dc1", "keyspace", "m"))
	_, ok := f.Sum("go_goroutines", nil)
	require.True(t, ok)

	// dc2 writes k0 with an event time older than dc1's write it holds: the
	// write loses against dc1's (conflict lost in dc2); then a newer one
	// wins, in dc2 and, replicated, in dc1 (conflict won).
	it, err := c2.Get(ctx, "m", []byte("k0"))
	require.NoError(t, err)
	_, err = c2.Put(ctx, "m", []byte("k0"), []byte("old"), client.WithEventTime(it.Version.Time-1))
	require.NoError(t, err)
	_, err = c2.Put(ctx, "m", []byte("k0"), []byte("new"))
	require.NoError(t, err)
	require.Eventually(t, func() bool {
		f := scrape()
		return sum(f, "vasto_store_conflicts_total", "dc", "dc2", "side", "lost") >= 1 &&
			sum(f, "vasto_store_writes_total", "dc", "dc2", "outcome", "not_applied") >= 1 &&
			sum(f, "vasto_store_conflicts_total", "dc", "dc1", "side", "won") >= 2 // both dc1 replicas
	}, 30*time.Second, 100*time.Millisecond, "conflicts between the DCs counted on both sides")

	// Cut the link: every store's view of the other DC goes down.
	proxy.Cut()
	require.Eventually(t, func() bool {
		f := scrape()
		return sum(f, "vasto_dc_link_up", "dc", "dc2", "remote_dc", "dc1") == 0 &&
			sum(f, "vasto_dc_link_up", "dc", "dc1", "remote_dc", "dc2") == 0
	}, 60*time.Second, 250*time.Millisecond, "the link shows down once cut")
	f = scrape()
	require.Greater(t, sum(f, "vasto_dc_link_last_heard_seconds", "dc", "dc2", "remote_dc", "dc1"), metrics.LinkDownAfter.Seconds())
	_, err = c1.Put(ctxT(t), "m", []byte("during-cut"), []byte("v"))
	require.NoError(t, err)
	before := sum(f, "vasto_dc_changes_total", "dc", "dc2", "remote_dc", "dc1", "outcome", "applied")

	// Restore it: the link comes back up and the write made meanwhile
	// reaches dc2.
	proxy.Restore()
	require.Eventually(t, func() bool {
		f := scrape()
		return sum(f, "vasto_dc_link_up", "dc", "dc2", "remote_dc", "dc1") == 2 &&
			sum(f, "vasto_dc_changes_total", "dc", "dc2", "remote_dc", "dc1", "outcome", "applied") >= before+2
	}, 90*time.Second, 250*time.Millisecond, "the link is up again and dc2 applies what dc1 wrote meanwhile")
}
