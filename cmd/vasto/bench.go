package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"text/tabwriter"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/vasto-kv/vasto/client"
)

// benchTarget is what a benchmark drives: Vasto through the Go client, or a
// Redis server through the same Redis client library, for a baseline.
type benchTarget interface {
	put(ctx context.Context, key, value []byte) error
	get(ctx context.Context, key []byte) error
	close()
}

type vastoTarget struct {
	cl *client.Client
	ks string
}

func (t vastoTarget) put(ctx context.Context, k, v []byte) error {
	_, err := t.cl.Put(ctx, t.ks, k, v)
	return err
}

func (t vastoTarget) get(ctx context.Context, k []byte) error {
	_, err := t.cl.Get(ctx, t.ks, k)
	if errors.Is(err, client.ErrNotFound) {
		return nil
	}
	return err
}

func (t vastoTarget) close() { t.cl.Close() }

type redisTarget struct{ rc *redis.Client }

func (t redisTarget) put(ctx context.Context, k, v []byte) error {
	return t.rc.Set(ctx, string(k), v, 0).Err()
}

func (t redisTarget) get(ctx context.Context, k []byte) error {
	err := t.rc.Get(ctx, string(k)).Err()
	if errors.Is(err, redis.Nil) {
		return nil
	}
	return err
}

func (t redisTarget) close() { _ = t.rc.Close() }

// runBench runs a bounded load and prints throughput and latency
// percentiles per operation.
func runBench(ctx context.Context, e *env, args []string) error {
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	c := addCommon(fs)
	ks := fs.String("keyspace", "bench", "keyspace to load (must exist)")
	ops := fs.String("ops", "put,get", "operations to run, in order: put, get")
	n := fs.Int("n", 100000, "operations of each kind")
	conc := fs.Int("c", 50, "concurrent workers")
	size := fs.Int("value-size", 100, "value size in bytes")
	keys := fs.Int("keys", 100000, "distinct keys")
	redisAddr := fs.String("redis", "", "drive this Redis server instead (baseline), e.g. 127.0.0.1:6379")
	asJSON := jsonFlag(fs)
	hedge := fs.Duration("hedge-after", client.DefaultConfig("", "").HedgeAfter, "send a read to a second replica after this long without a reply; negative: never")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *n <= 0 || *conc <= 0 || *size < 0 || *keys <= 0 {
		return fmt.Errorf("%w: -n, -c, --keys must be positive", errUsage)
	}
	e.logLevel = envOr("VASTO_LOG_LEVEL", "warn")
	var target benchTarget
	name := "vasto " + *ks
	cfg, err := clientConfig(c, e)
	if err != nil {
		return err
	}
	if *redisAddr != "" {
		target = redisTarget{redis.NewClient(&redis.Options{Addr: *redisAddr, PoolSize: *conc, Protocol: 2, DisableIdentity: true,
			Username: cfg.Username, Password: cfg.Password})}
		name = "redis " + *redisAddr
	} else {
		cfg, err := clientConfig(c, e)
		if err != nil {
			return err
		}
		cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		cfg.PoolSize = *conc
		cfg.HedgeAfter = *hedge
		cl, err := client.New(cctx, cfg)
		cancel()
		if err != nil {
			return err
		}
		target = vastoTarget{cl, *ks}
	}
	defer target.close()
	value := []byte(strings.Repeat("v", *size))
	var results []benchResult
	for _, op := range strings.Split(*ops, ",") {
		op = strings.TrimSpace(op)
		if op != "put" && op != "get" {
			return fmt.Errorf("%w: unknown op %q", errUsage, op)
		}
		r := benchOp(ctx, newBenchProgress(e.stderr), target, op, *n, *conc, *keys, value)
		results = append(results, r)
		if ctx.Err() != nil {
			break
		}
	}
	if *asJSON {
		return printJSON(e.stdout, benchReport(name, *conc, *size, *keys, results))
	}
	fmt.Fprintf(e.stdout, "%s: %d workers, %d-byte values, %d keys\n", name, *conc, *size, *keys)
	tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "op\tops\terrors\tops/s\tp50\tp99\tp999\tmax\t")
	for _, r := range results {
		fmt.Fprintf(tw, "%s\t%d\t%d\t%.0f\t%s\t%s\t%s\t%s\t\n", r.op, r.done, r.errors, r.rate,
			r.pct(0.50), r.pct(0.99), r.pct(0.999), r.pct(1))
	}
	return tw.Flush()
}

type benchResult struct {
	op     string
	done   int
	errors int64
	rate   float64
	lat    []time.Duration
}

func (r benchResult) pct(p float64) string {
	if len(r.lat) == 0 {
		return "-"
	}
	return r.at(p).Round(time.Microsecond).String()
}

// at is the latency at quantile p (0 when nothing ran).
func (r benchResult) at(p float64) time.Duration {
	if len(r.lat) == 0 {
		return 0
	}
	return r.lat[int(p*float64(len(r.lat)-1))]
}

// benchOp runs n operations over conc workers and shows a progress bar.
func benchOp(ctx context.Context, progress *benchProgress, t benchTarget, op string, n, conc, keys int, value []byte) benchResult {
	var next, errs atomic.Int64
	lats := make([][]time.Duration, conc)
	var wg sync.WaitGroup
	start := time.Now()
	for w := 0; w < conc; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(w), uint64(start.UnixNano())))
			key := make([]byte, 0, 32)
			for ctx.Err() == nil {
				i := next.Add(1)
				if i > int64(n) {
					return
				}
				key = fmt.Appendf(key[:0], "key:%012d", rng.IntN(keys))
				t0 := time.Now()
				var err error
				if op == "put" {
					err = t.put(ctx, key, value)
				} else {
					err = t.get(ctx, key)
				}
				lats[w] = append(lats[w], time.Since(t0))
				if err != nil {
					errs.Add(1)
				}
			}
		}()
	}
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	tick := time.NewTicker(200 * time.Millisecond)
	defer tick.Stop()
	for running := true; running; {
		select {
		case <-done:
			running = false
		case <-tick.C:
		}
		progress.draw(op, min(next.Load(), int64(n)), int64(n), time.Since(start), !running)
	}
	elapsed := time.Since(start)
	var all []time.Duration
	for _, l := range lats {
		all = append(all, l...)
	}
	slices.Sort(all)
	return benchResult{op: op, done: len(all), errors: errs.Load(), rate: float64(len(all)) / elapsed.Seconds(), lat: all}
}

// benchProgress shows a run's progress on w: a bar redrawn in place on a
// terminal; otherwise (output redirected to a file or a pipe) a plain line
// every benchPlainEvery and one at the end, never carriage returns.
type benchProgress struct {
	w         io.Writer
	tty       bool
	printedAt time.Duration
}

// benchPlainEvery is how often a redirected progress prints a line.
const benchPlainEvery = 5 * time.Second

func newBenchProgress(w io.Writer) *benchProgress {
	return &benchProgress{w: w, tty: isTerminal(w)}
}

// draw shows done of total after elapsed; last is the final call of a run.
func (p *benchProgress) draw(op string, done, total int64, elapsed time.Duration, last bool) {
	rate := float64(done) / max(elapsed.Seconds(), 1e-9)
	pct := done * 100 / max(total, 1)
	if !p.tty {
		if last || elapsed-p.printedAt >= benchPlainEvery {
			fmt.Fprintf(p.w, "%s: %d%% %d/%d %.0f ops/s\n", op, pct, done, total, rate)
			p.printedAt = elapsed
		}
		return
	}
	const width = 30
	filled := int(done * width / max(total, 1))
	fmt.Fprintf(p.w, "\r%-4s [%s%s] %3d%% %d/%d %.0f ops/s", op,
		strings.Repeat("=", filled), strings.Repeat(" ", width-filled), pct, done, total, rate)
	if last {
		fmt.Fprintln(p.w)
	}
}

// benchJSON is `vasto bench --json`: one entry per operation run.
type benchJSON struct {
	Target     string        `json:"target"`
	Workers    int           `json:"workers"`
	ValueBytes int           `json:"value_bytes"`
	Keys       int           `json:"keys"`
	Results    []benchOpJSON `json:"results"`
}

type benchOpJSON struct {
	Op        string  `json:"op"`
	Ops       int     `json:"ops"`
	Errors    int64   `json:"errors"`
	OpsPerSec float64 `json:"ops_per_sec"`
	P50       int64   `json:"p50_ns"`
	P99       int64   `json:"p99_ns"`
	P999      int64   `json:"p999_ns"`
	Max       int64   `json:"max_ns"`
}

func benchReport(target string, workers, size, keys int, results []benchResult) benchJSON {
	out := benchJSON{Target: target, Workers: workers, ValueBytes: size, Keys: keys}
	for _, r := range results {
		out.Results = append(out.Results, benchOpJSON{Op: r.op, Ops: r.done, Errors: r.errors, OpsPerSec: r.rate,
			P50: int64(r.at(0.50)), P99: int64(r.at(0.99)), P999: int64(r.at(0.999)), Max: int64(r.at(1))})
	}
	return out
}
