package e2e

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/vasto-kv/vasto/bus"
	"github.com/vasto-kv/vasto/internal/devcluster"
)

// TestDCPastRetentionReBootstraps stops dc2's store while dc1 writes far
// more than the change-log streams keep (dc1's stream and dc2's copy of it
// both drop what dc2 has not applied), then restarts it: dc2 must detect the
// gap, copy the keyspace from dc1 (it has another shard count there) and end
// with every key dc1 wrote, including those that aged out of both streams,
// and without those dc1 deleted meanwhile.
func TestDCPastRetentionReBootstraps(t *testing.T) {
	cfg := devcluster.DefaultConfig(t.TempDir())
	cfg.Stores = 1
	cfg.Logger = testLogger(t)
	cfg.Stream = bus.StreamConfig{MaxBytes: 64 << 10} // the copy streams get the same
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cs, err := devcluster.StartMulti(ctx, cfg, []string{"dc1", "dc2"})
	require.NoError(t, err)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		require.NoError(t, devcluster.ShutdownAll(ctx, cs))
	})
	for _, c := range cs {
		require.NoError(t, c.WaitReady(ctx))
	}
	dc1, dc2 := cs[0], cs[1]
	c1, c2 := newClient(t, dc1), newClient(t, dc2)
	createKeyspace(t, dc1, c1, "gap", 2, 1)
	createKeyspace(t, dc2, c2, "gap", 3, 1)

	put := func(from, to int) {
		for i := from; i < to; i++ {
			_, err := c1.Put(ctx, "gap", []byte(keyN(i)), []byte(valN(i)))
			require.NoError(t, err)
		}
	}
	hasAll := func(from, to int) bool {
		for i := from; i < to; i++ {
			it, err := c2.Get(ctx, "gap", []byte(keyN(i)))
			if err != nil || string(it.Value) != valN(i) {
				return false
			}
		}
		return true
	}
	put(0, 20)
	require.Eventually(t, func() bool { return hasAll(0, 20) }, 20*time.Second, 50*time.Millisecond)

	require.NoError(t, dc2.StopStore(ctx, 0))
	// Early in the outage dc1 deletes a key dc2 has and one it never saw:
	// the tombstones age out of the streams too and must come with the copy.
	put(20, 30)
	for _, i := range []int{3, 25} {
		_, err := c1.Delete(ctx, "gap", []byte(keyN(i)))
		require.NoError(t, err)
	}
	put(30, 1500) // ~1500 messages of ~200 bytes: far past 64 KiB

	// Both of dc1's shard logs in dc2's copy must have lost changes dc2 never
	// applied (it applied at most 20 per shard), or the test proves nothing.
	bc, err := bus.Connect(ctx, bus.ConnConfig{URL: dc2.NATSURL(), Name: "gap-test", Logger: testLogger(t)})
	require.NoError(t, err)
	defer bc.Close()
	src, err := bus.SourceStream("dc2", "dc1")
	require.NoError(t, err)
	require.Eventually(t, func() bool {
		for shard := uint32(0); shard < 2; shard++ {
			subj, err := bus.ChangeSubject("dc1", "gap", shard, "store1")
			require.NoError(t, err)
			first, err := bc.FirstOnSubject(ctx, src, subj, 0)
			if err != nil {
				return false
			}
			idx, err := strconv.Atoi(first.Header["Vasto-Index"])
			if err != nil || idx <= 21 {
				return false
			}
		}
		return true
	}, 20*time.Second, 50*time.Millisecond, "dc2's copy of dc1's stream drops the oldest changes")

	start := time.Now()
	require.NoError(t, dc2.StartStore(ctx, 0))
	waitServing(t, c2, "gap")
	require.Eventually(t, func() bool {
		if !hasAll(26, 1500) || !hasAll(4, 25) || !hasAll(0, 3) {
			return false
		}
		for _, i := range []int{3, 25} {
			if _, err := c2.Get(ctx, "gap", []byte(keyN(i))); err == nil {
				return false
			}
		}
		return true
	}, 20*time.Second, 100*time.Millisecond,
		"dc2 holds every key dc1 wrote, including those that aged out of both streams, and none dc1 deleted")
	t.Logf("dc2 caught up %s after its store restarted", time.Since(start))

	// Later changes keep flowing through the log.
	put(1500, 1510)
	require.Eventually(t, func() bool { return hasAll(1500, 1510) }, 10*time.Second, 50*time.Millisecond)
}
