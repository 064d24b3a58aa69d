package storenode

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"

	"github.com/vasto-kv/vasto/internal/metrics"
	"github.com/vasto-kv/vasto/server"
)

// metricsBenchRounds is how many rounds BenchmarkMetricsCost alternates:
// many short rounds, so that other load on the machine, which comes and
// goes, falls on both stores alike.
const metricsBenchRounds = 40

// BenchmarkMetricsCost measures what metrics cost a store. Two stores run
// alone side by side: one without metrics ("off"), one with its metrics
// registered, RocksDB statistics on and /metrics scraped over HTTP every
// second ("on"). Each round drives b.N iterations (SET then GET of a
// random key of 1M, 100-byte values, 50 workers) against each store in
// turn, alternating which goes first, so both see the same machine load;
// the scraper runs only while the "on" store is driven. It reports each
// store's median requests per second over the rounds, the median of the
// rounds' on/off ratios (each round's two runs are back to back), and the
// process's CPU time per request with each store (client included, the
// same for both), which other load on the machine disturbs less.
// See docs/performance.md for the command and the figures.
func BenchmarkMetricsCost(b *testing.B) {
	off := startBenchNode(b, nil)
	reg := metrics.NewRegistry()
	on := startBenchNode(b, reg)
	scraper := startScraper(b, reg)
	var offRates, onRates, ratios, offCPU, onCPU []float64
	b.SetParallelism(25) // 50 workers on 2 cores
	b.ResetTimer()
	for round := range metricsBenchRounds {
		first, second := off, on
		if round%2 == 1 {
			first, second = on, off
		}
		for _, rc := range []*redis.Client{first, second} {
			scraper.active.Store(rc == on)
			cpu0 := processCPU(b)
			rate := driveLoad(b, rc)
			cpu := float64(processCPU(b)-cpu0) / float64(time.Microsecond) / float64(2*b.N)
			if rc == on {
				onRates, onCPU = append(onRates, rate), append(onCPU, cpu)
			} else {
				offRates, offCPU = append(offRates, rate), append(offCPU, cpu)
			}
		}
		ratios = append(ratios, onRates[round]/offRates[round])
	}
	scraper.active.Store(false)
	b.StopTimer()
	offMed, onMed := median(offRates), median(onRates)
	b.ReportMetric(offMed, "off-req/s")
	b.ReportMetric(onMed, "on-req/s")
	b.ReportMetric(median(ratios), "on/off")
	b.ReportMetric(median(offCPU), "off-cpu-us/req")
	b.ReportMetric(median(onCPU), "on-cpu-us/req")
	b.ReportMetric(float64(scraper.scrapes.Load()), "scrapes")
}

// processCPU is the CPU time (user and system) the process used so far.
func processCPU(b *testing.B) time.Duration {
	var ru syscall.Rusage
	require.NoError(b, syscall.Getrusage(syscall.RUSAGE_SELF, &ru))
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func median(xs []float64) float64 {
	s := slices.Clone(xs)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// startBenchNode starts a store alone (with metrics on reg unless nil) for
// the benchmark and returns a client of it.
func startBenchNode(b *testing.B, reg *metrics.Registry) *redis.Client {
	cfg := DefaultConfig(b.TempDir(), "127.0.0.1:0")
	cfg.Keyspace = server.DefaultKeyspace
	cfg.Logger = hclog.NewNullLogger()
	cfg.Metrics = reg
	n, err := New(cfg)
	require.NoError(b, err)
	require.NoError(b, n.Start(context.Background()))
	rc := redis.NewClient(&redis.Options{Addr: n.Addr(), Protocol: 2, DisableIdentity: true, PoolSize: 64})
	b.Cleanup(func() {
		_ = rc.Close()
		require.NoError(b, n.Shutdown(context.Background()))
	})
	return rc
}

// driveLoad runs b.N SET+GET iterations against rc with b's parallelism
// and returns the requests per second.
func driveLoad(b *testing.B, rc *redis.Client) float64 {
	ctx := context.Background()
	value := make([]byte, 100)
	var left atomic.Int64
	left.Store(int64(b.N))
	start := time.Now()
	var wg sync.WaitGroup
	for range 50 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for left.Add(-1) >= 0 {
				k := fmt.Sprintf("key:%d", rand.IntN(1_000_000))
				if err := rc.Set(ctx, k, value, 0).Err(); err != nil {
					b.Error(err)
					return
				}
				if err := rc.Get(ctx, k).Err(); err != nil && !errors.Is(err, redis.Nil) {
					b.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	return float64(2*b.N) / time.Since(start).Seconds()
}

// scraper scrapes a registry's /metrics every second while active.
type scraper struct {
	active  atomic.Bool
	scrapes atomic.Int64
}

func startScraper(b *testing.B, reg *metrics.Registry) *scraper {
	srv, err := metrics.NewServer(metrics.ServerConfig{Listen: "127.0.0.1:0", Registry: reg, Logger: hclog.NewNullLogger()})
	require.NoError(b, err)
	require.NoError(b, srv.Start(context.Background()))
	url := "http://" + srv.Addr().String() + "/metrics"
	s := &scraper{}
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		tick := time.NewTicker(time.Second)
		defer tick.Stop()
		for {
			select {
			case <-done:
				return
			case <-tick.C:
			}
			if !s.active.Load() {
				continue
			}
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
			if resp, err := http.DefaultClient.Do(req); err == nil {
				_, _ = io.Copy(io.Discard, resp.Body)
				_ = resp.Body.Close()
				s.scrapes.Add(1)
			}
			cancel()
		}
	}()
	b.Cleanup(func() {
		close(done)
		wg.Wait()
		_ = srv.Shutdown(context.Background())
		http.DefaultClient.CloseIdleConnections()
	})
	return s
}
