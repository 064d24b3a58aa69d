package topology

import (
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestJumpHashIsStableAndBalanced(t *testing.T) {
	// Known values pin the routing rule: changing it would move keys.
	require.Equal(t, 0, JumpHash(0, 1))
	counts := make([]int, 5)
	for i := 0; i < 50000; i++ {
		counts[ShardOf([]byte(fmt.Sprintf("key-%d", i)), 5)]++
	}
	for _, c := range counts {
		require.InDelta(t, 10000, c, 600)
	}
	// Growing from 5 to 6 shards moves about 1/6 of the keys, all to the new shard.
	moved := 0
	for i := 0; i < 50000; i++ {
		k := []byte(fmt.Sprintf("key-%d", i))
		a, b := ShardOf(k, 5), ShardOf(k, 6)
		if a != b {
			require.Equal(t, uint32(5), b)
			moved++
		}
	}
	require.InDelta(t, 50000/6, moved, 600)
}

func TestPlaceBalancedDeterministicDistinct(t *testing.T) {
	stores := []string{"s1", "s2", "s3", "s4"}
	p1, err := Place(stores, nil, 8, 3)
	require.NoError(t, err)
	p2, err := Place([]string{"s4", "s3", "s2", "s1"}, nil, 8, 3)
	require.NoError(t, err)
	require.Equal(t, p1, p2, "placement does not depend on input order")
	load := map[string]int{}
	first := map[string]int{}
	for _, reps := range p1 {
		require.Len(t, reps, 3)
		seen := map[string]bool{}
		for _, s := range reps {
			require.False(t, seen[s], "two replicas on one store")
			seen[s] = true
			load[s]++
		}
		first[reps[0]]++
	}
	for _, s := range stores {
		require.Equal(t, 6, load[s])
		require.Equal(t, 2, first[s], "preferred replicas are spread")
	}
	// With as many replicas as stores, the preferred replica still rotates.
	all, err := Place([]string{"a", "b", "c"}, nil, 3, 3)
	require.NoError(t, err)
	require.ElementsMatch(t, []string{"a", "b", "c"}, []string{all[0][0], all[1][0], all[2][0]})

	_, err = Place(stores, nil, 1, 5)
	require.ErrorIs(t, err, ErrNotEnoughStores)

	// Existing load steers new keyspaces to emptier stores.
	p3, err := Place(stores, map[string]int{"s1": 10, "s2": 10}, 2, 2)
	require.NoError(t, err)
	require.ElementsMatch(t, []string{"s3", "s4"}, p3[0])
}

func TestTopologyRoundTripAndValidation(t *testing.T) {
	top := New("dc1")
	top.Version = 7
	top.Stores["s1"] = &Store{ID: "s1", Addr: "127.0.0.1:1", Healthy: true}
	top.Keyspaces["ks"] = &Keyspace{Name: "ks", Shards: 2, Replicas: 1, Placement: [][]string{{"s1"}, {"s1"}}}
	b, err := top.Encode()
	require.NoError(t, err)
	got, err := Decode(b)
	require.NoError(t, err)
	require.Equal(t, top, got)
	require.Equal(t, []ShardRef{{"ks", 0}, {"ks", 1}}, got.ShardsOf("s1"))

	_, err = Decode([]byte(`{"keyspaces":{"ks":{"name":"ks","shards":2,"placement":[["s1"]]}}}`))
	require.ErrorIs(t, err, ErrCorrupt)
	_, err = Decode([]byte(`not json`))
	require.ErrorIs(t, err, ErrCorrupt)
	_, err = top.Keyspace("nope")
	require.ErrorIs(t, err, ErrUnknownKeyspace)
	require.ErrorIs(t, CheckName("keyspace", "a.b"), ErrBadName)
	require.NoError(t, CheckName("keyspace", "users_v2"))
}

// BenchmarkShardOf backs the claim in docs/architecture.md that deriving a
// key's placement hash costs a few nanoseconds, so it need not be stored.
func BenchmarkShardOf(b *testing.B) {
	key := []byte("user:0000000042ab") // 16 bytes, as in the benchmarks
	for b.Loop() {
		_ = ShardOf(key, 16)
	}
}
