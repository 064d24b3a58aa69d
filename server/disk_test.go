package server

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"

	"github.com/vasto-kv/vasto/internal/disktest"
	"github.com/vasto-kv/vasto/internal/storetest"
	"github.com/vasto-kv/vasto/store"
)

const diskChildEnv = "VASTO_STORE_DISK_CHILD_DIR"

// runDiskChild runs a store alone on the directory the parent gives, prints
// "ready <addr>" and serves until SIGTERM, then stops cleanly.
func runDiskChild() {
	fail := func(err error) {
		fmt.Fprintln(os.Stderr, "child:", err)
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM)
	defer stop()
	cfg := store.DefaultConfig(os.Getenv(diskChildEnv))
	cfg.Logger = hclog.New(&hclog.LoggerOptions{Name: "child", Level: hclog.Info, Output: os.Stderr})
	cfg.BlockCacheBytes = 16 << 20
	cfg.ReadOnlyProbe = 50 * time.Millisecond
	e, err := store.Open(cfg)
	if err != nil {
		fail(err)
	}
	if _, err := e.EnsureShard(DefaultKeyspace, 0); err != nil {
		fail(err)
	}
	srv, err := New(DefaultConfig("127.0.0.1:0", e))
	if err != nil {
		fail(err)
	}
	if err := srv.Start(ctx); err != nil {
		fail(err)
	}
	fmt.Println("ready", srv.Addr().String())
	<-ctx.Done()
	sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		fail(err)
	}
	if err := e.Close(); err != nil {
		fail(err)
	}
}

// TestFullDiskWALFailureLeavesStoreServingReads fills the real disk (a
// small tmpfs) under a store process whose memtables are larger than the
// disk, so the write-ahead log append is what fails (RocksDB's writer then
// aborts the process on its next use). The process must stay up, refuse
// writes with RDONLY without touching the database, serve every
// acknowledged write, take writes again once the disk is grown (no
// restart), and stop cleanly with everything acknowledged on disk.
func TestFullDiskWALFailureLeavesStoreServingReads(t *testing.T) {
	mnt := disktest.Mount(t, 24<<20)
	dir := filepath.Join(mnt, "data")

	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), diskChildEnv+"="+dir)
	stdout, err := cmd.StdoutPipe()
	require.NoError(t, err)
	stderr := &storetest.Buffer{}
	cmd.Stderr = stderr
	require.NoError(t, cmd.Start())
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
		}
		t.Logf("store process log:\n%s", stderr.String())
	})
	sc := bufio.NewScanner(stdout)
	require.True(t, sc.Scan(), "store process did not start")
	addr, ok := strings.CutPrefix(sc.Text(), "ready ")
	require.True(t, ok, sc.Text())
	go func() { _, _ = io.Copy(io.Discard, stdout) }()

	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	rc := redis.NewClient(&redis.Options{Addr: addr, Protocol: 2, DisableIdentity: true, PoolSize: 1, MaxRetries: -1})
	defer rc.Close()

	acked, firstErr := disktest.Fill(ctx, rc, 16, 10000)
	require.Error(t, firstErr, "the disk never filled")
	t.Logf("disk full after %d acknowledged writes: %v", acked, firstErr)
	require.Contains(t, firstErr.Error(), "No space left on device")

	requireAcked := func() {
		t.Helper()
		for i := 0; i < acked; i++ {
			v, err := rc.Get(ctx, disktest.Key(i)).Result()
			require.NoError(t, err, "acknowledged key %s", disktest.Key(i))
			require.True(t, v == disktest.Value(i), "acknowledged key %s has the wrong value", disktest.Key(i))
		}
	}
	for i := 0; i < 20; i++ {
		err := rc.Set(ctx, "refused", "x", 0).Err()
		require.Error(t, err)
		require.True(t, strings.HasPrefix(err.Error(), "RDONLY shard read-only: default/0: "), err.Error())
		require.NoError(t, rc.Ping(ctx).Err(), "the store process is alive")
	}
	requireAcked()
	info, err := rc.Info(ctx).Result()
	require.NoError(t, err)
	require.Contains(t, info, "read_only_shards:1\r\n")

	// Grow the disk: the store reopens the shard and takes writes again.
	require.NoError(t, syscall.Mount("tmpfs", mnt, "tmpfs", syscall.MS_REMOUNT, "size=268435456"))
	require.Eventually(t, func() bool { return rc.Set(ctx, "after", "room", 0).Err() == nil },
		30*time.Second, 50*time.Millisecond, "writes are accepted again once the disk has room")
	info, err = rc.Info(ctx).Result()
	require.NoError(t, err)
	require.Contains(t, info, "read_only_shards:0\r\n")
	requireAcked()
	for i := acked; i < acked+100; i++ {
		require.NoError(t, rc.Set(ctx, disktest.Key(i), disktest.Value(i), 0).Err())
	}
	acked += 100

	// A clean stop, and everything acknowledged is on disk.
	require.NoError(t, cmd.Process.Signal(syscall.SIGTERM))
	require.NoError(t, cmd.Wait(), "the store process stops cleanly")
	cfg := store.DefaultConfig(dir)
	cfg.Logger = testLogger(t)
	cfg.BlockCacheBytes = 16 << 20
	e, err := store.Open(cfg)
	require.NoError(t, err)
	defer func() { require.NoError(t, e.Close()) }()
	s, err := e.Shard(DefaultKeyspace, 0)
	require.NoError(t, err)
	for i := 0; i < acked; i++ {
		got, err := s.Get([]byte(disktest.Key(i)))
		require.NoError(t, err, "acknowledged key %s after restart", disktest.Key(i))
		require.True(t, string(got.Value) == disktest.Value(i), "acknowledged key %s has the wrong value after restart", disktest.Key(i))
	}
	got, err := s.Get([]byte("after"))
	require.NoError(t, err)
	require.Equal(t, "room", string(got.Value))
}
