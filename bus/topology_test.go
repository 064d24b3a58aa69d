package bus

import (
	"context"
	"strconv"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/vasto-kv/vasto/bus/embedded"
)

type update struct {
	doc string
	rev uint64
}

// watchInto starts a topology watch that sends every update to a channel.
func watchInto(t *testing.T, c *Conn, dc string) (<-chan update, *Watch) {
	t.Helper()
	ch := make(chan update, 1000)
	w, err := c.WatchTopology(context.Background(), dc, func(doc []byte, rev uint64) {
		ch <- update{string(doc), rev}
	})
	require.NoError(t, err)
	t.Cleanup(w.Stop)
	return ch, w
}

func TestTopologyPutCASGet(t *testing.T) {
	srv := embedded.RunTestServer(t, "dc1")
	c := testConn(t, srv)
	ctx := testCtx(t)

	_, _, err := c.GetTopology(ctx, "dc1")
	require.ErrorIs(t, err, ErrNoTopology) // no bucket
	_, err = c.PutTopology(ctx, "dc1", []byte("v0"), 0)
	require.ErrorIs(t, err, ErrNoTopology)

	require.NoError(t, c.EnsureTopologyBucket(ctx, "dc1"))
	require.NoError(t, c.EnsureTopologyBucket(ctx, "dc1"))
	_, _, err = c.GetTopology(ctx, "dc1")
	require.ErrorIs(t, err, ErrNoTopology) // no document

	rev1, err := c.PutTopology(ctx, "dc1", []byte("v1"), 0)
	require.NoError(t, err)
	_, err = c.PutTopology(ctx, "dc1", []byte("v1bis"), 0)
	require.ErrorIs(t, err, ErrConflict) // exists

	rev2, err := c.PutTopology(ctx, "dc1", []byte("v2"), rev1)
	require.NoError(t, err)
	require.Greater(t, rev2, rev1)
	_, err = c.PutTopology(ctx, "dc1", []byte("stale"), rev1)
	require.ErrorIs(t, err, ErrConflict) // stale writer fenced

	doc, rev, err := c.GetTopology(ctx, "dc1")
	require.NoError(t, err)
	require.Equal(t, "v2", string(doc))
	require.Equal(t, rev2, rev)

	// Other DCs' buckets are separate.
	_, _, err = c.GetTopology(ctx, "dc2")
	require.ErrorIs(t, err, ErrNoTopology)
	_, _, err = c.GetTopology(ctx, "dc.1")
	require.ErrorIs(t, err, ErrBadName)
	require.ErrorIs(t, c.EnsureTopologyBucket(ctx, ">"), ErrBadName)
}

func TestWatchTopologyLateJoinerGetsCurrent(t *testing.T) {
	srv := embedded.RunTestServer(t, "dc1")
	c := testConn(t, srv)
	ctx := testCtx(t)
	require.NoError(t, c.EnsureTopologyBucket(ctx, "dc1"))
	rev1, err := c.PutTopology(ctx, "dc1", []byte("v1"), 0)
	require.NoError(t, err)
	rev2, err := c.PutTopology(ctx, "dc1", []byte("v2"), rev1)
	require.NoError(t, err)

	ch, w := watchInto(t, c, "dc1")
	require.Equal(t, update{"v2", rev2}, recv(t, ch)) // current value at once, not history
	rev3, err := c.PutTopology(ctx, "dc1", []byte("v3"), rev2)
	require.NoError(t, err)
	require.Equal(t, update{"v3", rev3}, recv(t, ch))
	w.Stop()
	w.Stop() // idempotent
}

func TestWatchTopologyBeforeBucketExists(t *testing.T) {
	srv := embedded.RunTestServer(t, "dc1")
	c := testConn(t, srv)
	ctx := testCtx(t)
	ch, _ := watchInto(t, c, "dc1")

	// A second connection (the master) creates the bucket and the document.
	m := testConn(t, srv)
	require.NoError(t, m.EnsureTopologyBucket(ctx, "dc1"))
	rev, err := m.PutTopology(ctx, "dc1", []byte("first"), 0)
	require.NoError(t, err)
	require.Equal(t, update{"first", rev}, recv(t, ch))
}

func TestWatchTopologyInOrder(t *testing.T) {
	srv := embedded.RunTestServer(t, "dc1")
	c := testConn(t, srv)
	ctx := testCtx(t)
	require.NoError(t, c.EnsureTopologyBucket(ctx, "dc1"))
	ch, _ := watchInto(t, c, "dc1")

	var rev uint64
	const n = 200
	for i := 1; i <= n; i++ {
		var err error
		rev, err = c.PutTopology(ctx, "dc1", []byte(strconv.Itoa(i)), rev)
		require.NoError(t, err)
	}
	// Revisions come in increasing order, each with its own document, and
	// end with the latest; a watcher that lags more than the bucket's
	// history behind may skip intermediate ones (topology is state).
	var last uint64
	seen := 0
	for last != rev {
		u := recv(t, ch)
		require.Greater(t, u.rev, last)
		require.Equal(t, strconv.FormatUint(u.rev, 10), u.doc) // rev i holds doc i
		last = u.rev
		seen++
	}
	t.Logf("watcher saw %d of %d revisions", seen, n)
	require.Equal(t, rev, last)
}

func TestWatchTopologyStopsWithContext(t *testing.T) {
	srv := embedded.RunTestServer(t, "dc1")
	c := testConn(t, srv)
	ctx, cancel := context.WithCancel(context.Background())
	w, err := c.WatchTopology(ctx, "dc1", func([]byte, uint64) {})
	require.NoError(t, err)
	cancel()
	w.Stop()
	_, err = c.WatchTopology(ctx, "a b", func([]byte, uint64) {})
	require.ErrorIs(t, err, ErrBadName)
	_, err = c.WatchTopology(ctx, "dc1", nil)
	require.ErrorIs(t, err, ErrInvalidConfig)
}

func TestWatchTopologyFollowsRecreatedBucket(t *testing.T) {
	srv := embedded.RunTestServer(t, "dc1")
	c := testConn(t, srv)
	ctx := testCtx(t)
	require.NoError(t, c.EnsureTopologyBucket(ctx, "dc1"))
	var rev uint64
	var err error
	for range 5 {
		rev, err = c.PutTopology(ctx, "dc1", []byte("old"), rev)
		require.NoError(t, err)
	}
	ch, _ := watchInto(t, c, "dc1")
	require.Equal(t, update{"old", rev}, recv(t, ch))

	bucket, _ := TopologyBucket("dc1")
	require.NoError(t, c.js.DeleteKeyValue(ctx, bucket))
	m := testConn(t, srv)
	require.NoError(t, m.EnsureTopologyBucket(ctx, "dc1"))
	newRev, err := m.PutTopology(ctx, "dc1", []byte("new"), 0)
	require.NoError(t, err)
	require.Less(t, newRev, rev)
	require.Equal(t, update{"new", newRev}, recv(t, ch))
}

// TestGetTopologyAfterBucketLost: a connection that read the topology,
// and so holds the bucket's handle, is told the topology is gone
// (ErrNoTopology) once the bucket is, as after NATS lost its data, and
// reads the bucket made again.
func TestGetTopologyAfterBucketLost(t *testing.T) {
	srv := embedded.RunTestServer(t, "dc1")
	c := testConn(t, srv)
	other := testConn(t, srv)
	ctx := testCtx(t)
	require.NoError(t, c.EnsureTopologyBucket(ctx, "dc1"))
	_, err := c.PutTopology(ctx, "dc1", []byte("v1"), 0)
	require.NoError(t, err)
	_, _, err = c.GetTopology(ctx, "dc1")
	require.NoError(t, err)

	bucket, _ := TopologyBucket("dc1")
	require.NoError(t, other.js.DeleteKeyValue(ctx, bucket))
	_, _, err = c.GetTopology(ctx, "dc1")
	require.ErrorIs(t, err, ErrNoTopology)

	require.NoError(t, other.EnsureTopologyBucket(ctx, "dc1"))
	_, err = other.PutTopology(ctx, "dc1", []byte("again"), 0)
	require.NoError(t, err)
	doc, _, err := c.GetTopology(ctx, "dc1")
	require.NoError(t, err)
	require.Equal(t, "again", string(doc))
}
