package store

// BenchmarkShards measures the fixed cost of a shard: what a store pays in
// memory, disk, open files, threads and open/close time for each shard it
// holds, and whether spreading the same load over many shards costs
// throughput. Each size runs in a child process (the test binary again) so
// the resident set is that of one engine alone:
//
//	go test -run='^$' -bench=Shards -benchtime=1x ./store/
//
// VASTO_SHARDS_PROFILE=/tmp/shards writes a CPU profile of each size's load
// to /tmp/shards-<n>.prof.
//
// The child creates n empty shards, closes the engine, opens it again (the
// start-up a restarted store pays) and measures the idle engine; then it
// runs shardsBenchOps puts and as many gets from 50 goroutines, keys spread
// over every shard, and closes the engine with the writes still in the
// memtables (the shutdown a SIGTERM pays).

import (
	"context"
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/pprof"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/stretchr/testify/require"
)

const (
	shardsChildEnv = "VASTO_STORE_SHARDS_CHILD"
	// shardsBenchOps is how many puts (and then gets) the load runs.
	shardsBenchOps = 200_000
	// shardsBenchWorkers is how many goroutines run the load.
	shardsBenchWorkers = 50
	// shardsBenchShardsPerKeyspace is how many shards each keyspace has.
	shardsBenchShardsPerKeyspace = 10
)

// shardsResult is what one child measured.
type shardsResult struct {
	Shards     int     `json:"shards"`
	CreateSec  float64 `json:"create_sec"`
	OpenSec    float64 `json:"open_sec"`
	OpenCPU    float64 `json:"open_cpu_sec"`
	RSSBytes   int64   `json:"rss_bytes"`
	DiskBytes  int64   `json:"disk_bytes"`
	OpenFiles  int     `json:"open_files"`
	Threads    int     `json:"threads"`
	PutsPerSec float64 `json:"puts_per_sec"`
	GetsPerSec float64 `json:"gets_per_sec"`
	LoadedRSS  int64   `json:"loaded_rss_bytes"`
	CloseSec   float64 `json:"close_sec"`
	CloseCPU   float64 `json:"close_cpu_sec"`
}

func BenchmarkShards(b *testing.B) {
	for _, n := range []int{1, 3, 10, 100, 1000} {
		b.Run(fmt.Sprintf("shards-%d", n), func(b *testing.B) {
			var r shardsResult
			for i := 0; i < b.N; i++ {
				r = runShardsChild(b, n)
			}
			b.ReportMetric(r.OpenSec, "open-s")
			b.ReportMetric(r.CloseSec, "close-s")
			b.ReportMetric(r.OpenCPU, "open-cpu-s")
			b.ReportMetric(r.CloseCPU, "close-cpu-s")
			b.ReportMetric(float64(r.RSSBytes)/(1<<20), "idle-rss-MB")
			b.ReportMetric(float64(r.DiskBytes)/(1<<10)/float64(n), "disk-KB/shard")
			b.ReportMetric(float64(r.OpenFiles), "fds")
			b.ReportMetric(float64(r.Threads), "threads")
			b.ReportMetric(r.PutsPerSec, "puts/s")
			b.ReportMetric(r.GetsPerSec, "gets/s")
			b.ReportMetric(float64(r.LoadedRSS)/(1<<20), "loaded-rss-MB")
			b.ReportMetric(r.CreateSec*1000/float64(n), "create-ms/shard")
		})
	}
}

// runShardsChild runs the measurement for n shards in a child process.
func runShardsChild(b *testing.B, n int) shardsResult {
	b.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), shardsChildEnv+"="+strconv.Itoa(n)+","+b.TempDir())
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	require.NoError(b, err, "child: %s", stderr.String())
	var r shardsResult
	require.NoError(b, json.Unmarshal(out, &r), "child output %q", out)
	return r
}

// runShardsBench is the child's side: it prints one shardsResult as JSON.
func runShardsBench(arg string) error {
	nStr, dir, ok := strings.Cut(arg, ",")
	n, err := strconv.Atoi(nStr)
	if !ok || err != nil || n <= 0 {
		return fmt.Errorf("bad %s %q", shardsChildEnv, arg)
	}
	cfg := DefaultConfig(dir)
	cfg.Logger = hclog.NewNullLogger()
	r := shardsResult{Shards: n}

	e, err := Open(cfg)
	if err != nil {
		return err
	}
	ids := shardsBenchIDs(n)
	start := time.Now()
	for _, id := range ids {
		if _, err := e.CreateShard(id.Keyspace, id.Shard); err != nil {
			return err
		}
	}
	r.CreateSec = time.Since(start).Seconds()
	if err := e.Close(); err != nil {
		return err
	}

	start, cpu := time.Now(), cpuSeconds()
	e, err = Open(cfg)
	if err != nil {
		return err
	}
	r.OpenSec, r.OpenCPU = time.Since(start).Seconds(), cpuSeconds()-cpu
	r.RSSBytes, r.Threads = procStatus()
	r.OpenFiles = openFiles()
	if r.DiskBytes, err = diskAllocated(dir); err != nil {
		return err
	}

	shards := make([]*Shard, len(ids))
	for i, id := range ids {
		if shards[i], err = e.Shard(id.Keyspace, id.Shard); err != nil {
			return err
		}
	}
	stopProfile, err := startShardsProfile(n)
	if err != nil {
		return err
	}
	if r.PutsPerSec, err = shardsLoad(shards, true); err != nil {
		return err
	}
	if r.GetsPerSec, err = shardsLoad(shards, false); err != nil {
		return err
	}
	stopProfile()
	r.LoadedRSS, _ = procStatus()

	start, cpu = time.Now(), cpuSeconds()
	if err := e.Close(); err != nil {
		return err
	}
	r.CloseSec, r.CloseCPU = time.Since(start).Seconds(), cpuSeconds()-cpu
	return json.NewEncoder(os.Stdout).Encode(r)
}

// startShardsProfile starts a CPU profile of the load, written to
// $VASTO_SHARDS_PROFILE-<n>.prof, if that variable is set; the returned
// function stops it.
func startShardsProfile(n int) (func(), error) {
	prefix := os.Getenv("VASTO_SHARDS_PROFILE")
	if prefix == "" {
		return func() {}, nil
	}
	f, err := os.Create(fmt.Sprintf("%s-%d.prof", prefix, n))
	if err != nil {
		return nil, err
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		_ = f.Close()
		return nil, err
	}
	return func() {
		pprof.StopCPUProfile()
		_ = f.Close()
	}, nil
}

// shardsBenchIDs names n shards, 10 per keyspace.
func shardsBenchIDs(n int) []ShardID {
	ids := make([]ShardID, n)
	for i := range ids {
		ids[i] = ShardID{
			Keyspace: fmt.Sprintf("ks%04d", i/shardsBenchShardsPerKeyspace),
			Shard:    uint32(i % shardsBenchShardsPerKeyspace),
		}
	}
	return ids
}

// shardsLoad runs shardsBenchOps puts (or gets of the keys put) from
// shardsBenchWorkers goroutines, the i-th key to shard i mod len(shards),
// and returns the operations per second.
func shardsLoad(shards []*Shard, put bool) (float64, error) {
	d := getBenchData()
	var next atomic.Int64
	var failed atomic.Pointer[error]
	var wg sync.WaitGroup
	start := time.Now()
	for w := 0; w < shardsBenchWorkers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1)) - 1
				if i >= shardsBenchOps || failed.Load() != nil {
					return
				}
				s := shards[i%len(shards)]
				key := d.keys[i]
				var err error
				if put {
					_, err = s.Put(context.Background(), key, d.value)
				} else {
					_, err = s.Get(key)
				}
				if err != nil {
					failed.CompareAndSwap(nil, &err)
					return
				}
			}
		}()
	}
	wg.Wait()
	if p := failed.Load(); p != nil {
		return 0, *p
	}
	return shardsBenchOps / time.Since(start).Seconds(), nil
}

// procStatus returns the process's resident set and thread count.
func procStatus() (rss int64, threads int) {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0, 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) < 2 {
			continue
		}
		switch f[0] {
		case "VmRSS:":
			kb, _ := strconv.ParseInt(f[1], 10, 64)
			rss = kb << 10
		case "Threads:":
			threads, _ = strconv.Atoi(f[1])
		}
	}
	return rss, threads
}

// cpuSeconds is the CPU time (user and system) the process has used: the
// cost of a step on a machine others load too.
func cpuSeconds() float64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()).Seconds()
}

// openFiles counts the process's open file descriptors.
func openFiles() int {
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		return 0
	}
	return len(ents)
}

// diskAllocated sums the blocks allocated to the files under dir (what du
// reports, preallocated space included).
func diskAllocated(dir string) (int64, error) {
	var total int64
	err := filepath.WalkDir(dir, func(_ string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		if st, ok := info.Sys().(*syscall.Stat_t); ok {
			total += st.Blocks * 512
		}
		return nil
	})
	return total, err
}

// BenchmarkCreateShard measures what creating one empty shard costs (the
// engine's part of placing a shard replica on a store):
//
//	go test -run='^$' -bench=CreateShard ./store/
func BenchmarkCreateShard(b *testing.B) {
	cfg := DefaultConfig(b.TempDir())
	cfg.Logger = hclog.NewNullLogger()
	cfg.MaxOpenFiles = 1 << 20
	e, err := Open(cfg)
	require.NoError(b, err)
	defer func() { require.NoError(b, e.Close()) }()
	cpu := cpuSeconds()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := e.CreateShard(fmt.Sprintf("ks%06d", i/10), uint32(i%10)); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	b.ReportMetric((cpuSeconds()-cpu)*1000/float64(b.N), "cpu-ms/op")
}
