package store

import (
	"bufio"
	"context"
	"fmt"
	"hash/fnv"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/hashicorp/go-hclog"
	"github.com/stretchr/testify/require"
)

const (
	crashChildEnv = "VASTO_STORE_CRASH_CHILD_DIR"
	// crashShardsEnv makes the crash child spread its writes over that
	// many shards of keyspace "ks" (default one, shard 0).
	crashShardsEnv  = "VASTO_STORE_CRASH_SHARDS"
	crashManyShards = 16
)

// crashShardOf is the shard of ks the crash child writes key to.
func crashShardOf(key string, n int) uint32 {
	h := fnv.New32a()
	_, _ = h.Write([]byte(key))
	return h.Sum32() % uint32(n)
}

// runCrashChild writes forever from several goroutines and reports each
// acknowledged write on stdout, until the parent kills it with SIGKILL.
func runCrashChild() {
	cfg := DefaultConfig(os.Getenv(crashChildEnv))
	cfg.Logger = hclog.NewNullLogger()
	e, err := Open(cfg)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	n, _ := strconv.Atoi(os.Getenv(crashShardsEnv))
	shards := make([]*Shard, max(n, 1))
	for i := range shards {
		if shards[i], err = e.EnsureShard("ks", uint32(i)); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(2)
		}
	}
	var mu sync.Mutex
	out := bufio.NewWriter(os.Stdout)
	var wg sync.WaitGroup
	for g := 0; g < 4; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				key := fmt.Sprintf("g%d-%d", g, i)
				s := shards[crashShardOf(key, len(shards))]
				r, err := s.Put(context.Background(), []byte(key), []byte("value-"+key))
				if err != nil {
					fmt.Fprintln(os.Stderr, err)
					os.Exit(2)
				}
				mu.Lock()
				fmt.Fprintf(out, "%s %d\n", key, r.LogIndex)
				_ = out.Flush()
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
}

// TestKill9LosesNoAcknowledgedWrite kills a writing process with SIGKILL and
// checks that every write it acknowledged, and its change-log entry, is there
// after reopening.
func TestKill9LosesNoAcknowledgedWrite(t *testing.T) {
	dir := t.TempDir()
	for round := 0; round < 2; round++ {
		acked := runAndKill(t, dir, 3000)
		cfg := DefaultConfig(dir)
		cfg.Logger = testLogger(t)
		e, err := Open(cfg)
		require.NoError(t, err)
		s, err := e.Shard("ks", 0)
		require.NoError(t, err)
		_, last := s.LogBounds()
		var maxIdx uint64
		for key, idx := range acked {
			got, err := s.Get([]byte(key))
			require.NoError(t, err, "acknowledged key %s lost", key)
			require.Equal(t, "value-"+key, string(got.Value))
			maxIdx = max(maxIdx, idx)
		}
		require.GreaterOrEqual(t, last, maxIdx)
		entries, err := s.ReadLog(1, int(last)+1)
		require.NoError(t, err)
		require.Len(t, entries, int(last), "change log has a gap after the crash")
		byKey := map[string]uint64{}
		for i, en := range entries {
			require.Equal(t, uint64(i+1), en.Index)
			byKey[string(en.Change.Key)] = en.Index
		}
		for key, idx := range acked {
			require.Equal(t, idx, byKey[key], "log entry of acknowledged key %s", key)
		}
		require.NoError(t, e.Close())
	}
}

// runAndKill runs the crash child on dir until it has acknowledged n new
// writes, kills it with SIGKILL and returns what it acknowledged.
func runAndKill(t *testing.T, dir string, n int) map[string]uint64 {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), crashChildEnv+"="+dir)
	stdout, err := cmd.StdoutPipe()
	require.NoError(t, err)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	require.NoError(t, cmd.Start())
	acked := map[string]uint64{}
	sc := bufio.NewScanner(stdout)
	for len(acked) < n && sc.Scan() {
		f := strings.Fields(sc.Text())
		require.Len(t, f, 2, "child output %q", sc.Text())
		idx, err := strconv.ParseUint(f[1], 10, 64)
		require.NoError(t, err)
		acked[f[0]] = idx
	}
	require.NoError(t, cmd.Process.Kill())
	_, _ = io.Copy(io.Discard, stdout)
	_ = cmd.Wait()
	require.Len(t, acked, n, "child stopped early: %s", stderr.String())
	return acked
}

// copyDir copies a directory tree of regular files.
func copyDir(src, dst string) error {
	return filepath.Walk(src, func(path string, info os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(src, path)
		if err != nil {
			return err
		}
		target := filepath.Join(dst, rel)
		if info.IsDir() {
			return os.MkdirAll(target, 0o755)
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		return os.WriteFile(target, b, 0o644)
	})
}
