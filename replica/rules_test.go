package replica

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/vasto-kv/vasto/bus"
	"github.com/vasto-kv/vasto/lww"
	"github.com/vasto-kv/vasto/store"
	"github.com/vasto-kv/vasto/topology"
)

// TestSourceReplicas: while a resize copies, the old layout is the
// keyspace's placement; once it switched, the resize keeps the old one.
func TestSourceReplicas(t *testing.T) {
	ks := &topology.Keyspace{Shards: 2, Placement: [][]string{{"a", "b"}, {"c", "d"}}}
	r := &topology.Resize{From: 2, To: 4, Phase: topology.PhaseCopy,
		Placement: [][]string{{"a", "b"}, {"c", "d"}, {"e", "f"}, {"g", "h"}}}
	require.Equal(t, []string{"c", "d"}, sourceReplicas(ks, r, 1))

	// Switched: the keyspace has the new layout, the resize the old one.
	ks.Shards, ks.Placement = 4, r.Placement
	r.Phase, r.Placement = topology.PhaseSwitched, [][]string{{"a", "b"}, {"c", "x"}}
	require.Equal(t, []string{"c", "x"}, sourceReplicas(ks, r, 1))
}

// TestConsumerNames: the names of the peer and fill consumers are valid
// NATS names whatever the lengths involved, deterministic and distinct.
func TestConsumerNames(t *testing.T) {
	ref := topology.ShardRef{Keyspace: "ks", Shard: 3}
	require.Equal(t, "r_s1_ks_3_s2", peerDurable("s1", ref, "s2"))
	long := topology.ShardRef{Keyspace: strings.Repeat("k", lww.MaxNameLen), Shard: 3}
	a, b := peerDurable("s1", long, "s2"), peerDurable("s1", long, "s3")
	require.NotEqual(t, a, b)
	require.Equal(t, a, peerDurable("s1", long, "s2"))
	for _, n := range []string{a, b} {
		require.LessOrEqual(t, len(n), lww.MaxNameLen)
		require.True(t, bus.ValidName(n), n)
	}

	f := &filler{a: &Agent{cfg: AgentConfig{Store: "s1"}}, ref: long, rid: 9}
	g := &filler{a: &Agent{cfg: AgentConfig{Store: "s1"}}, ref: long, rid: 10}
	require.NotEqual(t, f.tailDurable(0), g.tailDurable(0), "per resize")
	require.NotEqual(t, f.tailDurable(0), f.tailDurable(1), "per source")
	require.True(t, bus.ValidName(f.tailDurable(0)))
	short := &filler{a: &Agent{cfg: AgentConfig{Store: "s1"}}, ref: ref, rid: 9}
	require.Equal(t, "f_s1_ks_3_0_9", short.tailDurable(0))
}

// TestEngineShards: the adapter hands out the engine's shards as Shard,
// and nil (not a nil *store.Shard) with the engine's error.
func TestEngineShards(t *testing.T) {
	e, clock := testEngine(t, nil)
	s := EngineShards(e)
	require.Nil(t, EngineShards(nil))
	sh, err := s.Shard("ks", 0)
	require.ErrorIs(t, err, store.ErrNoShard)
	require.Nil(t, sh)
	sh, err = s.CreateShardAt("ks", 0, 7)
	require.NoError(t, err)
	first, _ := sh.LogBounds()
	require.Equal(t, uint64(7), first)
	sh, err = s.CreateShardAt("ks", 0, 1)
	require.ErrorIs(t, err, store.ErrShardExists)
	require.Nil(t, sh)
	require.Equal(t, []store.ShardID{{Keyspace: "ks", Shard: 0}}, s.Shards())
	require.Equal(t, clock.Now(), s.Clock().Now())
	require.Equal(t, e.Config().MaxFuture, s.MaxFuture())
}

// TestWatermarkTurn: the watermark loop asks at most its budget of workers
// per tick, and every worker within ceil(n / budget) ticks.
func TestWatermarkTurn(t *testing.T) {
	for _, n := range []int{0, 1, 5, 64, 65, 667, 2000} {
		const budget = 64
		counts := make([]int, n)
		next := 0
		ticks := (n + budget - 1) / budget
		for tick := 0; tick < ticks; tick++ {
			var ask func(int) bool
			ask, next = watermarkTurn(n, next, budget)
			asked := 0
			for i := 0; i < n; i++ {
				if ask(i) {
					counts[i]++
					asked++
				}
			}
			require.LessOrEqual(t, asked, budget, "n=%d tick %d", n, tick)
		}
		for i, c := range counts {
			require.GreaterOrEqual(t, c, 1, "n=%d: worker %d not asked in %d ticks", n, i, ticks)
		}
	}
	// Fewer workers than at the last tick: the turn starts within them.
	ask, next := watermarkTurn(10, 500, 4)
	require.True(t, ask(0) && ask(3) && !ask(4), "after 500 of 10 workers")
	require.Equal(t, 4, next)
}
