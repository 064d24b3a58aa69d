package e2e

import (
	"container/heap"
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/vasto-kv/vasto/bus"
	"github.com/vasto-kv/vasto/chaos"
	"github.com/vasto-kv/vasto/client"
	crossdc "github.com/vasto-kv/vasto/dc"
	"github.com/vasto-kv/vasto/internal/devcluster"
	"github.com/vasto-kv/vasto/store"
	"github.com/vasto-kv/vasto/topology"
)

// Cross-DC replication benchmarks. Every one runs two DCs (dc1 the leafnode
// hub, dc2 the spoke) with one store each in this process, so the client,
// both NATS servers, both masters and both stores share the machine's cores.
// Run one at a time, e.g.
//
//	go test -run='^$' -bench=CrossDCLag -benchtime=1x ./internal/e2e/
//	go test -run='^$' -bench=CrossDCBacklogDrain -benchtime=1x ./internal/e2e/
//	go test -run='^$' -bench=WriteCostOfReplication -benchtime=1x ./internal/e2e/
//
// Knobs: VASTO_LAG_RATE (writes/s of CrossDCLag, default 10000),
// VASTO_BENCH_BACKLOG (changes of CrossDCBacklogDrain, default 200000),
// VASTO_BENCH_CUT (least time the link stays cut, default 2s),
// VASTO_BENCH_LOG=FILE (debug log of the clusters and the benchmark).
// Results and how to read them: docs/performance.md, "Cross-DC replication".
//
// Names here start with xb so they do not clash with the other benchmark
// files of the package.

const (
	xbShards = 3 // shards of every benchmark keyspace, in both DCs

	// BenchmarkCrossDCLag: each iteration writes xbLagWrites fresh keys at
	// xbLagRate writes/s (paced, open loop) from xbLagWriters goroutines.
	xbLagKeyspace = "lag"
	xbLagWrites   = 20000
	xbLagWarmup   = 3000 // writes at the same rate before the measured rounds
	xbLagRate     = 10000
	xbLagWriters  = 32
	xbLagPoll     = 100 * time.Microsecond // checker back-off when nothing new is visible
	xbLagDeadline = 30 * time.Second       // the last write must be visible this long after the writes end

	// BenchmarkCrossDCBacklogDrain.
	xbDrainKeyspace = "drain"
	xbDrainDefault  = 200000 // changes written while the link is cut; VASTO_BENCH_BACKLOG overrides
	xbDrainBatch    = 500    // pairs per BatchPut
	xbDrainWriters  = 4      // concurrent BatchPut callers
	xbDrainDeadline = 150 * time.Second
	xbDrainMinCut   = 2 * time.Second // the link stays cut at least this long; VASTO_BENCH_CUT overrides

	// BenchmarkWriteCostOfReplication.
	xbCostKeyspace = "cost"
	xbCostOps      = 40000 // puts per round and setup
	xbCostConc     = 50
	xbCostRounds   = 3
	xbCostKeys     = 1000000 // keys drawn uniformly from this many
)

var xbValue = []byte(strings.Repeat("v", 100))

// xbLogger is testLogger, or with VASTO_BENCH_LOG=FILE a logger appending
// to FILE at debug level (a benchmark's own log output is cut after a few
// lines).
func xbLogger(b *testing.B) hclog.Logger {
	path := os.Getenv("VASTO_BENCH_LOG")
	if path == "" {
		return testLogger(b)
	}
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = f.Close() })
	return hclog.New(&hclog.LoggerOptions{Name: "e2e", Level: hclog.Debug, Output: f})
}

// xbStartDCs starts dc1 and dc2, one store each, linked by a leafnode; with
// cut, the link goes through a chaos.Proxy the benchmark can cut (the hub
// does not advertise its own leaf address, so the spoke cannot go around
// the proxy).
func xbStartDCs(b *testing.B, cut bool) ([]*devcluster.Cluster, *chaos.Proxy) {
	b.Helper()
	var proxy *chaos.Proxy
	cfg := devcluster.DefaultConfig(b.TempDir())
	cfg.Stores = 1
	cfg.Logger = xbLogger(b)
	var perr error
	if cut {
		cfg.LinkVia = func(leafURL string) string {
			proxy = chaos.NewProxy(trimScheme(leafURL))
			if perr = proxy.Start(context.Background(), "127.0.0.1:0"); perr != nil {
				return leafURL
			}
			return "nats-leaf://" + proxy.Addr()
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cs, err := devcluster.StartMulti(ctx, cfg, []string{"dc1", "dc2"})
	if err == nil && perr != nil {
		_ = devcluster.ShutdownAll(ctx, cs)
		err = perr
	}
	if err != nil {
		if proxy != nil {
			proxy.Shutdown()
		}
		b.Fatal(err)
	}
	b.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := devcluster.ShutdownAll(ctx, cs); err != nil {
			b.Error(err)
		}
		if proxy != nil {
			proxy.Shutdown()
		}
	})
	for _, c := range cs {
		if err := c.WaitReady(ctx); err != nil {
			b.Fatal(err)
		}
	}
	return cs, proxy
}

// xbStartDC starts one DC with one store and no remote DC.
func xbStartDC(b *testing.B) *devcluster.Cluster {
	b.Helper()
	cfg := devcluster.DefaultConfig(b.TempDir())
	cfg.Stores = 1
	cfg.Logger = xbLogger(b)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c, err := devcluster.Start(ctx, cfg)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := c.Shutdown(ctx); err != nil {
			b.Error(err)
		}
	})
	if err := c.WaitReady(ctx); err != nil {
		b.Fatal(err)
	}
	return c
}

// xbClient is newClient for a benchmark, with pool connections per store.
func xbClient(b *testing.B, c *devcluster.Cluster, pool int) *client.Client {
	b.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	cfg := client.DefaultConfig(c.NATSURL(), c.DC())
	cfg.Logger = xbLogger(b)
	cfg.PoolSize = pool
	cl, err := client.New(ctx, cfg)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { cl.Close() })
	return cl
}

// xbCreate creates keyspace ks with xbShards shards x 1 replica in c's DC,
// waits until it is served, and returns the store's shards of it.
func xbCreate(b *testing.B, c *devcluster.Cluster, cl *client.Client, ks string) []*store.Shard {
	b.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := cl.CreateKeyspace(ctx, ks, xbShards, 1); err != nil {
		b.Fatal(err)
	}
	if err := cl.WaitForKeyspace(ctx, ks); err != nil {
		b.Fatal(err)
	}
	if err := cl.WaitForServing(ctx, ks); err != nil {
		b.Fatal(err)
	}
	shards := make([]*store.Shard, xbShards)
	for s := range shards {
		sh, err := c.Engine(0).Shard(ks, uint32(s))
		if err != nil {
			b.Fatal(err)
		}
		shards[s] = sh
	}
	return shards
}

// xbSource is the cursor name under which a dc2 shard records how far it
// applied the change log of shard `shard` of origin store `origin` in DC
// remote (store.RemoteSource). Every change is applied and its cursor
// moved in the same commit, and both DCs have xbShards shards, so dc2 shard s
// holds every change of dc1 shard s up to its cursor.
func xbSource(remote, origin string, shard int) string {
	return "x:" + remote + ":" + origin + ":" + strconv.Itoa(shard)
}

// xbCursors reads, for each dc2 shard, how far it applied dc1's same shard.
func xbCursors(dst []*store.Shard, origin string) ([]uint64, error) {
	out := make([]uint64, len(dst))
	for s, sh := range dst {
		v, err := sh.Cursor(xbSource("dc1", origin, s))
		if err != nil {
			return nil, err
		}
		out[s] = v
	}
	return out, nil
}

// xbLastIndices is the last change-log index of each dc1 shard.
func xbLastIndices(src []*store.Shard) []uint64 {
	out := make([]uint64, len(src))
	for s, sh := range src {
		_, out[s] = sh.LogBounds()
	}
	return out
}

// xbWaitApplied waits until dc2's shards have applied dc1's shards up to
// their current last indices and returns how long that took.
func xbWaitApplied(src, dst []*store.Shard, origin string, timeout time.Duration) (time.Duration, error) {
	start := time.Now()
	want := xbLastIndices(src)
	for {
		got, err := xbCursors(dst, origin)
		if err != nil {
			return 0, err
		}
		done := true
		for s := range want {
			if got[s] < want[s] {
				done = false
			}
		}
		if done {
			return time.Since(start), nil
		}
		if time.Since(start) > timeout {
			return 0, fmt.Errorf("dc2 applied %v of dc1's change logs, want %v, after %v", got, want, timeout)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// xbCPU is the CPU time (user + system) this process has used.
func xbCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func xbPctile(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	return sorted[int(p*float64(len(sorted)-1))]
}

func xbMs(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

func xbMedian(xs []float64) float64 {
	s := slices.Clone(xs)
	slices.Sort(s)
	if len(s) == 0 {
		return 0
	}
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// ---------------------------------------------------------------------------
// BenchmarkCrossDCLag

// BenchmarkCrossDCLag measures how long after a write is acknowledged in dc1
// it is visible in dc2.
//
// Keyspace "lag", 3 shards x 1 replica in each DC. A paced writer (a ticker
// hands out tokens for xbLagRate writes/s to xbLagWriters goroutines) puts
// fresh keys through the Go client in dc1. One checker goroutine per dc2
// shard reads dc2's engine directly (Shard.GetRecord) until the acknowledged
// version is there. dc2 applies the changes of a dc1 shard in that shard's
// log order, and key k lands on shard ShardOf(k, 3) in both DCs, so each
// checker keeps its acknowledged writes in a heap ordered by dc1 log index
// and reads only the oldest: one engine read per poll while nothing new
// arrives. The lag of a write is (first read that sees it) - (Put returned);
// the checkers' polling (xbLagPoll, in practice up to ~1 ms: Go's timers)
// bounds the resolution. VASTO_LAG_RATE overrides the rate.
func BenchmarkCrossDCLag(b *testing.B) {
	rate := xbLagRate
	if v := os.Getenv("VASTO_LAG_RATE"); v != "" {
		r, err := strconv.Atoi(v)
		if err != nil || r <= 0 {
			b.Fatalf("VASTO_LAG_RATE=%q: want a positive number of writes/s", v)
		}
		rate = r
	}
	cs, _ := xbStartDCs(b, false)
	c1 := xbClient(b, cs[0], xbLagWriters)
	c2 := xbClient(b, cs[1], 4)
	xbCreate(b, cs[0], c1, xbLagKeyspace)
	dst := xbCreate(b, cs[1], c2, xbLagKeyspace)

	// Warm up at the same rate: every writer's connection, dc1's publisher,
	// the copy over the link and dc2's applier.
	xbLagRound(b, c1, dst, "warm", xbLagWarmup, rate)

	var lags, puts []time.Duration
	var writeTime time.Duration
	var polls int
	var pollTime time.Duration
	b.ResetTimer()
	for it := 0; it < b.N; it++ {
		r := xbLagRound(b, c1, dst, strconv.Itoa(it), xbLagWrites, rate)
		lags = append(lags, r.lags...)
		puts = append(puts, r.puts...)
		writeTime += r.writeTime
		polls += r.polls
		pollTime += r.pollTime
	}
	b.StopTimer()

	slices.Sort(lags)
	slices.Sort(puts)
	b.ReportMetric(xbMs(xbPctile(lags, 0.50)), "p50-ms")
	b.ReportMetric(xbMs(xbPctile(lags, 0.99)), "p99-ms")
	b.ReportMetric(xbMs(xbPctile(lags, 0.999)), "p999-ms")
	b.ReportMetric(xbMs(lags[len(lags)-1]), "max-ms")
	b.ReportMetric(xbMs(xbPctile(puts, 0.50)), "put-p50-ms")
	b.ReportMetric(xbMs(xbPctile(puts, 0.99)), "put-p99-ms")
	b.ReportMetric(float64(len(puts))/writeTime.Seconds(), "writes/s")
	if polls > 0 {
		b.ReportMetric(float64(pollTime.Microseconds())/float64(polls), "poll-µs")
	}
}

type xbLagResult struct {
	lags, puts []time.Duration
	writeTime  time.Duration // first write released to last write acknowledged
	polls      int           // checker iterations that slept
	pollTime   time.Duration // time those sleeps took
}

// xbLagRound writes n fresh keys named after prefix at rate writes/s in dc1
// and measures each one's lag to dc2.
func xbLagRound(b *testing.B, cl *client.Client, dst []*store.Shard, prefix string, n, rate int) xbLagResult {
	ctx, cancel := context.WithTimeout(context.Background(), time.Duration(n/rate)*time.Second+2*xbLagDeadline)
	defer cancel()
	var failOnce sync.Once
	var failed error
	fail := func(err error) {
		failOnce.Do(func() { failed = err })
		cancel()
	}
	acks := make([]chan acked, len(dst))
	for s := range acks {
		acks[s] = make(chan acked, n)
	}
	tokens := make(chan int, xbLagWriters)

	start := time.Now()
	go pace(ctx, tokens, start, n, rate)

	// Writers.
	putLat := make([][]time.Duration, xbLagWriters)
	var lastAck atomic.Int64
	var wg sync.WaitGroup
	for w := 0; w < xbLagWriters; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range tokens {
				key := fmt.Appendf(nil, "xlag:%s:%08d", prefix, i)
				t0 := time.Now()
				res, err := cl.Put(ctx, xbLagKeyspace, key, xbValue)
				at := time.Now()
				if err != nil {
					fail(fmt.Errorf("put %s: %w", key, err))
					return
				}
				shard := topology.ShardOf(key, len(dst))
				if !res.Applied || res.LogIndex == 0 || res.Shard != shard {
					fail(fmt.Errorf("put %s: unexpected result %+v (want shard %d)", key, res, shard))
					return
				}
				putLat[w] = append(putLat[w], at.Sub(t0))
				acks[shard] <- acked{key: key, version: res.Version, index: res.LogIndex, at: at}
				for {
					old := lastAck.Load()
					if at.UnixNano() <= old || lastAck.CompareAndSwap(old, at.UnixNano()) {
						break
					}
				}
			}
		}()
	}
	writersDone := make(chan struct{})
	go func() {
		wg.Wait()
		for _, ch := range acks {
			close(ch)
		}
		close(writersDone)
	}()

	// Checkers, one per dc2 shard.
	lags := make([][]time.Duration, len(dst))
	polls := make([]int, len(dst))
	pollTime := make([]time.Duration, len(dst))
	remaining := make([]atomic.Int64, len(dst))
	var cwg sync.WaitGroup
	for s := range dst {
		cwg.Add(1)
		go func() {
			defer cwg.Done()
			sh := dst[s]
			var pending ackHeap
			open := true
			for open || len(pending) > 0 {
				if ctx.Err() != nil {
					return
				}
				for more := open; more; {
					select {
					case a, ok := <-acks[s]:
						if !ok {
							open, more = false, false
							break
						}
						heap.Push(&pending, a)
					default:
						more = false
					}
				}
				progress := false
				for len(pending) > 0 {
					a := pending[0]
					rec, ok, err := sh.GetRecord(a.key)
					if err != nil {
						fail(fmt.Errorf("dc2 read %s: %w", a.key, err))
						return
					}
					if !ok || rec.Version.Compare(a.version) < 0 {
						break
					}
					lags[s] = append(lags[s], max(time.Since(a.at), 0))
					heap.Pop(&pending)
					progress = true
				}
				remaining[s].Store(int64(len(pending)))
				if !progress && (open || len(pending) > 0) {
					t0 := time.Now()
					time.Sleep(xbLagPoll)
					polls[s]++
					pollTime[s] += time.Since(t0)
				}
			}
		}()
	}
	checkersDone := make(chan struct{})
	go func() { cwg.Wait(); close(checkersDone) }()

	select {
	case <-writersDone:
	case <-ctx.Done():
	}
	select {
	case <-checkersDone:
	case <-ctx.Done():
	case <-time.After(xbLagDeadline):
		var left int64
		for s := range remaining {
			left += remaining[s].Load()
		}
		fail(fmt.Errorf("about %d acknowledged writes not visible in dc2 %v after the last write", left, xbLagDeadline))
	}
	cancel()
	<-writersDone
	<-checkersDone
	failOnce.Do(func() {}) // orders the read of failed after any write
	if failed != nil {
		b.Fatal(failed)
	}
	var r xbLagResult
	for s := range dst {
		r.lags = append(r.lags, lags[s]...)
		r.polls += polls[s]
		r.pollTime += pollTime[s]
	}
	for _, p := range putLat {
		r.puts = append(r.puts, p...)
	}
	if len(r.lags) != n || len(r.puts) != n {
		b.Fatalf("measured %d lags and %d puts for %d writes", len(r.lags), len(r.puts), n)
	}
	r.writeTime = time.Unix(0, lastAck.Load()).Sub(start)
	return r
}

// ---------------------------------------------------------------------------
// BenchmarkCrossDCBacklogDrain

// BenchmarkCrossDCBacklogDrain measures how fast dc2 catches up with a
// backlog of dc1's changes after the link between them returns.
//
// Two DCs whose leafnode link goes through a chaos.Proxy;
// keyspace "drain", 3 shards x 1 replica in each. Each
// iteration cuts the link, writes N fresh keys in dc1 as fast as it can
// (BatchPut of xbDrainBatch from xbDrainWriters goroutines; N =
// VASTO_BENCH_BACKLOG, default 200000), keeps the link cut for at least
// xbDrainMinCut (VASTO_BENCH_CUT, e.g. 10s) and until dc1 has published the
// whole backlog to its change stream (dc1's publisher runs behind
// BatchPut; dc1-publish-changes/s is its rate, from the first write),
// checks that the cut held, restores the link and polls, every 2 ms, dc2's per-shard cursors of dc1's
// change logs (in-process, no I/O) until every dc2 shard has applied its dc1
// shard up to the last index written. Meanwhile a second poller asks dc2's
// NATS every 100 ms how far the copy of dc1's stream is
// (bus.SourceStatus) and how many messages dc2's applier has pending
// (bus.ConsumerPending). Reported, from the restore:
//
//   - first-applied-s: the first dc2 cursor moves (link up, copy resumed,
//     first batch applied);
//   - copy-first-s / copy-done-s: the copy received its first message / held
//     all of dc1's stream (CaughtUp);
//   - done-s: dc2 applied all N;
//   - drain-changes/s: N / (done - first applied), the steady rate;
//   - e2e-changes/s: N / done.
//
// After the clock stops it reads all N keys from dc2's engine to check they
// arrived.
func BenchmarkCrossDCBacklogDrain(b *testing.B) {
	n := xbDrainDefault
	if v := os.Getenv("VASTO_BENCH_BACKLOG"); v != "" {
		x, err := strconv.Atoi(v)
		if err != nil || x <= 0 {
			b.Fatalf("VASTO_BENCH_BACKLOG=%q: want a positive number of changes", v)
		}
		n = x
	}
	minCut := xbDrainMinCut
	if v := os.Getenv("VASTO_BENCH_CUT"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d < 0 {
			b.Fatalf("VASTO_BENCH_CUT=%q: want a duration, e.g. 10s", v)
		}
		minCut = d
	}
	cs, proxy := xbStartDCs(b, true)
	c1 := xbClient(b, cs[0], 16)
	c2 := xbClient(b, cs[1], 4)
	src := xbCreate(b, cs[0], c1, xbDrainKeyspace)
	dst := xbCreate(b, cs[1], c2, xbDrainKeyspace)
	origin := cs[0].Stores()[0].ID

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	bc, err := bus.Connect(ctx, bus.ConnConfig{URL: cs[1].NATSURL(), Name: "vasto-xdc-bench", Logger: xbLogger(b)})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(bc.Close)
	stream, err := bus.SourceStream("dc2", "dc1")
	if err != nil {
		b.Fatal(err)
	}
	durable := crossdc.Durable(cs[1].Stores()[0].ID, "dc1", xbDrainKeyspace)

	// Warm up: a few thousand changes through the link, so the copy and the
	// applier exist and the cursors are known to move.
	if err := xbBatchWrite(ctx, c1, "warm", 3000); err != nil {
		b.Fatal(err)
	}
	if _, err := xbWaitApplied(src, dst, origin, 30*time.Second); err != nil {
		b.Fatal(err)
	}

	var res []xbDrainResult
	log := xbLogger(b).Named("bench")
	b.ResetTimer()
	for it := 0; it < b.N; it++ {
		r, err := xbDrainRound(log, minCut, src, dst, origin, proxy, c1, bc, stream, durable, strconv.Itoa(it), n)
		if err != nil {
			b.Fatal(err)
		}
		res = append(res, r)
	}
	b.StopTimer()
	for it := range res {
		if err := xbCheckAll(dst, strconv.Itoa(it), n); err != nil {
			b.Fatal(err)
		}
	}

	med := func(f func(xbDrainResult) float64) float64 {
		var xs []float64
		for _, r := range res {
			xs = append(xs, f(r))
		}
		return xbMedian(xs)
	}
	sec := func(d time.Duration) float64 { return d.Seconds() }
	b.ReportMetric(float64(n), "backlog")
	b.ReportMetric(med(func(r xbDrainResult) float64 { return float64(n) / sec(r.write) }), "write-changes/s")
	b.ReportMetric(med(func(r xbDrainResult) float64 { return float64(n) / sec(r.published) }), "dc1-publish-changes/s")
	b.ReportMetric(med(func(r xbDrainResult) float64 { return sec(r.cut) }), "cut-s")
	b.ReportMetric(med(func(r xbDrainResult) float64 { return sec(r.firstApplied) }), "first-applied-s")
	b.ReportMetric(med(func(r xbDrainResult) float64 { return sec(r.copyFirst) }), "copy-first-s")
	b.ReportMetric(med(func(r xbDrainResult) float64 { return sec(r.copyDone) }), "copy-done-s")
	b.ReportMetric(med(func(r xbDrainResult) float64 { return sec(r.done) }), "done-s")
	b.ReportMetric(med(func(r xbDrainResult) float64 { return float64(n) / sec(r.done-r.firstApplied) }), "drain-changes/s")
	b.ReportMetric(med(func(r xbDrainResult) float64 { return float64(n) / sec(r.done) }), "e2e-changes/s")
	b.ReportMetric(med(func(r xbDrainResult) float64 { return float64(r.maxPending) }), "max-pending")
	b.ReportMetric(med(func(r xbDrainResult) float64 { return r.cpu.Seconds() / sec(r.done) }), "drain-cpu-cores")
	// The phase after the copy is complete: dc2 applies, nothing else runs.
	applyOnly := func(r xbDrainResult) (time.Duration, bool) {
		d := r.done - r.copyDone
		return d, r.copyDone >= 0 && r.cpuAtCopyDone > 0 && d > 200*time.Millisecond
	}
	b.ReportMetric(med(func(r xbDrainResult) float64 {
		if d, ok := applyOnly(r); ok {
			return float64(uint64(n)-r.appliedAtCopyDone) / d.Seconds()
		}
		return 0
	}), "apply-only-changes/s")
	b.ReportMetric(med(func(r xbDrainResult) float64 {
		if d, ok := applyOnly(r); ok {
			return (r.cpuAtDone - r.cpuAtCopyDone).Seconds() / d.Seconds()
		}
		return 0
	}), "apply-only-cpu-cores")
}

// xbDrainResult is one drain round; durations after the write are from the
// restore of the link (-1 s: not seen).
type xbDrainResult struct {
	write     time.Duration // writing the backlog in dc1
	published time.Duration // from the first write until dc1's stream held the backlog
	cut       time.Duration // how long the link was cut

	firstApplied, done  time.Duration
	copyFirst, copyDone time.Duration
	maxPending          uint64

	cpu time.Duration // CPU the process used from the restore to done
	// Process CPU time when the copy was seen complete and at done, and how
	// many changes dc2 had applied when the copy was seen complete.
	cpuAtCopyDone, cpuAtDone time.Duration
	appliedAtCopyDone        uint64
}

// xbDrainKey is key i of drain round prefix.
func xbDrainKey(prefix string, i int) []byte { return fmt.Appendf(nil, "xdr:%s:%09d", prefix, i) }

// xbBatchWrite writes keys 0..n-1 of prefix in dc1 with BatchPut from
// xbDrainWriters goroutines.
func xbBatchWrite(ctx context.Context, cl *client.Client, prefix string, n int) error {
	var next atomic.Int64
	errs := make(chan error, xbDrainWriters)
	for w := 0; w < xbDrainWriters; w++ {
		go func() {
			kvs := make([]client.KV, 0, xbDrainBatch)
			for {
				from := int(next.Add(xbDrainBatch)) - xbDrainBatch
				if from >= n {
					errs <- nil
					return
				}
				kvs = kvs[:0]
				for i := from; i < min(from+xbDrainBatch, n); i++ {
					kvs = append(kvs, client.KV{Key: xbDrainKey(prefix, i), Value: xbValue})
				}
				if _, err := cl.BatchPut(ctx, xbDrainKeyspace, kvs); err != nil {
					errs <- fmt.Errorf("batch put from %d: %w", from, err)
					return
				}
			}
		}()
	}
	var first error
	for w := 0; w < xbDrainWriters; w++ {
		if err := <-errs; err != nil && first == nil {
			first = err
		}
	}
	return first
}

func xbDrainRound(log hclog.Logger, minCut time.Duration, src, dst []*store.Shard, origin string, proxy *chaos.Proxy, c1 *client.Client, bc *bus.Conn,
	stream, durable, prefix string, n int) (xbDrainResult, error) {
	r := xbDrainResult{firstApplied: -time.Second, done: -time.Second, copyFirst: -time.Second, copyDone: -time.Second}
	ctx, cancel := context.WithTimeout(context.Background(), 2*xbDrainDeadline)
	defer cancel()
	before, err := xbCursors(dst, origin)
	if err != nil {
		return r, err
	}
	st, err := bc.SourceStatus(ctx, "dc2", []string{"dc1"})
	if err != nil {
		return r, err
	}
	seqBefore := st[0].SourceSeq

	proxy.Cut()
	log.Info("link cut", "cursors", fmt.Sprint(before), "copied_seq", seqBefore)
	t0 := time.Now()
	if err := xbBatchWrite(ctx, c1, prefix, n); err != nil {
		proxy.Restore()
		return r, err
	}
	r.write = time.Since(t0)
	want := xbLastIndices(src)
	log.Info("backlog written", "took", r.write, "last_indices", fmt.Sprint(want))
	// dc1 publishes its change logs to its change stream behind the
	// writes (and trims each log up to what JetStream acknowledged): keep
	// the link cut until the whole backlog is in dc1's stream, so that
	// what follows measures the copy and the apply, not dc1's publisher.
	for {
		published := true
		for s, sh := range src {
			if first, _ := sh.LogBounds(); first <= want[s] {
				published = false
			}
		}
		if published {
			break
		}
		if time.Since(t0) > xbDrainDeadline {
			proxy.Restore()
			return r, fmt.Errorf("dc1 did not publish its change logs within %v", xbDrainDeadline)
		}
		time.Sleep(2 * time.Millisecond)
	}
	r.published = time.Since(t0)
	log.Info("backlog published in dc1", "after", r.published)
	// Keep the link cut for at least minCut (by default longer than the
	// spoke's 1 s leafnode reconnect interval), then check it held: nothing
	// of the backlog reached dc2 and dc2 cannot reach dc1.
	time.Sleep(time.Until(t0.Add(minCut)))
	st, err = bc.SourceStatus(ctx, "dc2", []string{"dc1"})
	if err != nil {
		proxy.Restore()
		return r, err
	}
	got, err := xbCursors(dst, origin)
	if err != nil {
		proxy.Restore()
		return r, err
	}
	if !slices.Equal(got, before) || st[0].SourceSeq != seqBefore || st[0].RemoteError == "" {
		proxy.Restore()
		return r, fmt.Errorf("the link did not stay cut: dc2 cursors %v -> %v, copied seq %d -> %d, dc1 reachable from dc2: %v",
			before, got, seqBefore, st[0].SourceSeq, st[0].RemoteError == "")
	}
	r.cut = time.Since(t0)

	proxy.Restore()
	restored := time.Now()
	cpu0 := xbCPU()
	log.Info("link restored")

	// Status poller: the copy and the applier's backlog, as `vasto dc
	// status` sees them.
	var mu sync.Mutex
	stop := make(chan struct{})
	pollerDone := make(chan struct{})
	go func() {
		defer close(pollerDone)
		tick := time.NewTicker(100 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-stop:
				return
			case <-tick.C:
			}
			at := time.Since(restored)
			sctx, scancel := context.WithTimeout(ctx, 3*time.Second)
			st, err := bc.SourceStatus(sctx, "dc2", []string{"dc1"})
			pending, _, perr := bc.ConsumerPending(sctx, stream, durable)
			scancel()
			mu.Lock()
			if err == nil && len(st) == 1 {
				if r.copyFirst < 0 && st[0].SourceSeq > seqBefore {
					r.copyFirst = at
				}
				if r.copyDone < 0 && st[0].CaughtUp {
					r.copyDone = at
					// What is left from here on is applying only.
					r.cpuAtCopyDone = xbCPU()
					if got, err := xbCursors(dst, origin); err == nil {
						for s := range got {
							r.appliedAtCopyDone += got[s] - before[s]
						}
					}
				}
			}
			if perr == nil && pending > r.maxPending {
				r.maxPending = pending
			}
			mu.Unlock()
			if log.IsDebug() && err == nil && len(st) == 1 {
				var applied uint64
				if got, err := xbCursors(dst, origin); err == nil {
					for s := range got {
						applied += got[s] - before[s]
					}
				}
				log.Debug("progress", "at", at, "copied", st[0].SourceSeq-seqBefore, "applied", applied, "pending", pending)
			}
		}
	}()
	stopPoller := sync.OnceFunc(func() {
		close(stop)
		<-pollerDone
	})
	defer stopPoller()

	for {
		got, err := xbCursors(dst, origin)
		if err != nil {
			stopPoller()
			return r, err
		}
		at := time.Since(restored)
		done := true
		for s := range want {
			if got[s] > before[s] && r.firstApplied < 0 {
				mu.Lock()
				r.firstApplied = at
				mu.Unlock()
			}
			if got[s] < want[s] {
				done = false
			}
		}
		if done {
			log.Info("dc2 applied the backlog", "after", at, "first_applied", r.firstApplied)
			mu.Lock()
			r.cpuAtDone = xbCPU()
			r.cpu = r.cpuAtDone - cpu0
			r.done = at
			mu.Unlock()
			break
		}
		if at > xbDrainDeadline {
			stopPoller()
			return r, fmt.Errorf("dc2 applied %v of dc1's change logs (want %v, from %v) %v after the link returned", got, want, before, xbDrainDeadline)
		}
		time.Sleep(2 * time.Millisecond)
	}
	// Let the status poller see the copy caught up if it has not yet.
	for deadline := time.Now().Add(3 * time.Second); time.Now().Before(deadline); {
		mu.Lock()
		ok := r.copyDone >= 0
		mu.Unlock()
		if ok {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	stopPoller() // r is ours alone from here
	return r, nil
}

// xbCheckAll checks that dc2 holds every key of drain round prefix.
func xbCheckAll(dst []*store.Shard, prefix string, n int) error {
	missing := 0
	var first []byte
	for i := 0; i < n; i++ {
		k := xbDrainKey(prefix, i)
		_, ok, err := dst[topology.ShardOf(k, len(dst))].GetRecord(k)
		if err != nil {
			return err
		}
		if !ok {
			if missing == 0 {
				first = k
			}
			missing++
		}
	}
	if missing > 0 {
		return fmt.Errorf("dc2 misses %d of %d keys of round %s (first %s)", missing, n, prefix, first)
	}
	return nil
}

// ---------------------------------------------------------------------------
// BenchmarkWriteCostOfReplication

// BenchmarkWriteCostOfReplication measures what applying dc1's writes in a
// second DC costs dc1's writers: put throughput through the Go client,
// xbCostConc concurrent Puts of random keys (16 bytes, over xbCostKeys) with
// 100-byte values, into a 3-shard x 1-replica keyspace on one store, with
// one DC alone and with dc1 of two linked DCs (dc2 applying everything,
// sharing the cores). Both setups run side by side; each round measures
// both, alternating which goes first, and after a two-DC round waits (off
// the clock) until dc2 has applied everything so no backlog spills into the
// next round. Reported: medians over xbCostRounds rounds of each setup's
// puts/s, their ratio, dc2's catch-up time after the last write, and the CPU
// time the whole process (client, NATS servers, stores) spent per put (for
// two DCs including dc2's catch-up).
func BenchmarkWriteCostOfReplication(b *testing.B) {
	one := xbStartDC(b)
	two, _ := xbStartDCs(b, false)
	cOne := xbClient(b, one, xbCostConc)
	c1 := xbClient(b, two[0], xbCostConc)
	c2 := xbClient(b, two[1], 4)
	xbCreate(b, one, cOne, xbCostKeyspace)
	src := xbCreate(b, two[0], c1, xbCostKeyspace)
	dst := xbCreate(b, two[1], c2, xbCostKeyspace)
	origin := two[0].Stores()[0].ID

	// Warm up both: connections, publishers, dc2's applier.
	for _, cl := range []*client.Client{cOne, c1} {
		if _, err := xbPutRound(cl, 5000, 99); err != nil {
			b.Fatal(err)
		}
	}
	if _, err := xbWaitApplied(src, dst, origin, 60*time.Second); err != nil {
		b.Fatal(err)
	}

	var oneRates, twoRates, catchUps, oneCPU, twoCPU []float64
	b.ResetTimer()
	for it := 0; it < b.N; it++ {
		for round := 0; round < xbCostRounds; round++ {
			seed := uint64(it*xbCostRounds + round)
			runOne := func() {
				cpu0 := xbCPU()
				r, err := xbPutRound(cOne, xbCostOps, seed)
				if err != nil {
					b.Fatal(err)
				}
				oneRates = append(oneRates, r)
				oneCPU = append(oneCPU, float64((xbCPU()-cpu0).Microseconds())/xbCostOps)
			}
			runTwo := func() {
				cpu0 := xbCPU()
				r, err := xbPutRound(c1, xbCostOps, seed)
				if err != nil {
					b.Fatal(err)
				}
				twoRates = append(twoRates, r)
				b.StopTimer()
				d, err := xbWaitApplied(src, dst, origin, 60*time.Second)
				if err != nil {
					b.Fatal(err)
				}
				catchUps = append(catchUps, xbMs(d))
				twoCPU = append(twoCPU, float64((xbCPU()-cpu0).Microseconds())/xbCostOps)
				b.StartTimer()
			}
			if round%2 == 0 {
				runOne()
				runTwo()
			} else {
				runTwo()
				runOne()
			}
		}
	}
	b.StopTimer()
	b.Logf("puts/s one DC %.0f, two DCs %.0f; CPU µs/put one DC %.1f, two DCs %.1f; dc2 catch-up after each two-DC round (ms) %.1f",
		oneRates, twoRates, oneCPU, twoCPU, catchUps)
	mOne, mTwo := xbMedian(oneRates), xbMedian(twoRates)
	b.ReportMetric(mOne, "one-dc-puts/s")
	b.ReportMetric(mTwo, "two-dc-puts/s")
	b.ReportMetric(mTwo/mOne, "two/one")
	b.ReportMetric(xbMedian(catchUps), "dc2-catchup-ms")
	b.ReportMetric(xbMedian(oneCPU), "one-dc-cpu-µs/put")
	b.ReportMetric(xbMedian(twoCPU), "two-dc-cpu-µs/put")
}

// xbPutRound runs n Puts of random keys from xbCostConc goroutines and
// returns puts/s.
func xbPutRound(cl *client.Client, n int, seed uint64) (float64, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 120*time.Second)
	defer cancel()
	var next atomic.Int64
	var firstErr atomic.Pointer[error]
	var wg sync.WaitGroup
	start := time.Now()
	for w := 0; w < xbCostConc; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(seed, uint64(w)))
			key := make([]byte, 0, 16)
			for next.Add(1) <= int64(n) {
				key = fmt.Appendf(key[:0], "key:%012d", rng.IntN(xbCostKeys))
				if _, err := cl.Put(ctx, xbCostKeyspace, key, xbValue); err != nil {
					firstErr.CompareAndSwap(nil, &err)
					cancel()
					return
				}
			}
		}()
	}
	wg.Wait()
	el := time.Since(start)
	if p := firstErr.Load(); p != nil {
		return 0, fmt.Errorf("put: %w", *p)
	}
	return float64(n) / el.Seconds(), nil
}
