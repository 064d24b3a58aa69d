package topology

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// The routing rule is a contract between every client and server version:
// a change that sends a key to another shard strands data. These golden
// tables pin KeyHash, JumpHash and ShardOf; regenerate them only for a
// deliberate, versioned change of the rule (go test ./topology -run Golden
// with VASTO_UPDATE_GOLDEN=1).

// goldenShardCounts spans 1..MaxShards, with the powers of two and their
// neighbours where off-by-one mistakes show.
var goldenShardCounts = []int{1, 2, 3, 4, 5, 7, 8, 9, 10, 15, 16, 17, 31, 32, 33, 63, 64, 65, 100,
	127, 128, 129, 255, 256, 257, 500, 511, 512, 513, 1000, 1023, MaxShards}

func goldenKeys() []string {
	keys := []string{"", "a", "alice", "bob", "key:000000000015", "user/42", "\x00", "\xff\xfe",
		strings.Repeat("k", 1024)}
	for i := 0; i < 24; i++ {
		keys = append(keys, fmt.Sprintf("key-%d", i*7919))
	}
	return keys
}

func routingTable() []string {
	var lines []string
	for _, k := range goldenKeys() {
		shards := make([]string, len(goldenShardCounts))
		for i, n := range goldenShardCounts {
			shards[i] = fmt.Sprint(ShardOf([]byte(k), n))
		}
		lines = append(lines, fmt.Sprintf("%q %016x %s", k, KeyHash([]byte(k)), strings.Join(shards, ",")))
	}
	for _, h := range []uint64{0, 1, 2, 0xdeadbeef, 1 << 32, 1<<63 - 1, 1 << 63, ^uint64(0)} {
		buckets := make([]string, len(goldenShardCounts))
		for i, n := range goldenShardCounts {
			buckets[i] = fmt.Sprint(JumpHash(h, n))
		}
		lines = append(lines, fmt.Sprintf("jump %016x %s", h, strings.Join(buckets, ",")))
	}
	return lines
}

func TestGoldenRouting(t *testing.T) {
	path := filepath.Join("testdata", "routing.golden")
	got := routingTable()
	header := fmt.Sprintf("# key (Go-quoted) xxhash64 then ShardOf for n = %v; jump rows: JumpHash(h, n)", goldenShardCounts)
	if os.Getenv("VASTO_UPDATE_GOLDEN") != "" {
		require.NoError(t, os.WriteFile(path, []byte(header+"\n"+strings.Join(got, "\n")+"\n"), 0o644))
	}
	f, err := os.Open(path)
	require.NoError(t, err)
	defer func() { _ = f.Close() }()
	var want []string
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<16), 1<<20)
	for sc.Scan() {
		if line := sc.Text(); line != "" && !strings.HasPrefix(line, "#") {
			want = append(want, line)
		}
	}
	require.NoError(t, sc.Err())
	require.Equal(t, want, got, "the routing of keys to shards changed: every deployed client and store would disagree")
}
