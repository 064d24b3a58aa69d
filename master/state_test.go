package master

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/vasto-kv/vasto/topology"
	"github.com/vasto-kv/vasto/wire"
)

const (
	t0   = int64(1_700_000_000_000_000_000)
	dead = int64(topology.DeadAfter)
)

func newTestState(t *testing.T) *State {
	t.Helper()
	s, err := NewState(topology.New("dc1"), t0)
	require.NoError(t, err)
	return s
}

// hb is a heartbeat of a store that follows the newest topology.
func hb(store string, serving ...string) topology.Heartbeat {
	return topology.Heartbeat{Store: store, Addr: "127.0.0.1:" + fmt.Sprint(7000+len(store)), Serving: serving, Version: 1 << 62}
}

// beatAll registers stores s1..sn at now.
func beatAll(s *State, n int, now int64) {
	for i := 1; i <= n; i++ {
		s.OnHeartbeat(hb(fmt.Sprintf("s%d", i)), now)
	}
}

func TestOnHeartbeatRegistersAndUpdates(t *testing.T) {
	s := newTestState(t)
	require.True(t, s.OnHeartbeat(topology.Heartbeat{Store: "s1", Addr: "127.0.0.1:7001", Serving: []string{"b/1", "a/0", "b/1"}, Seq: 1}, t0))
	require.EqualValues(t, 1, s.Version())
	st := s.Topology().Stores["s1"]
	require.Equal(t, topology.Store{ID: "s1", Addr: "127.0.0.1:7001", Healthy: true, Serving: []string{"a/0", "b/1"}}, *st)
	require.Equal(t, []event{{kind: evJoined, store: "s1", addr: "127.0.0.1:7001"}}, s.takeEvents())

	// A beat that only proves the store alive changes nothing, even with
	// the serving list in another order.
	require.False(t, s.OnHeartbeat(topology.Heartbeat{Store: "s1", Addr: "127.0.0.1:7001", Serving: []string{"b/1", "a/0"}, Seq: 2}, t0+1))
	require.EqualValues(t, 1, s.Version())
	require.Empty(t, s.takeEvents())

	// New address.
	require.True(t, s.OnHeartbeat(topology.Heartbeat{Store: "s1", Addr: "127.0.0.1:7002", Serving: []string{"a/0", "b/1"}}, t0+2))
	require.EqualValues(t, 2, s.Version())
	require.Equal(t, "127.0.0.1:7002", s.Topology().Stores["s1"].Addr)
	require.Equal(t, []event{{kind: evMoved, store: "s1", addr: "127.0.0.1:7002"}}, s.takeEvents())

	// New serving list.
	require.True(t, s.OnHeartbeat(topology.Heartbeat{Store: "s1", Addr: "127.0.0.1:7002"}, t0+3))
	require.EqualValues(t, 3, s.Version())
	require.Nil(t, s.Topology().Stores["s1"].Serving)

	// A second store.
	require.True(t, s.OnHeartbeat(hb("s2"), t0+4))
	require.EqualValues(t, 4, s.Version())
	require.Equal(t, []string{"s1", "s2"}, s.Topology().StoreIDs())
}

func TestBadHeartbeatIgnored(t *testing.T) {
	ok := topology.Heartbeat{Store: "s1", Addr: "127.0.0.1:7001", Serving: []string{"ks/0", "ks-2/1023"}}
	require.NoError(t, CheckHeartbeat(ok))
	for name, mut := range map[string]func(*topology.Heartbeat){
		"empty store":      func(h *topology.Heartbeat) { h.Store = "" },
		"dotted store":     func(h *topology.Heartbeat) { h.Store = "a.b" },
		"wildcard store":   func(h *topology.Heartbeat) { h.Store = "x*" },
		"long store":       func(h *topology.Heartbeat) { h.Store = strings.Repeat("s", 65) },
		"empty addr":       func(h *topology.Heartbeat) { h.Addr = "" },
		"no port":          func(h *topology.Heartbeat) { h.Addr = "127.0.0.1" },
		"no host":          func(h *topology.Heartbeat) { h.Addr = ":7001" },
		"port 0":           func(h *topology.Heartbeat) { h.Addr = "127.0.0.1:0" },
		"port too big":     func(h *topology.Heartbeat) { h.Addr = "127.0.0.1:65536" },
		"long addr":        func(h *topology.Heartbeat) { h.Addr = strings.Repeat("h", 300) + ":1" },
		"serving no shard": func(h *topology.Heartbeat) { h.Serving = []string{"ks"} },
		"serving bad ks":   func(h *topology.Heartbeat) { h.Serving = []string{"a.b/1"} },
		"serving zero pad": func(h *topology.Heartbeat) { h.Serving = []string{"ks/01"} },
		"serving negative": func(h *topology.Heartbeat) { h.Serving = []string{"ks/-1"} },
		"serving too big":  func(h *topology.Heartbeat) { h.Serving = []string{"ks/1024"} },
		"serving too many": func(h *topology.Heartbeat) { h.Serving = make([]string, MaxServing+1) },
	} {
		t.Run(name, func(t *testing.T) {
			h := ok
			mut(&h)
			require.ErrorIs(t, CheckHeartbeat(h), ErrBadHeartbeat)
			s := newTestState(t)
			require.False(t, s.OnHeartbeat(h, t0))
			require.Zero(t, s.Version())
			require.Empty(t, s.Topology().Stores)
		})
	}
}

func TestDeathAfterDeadAfterAndRecovery(t *testing.T) {
	s := newTestState(t)
	beatAll(s, 2, t0)
	s.takeEvents()
	v := s.Version()

	// s2 keeps beating, s1 goes silent.
	s.OnHeartbeat(hb("s2"), t0+dead/2)
	require.False(t, s.Tick(t0+dead-1), "not dead before DeadAfter")
	require.Equal(t, v, s.Version())
	require.True(t, s.Topology().Stores["s1"].Healthy)

	require.True(t, s.Tick(t0+dead))
	require.Equal(t, v+1, s.Version())
	top := s.Topology()
	require.False(t, top.Stores["s1"].Healthy)
	require.True(t, top.Stores["s2"].Healthy)
	require.Equal(t, []event{{kind: evDown, store: "s1", addr: hb("s1").Addr, silent: dead}}, s.takeEvents())

	// Already dead: nothing more to do.
	require.False(t, s.Tick(t0+dead+1))
	require.Equal(t, v+1, s.Version())

	// It comes back.
	require.True(t, s.OnHeartbeat(hb("s1"), t0+2*dead))
	require.Equal(t, v+2, s.Version())
	require.True(t, s.Topology().Stores["s1"].Healthy)
	require.Equal(t, []event{{kind: evUp, store: "s1", addr: hb("s1").Addr}}, s.takeEvents())

	// Both silent: one tick, one version.
	require.True(t, s.Tick(t0+10*dead))
	require.Equal(t, v+3, s.Version())
	for _, st := range s.Topology().Stores {
		require.False(t, st.Healthy)
	}
	require.Len(t, s.takeEvents(), 2)
}

func TestHeartbeatTimeNeverMovesBack(t *testing.T) {
	s := newTestState(t)
	s.OnHeartbeat(hb("s1"), t0+dead)
	s.OnHeartbeat(hb("s1"), t0) // a clock that stepped back
	require.False(t, s.Tick(t0+2*dead-1))
	require.True(t, s.Tick(t0+2*dead))
}

func TestCreateKeyspaceErrors(t *testing.T) {
	s := newTestState(t)
	beatAll(s, 3, t0)
	require.NoError(t, s.CreateKeyspace(topology.CreateKeyspaceRequest{Name: "taken", Shards: 2, Replicas: 2}))
	v := s.Version()
	for _, tc := range []struct {
		req  topology.CreateKeyspaceRequest
		want error
	}{
		{topology.CreateKeyspaceRequest{Name: "a.b", Shards: 1, Replicas: 1}, topology.ErrBadName},
		{topology.CreateKeyspaceRequest{Name: "x*", Shards: 1, Replicas: 1}, topology.ErrBadName},
		{topology.CreateKeyspaceRequest{Name: "", Shards: 1, Replicas: 1}, topology.ErrBadName},
		{topology.CreateKeyspaceRequest{Name: "a b", Shards: 1, Replicas: 1}, topology.ErrBadName},
		{topology.CreateKeyspaceRequest{Name: strings.Repeat("k", 65), Shards: 1, Replicas: 1}, topology.ErrBadName},
		{topology.CreateKeyspaceRequest{Name: "ks", Shards: 0, Replicas: 1}, ErrInvalidRequest},
		{topology.CreateKeyspaceRequest{Name: "ks", Shards: -1, Replicas: 1}, ErrInvalidRequest},
		{topology.CreateKeyspaceRequest{Name: "ks", Shards: topology.MaxShards + 1, Replicas: 1}, ErrInvalidRequest},
		{topology.CreateKeyspaceRequest{Name: "ks", Shards: 1, Replicas: 0}, ErrInvalidRequest},
		{topology.CreateKeyspaceRequest{Name: "ks", Shards: 1, Replicas: topology.MaxReplicas + 1}, ErrInvalidRequest},
		{topology.CreateKeyspaceRequest{Name: "taken", Shards: 1, Replicas: 1}, ErrKeyspaceExists},
		{topology.CreateKeyspaceRequest{Name: "ks", Shards: 1, Replicas: 4}, topology.ErrNotEnoughStores},
	} {
		t.Run(fmt.Sprintf("%+v", tc.req), func(t *testing.T) {
			require.ErrorIs(t, s.CreateKeyspace(tc.req), tc.want)
			require.Equal(t, v, s.Version())
		})
	}
	require.Equal(t, []string{"taken"}, s.Topology().KeyspaceNames())

	// The bounds themselves are fine.
	require.NoError(t, s.CreateKeyspace(topology.CreateKeyspaceRequest{Name: "big", Shards: topology.MaxShards, Replicas: 3}))
	require.Equal(t, v+1, s.Version())
}

func TestCreateWithoutStores(t *testing.T) {
	s := newTestState(t)
	require.ErrorIs(t, s.CreateKeyspace(topology.CreateKeyspaceRequest{Name: "ks", Shards: 1, Replicas: 1}), topology.ErrNotEnoughStores)
	require.Zero(t, s.Version())
}

func TestPlacementUsesOnlyHealthyStores(t *testing.T) {
	s := newTestState(t)
	beatAll(s, 4, t0)
	// s1 and s3 go silent.
	s.OnHeartbeat(hb("s2"), t0+dead/2)
	s.OnHeartbeat(hb("s4"), t0+dead/2)
	require.True(t, s.Tick(t0+dead))

	before := s.Topology()
	require.NoError(t, s.CreateKeyspace(topology.CreateKeyspaceRequest{Name: "ks", Shards: 16, Replicas: 2}))
	ks := s.Topology().Keyspaces["ks"]
	want, err := topology.Place([]string{"s2", "s4"}, before.Load(), 16, 2)
	require.NoError(t, err)
	require.Equal(t, want, ks.Placement)
	for _, reps := range ks.Placement {
		require.ElementsMatch(t, []string{"s2", "s4"}, reps)
	}
	require.ErrorIs(t, s.CreateKeyspace(topology.CreateKeyspaceRequest{Name: "ks3", Shards: 1, Replicas: 3}), topology.ErrNotEnoughStores)

	// s1 and s3 come back: the next keyspace goes to them first (lower load).
	s.OnHeartbeat(hb("s1"), t0+dead+1)
	s.OnHeartbeat(hb("s3"), t0+dead+1)
	before = s.Topology()
	require.NoError(t, s.CreateKeyspace(topology.CreateKeyspaceRequest{Name: "ks2", Shards: 2, Replicas: 1}))
	want, err = topology.Place([]string{"s1", "s2", "s3", "s4"}, before.Load(), 2, 1)
	require.NoError(t, err)
	require.Equal(t, want, s.Topology().Keyspaces["ks2"].Placement)
	require.Equal(t, [][]string{{"s1"}, {"s3"}}, want)
}

func TestDeleteDescribeList(t *testing.T) {
	s := newTestState(t)
	beatAll(s, 3, t0)
	require.NoError(t, s.CreateKeyspace(topology.CreateKeyspaceRequest{Name: "b", Shards: 2, Replicas: 2}))
	require.NoError(t, s.CreateKeyspace(topology.CreateKeyspaceRequest{Name: "a", Shards: 1, Replicas: 1}))
	v := s.Version()

	d, err := s.Describe("b")
	require.NoError(t, err)
	require.Equal(t, v, d.Version)
	require.Equal(t, "b", d.Keyspace.Name)
	for _, reps := range d.Keyspace.Placement {
		for _, id := range reps {
			require.Equal(t, id, d.Stores[id].ID)
			require.True(t, d.Stores[id].Healthy)
		}
	}
	// Replies are copies.
	d.Keyspace.Placement[0][0] = "mutated"
	d2, err := s.Describe("b")
	require.NoError(t, err)
	require.NotEqual(t, "mutated", d2.Keyspace.Placement[0][0])

	_, err = s.Describe("nope")
	require.ErrorIs(t, err, topology.ErrUnknownKeyspace)
	_, err = s.Describe("a.b")
	require.ErrorIs(t, err, topology.ErrBadName)

	l := s.List()
	require.Equal(t, v, l.Version)
	require.Len(t, l.Keyspaces, 2)
	require.Equal(t, "a", l.Keyspaces[0].Name)
	require.Equal(t, "b", l.Keyspaces[1].Name)

	st := s.Stores()
	require.Equal(t, v, st.Version)
	require.Len(t, st.Stores, 3)
	require.Equal(t, "s1", st.Stores[0].ID)

	require.ErrorIs(t, s.DeleteKeyspace("nope", 0), topology.ErrUnknownKeyspace)
	require.ErrorIs(t, s.DeleteKeyspace("x*", 0), topology.ErrBadName)
	require.Equal(t, v, s.Version())
	require.NoError(t, s.DeleteKeyspace("b", 0))
	require.Equal(t, v+1, s.Version())
	require.Equal(t, []string{"a"}, s.Topology().KeyspaceNames())
	require.ErrorIs(t, s.DeleteKeyspace("b", 0), topology.ErrUnknownKeyspace)
	require.Equal(t, v+1, s.Version())

	// A name is free again once deleted.
	require.NoError(t, s.CreateKeyspace(topology.CreateKeyspaceRequest{Name: "b", Shards: 1, Replicas: 1}))
	require.Equal(t, v+2, s.Version())

	empty := newTestState(t)
	require.NotNil(t, empty.List().Keyspaces)
	require.NotNil(t, empty.Stores().Stores)
}

// TestVersionIncreasesExactlyOnChange drives a state with random operations
// and checks that the version grows by one exactly when the topology
// changes, and that the same operations always give the same topology.
func TestVersionIncreasesExactlyOnChange(t *testing.T) {
	for seed := uint64(1); seed <= 10; seed++ {
		a := runRandomOps(t, seed)
		b := runRandomOps(t, seed)
		ea, err := a.Topology().Encode()
		require.NoError(t, err)
		eb, err := b.Topology().Encode()
		require.NoError(t, err)
		require.Equal(t, string(ea), string(eb), "seed %d: not deterministic", seed)
	}
}

func runRandomOps(t *testing.T, seed uint64) *State {
	r := rand.New(rand.NewPCG(seed, seed))
	s := newTestState(t)
	now := t0
	for i := 0; i < 500; i++ {
		now += r.Int64N(dead / 3)
		before := s.Topology()
		var changed bool
		switch op := r.IntN(10); {
		case op < 5:
			id := fmt.Sprintf("s%d", r.IntN(6))
			h := hb(id)
			if r.IntN(4) == 0 {
				h.Addr = fmt.Sprintf("127.0.0.1:%d", 8000+r.IntN(3))
			}
			if r.IntN(4) == 0 {
				h.Serving = []string{fmt.Sprintf("ks%d/%d", r.IntN(3), r.IntN(4))}
			}
			changed = s.OnHeartbeat(h, now)
		case op < 7:
			changed = s.Tick(now)
		case op < 9:
			err := s.CreateKeyspace(topology.CreateKeyspaceRequest{
				Name: fmt.Sprintf("ks%d", r.IntN(5)), Shards: 1 + r.IntN(8), Replicas: 1 + r.IntN(4),
			})
			changed = err == nil
			if err != nil {
				require.True(t, errors.Is(err, ErrKeyspaceExists) || errors.Is(err, topology.ErrNotEnoughStores), "%v", err)
			}
		default:
			err := s.DeleteKeyspace(fmt.Sprintf("ks%d", r.IntN(5)), 0)
			changed = err == nil
			if err != nil {
				require.ErrorIs(t, err, topology.ErrUnknownKeyspace)
			}
		}
		after := s.Topology()
		if changed {
			require.Equal(t, before.Version+1, after.Version, "seed %d op %d", seed, i)
			require.False(t, sameContent(before, after), "seed %d op %d: reported a change but nothing changed", seed, i)
		} else {
			require.Equal(t, before.Version, after.Version, "seed %d op %d", seed, i)
			require.True(t, sameContent(before, after), "seed %d op %d: changed without reporting it", seed, i)
		}
		for _, ks := range after.Keyspaces {
			for _, reps := range ks.Placement {
				require.Len(t, reps, ks.Replicas)
			}
		}
	}
	return s
}

func TestReloadKeepsVersionAndGivesGrace(t *testing.T) {
	s := newTestState(t)
	beatAll(s, 3, t0)
	require.NoError(t, s.CreateKeyspace(topology.CreateKeyspaceRequest{Name: "ks", Shards: 4, Replicas: 2}))
	s.OnHeartbeat(hb("s1"), t0+dead/2)
	s.OnHeartbeat(hb("s2"), t0+dead/2)
	require.True(t, s.Tick(t0+dead)) // s3 is down
	doc, err := s.Topology().Encode()
	require.NoError(t, err)

	decoded, err := topology.Decode(doc)
	require.NoError(t, err)
	now := t0 + 100*dead // the master was away for a long time
	r, err := NewState(decoded, now)
	require.NoError(t, err)
	require.Equal(t, s.Version(), r.Version())
	got, err := r.Topology().Encode()
	require.NoError(t, err)
	require.JSONEq(t, string(doc), string(got))

	// Grace: nobody is declared dead before a full DeadAfter from the load.
	require.False(t, r.Tick(now+dead-1))
	require.Equal(t, s.Version(), r.Version())
	// A store that beats stays; the others go.
	r.OnHeartbeat(hb("s1"), now+dead/2)
	require.True(t, r.Tick(now+dead))
	require.Equal(t, s.Version()+1, r.Version())
	top := r.Topology()
	require.True(t, top.Stores["s1"].Healthy)
	require.False(t, top.Stores["s2"].Healthy)
	require.False(t, top.Stores["s3"].Healthy)
	require.Equal(t, []string{"ks"}, top.KeyspaceNames())

	// The loaded state does not alias the given topology.
	decoded.Keyspaces["ks"].Placement[0][0] = "mutated"
	require.NotEqual(t, "mutated", r.Topology().Keyspaces["ks"].Placement[0][0])
}

func TestNewStateRejectsInconsistent(t *testing.T) {
	_, err := NewState(nil, t0)
	require.ErrorIs(t, err, topology.ErrCorrupt)
	_, err = NewState(topology.New("a.b"), t0)
	require.ErrorIs(t, err, topology.ErrCorrupt)

	bad := topology.New("dc1")
	bad.Keyspaces["ks"] = &topology.Keyspace{Name: "ks", Shards: 2, Replicas: 1, Placement: [][]string{{"s1"}}}
	_, err = NewState(bad, t0)
	require.ErrorIs(t, err, topology.ErrCorrupt)

	bad = topology.New("dc1")
	bad.Stores["s1"] = &topology.Store{ID: "s2"}
	_, err = NewState(bad, t0)
	require.ErrorIs(t, err, topology.ErrCorrupt)

	bad = topology.New("dc1")
	bad.Stores = nil
	bad.Keyspaces = nil
	s, err := NewState(bad, t0)
	require.NoError(t, err)
	require.True(t, s.OnHeartbeat(hb("s1"), t0))
}

func TestRebase(t *testing.T) {
	// Ours: s1, s2 heard, keyspace "ours" not published.
	ours := newTestState(t)
	beatAll(ours, 2, t0)
	require.NoError(t, ours.CreateKeyspace(topology.CreateKeyspaceRequest{Name: "ours", Shards: 1, Replicas: 1}))

	// Remote: written by someone else, higher version, knows s3 and has
	// keyspace "theirs".
	remote := topology.New("dc1")
	remote.Version = 10
	remote.Stores["s1"] = &topology.Store{ID: "s1", Addr: "127.0.0.1:1", Healthy: false}
	remote.Stores["s3"] = &topology.Store{ID: "s3", Addr: "127.0.0.1:3", Healthy: true}
	remote.Keyspaces["theirs"] = &topology.Keyspace{Name: "theirs", Shards: 1, Replicas: 1, Placement: [][]string{{"s3"}}}

	require.NoError(t, ours.Rebase(remote, t0+dead/2))
	got := ours.Topology()
	require.EqualValues(t, 11, got.Version, "differs from remote: one past it")
	require.Equal(t, []string{"theirs"}, got.KeyspaceNames())
	require.Equal(t, []string{"s1", "s2", "s3"}, got.StoreIDs())
	require.True(t, got.Stores["s1"].Healthy, "our view of a store we hear wins")
	require.Equal(t, hb("s1").Addr, got.Stores["s1"].Addr)
	require.True(t, got.Stores["s3"].Healthy)

	// The operation is re-applied on top.
	require.NoError(t, ours.CreateKeyspace(topology.CreateKeyspaceRequest{Name: "ours", Shards: 1, Replicas: 1}))
	require.EqualValues(t, 12, ours.Version())

	// s3 was adopted as last heard at the rebase: it dies DeadAfter later.
	ours.OnHeartbeat(hb("s1"), t0+dead)
	ours.OnHeartbeat(hb("s2"), t0+dead)
	require.False(t, ours.Tick(t0+dead/2+dead-1))
	require.True(t, ours.Tick(t0+dead/2+dead))
	require.False(t, ours.Topology().Stores["s3"].Healthy)

	// Rebasing on exactly what we have at a higher version adopts it.
	same := ours.Topology()
	same.Version = 50
	require.NoError(t, ours.Rebase(same, t0))
	require.EqualValues(t, 50, ours.Version())

	// A lower remote version never lowers ours.
	older := ours.Topology()
	older.Version = 3
	delete(older.Keyspaces, "ours")
	require.NoError(t, ours.Rebase(older, t0))
	require.EqualValues(t, 50, ours.Version())
	require.Equal(t, []string{"theirs"}, ours.Topology().KeyspaceNames())

	// Another DC or a corrupt document changes nothing.
	before := ours.Topology()
	require.ErrorIs(t, ours.Rebase(topology.New("dc2"), t0), topology.ErrCorrupt)
	require.ErrorIs(t, ours.Rebase(nil, t0), topology.ErrCorrupt)
	require.Equal(t, before, ours.Topology())
}

func TestEventsBounded(t *testing.T) {
	s := newTestState(t)
	for i := 0; i < maxEvents+10; i++ {
		s.OnHeartbeat(hb(fmt.Sprintf("s%d", i)), t0)
	}
	ev := s.takeEvents()
	require.Len(t, ev, maxEvents)
	require.Equal(t, "s10", ev[0].store)
	require.Empty(t, s.takeEvents())
}

// TestCreateKeyspaceAck: the default acknowledgement level is kept in the
// topology; an unknown one is refused and creates nothing.
func TestCreateKeyspaceAck(t *testing.T) {
	s := newTestState(t)
	beatAll(s, 2, t0)
	err := s.CreateKeyspace(topology.CreateKeyspaceRequest{Name: "bad", Shards: 1, Replicas: 1, Ack: "everywhere"})
	require.ErrorIs(t, err, ErrInvalidRequest)
	require.Empty(t, s.Topology().Keyspaces)
	require.NoError(t, s.CreateKeyspace(topology.CreateKeyspaceRequest{Name: "safe", Shards: 1, Replicas: 2, Ack: wire.AckPublished}))
	require.Equal(t, wire.AckPublished, s.Topology().Keyspaces["safe"].Ack)
}
