package e2e

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"

	"github.com/vasto-kv/vasto/client"
	"github.com/vasto-kv/vasto/internal/disktest"
)

// writeBallast fills a file of size bytes (real pages, not a sparse file).
func writeBallast(t *testing.T, path string, size int) {
	t.Helper()
	f, err := os.Create(path)
	require.NoError(t, err)
	buf := make([]byte, 1<<20)
	for n := 0; n < size; n += len(buf) {
		_, err := f.Write(buf)
		require.NoError(t, err)
	}
	require.NoError(t, f.Close())
}

// readOnlyReason returns why the master's store list says store refuses
// writes on ks/shard, or "".
func readOnlyReason(t *testing.T, cl *client.Client, store, shard string) string {
	stores, err := cl.ListStores(context.Background())
	if err != nil {
		return ""
	}
	for _, s := range stores {
		if s.ID == store {
			return s.ReadOnly[shard]
		}
	}
	return ""
}

// TestFullDiskMakesShardReadOnlyUntilSpaceIsBack fills the real disk (a
// small tmpfs) of a store running as its own process: the process stays
// up, serves every acknowledged write, answers writes with RDONLY, and the
// master, INFO and the client know it; once space is freed the store takes
// writes again without a restart, and nothing acknowledged is lost.
func TestFullDiskMakesShardReadOnlyUntilSpaceIsBack(t *testing.T) {
	mnt := disktest.Mount(t, 96<<20)
	ballast := filepath.Join(mnt, "ballast")
	// 16 MB left: the store preallocates nothing, so the disk fills with
	// acknowledged writes only (a few hundred of them).
	writeBallast(t, ballast, 80<<20)

	c := startCluster(t, 1, nil)
	cl := newClient(t, c)
	child := &childStore{t: t, dir: filepath.Join(mnt, "data"), addr: freeAddr(t), id: "full", nats: c.NATSURL(), dc: c.DC()}
	child.start()
	t.Cleanup(child.kill)
	require.Eventually(t, func() bool {
		s, ok := cl.Topology().Stores["full"]
		return ok && s.Healthy
	}, 10*time.Second, 20*time.Millisecond)
	createKeyspace(t, c, cl, "disk", 1, 2)

	ctx := ctxT(t)
	rc := redis.NewClient(&redis.Options{Addr: child.addr, Protocol: 2, DisableIdentity: true, PoolSize: 1, MaxRetries: -1})
	t.Cleanup(func() { _ = rc.Close() })
	conn := rc.Conn()
	t.Cleanup(func() { _ = conn.Close() })
	require.NoError(t, conn.Do(ctx, "VUSE", "disk", "0").Err())

	// Fill the disk through the store until a write fails.
	acked, firstErr := disktest.Fill(ctx, conn, 32, 20000)
	require.Error(t, firstErr, "the disk never filled")
	t.Logf("disk full after %d acknowledged writes: %v", acked, firstErr)
	require.Regexp(t, `^(IOERR|RDONLY) `, firstErr.Error())
	require.Contains(t, firstErr.Error(), "No space left on device")

	// The process is alive and refuses further writes with RDONLY,
	// again and again, without writing (which would abort it).
	for i := 0; i < 20; i++ {
		err := conn.Set(ctx, "refused", "x", 0).Err()
		require.Error(t, err)
		require.True(t, strings.HasPrefix(err.Error(), "RDONLY shard read-only: disk/0: "), err.Error())
		require.NoError(t, conn.Ping(ctx).Err())
	}

	// Every acknowledged write is readable on the full store.
	requireAcked := func(get func(key string) (string, error)) {
		t.Helper()
		for i := 0; i < acked; i++ {
			v, err := get(disktest.Key(i))
			require.NoError(t, err, "acknowledged key %s", disktest.Key(i))
			require.True(t, v == disktest.Value(i), "acknowledged key %s has the wrong value", disktest.Key(i))
		}
	}
	requireAcked(func(key string) (string, error) { return conn.Get(ctx, key).Result() })

	// The master, INFO and the client know.
	require.Eventually(t, func() bool {
		return strings.Contains(readOnlyReason(t, cl, "full", "disk/0"), "No space left on device")
	}, 10*time.Second, 50*time.Millisecond, "the store list shows the shard read-only")
	info, err := conn.Info(ctx).Result()
	require.NoError(t, err)
	require.Contains(t, info, "read_only_shards:1\r\n")
	require.Contains(t, info, "disk/0:")
	other := c.Stores()[0].ID
	for i := 0; i < 5; i++ {
		r, err := cl.Put(ctx, "disk", []byte(fmt.Sprintf("elsewhere-%d", i)), []byte("v"))
		require.NoError(t, err)
		require.Equal(t, other, r.Store, "the write went to the replica that takes writes")
	}

	// Space comes back: the store takes writes again, without a restart.
	require.NoError(t, os.Remove(ballast))
	require.Eventually(t, func() bool { return conn.Set(ctx, "after", "room", 0).Err() == nil },
		60*time.Second, 100*time.Millisecond, "writes are accepted again once the disk has room")
	require.Eventually(t, func() bool { return readOnlyReason(t, cl, "full", "disk/0") == "" },
		10*time.Second, 50*time.Millisecond, "the store list no longer shows the shard read-only")
	info, err = conn.Info(ctx).Result()
	require.NoError(t, err)
	require.Contains(t, info, "read_only_shards:0\r\n")

	// Nothing acknowledged was lost: on the store that was full, and on
	// its peer, and the writes it missed meanwhile reach it.
	requireAcked(func(key string) (string, error) { return conn.Get(ctx, key).Result() })
	peer, err := c.Engine(0).Shard("disk", 0)
	require.NoError(t, err)
	require.Eventually(t, func() bool {
		for i := 0; i < acked; i++ {
			if _, err := peer.Get([]byte(disktest.Key(i))); err != nil {
				return false
			}
		}
		return true
	}, 30*time.Second, 100*time.Millisecond, "the peer holds every acknowledged write")
	requireAcked(func(key string) (string, error) {
		rec, err := peer.Get([]byte(key))
		return string(rec.Value), err
	})
	require.Eventually(t, func() bool {
		for i := 0; i < 5; i++ {
			if conn.Get(ctx, fmt.Sprintf("elsewhere-%d", i)).Val() != "v" {
				return false
			}
		}
		return true
	}, 30*time.Second, 100*time.Millisecond, "the writes taken elsewhere reach the store that was full")
}
