package e2e

import (
	"container/heap"
	"context"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/vasto-kv/vasto/client"
	"github.com/vasto-kv/vasto/internal/devcluster"
	"github.com/vasto-kv/vasto/store"
)

// Replication-lag benchmark parameters: every iteration writes lagWrites
// fresh keys at lagRate writes/s (paced, open loop) from lagWriters
// goroutines. VASTO_LAG_RATE overrides the rate (to see the lag without
// load, e.g. 1000).
const (
	lagWrites   = 20000
	lagWarmup   = 3000  // writes before the measured rounds, at the same rate
	lagRate     = 10000 // writes/s, all writers together
	lagWriters  = 32
	lagPoll     = 50 * time.Microsecond // poller back-off when nothing new is visible
	lagDeadline = 30 * time.Second      // the last write must be visible this long after the writes end
	lagKeyspace = "lag"
)

// BenchmarkReplicationLag measures, inside one DC, how long after a write is
// acknowledged to the client it is visible on the shard's other replica.
//
// Two stores, keyspace of 1 shard x 2 replicas: the client writes to the
// preferred replica; a poller reads the other replica's engine directly
// (Shard.GetRecord) until the acknowledged version is there. A replica
// applies a source's change log in log order, so the poller keeps the
// acknowledged writes in a heap ordered by change-log index and checks the
// oldest one only: one engine read per poll while nothing new arrives. The
// lag of a write is (first poll that sees it) - (Put returned); the poll
// interval (~50-100 µs) bounds the resolution.
//
//	go test -run='^$' -bench=ReplicationLag -benchtime=1x ./internal/e2e/
func BenchmarkReplicationLag(b *testing.B) {
	rate := lagRate
	if v := os.Getenv("VASTO_LAG_RATE"); v != "" {
		r, err := strconv.Atoi(v)
		if err != nil || r <= 0 {
			b.Fatalf("VASTO_LAG_RATE=%q: want a positive number of writes/s", v)
		}
		rate = r
	}
	c := lagCluster(b, 2)
	cl := lagClient(b, c)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := cl.CreateKeyspace(ctx, lagKeyspace, 1, 2); err != nil {
		b.Fatal(err)
	}
	if err := cl.WaitForKeyspace(ctx, lagKeyspace); err != nil {
		b.Fatal(err)
	}
	if err := cl.WaitForServing(ctx, lagKeyspace); err != nil {
		b.Fatal(err)
	}
	ks := cl.Topology().Keyspaces[lagKeyspace]
	if ks == nil || len(ks.Placement) != 1 || len(ks.Placement[0]) != 2 {
		b.Fatalf("unexpected placement of %s: %+v", lagKeyspace, ks)
	}
	writer, other := ks.Placement[0][0], ks.Placement[0][1]
	otherIdx := -1
	for i, st := range c.Stores() {
		if st.ID == other {
			otherIdx = i
		}
	}
	if otherIdx < 0 {
		b.Fatalf("store %s not in the cluster", other)
	}
	replica, err := c.Engine(otherIdx).Shard(lagKeyspace, 0)
	if err != nil {
		b.Fatal(err)
	}
	value := []byte(strings.Repeat("v", 100))

	// Warm up at the same rate (connections of every writer, both
	// replicas' publishers and consumers) so the rounds measure the steady
	// state.
	runLagRound(b, cl, replica, writer, "warm", lagWarmup, rate, value)

	var lags, puts []time.Duration
	var writeTime time.Duration
	b.ResetTimer()
	for it := 0; it < b.N; it++ {
		r := runLagRound(b, cl, replica, writer, strconv.Itoa(it), lagWrites, rate, value)
		lags = append(lags, r.lags...)
		puts = append(puts, r.puts...)
		writeTime += r.writeTime
	}
	b.StopTimer()

	slices.Sort(lags)
	slices.Sort(puts)
	ms := func(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
	b.ReportMetric(ms(pctile(lags, 0.50)), "p50-ms")
	b.ReportMetric(ms(pctile(lags, 0.99)), "p99-ms")
	b.ReportMetric(ms(pctile(lags, 0.999)), "p999-ms")
	b.ReportMetric(ms(lags[len(lags)-1]), "max-ms")
	b.ReportMetric(ms(pctile(puts, 0.50)), "put-p50-ms")
	b.ReportMetric(ms(pctile(puts, 0.99)), "put-p99-ms")
	b.ReportMetric(float64(len(puts))/writeTime.Seconds(), "writes/s")
}

// lagRound is what one round measured.
type lagRound struct {
	lags, puts []time.Duration
	writeTime  time.Duration // first write sent to last write acknowledged
}

// runLagRound writes n keys named after prefix at rate writes/s and returns
// every write's lag and Put latency.
func runLagRound(b *testing.B, cl *client.Client, replica *store.Shard, writer, prefix string, n, rate int, value []byte) lagRound {
	ctx, cancel := context.WithTimeout(context.Background(), time.Duration(n/rate)*time.Second+2*lagDeadline)
	defer cancel()
	acks := make(chan acked, n)
	tokens := make(chan int, lagWriters)
	var failOnce sync.Once
	var failed error // the first error
	fail := func(err error) {
		failOnce.Do(func() { failed = err })
		cancel()
	}

	start := time.Now()
	go pace(ctx, tokens, start, n, rate)

	// Writers.
	putLat := make([][]time.Duration, lagWriters)
	var lastAck atomic.Int64
	var wg sync.WaitGroup
	for w := 0; w < lagWriters; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range tokens {
				key := fmt.Appendf(nil, "lag:%s:%08d", prefix, i)
				t0 := time.Now()
				res, err := cl.Put(ctx, lagKeyspace, key, value)
				at := time.Now()
				if err != nil {
					fail(fmt.Errorf("put %s: %w", key, err))
					return
				}
				if res.Store != writer || !res.Applied || res.LogIndex == 0 {
					fail(fmt.Errorf("put %s: unexpected result %+v (preferred replica %s)", key, res, writer))
					return
				}
				putLat[w] = append(putLat[w], at.Sub(t0))
				acks <- acked{key: key, version: res.Version, index: res.LogIndex, at: at}
				if n := at.UnixNano(); n > lastAck.Load() {
					lastAck.Store(n) // racy max, close enough for the rate
				}
			}
		}()
	}
	writersDone := make(chan struct{})
	go func() { wg.Wait(); close(writersDone) }()

	// Poller: the oldest acknowledged write (by log index) not yet seen on
	// the replica is the only one that needs reading.
	lags := make([]time.Duration, 0, n)
	var pending ackHeap
	var deadline <-chan time.Time
	writing := true
	for writing || len(pending) > 0 || len(acks) > 0 {
		if ctx.Err() != nil {
			break
		}
		progress := false
		for more := true; more; {
			select {
			case a := <-acks:
				heap.Push(&pending, a)
			default:
				more = false
			}
		}
		for len(pending) > 0 {
			a := pending[0]
			rec, ok, err := replica.GetRecord(a.key)
			if err != nil {
				fail(fmt.Errorf("replica read %s: %w", a.key, err))
				break
			}
			if !ok || rec.Version.Compare(a.version) < 0 {
				break
			}
			now := time.Now()
			lags = append(lags, max(now.Sub(a.at), 0))
			heap.Pop(&pending)
			progress = true
		}
		if writing {
			select {
			case <-writersDone:
				writing = false
				deadline = time.After(lagDeadline)
			default:
			}
		}
		if !progress {
			select {
			case <-deadline:
				fail(fmt.Errorf("%d acknowledged writes not visible on the replica %v after the last write",
					len(pending)+len(acks), lagDeadline))
			default:
				time.Sleep(lagPoll)
			}
		}
	}
	cancel()
	<-writersDone
	failOnce.Do(func() {}) // orders the read after any write
	if failed != nil {
		b.Fatal(failed)
	}
	if len(lags) != n {
		b.Fatalf("measured %d lags for %d writes", len(lags), n)
	}
	var puts []time.Duration
	for _, p := range putLat {
		puts = append(puts, p...)
	}
	return lagRound{lags: lags, puts: puts, writeTime: time.Unix(0, lastAck.Load()).Sub(start)}
}

func pctile(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	return sorted[int(p*float64(len(sorted)-1))]
}

// lagCluster is startCluster for a benchmark.
func lagCluster(b *testing.B, n int) *devcluster.Cluster {
	b.Helper()
	cfg := devcluster.DefaultConfig(b.TempDir())
	cfg.Stores = n
	cfg.Logger = testLogger(b)
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

// lagClient is newClient for a benchmark.
func lagClient(b *testing.B, c *devcluster.Cluster) *client.Client {
	b.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	cfg := client.DefaultConfig(c.NATSURL(), c.DC())
	cfg.Logger = testLogger(b)
	cfg.PoolSize = lagWriters
	cl, err := client.New(ctx, cfg)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { cl.Close() })
	return cl
}
