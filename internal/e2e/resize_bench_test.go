package e2e

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/vasto-kv/vasto/client"
	"github.com/vasto-kv/vasto/internal/devcluster"
	"github.com/vasto-kv/vasto/topology"
)

// BenchmarkResizeUnderLoad measures a resize of a keyspace holding
// VASTO_RESIZE_KEYS keys (default 1,000,000) of 100-byte values from 1 to 3
// shards (one replica each, three stores) while a paced client load
// (VASTO_RESIZE_RATE ops/s, default 4000, half puts and half gets of random
// keys) runs: how long the resize takes, how many bytes it copies and how
// fast, and the load's p99 latency and errors before and during it.
//
//	go test -run '^$' -bench BenchmarkResizeUnderLoad -benchtime 1x ./internal/e2e/
func BenchmarkResizeUnderLoad(b *testing.B) {
	keys := envInt("VASTO_RESIZE_KEYS", 1_000_000)
	rate := envInt("VASTO_RESIZE_RATE", 4000)
	for i := 0; i < b.N; i++ {
		runResizeBench(b, keys, rate)
	}
}

func envInt(name string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(name)); err == nil && v > 0 {
		return v
	}
	return def
}

// latencies collects operation latencies by phase.
type latencies struct {
	mu     sync.Mutex
	began  time.Time
	slow   []string // during: when (since the resize began) slow ops ended
	phase  int      // 0 before the resize, 1 during, 2 after
	lat    [3][]time.Duration
	errs   [3]int
	errMsg string
}

func (l *latencies) add(d time.Duration, err error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if err != nil {
		l.errs[l.phase]++
		l.errMsg = err.Error()
		return
	}
	l.lat[l.phase] = append(l.lat[l.phase], d)
	if l.phase == 1 && d > 10*time.Millisecond && len(l.slow) < 200 {
		l.slow = append(l.slow, fmt.Sprintf("%v@%v", d.Round(time.Millisecond), time.Since(l.began).Round(10*time.Millisecond)))
	}
}

func (l *latencies) set(p int) {
	l.mu.Lock()
	l.phase, l.began = p, time.Now()
	l.mu.Unlock()
}

func percentile(ds []time.Duration, p float64) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[min(int(float64(len(s))*p), len(s)-1)]
}

func runResizeBench(b *testing.B, keys, rate int) {
	b.StopTimer()
	cfg := devcluster.DefaultConfig(b.TempDir())
	cfg.Stores = 3
	cfg.FillRate = int64(envInt("VASTO_RESIZE_FILL_RATE", 0))
	cfg.Logger = testLogger(b)
	if os.Getenv("VASTO_BENCH_LOG") != "" {
		// Benchmark logs are truncated; this shows the whole timeline.
		cfg.Logger = hclog.New(&hclog.LoggerOptions{Name: "bench", Level: hclog.Info, Output: os.Stderr})
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Minute)
	defer cancel()
	c, err := devcluster.Start(ctx, cfg)
	if err != nil {
		b.Fatal(err)
	}
	defer func() { _ = c.Shutdown(context.Background()) }()
	if err := c.WaitReady(ctx); err != nil {
		b.Fatal(err)
	}
	ccfg := client.DefaultConfig(c.NATSURL(), c.DC())
	ccfg.Logger = testLogger(b)
	cl, err := client.New(ctx, ccfg)
	if err != nil {
		b.Fatal(err)
	}
	defer cl.Close()
	if err := cl.CreateKeyspace(ctx, "bench", 1, 1); err != nil {
		b.Fatal(err)
	}
	if err := cl.WaitForServing(ctx, "bench"); err != nil {
		b.Fatal(err)
	}

	// Preload.
	value := make([]byte, 100)
	for i := range value {
		value[i] = 'a' + byte(i%26)
	}
	keyOf := func(i int) []byte { return []byte(fmt.Sprintf("key%013d", i)) }
	loadStart := time.Now()
	var next atomic.Int64
	var wg sync.WaitGroup
	var loadErr atomic.Value
	for w := 0; w < 8; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			batch := make([]client.KV, 0, 1000)
			for {
				from := int(next.Add(1000)) - 1000
				if from >= keys {
					return
				}
				batch = batch[:0]
				for i := from; i < min(from+1000, keys); i++ {
					batch = append(batch, client.KV{Key: keyOf(i), Value: value})
				}
				if _, err := cl.BatchPut(ctx, "bench", batch); err != nil {
					loadErr.Store(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	if err, ok := loadErr.Load().(error); ok {
		b.Fatal(err)
	}
	b.Logf("preloaded %d keys in %v", keys, time.Since(loadStart).Round(time.Millisecond))
	// Steady state: the bulk load's change log is published (a resize
	// right after a bulk load would first wait for that backlog).
	for deadline := time.Now().Add(5 * time.Minute); ; {
		backlog := uint64(0)
		for i := range c.Stores() {
			if sh, err := c.Engine(i).Shard("bench", 0); err == nil {
				if first, last := sh.LogBounds(); last >= first {
					backlog += last - first + 1
				}
			}
		}
		if backlog == 0 {
			break
		}
		if time.Now().After(deadline) {
			b.Fatalf("change log backlog of %d entries not published", backlog)
		}
		time.Sleep(50 * time.Millisecond)
	}
	b.Logf("change log published after %v", time.Since(loadStart).Round(time.Millisecond))

	// Steady paced load.
	lat := &latencies{}
	lctx, lcancel := context.WithCancel(ctx)
	tokens := make(chan int, 1024)
	go pace(lctx, tokens, time.Now(), 1<<40, rate)
	var lwg sync.WaitGroup
	for w := 0; w < 32; w++ {
		lwg.Add(1)
		go func(w int) {
			defer lwg.Done()
			r := rand.New(rand.NewPCG(uint64(w), 7))
			for tok := range tokens {
				k := keyOf(r.IntN(keys))
				octx, ocancel := context.WithTimeout(lctx, 10*time.Second)
				start := time.Now()
				var err error
				if tok%2 == 0 {
					_, err = cl.Put(octx, "bench", k, value)
				} else {
					_, err = cl.Get(octx, "bench", k)
				}
				ocancel()
				if lctx.Err() != nil {
					return
				}
				lat.add(time.Since(start), err)
			}
		}(w)
	}
	time.Sleep(5 * time.Second) // the "before" window of the measurement, not synchronisation

	lat.set(1)
	b.StartTimer()
	start := time.Now()
	started, err := cl.ResizeKeyspace(ctx, "bench", 3, false)
	if err != nil {
		b.Fatal(err)
	}
	var last topology.Progress
	var switched, copied time.Duration
	final, err := cl.WaitOperation(ctx, started.Operation.ID, 20*time.Millisecond, func(r topology.OpReply) {
		if p := r.Progress; p != nil {
			if p.Bytes > last.Bytes {
				last.Bytes, last.Keys = p.Bytes, p.Keys
			}
			if p.Phase == topology.PhaseCopy && p.Done == p.Total && copied == 0 {
				copied = time.Since(start) // every target copied and tailing
			}
			if p.Phase == topology.PhaseSwitched && switched == 0 {
				switched = time.Since(start)
				if copied == 0 {
					copied = switched
				}
			}
		}
	})
	took := time.Since(start)
	b.StopTimer()
	lat.set(2)
	lcancel()
	lwg.Wait()
	if err != nil {
		b.Fatal(err)
	}
	if final.Operation.State != topology.OpDone {
		b.Fatalf("resize ended %s", final.Operation.State)
	}
	if switched == 0 {
		switched = took
	}
	if copied == 0 {
		copied = switched
	}
	lat.mu.Lock()
	defer lat.mu.Unlock()
	p99b, p99d := percentile(lat.lat[0], 0.99), percentile(lat.lat[1], 0.99)
	mb := float64(last.Bytes) / 1e6
	if os.Getenv("VASTO_BENCH_LOG") != "" {
		b.Logf("slow operations during the resize (latency@since start): %v", lat.slow)
	}
	b.ReportMetric(took.Seconds(), "resize_s")
	b.ReportMetric(switched.Seconds(), "to_switch_s")
	b.ReportMetric(mb, "moved_MB")
	b.ReportMetric(copied.Seconds(), "copied_s")
	b.ReportMetric(mb/copied.Seconds(), "MB/s")
	b.ReportMetric(float64(p99b.Microseconds())/1000, "p99_before_ms")
	b.ReportMetric(float64(p99d.Microseconds())/1000, "p99_during_ms")
	b.ReportMetric(float64(lat.errs[0]+lat.errs[1]), "errors")
	b.Logf("resize 1->3 of %d keys: %v (copied after %v, switched after %v), moved %d keys / %.1f MB (%.1f MB/s); load %d ops/s: p99 %v before (%d ops), %v during (%d ops), p50 %v / %v; errors %d before, %d during %s",
		keys, took.Round(time.Millisecond), copied.Round(time.Millisecond), switched.Round(time.Millisecond), last.Keys, mb, mb/copied.Seconds(), rate,
		p99b, len(lat.lat[0]), p99d, len(lat.lat[1]), percentile(lat.lat[0], 0.5), percentile(lat.lat[1], 0.5),
		lat.errs[0], lat.errs[1], lat.errMsg)
}
