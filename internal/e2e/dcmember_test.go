package e2e

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/vasto-kv/vasto/bus"
	"github.com/vasto-kv/vasto/client"
	crossdc "github.com/vasto-kv/vasto/dc"
	"github.com/vasto-kv/vasto/internal/devcluster"
)

// addDC adds remote to cl's DC, trying again while the master answers BUSY
// (it has not heard every store since it started).
func changeDC(t *testing.T, cl *client.Client, add bool, remote string) {
	t.Helper()
	var err error
	require.Eventually(t, func() bool {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if add {
			_, err = cl.AddDC(ctx, remote)
		} else {
			_, err = cl.RemoveDC(ctx, remote)
		}
		return !errors.Is(err, client.ErrBusy)
	}, 20*time.Second, 50*time.Millisecond)
	require.NoError(t, err)
}

// TestAddAndRemoveDCLive links two DCs whose stores list no remote DC, then
// adds each DC to the other's topology live: writes of each DC, earlier and
// later ones, become readable in the other. dc1 then removes dc2 (the link
// cut, so dc2's purge mark is frozen): dc1's stores delete their consumers
// of dc2's changes and purge the tombstone the frozen mark held back. No
// store restarts.
func TestAddAndRemoveDCLive(t *testing.T) {
	cs, proxy := startLinkedDCs(t, 300*time.Millisecond, func(c *devcluster.Config) { c.UnlistedRemoteDCs = true })
	c1, c2 := newClient(t, cs[0]), newClient(t, cs[1])
	createKeyspace(t, cs[0], c1, "m", 2, 1)
	createKeyspace(t, cs[1], c2, "m", 1, 1)
	ctx := ctxT(t)

	_, err := c1.Put(ctx, "m", []byte("before-1"), []byte("v"))
	require.NoError(t, err)
	list, err := c1.ListDCs(ctx)
	require.NoError(t, err)
	require.False(t, list.Managed)
	require.Empty(t, list.RemoteDCs)

	// Refusals change nothing.
	_, err = c1.AddDC(ctx, "dc1")
	require.Error(t, err)
	_, err = c1.AddDC(ctx, "nosuchdc")
	require.ErrorIs(t, err, client.ErrNotFound)
	_, err = c1.RemoveDC(ctx, "dc2")
	require.Error(t, err)
	require.False(t, cs[0].Master().Topology().RemoteDCsManaged)

	changeDC(t, c1, true, "dc2")
	changeDC(t, c2, true, "dc1")
	list, err = c1.ListDCs(ctx)
	require.NoError(t, err)
	require.True(t, list.Managed)
	require.Equal(t, []string{"dc2"}, list.RemoteDCs)

	_, err = c2.Put(ctx, "m", []byte("after-2"), []byte("v"))
	require.NoError(t, err)
	_, err = c1.Put(ctx, "m", []byte("after-1"), []byte("v"))
	require.NoError(t, err)
	readable := func(cl *client.Client, keys ...string) bool {
		for _, k := range keys {
			if _, err := cl.Get(ctx, "m", []byte(k)); err != nil {
				return false
			}
		}
		return true
	}
	require.Eventually(t, func() bool { return readable(c2, "before-1", "after-1") }, 30*time.Second, 50*time.Millisecond,
		"dc1's writes reach dc2 once dc2 lists dc1")
	require.Eventually(t, func() bool { return readable(c1, "after-2") }, 30*time.Second, 50*time.Millisecond,
		"dc2's writes reach dc1 once dc1 lists dc2")

	// dc1's store consumes dc2's copy for m.
	conn, err := bus.Connect(ctx, bus.ConnConfig{URL: cs[0].NATSURL(), Name: "test-dcmember", Logger: testLogger(t)})
	require.NoError(t, err)
	t.Cleanup(conn.Close)
	stream, err := bus.SourceStream("dc1", "dc2")
	require.NoError(t, err)
	storeID := cs[0].Stores()[0].ID
	durable := crossdc.Durable(storeID, "dc2", "m")
	_, _, err = conn.ConsumerPending(ctx, stream, durable)
	require.NoError(t, err, "dc1 applies dc2's changes with a durable consumer")

	// Cut the link: dc1's mark of dc2 freezes, so a tombstone past its
	// grace period is kept.
	proxy.Cut()
	del, err := c1.Delete(ctx, "m", []byte("after-1"))
	require.NoError(t, err)
	sh, err := cs[0].Engine(0).Shard("m", shardOf("after-1", 2))
	require.NoError(t, err)
	past := time.Unix(0, del.Version.Time).Add(2 * time.Second)
	require.Eventually(t, func() bool { return time.Now().After(past) }, 10*time.Second, 50*time.Millisecond)
	require.NoError(t, sh.Compact())
	rec, ok, err := sh.GetRecord([]byte("after-1"))
	require.NoError(t, err)
	require.True(t, ok && rec.IsTombstone(), "the tombstone waits for dc2")

	// Remove dc2 from dc1: its consumer goes, and purging resumes.
	changeDC(t, c1, false, "dc2")
	require.Eventually(t, func() bool {
		_, _, err := conn.ConsumerPending(ctx, stream, durable)
		return errors.Is(err, bus.ErrNoConsumer)
	}, 20*time.Second, 50*time.Millisecond, "dc1's consumer of dc2's changes is deleted")
	require.Eventually(t, func() bool {
		if err := sh.Compact(); err != nil {
			return false
		}
		_, ok, err := sh.GetRecord([]byte("after-1"))
		return err == nil && !ok
	}, 20*time.Second, 100*time.Millisecond, "the purge watermark no longer waits for dc2")
	list, err = c1.ListDCs(ctx)
	require.NoError(t, err)
	require.True(t, list.Managed)
	require.Empty(t, list.RemoteDCs)

	// dc1 keeps serving on its own; the stores never restarted.
	_, err = c1.Put(ctx, "m", []byte("alone"), []byte("v"))
	require.NoError(t, err)
	for _, st := range cs[0].Stores() {
		require.True(t, st.Running(), fmt.Sprint(st.ID))
	}
}
