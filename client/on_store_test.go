package client

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestDoOnSendsToTheNamedReplica(t *testing.T) {
	s1 := newFakeStore(t, "s1", "ks/0")
	s2 := newFakeStore(t, "s2", "ks/0")
	c := testClient(t, fakeTopology("ks", [][]string{{"s1", "s2"}}, s1, s2))
	ctx := context.Background()

	_, err := c.DoOn(ctx, "ks", 0, "s2", []byte("VSET"), []byte("k"), []byte("v"))
	require.NoError(t, err)
	require.Equal(t, 1, s2.pipelines())
	require.Zero(t, s1.pipelines())
	val, err := c.DoOn(ctx, "ks", 0, "s2", []byte("VGET"), []byte("nope"))
	require.NoError(t, err)
	require.Nil(t, val)

	_, err = c.DoOn(ctx, "ks", 1, "s1", []byte("PING"))
	require.ErrorIs(t, err, ErrNoReplica)
	_, err = c.DoOn(ctx, "ks", 0, "s3", []byte("PING"))
	require.ErrorIs(t, err, ErrNoReplica)
	_, err = c.DoOn(ctx, "nope", 0, "s1", []byte("PING"))
	require.ErrorIs(t, err, ErrUnknownKeyspace)
	_, err = c.DoOn(ctx, "ks", 0, "s1")
	require.ErrorIs(t, err, ErrInvalid)
	require.Zero(t, s1.pipelines())

	top := c.Topology()
	top.Stores["s1"].Healthy = false
	top.Version++
	c.setTopology(top)
	_, err = c.DoOn(ctx, "ks", 0, "s1", []byte("PING"))
	require.ErrorIs(t, err, ErrNoReplica)
}
