package client

import (
	"context"
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/vasto-kv/vasto/topology"
)

func TestDoRoutesPipelinesPerShardInOrder(t *testing.T) {
	s1 := newFakeStore(t, "s1", "ks/0", "ks/1")
	s2 := newFakeStore(t, "s2", "ks/0", "ks/1")
	c := testClient(t, fakeTopology("ks", [][]string{{"s1", "s2"}, {"s2", "s1"}}, s1, s2))
	ctx := context.Background()

	var cmds []Command
	for i := 0; i < 20; i++ {
		k := []byte(fmt.Sprintf("k%02d", i))
		cmds = append(cmds, Command{Args: [][]byte{[]byte("VSET"), k, []byte(fmt.Sprintf("v%d", i))}, Key: k, Write: true})
	}
	reps, err := c.Do(ctx, "ks", cmds)
	require.NoError(t, err)
	require.Len(t, reps, 20)
	for i, r := range reps {
		require.NoError(t, r.Err, "item %d", i)
		require.Len(t, r.Val, 5)
	}
	require.Equal(t, 1, s1.pipelines(), "one pipeline per shard")
	require.Equal(t, 1, s2.pipelines())

	gets := make([]Command, 0, 21)
	for i := 0; i < 20; i++ {
		k := []byte(fmt.Sprintf("k%02d", i))
		gets = append(gets, Command{Args: [][]byte{[]byte("VGET"), k}, Key: k})
	}
	gets = append(gets, Command{Args: [][]byte{[]byte("VGET"), []byte("nope")}, Key: []byte("nope")})
	reps, err = c.Do(ctx, "ks", gets)
	require.NoError(t, err)
	for i := 0; i < 20; i++ {
		require.NoError(t, reps[i].Err)
		require.Equal(t, fmt.Sprintf("v%d", i), reps[i].Val.([]any)[0], "replies in input order")
	}
	require.NoError(t, reps[20].Err)
	require.Nil(t, reps[20].Val, "a null reply is a nil value")

	// A command addressed to a shard, and a store's final error.
	s2.setFail("ERR")
	k1 := keysOnShard(2, 1, 1)[0]
	reps, err = c.Do(ctx, "ks", []Command{
		{Args: [][]byte{[]byte("VGET"), []byte("x")}, Shard: 0},
		{Args: [][]byte{[]byte("VGET"), k1}, Key: k1},
	})
	require.NoError(t, err)
	require.NoError(t, reps[0].Err)
	var se *StoreError
	require.ErrorAs(t, reps[1].Err, &se)
	require.Equal(t, "ERR", se.Code)

	// Bad input fails before anything is sent.
	_, err = c.Do(ctx, "ks", []Command{{Args: [][]byte{[]byte("GET")}, Key: []byte{}}})
	require.ErrorIs(t, err, ErrInvalid)
	_, err = c.Do(ctx, "ks", []Command{{Key: []byte("k")}})
	require.ErrorIs(t, err, ErrInvalid)
	_, err = c.Do(ctx, "nope", []Command{{Args: [][]byte{[]byte("GET")}, Key: []byte("k")}})
	require.ErrorIs(t, err, ErrUnknownKeyspace)
	reps, err = c.Do(ctx, "ks", []Command{{Args: [][]byte{[]byte("DBSIZE")}, Shard: 7}})
	require.NoError(t, err)
	require.ErrorIs(t, reps[0].Err, ErrInvalid)

	shard, n, err := c.ShardOf("ks", k1)
	require.NoError(t, err)
	require.Equal(t, uint32(1), shard)
	require.Equal(t, 2, n)
	require.Equal(t, topology.ShardOf(k1, 2), shard)
	require.Equal(t, uint64(1), c.TopologyVersion())
}
