package bus

import (
	"testing"

	"github.com/stretchr/testify/require"
)

// TestGetRemoteTopology reads each DC's topology from the other DC across
// the leafnode link, through the owning DC's JetStream domain.
func TestGetRemoteTopology(t *testing.T) {
	ctx := testCtx(t)
	p := startDCPair(t, nil, nil)
	c1 := connect(t, p.hub)
	defer c1.Close()
	c2 := connect(t, p.spoke)
	defer c2.Close()
	waitLinked(t, c1, "dc1", c2)

	// No bucket in the remote DC yet.
	_, _, err := c2.GetRemoteTopology(ctx, "dc1")
	require.ErrorIs(t, err, ErrNoTopology)

	// A bucket but no document.
	require.NoError(t, c1.EnsureTopologyBucket(ctx, "dc1"))
	_, _, err = c2.GetRemoteTopology(ctx, "dc1")
	require.ErrorIs(t, err, ErrNoTopology)

	rev1, err := c1.PutTopology(ctx, "dc1", []byte(`{"dc":"dc1","version":1}`), 0)
	require.NoError(t, err)
	doc, rev, err := c2.GetRemoteTopology(ctx, "dc1")
	require.NoError(t, err)
	require.Equal(t, `{"dc":"dc1","version":1}`, string(doc))
	require.Equal(t, rev1, rev)

	// Always the current revision: nothing is cached.
	rev2, err := c1.PutTopology(ctx, "dc1", []byte(`{"dc":"dc1","version":2}`), rev1)
	require.NoError(t, err)
	doc, rev, err = c2.GetRemoteTopology(ctx, "dc1")
	require.NoError(t, err)
	require.Equal(t, `{"dc":"dc1","version":2}`, string(doc))
	require.Equal(t, rev2, rev)

	// The other direction, with both DCs holding a bucket of the same
	// shape: each read reaches the named DC's own bucket, not the local one.
	require.NoError(t, c2.EnsureTopologyBucket(ctx, "dc2"))
	_, err = c2.PutTopology(ctx, "dc2", []byte(`{"dc":"dc2"}`), 0)
	require.NoError(t, err)
	doc, _, err = c1.GetRemoteTopology(ctx, "dc2")
	require.NoError(t, err)
	require.Equal(t, `{"dc":"dc2"}`, string(doc))
	// dc1's bucket of dc2 does not exist: the local domain is not asked.
	_, _, err = c1.GetTopology(ctx, "dc2")
	require.ErrorIs(t, err, ErrNoTopology)

	// An unknown or unreachable DC is an error, not a hang.
	_, _, err = c1.GetRemoteTopology(ctx, "dc3")
	require.Error(t, err)
	_, _, err = c1.GetRemoteTopology(ctx, "bad.name")
	require.ErrorIs(t, err, ErrBadName)

	// A closed connection.
	c3 := connect(t, p.spoke)
	c3.Close()
	_, _, err = c3.GetRemoteTopology(ctx, "dc1")
	require.ErrorIs(t, err, ErrClosed)
}
