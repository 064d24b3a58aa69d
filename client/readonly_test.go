package client

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestPickReplicaWritesTryReadOnlyReplicasLast: a replica that reports the
// shard read-only gets writes only when no other healthy replica is left;
// reads still prefer it like any serving replica.
func TestPickReplicaWritesTryReadOnlyReplicasLast(t *testing.T) {
	top, ks := routeTopology()
	top.Stores["s1"].ReadOnly = map[string]string{"ks/0": "IO error: No space left on device"}
	require.Equal(t, "s2", pick(t, top, ks, 0, true))
	require.Equal(t, "s3", pick(t, top, ks, 1, true), "other shards of the store are not affected")
	require.Equal(t, "s1", pick(t, top, ks, 0, false), "a read-only replica serves reads")

	top.Stores["s2"].ReadOnly = map[string]string{"ks/0": "x"}
	require.Equal(t, "s3", pick(t, top, ks, 0, true))
	top.Stores["s3"].Healthy = false
	require.Equal(t, "s1", pick(t, top, ks, 0, true), "the first read-only replica when nothing else is left")
	require.Equal(t, "s2", pick(t, top, ks, 0, true, "s1"))

	require.False(t, readOnlyOn(top.Stores["s1"], "ks", 1))
	require.False(t, readOnlyOn(top.Stores["s1"], "ks", 10))
	require.True(t, readOnlyOn(top.Stores["s1"], "ks", 0))
}

// TestReadOnlyIsRetriedOnAnotherReplica: a write answered RDONLY lands on
// the next replica; the error is retryable.
func TestReadOnlyIsRetriedOnAnotherReplica(t *testing.T) {
	s1 := newFakeStore(t, "s1", "ks/0")
	s2 := newFakeStore(t, "s2", "ks/0")
	c := testClient(t, fakeTopology("ks", [][]string{{"s1", "s2"}}, s1, s2))
	s1.setFail("RDONLY")
	r, err := c.Put(context.Background(), "ks", []byte("k"), []byte("v"))
	require.NoError(t, err)
	require.Equal(t, "s2", r.Store)
	require.True(t, (&StoreError{Code: CodeReadOnly}).Retryable())
}

// TestWritesSkipReplicasTheTopologyReportsReadOnly: once the topology says
// the preferred replica refuses writes on the shard, writes go straight to
// the next one, without trying it first.
func TestWritesSkipReplicasTheTopologyReportsReadOnly(t *testing.T) {
	s1 := newFakeStore(t, "s1", "ks/0")
	s2 := newFakeStore(t, "s2", "ks/0")
	top := fakeTopology("ks", [][]string{{"s1", "s2"}}, s1, s2)
	top.Stores["s1"].ReadOnly = map[string]string{"ks/0": "IO error: No space left on device"}
	c := testClient(t, top)
	for i := 0; i < 3; i++ {
		r, err := c.Put(context.Background(), "ks", []byte("k"), []byte("v"))
		require.NoError(t, err)
		require.Equal(t, "s2", r.Store)
	}
	require.Zero(t, s1.pipelines(), "the read-only replica got no write")

	// Reads still go to it.
	_, err := c.Get(context.Background(), "ks", []byte("k"))
	require.ErrorIs(t, err, ErrNotFound) // s1 holds nothing: it was asked
	require.Equal(t, 1, s1.pipelines())
}
