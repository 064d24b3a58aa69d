package dc

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/vasto-kv/vasto/bus"
	"github.com/vasto-kv/vasto/lww"
	"github.com/vasto-kv/vasto/store"
	"github.com/vasto-kv/vasto/topology"
)

func TestParseChangeSubject(t *testing.T) {
	cases := []struct {
		subj          string
		origin, shard string
		ok            bool
	}{
		{"vasto.chg.dc1.ks.3.s1", "s1", "3", true},
		{"vasto.chg.dc1.ks.0.store-2", "store-2", "0", true},
		{"vasto.chg.dc1.ks.3", "", "", false},
		{"vasto.chg.dc1.ks.3.s1.extra", "", "", false},
		{"vasto.hb.dc1.ks.3.s1", "", "", false},
		{"other.chg.dc1.ks.3.s1", "", "", false},
		{"", "", "", false},
	}
	for _, c := range cases {
		origin, shard, ok := parseChangeSubject(c.subj)
		require.Equal(t, c.ok, ok, c.subj)
		require.Equal(t, c.origin, origin, c.subj)
		require.Equal(t, c.shard, shard, c.subj)
	}
	// It reads what bus names.
	subj, err := bus.ChangeSubject("dc1", "ks", 7, "s9")
	require.NoError(t, err)
	origin, shard, ok := parseChangeSubject(subj)
	require.True(t, ok)
	require.Equal(t, [2]string{"s9", "7"}, [2]string{origin, shard})
}

func TestCopied(t *testing.T) {
	ok := bus.SourceInfo{Exists: true, CaughtUp: true, Active: time.Second}
	require.True(t, copied(ok))
	for name, mod := range map[string]func(*bus.SourceInfo){
		"missing":        func(i *bus.SourceInfo) { i.Exists = false },
		"behind":         func(i *bus.SourceInfo) { i.CaughtUp = false },
		"local error":    func(i *bus.SourceInfo) { i.Error = "stream offline" },
		"remote unknown": func(i *bus.SourceInfo) { i.RemoteError = "no responders" },
	} {
		info := ok
		mod(&info)
		require.False(t, copied(info), name)
	}
}

// TestDestinations: a remote change goes to the local shard its key routes
// to if held here and, while a resize copies, also to its target shard in
// the new layout if held here; once the resize switched, only the routed
// one.
func TestDestinations(t *testing.T) {
	w := &xdcWorker{r: &Replicator{cfg: Config{Store: "t1"}}}
	// A key of shard 0 of 2 that moves to shard 2 of 4, and one that stays.
	var moves, stays []byte
	for i := 0; moves == nil || stays == nil; i++ {
		k := []byte("key" + strings.Repeat("x", i%7) + string(rune('a'+i%26)) + string(rune('a'+i/26%26)))
		if topology.ShardOf(k, 2) != 0 {
			continue
		}
		switch topology.ShardOf(k, 4) {
		case 2:
			moves = k
		case 0:
			stays = k
		}
	}
	ks := &topology.Keyspace{Name: "ks", Shards: 2, Placement: [][]string{{"t1"}, {"t2"}}}
	require.Equal(t, []uint32{0}, w.destinations(ks, moves))
	require.Equal(t, []uint32{0}, w.destinations(ks, stays))

	ks.Resize = &topology.Resize{From: 2, To: 4, Phase: topology.PhaseCopy,
		Placement: [][]string{{"t1"}, {"t2"}, {"t1"}, {"t2"}}}
	require.Equal(t, []uint32{0, 2}, w.destinations(ks, moves), "copying: the target gets it too")
	require.Equal(t, []uint32{0}, w.destinations(ks, stays))
	ks.Resize.Placement[2] = []string{"t3"}
	require.Equal(t, []uint32{0}, w.destinations(ks, moves), "a target held elsewhere")
	ks.Resize.Placement[2] = []string{"t1"}
	ks.Resize.Phase = topology.PhaseSwitched
	require.Equal(t, []uint32{0}, w.destinations(ks, moves), "switched: routed only")

	ks.Placement[0] = []string{"t2"}
	ks.Resize = nil
	require.Empty(t, w.destinations(ks, moves), "a shard not held here")
}

// TestDurableNames: consumer names are valid NATS names whatever the
// lengths of store, DC and keyspace, and distinct for distinct triples.
func TestDurableNames(t *testing.T) {
	short := Durable("t1", "dc1", "ks")
	require.Equal(t, "x_t1_dc1_ks", short)
	long := strings.Repeat("k", lww.MaxNameLen)
	a, b := Durable("t1", "dc1", long), Durable("t1", "dc2", long)
	require.NotEqual(t, a, b)
	for _, n := range []string{a, b} {
		require.LessOrEqual(t, len(n), lww.MaxNameLen)
		require.True(t, bus.ValidName(n), n)
	}
	require.Equal(t, a, Durable("t1", "dc1", long), "deterministic")
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
	_, err = e.CreateShard("ks", 0)
	require.NoError(t, err)
	sh, err = s.Shard("ks", 0)
	require.NoError(t, err)
	require.Equal(t, store.ShardID{Keyspace: "ks", Shard: 0}, sh.ID())
	require.Equal(t, clock.Now(), s.Clock().Now())
	require.Equal(t, e.Config().MaxFuture, s.MaxFuture())
}
