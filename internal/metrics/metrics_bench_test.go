package metrics

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/vasto-kv/vasto/internal/storetest"
	"github.com/vasto-kv/vasto/lww"
	"github.com/vasto-kv/vasto/store"
)

// BenchmarkObserveRequest is what metrics add to one write request on
// the hot path: the server's observer (latency histogram of the command)
// and the commit observer (latency and group-size histograms), with the
// commit reporting one write.
func BenchmarkObserveRequest(b *testing.B) {
	m, err := NewStore(NewRegistry(), "dc1", "s1", lww.SystemClock())
	require.NoError(b, err)
	defer m.Close()
	srv, eng := m.Server(), m.Engine()
	id := store.ShardID{Keyspace: "ks", Shard: 3}
	cpu := cpuTime(b)
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			start := time.Now()
			eng.Committed(id, 1, time.Since(start))
			srv.Command("VSET", time.Since(start), "")
		}
	})
	b.ReportMetric(float64(cpuTime(b)-cpu)/float64(b.N), "cpu-ns/op")
}

// cpuTime is the CPU time (user and system) the process used so far:
// unlike ns/op, it does not grow when other processes take the cores.
func cpuTime(b *testing.B) time.Duration {
	var ru syscall.Rusage
	require.NoError(b, syscall.Getrusage(syscall.RUSAGE_SELF, &ru))
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkScrape is one scrape over HTTP of a store holding 16 shards
// with RocksDB statistics on, with the Go runtime and process metrics.
func BenchmarkScrape(b *testing.B) {
	reg := NewRegistry()
	m, err := NewStore(reg, "dc1", "s1", lww.SystemClock())
	require.NoError(b, err)
	defer m.Close()
	e, _ := storetest.Engine(b, func(c *store.Config) { c.Statistics, c.Observer = true, m.Engine() })
	m.AttachEngine(e)
	for i := range 16 {
		sh, err := e.CreateShard("ks", uint32(i))
		require.NoError(b, err)
		_, err = sh.Write(context.Background(), store.Mutation{Key: []byte(fmt.Sprint(i)), Value: []byte("v")})
		require.NoError(b, err)
	}
	hs := httptest.NewServer(reg.Handler())
	defer hs.Close()
	defer http.DefaultClient.CloseIdleConnections()
	cpu := cpuTime(b)
	n := 0
	for b.Loop() {
		resp, err := http.Get(hs.URL) //nolint:noctx // a local test server
		require.NoError(b, err)
		_, _ = io.Copy(io.Discard, resp.Body)
		_ = resp.Body.Close()
		n++
	}
	b.ReportMetric(float64(cpuTime(b)-cpu)/float64(time.Millisecond)/float64(n), "cpu-ms/scrape")
}
