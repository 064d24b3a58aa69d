package main

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/vasto-kv/vasto/bus"
	"github.com/vasto-kv/vasto/internal/devcluster"
)

// benchOut is `vasto bench --json`.
type benchOut struct {
	Target     string
	ReadRatio  *float64 `json:"read_ratio"`
	TargetRate float64  `json:"target_ops_per_sec"`
	Results    []struct {
		Op        string
		Ops       int
		Errors    int64
		OpsPerSec float64 `json:"ops_per_sec"`
		P50       int64   `json:"p50_ns"`
		Max       int64   `json:"max_ns"`
	}
}

// benchJSONRun runs `vasto bench --json args...` and decodes its report.
func benchJSONRun(t *testing.T, args ...string) benchOut {
	t.Helper()
	code, out, errs := vasto(t, append([]string{"bench", "--json"}, args...)...)
	require.Equal(t, 0, code, errs)
	var r benchOut
	require.NoError(t, json.Unmarshal([]byte(out), &r), out)
	for _, res := range r.Results {
		require.Zero(t, res.Errors, "%s: no failed operations", res.Op)
	}
	return r
}

// ops returns the op names of a report and their operation counts.
func (r benchOut) ops() (names []string, counts map[string]int) {
	counts = map[string]int{}
	for _, res := range r.Results {
		names = append(names, res.Op)
		counts[res.Op] = res.Ops
	}
	return names, counts
}

func TestBenchFlagsRefused(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--read-ratio", "1.5"}, "--read-ratio 1.5: want 0 to 1"},
		{[]string{"--read-ratio", "-0.1"}, "--read-ratio -0.1: want 0 to 1"},
		{[]string{"--read-ratio", "NaN"}, "--read-ratio NaN: want 0 to 1"},
		{[]string{"--rate", "0"}, "--rate 0: want more than 0"},
		{[]string{"--rate", "-5"}, "--rate -5: want more than 0"},
		{[]string{"--redis", "127.0.0.1:1", "--nats-kv", "nats://127.0.0.1:1"}, "--redis and --nats-kv are exclusive"},
		{[]string{"--ops", "put,scan"}, `unknown op "scan"`},
		{[]string{"--nats-kv", "nats://127.0.0.1:1", "--nats-kv-bucket", "a.b"}, `--nats-kv-bucket "a.b"`},
	} {
		code, out, errs := vasto(t, append([]string{"bench"}, tc.args...)...)
		require.Equal(t, 2, code, "%v: a usage error", tc.args)
		require.Contains(t, errs, tc.want, tc.args)
		require.Empty(t, out, tc.args)
	}
}

// TestBenchModesAndBaselines runs the mixed and open-loop loads against
// Vasto and every mode against a JetStream key-value bucket of the same
// cluster's NATS.
func TestBenchModesAndBaselines(t *testing.T) {
	_, c := startCLIDC(t, 90*time.Second, func(*devcluster.Config) {})
	createAndPut(t, "users", "2", "2", "k", "v")

	r := benchJSONRun(t, "--keyspace", "users", "--ops", "mix", "--read-ratio", "0.5", "-n", "200", "-c", "4")
	names, counts := r.ops()
	require.Equal(t, []string{"mix:get", "mix:put", "mix"}, names)
	require.Equal(t, 200, counts["mix"])
	require.Equal(t, 200, counts["mix:get"]+counts["mix:put"])
	require.Positive(t, counts["mix:get"])
	require.Positive(t, counts["mix:put"])
	require.Equal(t, 0.5, *r.ReadRatio)
	_, counts = benchJSONRun(t, "--keyspace", "users", "--ops", "mix", "--read-ratio", "1", "-n", "50", "-c", "2").ops()
	require.Equal(t, map[string]int{"mix": 50, "mix:get": 50, "mix:put": 0}, counts)

	// Open loop at 1000/s: 300 operations take 0.3 s however fast they are.
	r = benchJSONRun(t, "--keyspace", "users", "--ops", "put", "--rate", "1000", "-n", "300", "-c", "4")
	require.Equal(t, 1000.0, r.TargetRate)
	require.Equal(t, 300, r.Results[0].Ops)
	require.Less(t, r.Results[0].OpsPerSec, 1010.0)
	// One worker offered far more than it can do: each operation waits
	// for the ones before it, and that wait is latency, so the slowest
	// takes about as long as the whole run (a closed loop's would not).
	r = benchJSONRun(t, "--keyspace", "users", "--ops", "get", "--rate", "1000000", "-n", "200", "-c", "1")
	run := time.Duration(float64(r.Results[0].Ops) / r.Results[0].OpsPerSec * float64(time.Second))
	require.Greater(t, time.Duration(r.Results[0].Max), run/2, "latency counts from the scheduled start")

	url := c.NATSURL()
	r = benchJSONRun(t, "--nats-kv", url, "--ops", "put,get,mix", "-n", "200", "-c", "4", "--keys", "20")
	names, counts = r.ops()
	require.Equal(t, []string{"put", "get", "mix:get", "mix:put", "mix"}, names)
	require.Equal(t, 200, counts["put"])
	require.Equal(t, 200, counts["mix:get"]+counts["mix:put"])
	require.Equal(t, "nats-kv "+url+" "+bus.DefaultKVBenchBucket, r.Target)
	kv := openKV(t, url, bus.DefaultKVBenchBucket)
	require.True(t, kv.Created(), "the bench deleted the bucket it created")
	require.NoError(t, kv.Close(context.Background()))

	// A bucket that exists is used and kept.
	kv = openKV(t, url, "mine")
	defer func() { require.NoError(t, kv.Close(context.Background())) }()
	code, out, errs := vasto(t, "bench", "--nats-kv", url, "--nats-kv-bucket", "mine", "--ops", "put", "-n", "20", "-c", "2", "--keys", "1", "--rate", "500")
	require.Equal(t, 0, code, errs)
	require.Regexp(t, `put\s+20\s+0\s`, out)
	require.Contains(t, out, "open loop at 500 ops/s")
	require.NotContains(t, errs, "created bucket")
	_, found, err := kv.Get(context.Background(), []byte("key:000000000000"))
	require.NoError(t, err)
	require.True(t, found, "the bench wrote to the bucket, which is still there")
}

// openKV opens a key-value bucket on the NATS server at url.
func openKV(t *testing.T, url, bucket string) *bus.KVBench {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	cfg := bus.DefaultKVBenchConfig(url)
	cfg.Bucket = bucket
	kv, err := bus.OpenKVBench(ctx, cfg)
	require.NoError(t, err)
	return kv
}
