package e2e

import (
	"context"
	"fmt"
	"os"
	"runtime/pprof"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/vasto-kv/vasto/client"
	"github.com/vasto-kv/vasto/internal/devcluster"
)

// BenchmarkCreateKeyspaces creates VASTO_KEYSPACES keyspaces (default 100)
// of 10 shards and 2 replicas in a DC of 3 stores and reports how long it
// takes until every replica serves, the CPU the DC then uses at rest (the
// process: 3 stores, the master and NATS), and how long one store takes to
// stop and to start again with its shards (VASTO_BENCH_IDLE_PROFILE=FILE
// writes a CPU profile of the DC at rest):
//
//	go test -run='^$' -bench=CreateKeyspaces -benchtime=1x ./internal/e2e/
//
// ksIdleWindow is how long BenchmarkCreateKeyspaces measures the CPU the
// DC uses at rest, once every replica serves.
const ksIdleWindow = 10 * time.Second

func BenchmarkCreateKeyspaces(b *testing.B) {
	const shards, replicas = 10, 2
	n := envInt("VASTO_KEYSPACES", 100)
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		cfg := devcluster.DefaultConfig(b.TempDir())
		cfg.Logger = testLogger(b)
		if os.Getenv("VASTO_BENCH_LOG") != "" {
			cfg.Logger = hclog.New(&hclog.LoggerOptions{Name: "bench", Level: hclog.Info, Output: os.Stderr})
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
		c, err := devcluster.Start(ctx, cfg)
		if err != nil {
			b.Fatal(err)
		}
		if err := c.WaitReady(ctx); err != nil {
			b.Fatal(err)
		}
		ccfg := client.DefaultConfig(c.NATSURL(), c.DC())
		ccfg.Logger = testLogger(b)
		cl, err := client.New(ctx, ccfg)
		if err != nil {
			b.Fatal(err)
		}

		b.StartTimer()
		start := time.Now()
		for k := 0; k < n; k++ {
			if err := cl.CreateKeyspace(ctx, fmt.Sprintf("ks%03d", k), shards, replicas); err != nil {
				b.Fatal(err)
			}
		}
		created := time.Since(start)
		for k := 0; k < n; k++ {
			if err := cl.WaitForServing(ctx, fmt.Sprintf("ks%03d", k)); err != nil {
				b.Fatal(err)
			}
		}
		serving := time.Since(start)
		b.StopTimer()

		// The DC at rest: what its thousands of idle shard replicas cost
		// (consumers waiting on NATS, heartbeats), as a share of one core.
		stopProfile := startIdleProfile(b)
		cpu, at := xbCPU(), time.Now()
		time.Sleep(ksIdleWindow)
		idle := float64(xbCPU()-cpu) / float64(time.Since(at)) * 100
		stopProfile()

		held := len(c.Engine(0).Shards())
		start = time.Now()
		if err := c.StopStore(ctx, 0); err != nil {
			b.Fatal(err)
		}
		stopped := time.Since(start)
		start = time.Now()
		if err := c.StartStore(ctx, 0); err != nil {
			b.Fatal(err)
		}
		started := time.Since(start)

		b.ReportMetric(created.Seconds(), "created-s")
		b.ReportMetric(serving.Seconds(), "serving-s")
		b.ReportMetric(float64(held), "shards/store")
		b.ReportMetric(idle, "idle-cpu-%")
		b.ReportMetric(stopped.Seconds(), "store-stop-s")
		b.ReportMetric(started.Seconds(), "store-start-s")
		cl.Close()
		if err := c.Shutdown(context.Background()); err != nil {
			b.Fatal(err)
		}
		cancel()
	}
}

// startIdleProfile starts a CPU profile of the DC at rest, written to
// $VASTO_BENCH_IDLE_PROFILE if set; the returned function stops it.
func startIdleProfile(b *testing.B) func() {
	name := os.Getenv("VASTO_BENCH_IDLE_PROFILE")
	if name == "" {
		return func() {}
	}
	f, err := os.Create(name)
	if err != nil {
		b.Fatal(err)
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		b.Fatal(err)
	}
	return func() {
		pprof.StopCPUProfile()
		if err := f.Close(); err != nil {
			b.Fatal(err)
		}
	}
}
