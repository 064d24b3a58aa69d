package dc

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/vasto-kv/vasto/bus"
	"github.com/vasto-kv/vasto/store"
	"github.com/vasto-kv/vasto/topology"
)

// TestPauseHoldsRemoteChanges runs over real NATS: dc2's store t1 applies
// dc1's changes to keyspace ks. Changes published in dc1 while t1's
// replication is paused reach dc2's copy of the stream but are not applied
// until the pause ends; then all are applied, in order (the last write of
// a key wins, the cursor reaches the last index).
func TestPauseHoldsRemoteChanges(t *testing.T) {
	p := startXDCPair(t)
	ctx := context.Background()
	eng, _ := testEngine(t, func(c *store.Config) { c.DC, c.Node = "dc2", "t1" })
	sh, err := eng.CreateShard("ks", 0)
	require.NoError(t, err)
	top := topology.New("dc2")
	top.Version = 1
	top.Stores["t1"] = &topology.Store{ID: "t1", Addr: "127.0.0.1:1", Healthy: true}
	top.Keyspaces["ks"] = &topology.Keyspace{Name: "ks", Shards: 1, Replicas: 1, Placement: [][]string{{"t1"}}}
	r, err := New(Config{DC: "dc2", Store: "t1", RemoteDCs: []string{"dc1"}, Bus: ConnBus(p.c2), Shards: EngineShards(eng), Logger: testLogger(t)})
	require.NoError(t, err)
	require.NoError(t, r.Start(ctx))
	t.Cleanup(func() { require.NoError(t, r.Shutdown(context.Background())) })
	r.Follow(top)
	r.Reconcile(top, []string{"ks"})

	has := func(i uint64) bool {
		_, ok, err := sh.GetRecord([]byte(fmt.Sprintf("s1-0-k%03d", i)))
		require.NoError(t, err)
		return ok
	}
	cursor := func() uint64 {
		c, err := sh.Cursor(store.RemoteSource("dc1", "s1", "0"))
		require.NoError(t, err)
		return c
	}
	subj, err := bus.ChangeSubject("dc1", "ks", 0, "s1")
	require.NoError(t, err)

	// Not paused: applied.
	p.publish(t, "ks", 0, "s1", 1)
	require.Eventually(t, func() bool { return has(1) }, 15*time.Second, 10*time.Millisecond)
	require.True(t, r.PausedUntil().IsZero())

	until := time.Now().Add(time.Hour)
	r.Pause(until)
	require.Equal(t, until, r.PausedUntil())
	p.publish(t, "ks", 0, "s1", 2, 3, 4)
	p.copied(t, subj, 4) // in dc2, waiting to be applied
	require.Never(t, func() bool { return has(2) || has(3) || has(4) }, 500*time.Millisecond, 20*time.Millisecond,
		"a change was applied during the pause")
	require.Equal(t, uint64(1), cursor())

	// A shorter pause replaces the long one and ends by itself.
	r.Pause(time.Now().Add(200 * time.Millisecond))
	require.Eventually(t, func() bool { return has(2) && has(3) && has(4) }, 15*time.Second, 10*time.Millisecond)
	require.Eventually(t, func() bool { return cursor() == 4 }, 15*time.Second, 10*time.Millisecond)
	require.True(t, r.PausedUntil().IsZero())

	// Paused again and resumed at once with a zero time.
	r.Pause(time.Now().Add(time.Hour))
	p.publish(t, "ks", 0, "s1", 5)
	p.copied(t, subj, 5)
	require.False(t, has(5))
	r.Pause(time.Time{})
	require.Eventually(t, func() bool { return has(5) && cursor() == 5 }, 15*time.Second, 10*time.Millisecond)

	// Shutting down while paused does not wait for the pause to end.
	r.Pause(time.Now().Add(time.Hour))
	p.publish(t, "ks", 0, "s1", 6)
	p.copied(t, subj, 6)
	start := time.Now()
	require.NoError(t, r.Shutdown(ctx))
	require.Less(t, time.Since(start), 5*time.Second)
	require.False(t, has(6))
}
