package storenode

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/vasto-kv/vasto/bus/embedded"
	"github.com/vasto-kv/vasto/internal/metrics"
	"github.com/vasto-kv/vasto/server"
)

func scrape(t *testing.T, url string) metrics.Families {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	f, err := metrics.Fetch(ctx, url)
	require.NoError(t, err)
	return f
}

// A node with a registry reports its writes and commands while it runs,
// and nothing once stopped; started again it registers again.
func TestMetricsOfANode(t *testing.T) {
	reg := metrics.NewRegistry()
	hs := httptest.NewServer(reg.Handler())
	defer hs.Close()
	defer http.DefaultClient.CloseIdleConnections()
	cfg := testConfig(t)
	cfg.Keyspace = server.DefaultKeyspace
	cfg.Metrics = reg
	ctx := testCtx(t)
	for round := 1; round <= 2; round++ {
		n, err := New(cfg)
		require.NoError(t, err)
		require.NoError(t, n.Start(ctx))
		require.Equal(t, "+OK\r\n", do(t, n.Addr(), "SET k v"))
		require.Equal(t, "$1\r\n", do(t, n.Addr(), "GET k"))
		f := scrape(t, hs.URL)
		shard := map[string]string{"dc": "dc1", "store": "s1", "keyspace": server.DefaultKeyspace, "shard": "0"}
		v, ok := f.Sum("vasto_store_writes_total", map[string]string{"outcome": "applied", "store": "s1", "shard": "0"})
		require.True(t, ok)
		require.Equal(t, 1.0, v, "round %d: counters start with the shard", round)
		_, ok = f.Sum("vasto_rocksdb_block_cache_hits_total", shard)
		require.True(t, ok, "a node with metrics turns RocksDB statistics on")
		v, _ = f.Sum("vasto_server_request_duration_seconds", map[string]string{"command": "GET"})
		require.Equal(t, 1.0, v)
		require.NoError(t, n.Shutdown(ctx))
		f = scrape(t, hs.URL)
		_, ok = f.Sum("vasto_store_writes_total", nil)
		require.False(t, ok, "a stopped node unregisters")
	}
}

// In a DC with remote DCs, the node reports the links to them.
func TestMetricsOfLinks(t *testing.T) {
	ns := embedded.RunTestServer(t, "dc1")
	reg := metrics.NewRegistry()
	hs := httptest.NewServer(reg.Handler())
	defer hs.Close()
	defer http.DefaultClient.CloseIdleConnections()
	cfg := testConfig(t)
	cfg.NATSURL = ns.ClientURL()
	cfg.RemoteDCs = []string{"dc2"}
	cfg.Metrics = reg
	n, err := New(cfg)
	require.NoError(t, err)
	ctx := testCtx(t)
	require.NoError(t, n.Start(ctx))
	defer func() { require.NoError(t, n.Shutdown(ctx)) }()
	require.Eventually(t, func() bool {
		v, ok := scrape(t, hs.URL).Sum("vasto_dc_link_up", map[string]string{"remote_dc": "dc2", "store": "s1"})
		return ok && v == 0 // dc2 does not exist: never heard from
	}, 10*time.Second, 50*time.Millisecond)
}
