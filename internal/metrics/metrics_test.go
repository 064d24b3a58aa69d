package metrics

import (
	"context"
	"errors"
	"net/http"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/stretchr/testify/require"

	"github.com/vasto-kv/vasto/bus"
	"github.com/vasto-kv/vasto/gateway"
	"github.com/vasto-kv/vasto/internal/storetest"
	"github.com/vasto-kv/vasto/lww"
	"github.com/vasto-kv/vasto/store"
	"github.com/vasto-kv/vasto/topology"
)

// serve starts a metrics server for reg on a free loopback port and
// returns its /metrics URL.
func serve(t *testing.T, reg *Registry) string {
	t.Helper()
	srv, err := NewServer(ServerConfig{Listen: "127.0.0.1:0", Registry: reg, Logger: hclog.NewNullLogger()})
	require.NoError(t, err)
	require.NoError(t, srv.Start(context.Background()))
	require.ErrorIs(t, srv.Start(context.Background()), ErrStarted)
	t.Cleanup(func() {
		require.NoError(t, srv.Shutdown(context.Background()))
		require.NoError(t, srv.Shutdown(context.Background()))
		http.DefaultClient.CloseIdleConnections()
	})
	return "http://" + srv.Addr().String() + "/metrics"
}

func fetch(t *testing.T, url string) Families {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	f, err := Fetch(ctx, url)
	require.NoError(t, err)
	return f
}

func value(t *testing.T, f Families, name string, labels map[string]string) float64 {
	t.Helper()
	v, ok := f.Sum(name, labels)
	require.True(t, ok, "no sample of %s %v", name, labels)
	return v
}

func TestServerConfigValidate(t *testing.T) {
	reg := NewRegistry()
	for _, c := range []ServerConfig{
		{Listen: "127.0.0.1:0", Logger: hclog.NewNullLogger()},
		{Listen: "", Registry: reg, Logger: hclog.NewNullLogger()},
		{Listen: "nohostport", Registry: reg, Logger: hclog.NewNullLogger()},
		{Listen: "127.0.0.1:0", Registry: reg},
	} {
		_, err := NewServer(c)
		require.ErrorIs(t, err, ErrInvalidConfig)
	}
	srv, err := NewServer(ServerConfig{Listen: "127.0.0.1:0", Registry: reg, Logger: hclog.NewNullLogger()})
	require.NoError(t, err)
	require.Nil(t, srv.Addr())
	require.NoError(t, srv.Shutdown(context.Background()))
	require.ErrorIs(t, srv.Start(context.Background()), ErrStopped)
}

// TestStoreMetrics drives a real engine and the observers and checks what
// a scrape over HTTP reports.
func TestStoreMetrics(t *testing.T) {
	reg := NewRegistry()
	url := serve(t, reg)
	clock := lww.NewManualClock(storetest.BaseTime)
	m, err := NewStore(reg, "dc1", "s1", clock)
	require.NoError(t, err)
	defer m.Close()
	_, err = NewStore(reg, "dc1", "s1", clock)
	require.Error(t, err, "the same store twice on one registry")

	e, _ := storetest.Engine(t, func(c *store.Config) {
		c.DC, c.Node, c.Clock, c.Statistics, c.Observer = "dc1", "s1", clock, true, m.Engine()
	})
	m.AttachEngine(e)
	sh, err := e.CreateShard("ks", 0)
	require.NoError(t, err)
	ctx := context.Background()
	_, err = sh.Write(ctx, store.Mutation{Key: []byte("a"), Value: []byte("1"), EventTime: storetest.BaseTime - int64(3*time.Second)})
	require.NoError(t, err)
	_, err = sh.Write(ctx, store.Mutation{Key: []byte("a"), Value: []byte("0"), EventTime: storetest.BaseTime - int64(4*time.Second)})
	require.NoError(t, err)
	_, err = sh.ApplyRemote(ctx, "x_dc2", 1, []lww.Change{{Key: []byte("a"),
		Record: lww.Record{Version: lww.Version{Time: storetest.BaseTime, DC: "dc2", Node: "n"}, Kind: lww.KindValue, Value: []byte("2")}}})
	require.NoError(t, err)

	m.Server().Command("SET", time.Millisecond, "")
	m.Server().Command("SET", time.Millisecond, "BADTIME")
	m.Replica().PeerApplied("ks", 0, "s2", 3, 1, 5, storetest.BaseTime-int64(2*time.Second))
	m.Replica().PeerApplied("ks", 0, "s3", 1, 0, 0, storetest.BaseTime)
	m.Replica().RebootstrapStarted("ks", 0, "s2")
	m.Replica().RebootstrapFinished("ks", 0, "s2", errors.New("peer down"))
	m.Replica().Copied("resize", "ks", 0, 10, 100)
	m.CrossDC().RemoteApplied("dc2", "ks", 2, 2, 7, storetest.BaseTime-int64(time.Second))
	m.CrossDC().RebootstrapStarted("dc2", "ks")
	m.CrossDC().RebootstrapFinished("dc2", "ks", nil)
	m.AttachLinks(func(context.Context) ([]bus.SourceInfo, error) {
		return []bus.SourceInfo{
			{RemoteDC: "dc2", Exists: true, Active: time.Second, Lag: 4, Msgs: 9},
			{RemoteDC: "dc3", Exists: true, Active: time.Minute},
			{RemoteDC: "dc4", Exists: true, Active: -1},
		}, nil
	})

	f := fetch(t, url)
	shard := map[string]string{"dc": "dc1", "store": "s1", "keyspace": "ks", "shard": "0"}
	with := func(base map[string]string, kv ...string) map[string]string {
		out := map[string]string{}
		for k, v := range base {
			out[k] = v
		}
		for i := 0; i < len(kv); i += 2 {
			out[kv[i]] = kv[i+1]
		}
		return out
	}
	require.Equal(t, 1.0, value(t, f, "vasto_store_writes_total", with(shard, "outcome", "applied")))
	require.Equal(t, 1.0, value(t, f, "vasto_store_writes_total", with(shard, "outcome", "not_applied")))
	require.Equal(t, 1.0, value(t, f, "vasto_store_remote_changes_total", with(shard, "outcome", "applied")))
	require.Equal(t, 1.0, value(t, f, "vasto_store_conflicts_total", with(shard, "side", "won")))
	require.Equal(t, 0.0, value(t, f, "vasto_store_conflicts_total", with(shard, "side", "lost")))
	require.Equal(t, 1.0, value(t, f, "vasto_store_outbox_entries", shard))
	require.Equal(t, 3.0, value(t, f, "vasto_store_outbox_oldest_age_seconds", shard))
	require.Equal(t, 3.0, value(t, f, "vasto_store_commit_duration_seconds", map[string]string{"keyspace": "ks"}))
	require.Equal(t, 3.0, value(t, f, "vasto_store_commit_group_writes", map[string]string{"keyspace": "ks"}))
	require.NotZero(t, value(t, f, "vasto_rocksdb_memtable_bytes", shard))
	_, ok := f.Sum("vasto_rocksdb_block_cache_hits_total", shard)
	require.True(t, ok, "statistics are on")
	require.Equal(t, 2.0, value(t, f, "vasto_server_request_duration_seconds", map[string]string{"command": "SET"}))
	require.Equal(t, 1.0, value(t, f, "vasto_server_errors_total", map[string]string{"command": "SET", "code": "BADTIME"}))
	require.Equal(t, 4.0, value(t, f, "vasto_replica_changes_total", map[string]string{"peer": "s2"}))
	require.Equal(t, 5.0, value(t, f, "vasto_replica_lag_entries", map[string]string{"peer": "s2"}))
	require.Equal(t, 2.0, value(t, f, "vasto_replica_lag_seconds", map[string]string{"peer": "s2"}))
	require.Equal(t, 0.0, value(t, f, "vasto_replica_lag_seconds", map[string]string{"peer": "s3"}), "caught up")
	require.Equal(t, 1.0, value(t, f, "vasto_replica_rebootstraps_started_total", nil))
	require.Equal(t, 1.0, value(t, f, "vasto_replica_rebootstraps_finished_total", map[string]string{"result": "error"}))
	require.Equal(t, 100.0, value(t, f, "vasto_replica_copied_bytes_total", map[string]string{"kind": "resize"}))
	require.Equal(t, 2.0, value(t, f, "vasto_dc_changes_total", map[string]string{"remote_dc": "dc2", "outcome": "not_applied"}))
	require.Equal(t, 1.0, value(t, f, "vasto_dc_lag_seconds", map[string]string{"remote_dc": "dc2"}))
	require.Equal(t, 1.0, value(t, f, "vasto_dc_rebootstraps_finished_total", map[string]string{"result": "ok"}))
	require.Equal(t, 1.0, value(t, f, "vasto_dc_link_up", map[string]string{"remote_dc": "dc2"}))
	require.Equal(t, 0.0, value(t, f, "vasto_dc_link_up", map[string]string{"remote_dc": "dc3"}), "silent for a minute")
	require.Equal(t, 0.0, value(t, f, "vasto_dc_link_up", map[string]string{"remote_dc": "dc4"}), "never heard")
	require.Equal(t, 4.0, value(t, f, "vasto_dc_copy_lag_messages", map[string]string{"remote_dc": "dc2"}))
	_, ok = f.Sum("go_goroutines", nil)
	require.True(t, ok, "Go runtime collector")
	_, ok = f.Sum("process_cpu_seconds_total", nil)
	require.True(t, ok, "process collector")

	// A stopped peer's lag is no longer reported; a closed store reports
	// nothing, and the same store can register again.
	m.Replica().PeerStopped("ks", 0, "s2")
	f = fetch(t, url)
	_, ok = f.Sum("vasto_replica_lag_entries", map[string]string{"peer": "s2"})
	require.False(t, ok)
	m.Close()
	f = fetch(t, url)
	_, ok = f.Sum("vasto_store_writes_total", nil)
	require.False(t, ok)
	m2, err := NewStore(reg, "dc1", "s1", clock)
	require.NoError(t, err)
	m2.Close()
}

func TestMasterMetrics(t *testing.T) {
	reg := NewRegistry()
	url := serve(t, reg)
	top := &topology.Topology{DC: "dc1", Version: 42,
		Stores:    map[string]*topology.Store{"s1": {ID: "s1", Healthy: true}, "s2": {ID: "s2"}},
		Keyspaces: map[string]*topology.Keyspace{"ks": {Name: "ks", Shards: 3}},
		Ops:       []*topology.Operation{{ID: 1, State: topology.OpRunning}, {ID: 2, State: topology.OpDone}},
	}
	unregister, err := NewMaster(reg, "dc1", func() *topology.Topology { return top })
	require.NoError(t, err)
	f := fetch(t, url)
	require.Equal(t, 42.0, value(t, f, "vasto_master_topology_version", map[string]string{"dc": "dc1"}))
	require.Equal(t, 1.0, value(t, f, "vasto_master_store_healthy", map[string]string{"store": "s1"}))
	require.Equal(t, 0.0, value(t, f, "vasto_master_store_healthy", map[string]string{"store": "s2"}))
	require.Equal(t, 3.0, value(t, f, "vasto_master_shards", map[string]string{"keyspace": "ks"}))
	require.Equal(t, 1.0, value(t, f, "vasto_master_operations_running", nil))
	unregister()
	f = fetch(t, url)
	_, ok := f.Sum("vasto_master_topology_version", nil)
	require.False(t, ok)
}

// What Gateway.Observer returns is a gateway.Observer.
var _ gateway.Observer = CommandObserver(nil)

func TestGatewayMetrics(t *testing.T) {
	reg := NewRegistry()
	url := serve(t, reg)
	g, err := NewGateway(reg, "dc1")
	require.NoError(t, err)
	g.Observer().Command("GET", time.Millisecond, "")
	g.Observer().Command("SET", time.Millisecond, "TRYAGAIN")
	f := fetch(t, url)
	require.Equal(t, 1.0, value(t, f, "vasto_gateway_request_duration_seconds", map[string]string{"dc": "dc1", "command": "GET"}))
	require.Equal(t, 1.0, value(t, f, "vasto_gateway_errors_total", map[string]string{"command": "SET", "code": "TRYAGAIN"}))
	g.Close()
	_, ok := fetch(t, url).Sum("vasto_gateway_errors_total", nil)
	require.False(t, ok)
}
