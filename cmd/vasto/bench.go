package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/vasto-kv/vasto/bus"
	"github.com/vasto-kv/vasto/client"
	"github.com/vasto-kv/vasto/wire"
)

// benchTarget is what a benchmark drives: Vasto through the Go client, a
// Redis server through the same Redis client library, or a NATS JetStream
// key-value bucket, for baselines.
type benchTarget interface {
	put(ctx context.Context, key, value []byte) error
	get(ctx context.Context, key []byte) error
	close() error
}

type vastoTarget struct {
	cl  *client.Client
	ks  string
	ack client.AckLevel
}

func (t vastoTarget) put(ctx context.Context, k, v []byte) error {
	_, err := t.cl.Put(ctx, t.ks, k, v, client.WithAck(t.ack))
	return err
}

func (t vastoTarget) get(ctx context.Context, k []byte) error {
	_, err := t.cl.Get(ctx, t.ks, k)
	if errors.Is(err, client.ErrNotFound) {
		return nil
	}
	return err
}

func (t vastoTarget) close() error { t.cl.Close(); return nil }

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

func (t redisTarget) close() error { return t.rc.Close() }

// natsKVTarget is a NATS JetStream key-value bucket (file storage, one
// replica); the bucket is deleted at the end if the benchmark created it.
type natsKVTarget struct{ kv *bus.KVBench }

func (t natsKVTarget) put(ctx context.Context, k, v []byte) error { return t.kv.Put(ctx, k, v) }

func (t natsKVTarget) get(ctx context.Context, k []byte) error {
	_, _, err := t.kv.Get(ctx, k)
	return err
}

func (t natsKVTarget) close() error {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return t.kv.Close(ctx)
}

// benchFlags are the flags of `vasto bench`.
type benchFlags struct {
	common    commonFlags
	ks        *string
	ops       *string
	n         *int
	conc      *int
	size      *int
	keys      *int
	redisAddr *string
	natsKV    *string
	bucket    *string
	readRatio *float64
	rate      *float64
	asJSON    *bool
	hedge     *time.Duration
	ack       *string
	pipelines *int
}

func addBenchFlags(fs *flag.FlagSet) benchFlags {
	return benchFlags{
		common:    addCommon(fs),
		ks:        fs.String("keyspace", "bench", "keyspace to load (must exist)"),
		ops:       fs.String("ops", "put,get", "operations to run, in order: put, get, mix (gets and puts, see --read-ratio)"),
		n:         fs.Int("n", 100000, "operations of each kind"),
		conc:      fs.Int("c", 50, "concurrent workers"),
		size:      fs.Int("value-size", 100, "value size in bytes"),
		keys:      fs.Int("keys", 100000, "distinct keys"),
		redisAddr: fs.String("redis", "", "drive this Redis server instead (baseline), e.g. 127.0.0.1:6379"),
		natsKV:    fs.String("nats-kv", "", "drive a JetStream key-value bucket on this NATS server instead (baseline), e.g. nats://127.0.0.1:4222"),
		bucket:    fs.String("nats-kv-bucket", bus.DefaultKVBenchBucket, "bucket for --nats-kv; created if missing, and then deleted at the end"),
		readRatio: fs.Float64("read-ratio", 0.9, "--ops mix: probability that an operation is a get (else a put), 0 to 1"),
		rate:      fs.Float64("rate", 0, "open loop: start operations at this many per second in total, latency measured from each one's scheduled start (default: closed loop, as fast as the workers go)"),
		asJSON:    jsonFlag(fs),
		ack:       ackFlag(fs),
		hedge:     fs.Duration("hedge-after", client.DefaultConfig("", "").HedgeAfter, "send a read to a second replica after this long without a reply; negative: never"),
		pipelines: fs.Int("pipelines", client.DefaultPipelines, "shared connections per store that the client pipelines concurrent calls on (1 to 64)"),
	}
}

// validate checks the flags and returns the operations to run.
func (f benchFlags) validate(fs *flag.FlagSet) ([]string, error) {
	if *f.n <= 0 || *f.conc <= 0 || *f.size < 0 || *f.keys <= 0 {
		return nil, fmt.Errorf("%w: -n, -c, --keys must be positive", errUsage)
	}
	if *f.redisAddr != "" && *f.natsKV != "" {
		return nil, fmt.Errorf("%w: --redis and --nats-kv are exclusive: one target per run", errUsage)
	}
	if *f.ack != "" && !slices.Contains(wire.AckLevels, *f.ack) {
		return nil, fmt.Errorf("%w: --ack %q: want one of %s", errUsage, *f.ack, strings.Join(wire.AckLevels, ", "))
	}
	if !(*f.readRatio >= 0 && *f.readRatio <= 1) {
		return nil, fmt.Errorf("%w: --read-ratio %v: want 0 to 1", errUsage, *f.readRatio)
	}
	rateSet := false
	fs.Visit(func(fl *flag.Flag) { rateSet = rateSet || fl.Name == "rate" })
	if rateSet && !(*f.rate > 0) || *f.rate < 0 {
		return nil, fmt.Errorf("%w: --rate %v: want more than 0 operations per second", errUsage, *f.rate)
	}
	if !bus.ValidName(*f.bucket) {
		return nil, fmt.Errorf("%w: --nats-kv-bucket %q: want 1-64 of A-Z a-z 0-9 _ -", errUsage, *f.bucket)
	}
	var ops []string
	for _, op := range strings.Split(*f.ops, ",") {
		op = strings.TrimSpace(op)
		if op != opPut && op != opGet && op != opMix {
			return nil, fmt.Errorf("%w: unknown op %q (want put, get, mix)", errUsage, op)
		}
		ops = append(ops, op)
	}
	return ops, nil
}

// runBench runs a bounded load and prints throughput and latency
// percentiles per operation.
func runBench(ctx context.Context, e *env, args []string) error {
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	f := addBenchFlags(fs)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	ops, err := f.validate(fs)
	if err != nil {
		return err
	}
	e.logLevel = envOr("VASTO_LOG_LEVEL", "warn")
	target, name, err := openBenchTarget(ctx, e, f)
	if err != nil {
		return err
	}
	value := []byte(strings.Repeat("v", *f.size))
	var results []benchResult
	for _, op := range ops {
		ph := benchPhase{op: op, n: *f.n, conc: *f.conc, keys: *f.keys, value: value, readRatio: *f.readRatio, rate: *f.rate}
		results = append(results, benchOp(ctx, newBenchProgress(e.stderr), target, ph)...)
		if ctx.Err() != nil {
			break
		}
	}
	closeErr := target.close()
	if closeErr != nil {
		closeErr = fmt.Errorf("closing %s: %w", name, closeErr)
	}
	var mix *float64
	if strings.Contains(*f.ops, opMix) {
		mix = f.readRatio
	}
	if *f.asJSON {
		return errors.Join(printJSON(e.stdout, benchReport(name, *f.conc, *f.size, *f.keys, *f.rate, mix, results)), closeErr)
	}
	return errors.Join(printBenchTable(e, name, f, mix, results), closeErr)
}

// openBenchTarget connects to what --redis, --nats-kv or (neither) the
// Vasto flags name, and returns it with its name for the report.
func openBenchTarget(ctx context.Context, e *env, f benchFlags) (benchTarget, string, error) {
	cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	cfg, err := clientConfig(f.common, e)
	if err != nil {
		return nil, "", err
	}
	switch {
	case *f.redisAddr != "":
		rc := redis.NewClient(&redis.Options{Addr: *f.redisAddr, PoolSize: *f.conc, Protocol: 2, DisableIdentity: true,
			Username: cfg.Username, Password: cfg.Password})
		return redisTarget{rc}, "redis " + *f.redisAddr, nil
	case *f.natsKV != "":
		ccfg, err := f.common.connConfig("vasto-bench", e.rootLogger())
		if err != nil {
			return nil, "", err
		}
		ccfg.URL = *f.natsKV
		kv, err := bus.OpenKVBench(cctx, bus.KVBenchConfig{Conn: ccfg, Bucket: *f.bucket})
		if err != nil {
			return nil, "", err
		}
		if kv.Created() {
			fmt.Fprintf(e.stderr, "created bucket %s (deleted at the end)\n", kv.Bucket())
		}
		return natsKVTarget{kv}, "nats-kv " + redactURLs(*f.natsKV) + " " + kv.Bucket(), nil
	}
	cfg.PoolSize = *f.conc
	cfg.Pipelines = *f.pipelines
	cfg.HedgeAfter = *f.hedge
	cl, err := client.New(cctx, cfg)
	if err != nil {
		return nil, "", err
	}
	name := "vasto " + *f.ks
	if *f.ack != "" {
		name += " ack " + *f.ack
	}
	return vastoTarget{cl, *f.ks, client.AckLevel(*f.ack)}, name, nil
}

// redactURLs hides the passwords of a comma-separated list of URLs.
func redactURLs(s string) string {
	parts := strings.Split(s, ",")
	for i, p := range parts {
		if u, err := url.Parse(strings.TrimSpace(p)); err == nil && u.User != nil {
			parts[i] = u.Redacted()
		}
	}
	return strings.Join(parts, ",")
}

// printBenchTable prints the results as a table.
func printBenchTable(e *env, name string, f benchFlags, mix *float64, results []benchResult) error {
	fmt.Fprintf(e.stdout, "%s: %d workers, %d-byte values, %d keys", name, *f.conc, *f.size, *f.keys)
	if mix != nil {
		fmt.Fprintf(e.stdout, ", mix of %g%% gets", *mix*100)
	}
	if *f.rate > 0 {
		fmt.Fprintf(e.stdout, ", open loop at %g ops/s (latency from each operation's scheduled start)", *f.rate)
	}
	fmt.Fprintln(e.stdout)
	tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "op\tops\terrors\tops/s\tp50\tp99\tp999\tmax\t")
	for _, r := range results {
		fmt.Fprintf(tw, "%s\t%d\t%d\t%.0f\t%s\t%s\t%s\t%s\t\n", r.op, r.done, r.errors, r.rate,
			r.pct(0.50), r.pct(0.99), r.pct(0.999), r.pct(1))
	}
	return tw.Flush()
}

// benchJSON is `vasto bench --json`: one entry per operation run (a mix
// gives three: its gets, its puts, and all of them).
type benchJSON struct {
	Target     string   `json:"target"`
	Workers    int      `json:"workers"`
	ValueBytes int      `json:"value_bytes"`
	Keys       int      `json:"keys"`
	ReadRatio  *float64 `json:"read_ratio,omitempty"`
	// TargetRate is --rate (open loop; latencies from the scheduled
	// starts); absent for a closed loop.
	TargetRate float64       `json:"target_ops_per_sec,omitempty"`
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

func benchReport(target string, workers, size, keys int, rate float64, mix *float64, results []benchResult) benchJSON {
	out := benchJSON{Target: target, Workers: workers, ValueBytes: size, Keys: keys, ReadRatio: mix, TargetRate: rate}
	for _, r := range results {
		out.Results = append(out.Results, benchOpJSON{Op: r.op, Ops: r.done, Errors: r.errors, OpsPerSec: r.rate,
			P50: int64(r.at(0.50)), P99: int64(r.at(0.99)), P999: int64(r.at(0.999)), Max: int64(r.at(1))})
	}
	return out
}
