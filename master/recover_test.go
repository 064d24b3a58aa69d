package master

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/vasto-kv/vasto/topology"
)

// Tests of keyspace recovery from what the stores hold (recover.go).

// heldHB is a heartbeat of store holding the given shards.
func heldHB(store string, held ...topology.HeldShard) topology.Heartbeat {
	h := hb(store)
	h.Held, h.HeldFull = held, true
	return h
}

func held(ks string, shard uint32, epoch uint64, shards, replicas int) topology.HeldShard {
	return topology.HeldShard{Keyspace: ks, Shard: shard, Epoch: epoch, Shards: shards, Replicas: replicas}
}

// lostTopology is a state whose topology knows no keyspace while three
// stores hold keyspace "users" (3 shards x 2 replicas, epoch 42, shard 2
// added by a resize at epoch 57).
func lostTopology(t *testing.T, now int64) *State {
	t.Helper()
	s := newTestState(t)
	s.OnHeartbeat(heldHB("s1", held("users", 0, 42, 3, 2), held("users", 2, 57, 3, 2)), now)
	s.OnHeartbeat(heldHB("s2", held("users", 0, 42, 3, 2), held("users", 1, 42, 3, 2)), now)
	s.OnHeartbeat(heldHB("s3", held("users", 1, 42, 3, 2), held("users", 2, 57, 3, 2)), now)
	return s
}

func TestHeldShardsTheTopologyDoesNotKnowAreReported(t *testing.T) {
	s := lostTopology(t, t0)
	top := s.Topology()
	require.Equal(t, []string{"users/0@42", "users/2@57"}, top.Stores["s1"].Unplaced)
	require.Equal(t, []string{"users/0@42", "users/1@42"}, top.Stores["s2"].Unplaced)
	require.Empty(t, top.Keyspaces)
}

func TestRecoverKeepsIncarnationAndPlacement(t *testing.T) {
	s := lostTopology(t, t0)
	dry, err := s.Recover(topology.RecoverRequest{DryRun: true})
	require.NoError(t, err)
	require.Len(t, dry.Recovered, 1)
	require.Empty(t, s.Topology().Keyspaces, "a dry run changes nothing")

	v := s.Version()
	reply, err := s.Recover(topology.RecoverRequest{Names: []string{"users"}})
	require.NoError(t, err)
	require.Empty(t, reply.Refused)
	ks := ksOf(t, s, "users")
	require.Equal(t, 3, ks.Shards)
	require.Equal(t, 2, ks.Replicas)
	require.EqualValues(t, 42, ks.Epoch, "the keyspace keeps its incarnation")
	require.Equal(t, [][]string{{"s1", "s2"}, {"s2", "s3"}, {"s1", "s3"}}, ks.Placement)
	require.EqualValues(t, 57, ks.ShardEpoch(2), "a resized shard keeps its own epoch")
	require.EqualValues(t, 42, ks.ShardEpoch(1))
	require.Greater(t, s.Version(), max(v, 57), "later epochs are above every held one")
	require.Empty(t, s.Topology().Stores["s1"].Unplaced)

	// Recovering again finds nothing to do.
	again, err := s.Recover(topology.RecoverRequest{})
	require.NoError(t, err)
	require.Empty(t, again.Recovered)
}

func TestRecoverRefusesAnIncompleteKeyspace(t *testing.T) {
	s := newTestState(t)
	s.OnHeartbeat(heldHB("s1", held("users", 0, 42, 3, 2)), t0)
	reply, err := s.Recover(topology.RecoverRequest{Names: []string{"users", "nosuch"}})
	require.NoError(t, err)
	require.Empty(t, reply.Recovered)
	require.Contains(t, reply.Refused["users"], "shards 1,2 of 3 are held by no live store")
	require.Contains(t, reply.Refused["nosuch"], "no live store holds")
	require.Empty(t, s.Topology().Keyspaces)
}

func TestCreateRefusedWhileStoresHoldAnUnknownIncarnation(t *testing.T) {
	s := lostTopology(t, t0)
	err := s.CreateKeyspace(topology.CreateKeyspaceRequest{Name: "users", Shards: 3, Replicas: 2})
	require.ErrorIs(t, err, ErrKeyspaceExists)
	require.Contains(t, err.Error(), "vasto keyspace recover users")

	// Another name is fine, and its epoch is above every held one.
	require.NoError(t, s.CreateKeyspace(topology.CreateKeyspaceRequest{Name: "other", Shards: 1, Replicas: 1}))
	require.Greater(t, ksOf(t, s, "other").Epoch, uint64(57))

	// Discarding the held incarnations (both epochs) lets the name be
	// created again, as a new incarnation.
	require.ErrorIs(t, s.DiscardIncarnation("users", 0), ErrInvalidRequest)
	require.NoError(t, s.DiscardIncarnation("users", 42))
	require.NoError(t, s.DiscardIncarnation("users", 57))
	require.True(t, s.Topology().IsDeleted("users", 42))
	require.Empty(t, s.Topology().Stores["s1"].Unplaced, "a discarded incarnation is not reported")
	require.NoError(t, s.CreateKeyspace(topology.CreateKeyspaceRequest{Name: "users", Shards: 3, Replicas: 2}))
	require.NotContains(t, []uint64{42, 57}, ksOf(t, s, "users").Epoch)
	require.ErrorIs(t, s.DiscardIncarnation("users", ksOf(t, s, "users").Epoch), ErrInvalidRequest,
		"the placed incarnation is deleted with DeleteKeyspace")
}

func TestDeleteRecordsTheIncarnations(t *testing.T) {
	s := opsState(t, 2, topology.CreateKeyspaceRequest{Name: "ks", Shards: 2, Replicas: 2})
	epoch := ksOf(t, s, "ks").Epoch
	require.NoError(t, s.DeleteKeyspace("ks", t0))
	top := s.Topology()
	require.True(t, top.IsDeleted("ks", epoch))
	// The stores still report the shards until they drop them: they are
	// neither unplaced nor recoverable.
	s.OnHeartbeat(heldHB("s1", held("ks", 0, epoch, 2, 2), held("ks", 1, epoch, 2, 2)), t0+1)
	require.Empty(t, s.Topology().Stores["s1"].Unplaced)
	require.Empty(t, s.AutoRecover(t0+10*dead, dead))
	require.Empty(t, s.AutoRecover(t0+20*dead, dead))
	require.NoError(t, s.CreateKeyspace(topology.CreateKeyspaceRequest{Name: "ks", Shards: 2, Replicas: 2}))
}

func TestAutoRecoverWaitsForStableReports(t *testing.T) {
	s := lostTopology(t, t0)
	require.Nil(t, s.AutoRecover(t0, 2*dead), "first sight starts the wait")
	require.Nil(t, s.AutoRecover(t0+dead, 2*dead))
	// A report that changes what is held starts the wait again.
	s.OnHeartbeat(heldHB("s3", held("users", 1, 42, 3, 2), held("users", 2, 57, 3, 2), held("users", 0, 42, 3, 2)), t0+dead)
	require.Nil(t, s.AutoRecover(t0+dead+1, 2*dead))
	require.Nil(t, s.AutoRecover(t0+2*dead, 2*dead))
	got := s.AutoRecover(t0+3*dead+1, 2*dead)
	require.Len(t, got, 1)
	require.Equal(t, [][]string{{"s1", "s2", "s3"}, {"s2", "s3"}, {"s1", "s3"}}, ksOf(t, s, "users").Placement)
	require.Nil(t, s.AutoRecover(t0+10*dead, 2*dead))
}

func TestAutoRecoverLeavesAnotherIncarnationToTheOperator(t *testing.T) {
	s := opsState(t, 3, topology.CreateKeyspaceRequest{Name: "users", Shards: 1, Replicas: 1})
	s.OnHeartbeat(heldHB("s1", held("users", 0, 3, 1, 1)), t0+1)
	require.Equal(t, []string{"users/0@3"}, s.Topology().Stores["s1"].Unplaced)
	require.Nil(t, s.AutoRecover(t0+2, dead))
	require.Nil(t, s.AutoRecover(t0+10*dead, dead))
	reply, err := s.Recover(topology.RecoverRequest{Names: []string{"users"}})
	require.NoError(t, err)
	require.Contains(t, reply.Refused["users"], "another incarnation")
}

func TestHeldListKeptBetweenFullReports(t *testing.T) {
	s := lostTopology(t, t0)
	s.OnHeartbeat(hb("s1"), t0+1) // a heartbeat without the list
	require.Equal(t, []string{"users/0@42", "users/2@57"}, s.Topology().Stores["s1"].Unplaced)
	s.OnHeartbeat(heldHB("s1"), t0+2) // a full, empty list: s1 holds nothing now
	require.Empty(t, s.Topology().Stores["s1"].Unplaced)
}

func TestResumeGivesAFullDeadAfter(t *testing.T) {
	s := newTestState(t)
	beatAll(s, 2, t0)
	// The master was cut off for 5 s: heartbeats never reached it.
	s.Resume(t0 + 5*dead)
	require.False(t, s.Tick(t0+5*dead+dead/2), "no store is down for heartbeats the master could not get")
	require.True(t, s.Tick(t0+6*dead), "a store silent for a full dead-after after resuming is down")
}

func TestBadHeldShardsRejected(t *testing.T) {
	for _, h := range []topology.HeldShard{
		held("a.b", 0, 1, 1, 1),
		held("ks", topology.MaxShards, 1, 1, 1),
		held("ks", 0, 1, topology.MaxShards+1, 1),
		held("ks", 0, 1, 1, topology.MaxReplicas+1),
		held("ks", 0, 1, -1, 1),
	} {
		require.ErrorIs(t, CheckHeartbeat(heldHB("s1", h)), ErrBadHeartbeat, "%+v", h)
	}
}
