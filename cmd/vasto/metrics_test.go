package main

import (
	"bufio"
	"context"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/vasto-kv/vasto/internal/metrics"
)

// scrapeChild scrapes a child daemon's /metrics.
func scrapeChild(t *testing.T, url string) metrics.Families {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	f, err := metrics.Fetch(ctx, url)
	require.NoError(t, err)
	return f
}

// TestDaemonsServeMetrics runs vasto nats, master and store as processes,
// each with --metrics-listen, and scrapes them.
func TestDaemonsServeMetrics(t *testing.T) {
	defer http.DefaultClient.CloseIdleConnections()
	nats := startChild(t, "nats", "--dc", "dcm", "--dir", t.TempDir(), "--listen", "127.0.0.1:0",
		"--metrics-listen", "127.0.0.1:0", "--monitor-listen", "127.0.0.1:0")
	natsURL := nats.match(t, `ready: --nats (\S+) `)[1]
	natsMetrics := nats.match(t, `metrics on (\S+)`)[1]
	monitor := nats.match(t, `nats monitoring on (\S+)`)[1]
	_, ok := scrapeChild(t, natsMetrics).Sum("go_goroutines", nil)
	require.True(t, ok)
	req, err := http.NewRequestWithContext(context.Background(), http.MethodGet, monitor, nil)
	require.NoError(t, err)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	require.NoError(t, resp.Body.Close())
	require.Equal(t, http.StatusOK, resp.StatusCode)

	master := startChild(t, "master", "--nats", natsURL, "--dc", "dcm", "--metrics-listen", "127.0.0.1:0")
	master.match(t, `vasto master for dcm ready`)
	masterMetrics := master.match(t, `metrics on (\S+)`)[1]

	st := startChild(t, "store", "--dir", t.TempDir(), "--listen", "127.0.0.1:0", "--block-cache-mb", "16",
		"--nats", natsURL, "--dc", "dcm", "--id", "m1", "--metrics-listen", "127.0.0.1:0")
	st.match(t, `ready on (\S+), joined`)
	storeMetrics := st.match(t, `metrics on (\S+)`)[1]

	require.Eventually(t, func() bool {
		v, ok := scrapeChild(t, masterMetrics).Sum("vasto_master_store_healthy", map[string]string{"dc": "dcm", "store": "m1"})
		return ok && v == 1
	}, 20*time.Second, 50*time.Millisecond, "the master sees the store healthy")
	v, ok := scrapeChild(t, masterMetrics).Sum("vasto_master_topology_version", nil)
	require.True(t, ok)
	require.NotZero(t, v)
	_, ok = scrapeChild(t, storeMetrics).Sum("process_resident_memory_bytes", nil)
	require.True(t, ok)

	// A write through the CLI shows in the store's and the master's.
	t.Setenv("VASTO_NATS", natsURL)
	t.Setenv("VASTO_DC", "dcm")
	code, _, errs := vasto(t, "keyspace", "create", "ks", "--shards", "1", "--replicas", "1")
	require.Equal(t, 0, code, errs)
	require.Eventually(t, func() bool {
		code, _, _ := vasto(t, "put", "ks", "k", "v")
		return code == 0
	}, 20*time.Second, 100*time.Millisecond)
	f := scrapeChild(t, storeMetrics)
	v, _ = f.Sum("vasto_store_writes_total", map[string]string{"dc": "dcm", "store": "m1", "keyspace": "ks", "outcome": "applied"})
	require.Equal(t, 1.0, v)
	v, _ = f.Sum("vasto_server_request_duration_seconds", map[string]string{"command": "VSET"})
	require.GreaterOrEqual(t, v, 1.0, "retried while the shard opened, perhaps")
	v, _ = scrapeChild(t, masterMetrics).Sum("vasto_master_shards", map[string]string{"keyspace": "ks"})
	require.Equal(t, 1.0, v)

	// A gateway serves its own.
	gw := startChild(t, "gateway", "--nats", natsURL, "--dc", "dcm", "--listen", "127.0.0.1:0", "--keyspace", "ks",
		"--metrics-listen", "127.0.0.1:0")
	gwAddr := gw.match(t, `ready on (\S+) `)[1]
	gwMetrics := gw.match(t, `metrics on (\S+)`)[1]
	nc, err := net.Dial("tcp", gwAddr)
	require.NoError(t, err)
	defer nc.Close()
	br := bufio.NewReader(nc)
	require.Equal(t, "+OK", roundTrip(t, nc, br, "SET g 1\r\n"))
	require.True(t, strings.HasPrefix(roundTrip(t, nc, br, "HSET h f v\r\n"), "-ERR"))
	f = scrapeChild(t, gwMetrics)
	v, _ = f.Sum("vasto_gateway_request_duration_seconds", map[string]string{"dc": "dcm", "command": "SET"})
	require.Equal(t, 1.0, v)
	v, _ = f.Sum("vasto_gateway_errors_total", map[string]string{"command": "unknown", "code": "ERR"})
	require.Equal(t, 1.0, v, "an unsupported command is counted without its name")
	gw.sigterm(t, 10*time.Second)

	st.sigterm(t, 10*time.Second)
	master.sigterm(t, 10*time.Second)
	nats.sigterm(t, 10*time.Second)
}
