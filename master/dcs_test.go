package master

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/vasto-kv/vasto/bus"
	"github.com/vasto-kv/vasto/topology"
)

func hbRemote(store string, remotes ...string) topology.Heartbeat {
	b := hb(store)
	b.RemoteDCs = remotes
	return b
}

func TestAddDCSeedsFromHeartbeats(t *testing.T) {
	s := newTestState(t)
	s.OnHeartbeat(hbRemote("s1", "dc2"), t0)
	s.OnHeartbeat(hbRemote("s2", "dc3", "dc1", "bad.name"), t0)
	require.Equal(t, []string{"dc2", "dc3"}, s.ListDCs().RemoteDCs, "the union of the reports, without the local DC or bad names")
	require.False(t, s.ListDCs().Managed)

	// A healthy store not heard from since the start: busy, nothing changes.
	s2, err := NewState(s.Topology(), t0)
	require.NoError(t, err)
	v := s2.Version()
	require.ErrorIs(t, s2.AddDC("dc4"), ErrBusy)
	require.ErrorIs(t, s2.RemoveDC("dc2"), ErrBusy)
	require.Equal(t, v, s2.Version())
	require.False(t, s2.Topology().RemoteDCsManaged)
	s2.OnHeartbeat(hbRemote("s1", "dc2"), t0+1)
	require.ErrorIs(t, s2.AddDC("dc4"), ErrBusy, "s2 still silent")
	s2.OnHeartbeat(hbRemote("s2", "dc3"), t0+1)

	require.NoError(t, s2.AddDC("dc4"))
	top := s2.Topology()
	require.True(t, top.RemoteDCsManaged)
	require.Equal(t, []string{"dc2", "dc3", "dc4"}, top.RemoteDCs)
	require.Equal(t, v+1, top.Version)

	// Managed: the stores' reports no longer matter.
	s2.OnHeartbeat(hbRemote("s1", "dc9"), t0+2)
	require.Equal(t, []string{"dc2", "dc3", "dc4"}, s2.ListDCs().RemoteDCs)
	require.True(t, s2.ListDCs().Managed)
	require.Equal(t, []string{"dc9"}, s2.ListDCs().Reported["s1"])
}

func TestSeedSkipsStoresThatAreDown(t *testing.T) {
	s := newTestState(t)
	s.OnHeartbeat(hbRemote("s1", "dc2"), t0)
	s.OnHeartbeat(hbRemote("s2"), t0)
	s2, err := NewState(s.Topology(), t0)
	require.NoError(t, err)
	s2.OnHeartbeat(hbRemote("s1", "dc2"), t0+dead/2)
	s2.Tick(t0 + dead + 1) // s2 silent: down
	require.False(t, s2.Topology().Stores["s2"].Healthy)
	require.NoError(t, s2.RemoveDC("dc2"))
	top := s2.Topology()
	require.True(t, top.RemoteDCsManaged)
	require.Empty(t, top.RemoteDCs, "managed and empty: no remote DC")
}

func TestAddRemoveDCRefusals(t *testing.T) {
	s := newTestState(t)
	s.OnHeartbeat(hbRemote("s1", "dc2"), t0)
	v := s.Version()
	require.ErrorIs(t, s.AddDC("dc1"), ErrInvalidRequest, "the local DC")
	require.ErrorIs(t, s.AddDC("dc2.>"), topology.ErrBadName)
	require.ErrorIs(t, s.AddDC(""), topology.ErrBadName)
	require.ErrorIs(t, s.AddDC("dc2"), ErrDCExists, "seeded from the reports")
	require.ErrorIs(t, s.RemoveDC("dc3"), ErrNotFound)
	require.ErrorIs(t, s.RemoveDC("dc1"), ErrInvalidRequest)
	require.Equal(t, v, s.Version(), "nothing changed")
	require.False(t, s.Topology().RemoteDCsManaged)

	require.NoError(t, s.RemoveDC("dc2"))
	require.ErrorIs(t, s.RemoveDC("dc2"), ErrNotFound)
	require.NoError(t, s.AddDC("dc3"))
	require.NoError(t, s.AddDC("dc2"))
	require.Equal(t, []string{"dc2", "dc3"}, s.Topology().RemoteDCs, "sorted")
}

func TestRemoteDCsSurviveRebaseAndReload(t *testing.T) {
	s := newTestState(t)
	s.OnHeartbeat(hbRemote("s1"), t0)
	require.NoError(t, s.AddDC("dc2"))
	top := s.Topology()
	s2, err := NewState(top, t0)
	require.NoError(t, err)
	require.Equal(t, []string{"dc2"}, s2.Topology().RemoteDCs)
	require.True(t, s2.Topology().RemoteDCsManaged)

	other := newTestState(t)
	other.OnHeartbeat(hbRemote("s1"), t0)
	require.NoError(t, other.Rebase(top, t0))
	require.Equal(t, []string{"dc2"}, other.Topology().RemoteDCs)

	bad := top.Clone()
	bad.RemoteDCs = []string{"dc1"}
	_, err = NewState(bad, t0)
	require.ErrorIs(t, err, topology.ErrCorrupt)
}

// TestDCOpsOverTheBus asks a running master: dc-list, refusals with their
// codes, BUSY until the stores beat, remove, and a DC that cannot be reached
// is refused.
func TestDCOpsOverTheBus(t *testing.T) {
	_, conn := testBus(t)
	m := startMaster(t, conn)
	subject, err := bus.HeartbeatSubject(testDC)
	require.NoError(t, err)
	beat := func(id string, seq uint64, remotes ...string) {
		b, err := json.Marshal(topology.Heartbeat{Store: id, Addr: "127.0.0.1:7101", Seq: seq, RemoteDCs: remotes})
		require.NoError(t, err)
		require.NoError(t, conn.Publish(subject, b))
	}
	beat("s1", 1, "dc2", "dc3")
	waitStores(t, m, "s1")

	list := requestOK[topology.DCListReply](t, conn, topology.OpListDCs, nil)
	require.Equal(t, []string{"dc2", "dc3"}, list.RemoteDCs)
	require.False(t, list.Managed)
	require.Equal(t, testDC, list.DC)

	_, err = request(t, conn, topology.OpAddDC, topology.DCRequest{Name: testDC})
	requireCode(t, err, topology.CodeInvalid)
	_, err = request(t, conn, topology.OpAddDC, topology.DCRequest{Name: "dc2.*"})
	requireCode(t, err, topology.CodeBadName)
	_, err = request(t, conn, topology.OpAddDC, topology.DCRequest{Name: "nosuchdc"})
	requireCode(t, err, topology.CodeNotFound)
	_, err = request(t, conn, topology.OpAddDC, topology.DCRequest{Name: "dc2"})
	requireCode(t, err, topology.CodeExists) // listed by the stores, checked before the link
	_, err = request(t, conn, topology.OpRemoveDC, topology.DCRequest{Name: "dc9"})
	requireCode(t, err, topology.CodeNotFound)
	_, err = request(t, conn, topology.OpRemoveDC, []byte("{"))
	requireCode(t, err, topology.CodeInvalid)
	require.False(t, m.Topology().RemoteDCsManaged, "nothing changed")

	rm := requestOK[topology.DCListReply](t, conn, topology.OpRemoveDC, topology.DCRequest{Name: "dc3"})
	require.Equal(t, []string{"dc2"}, rm.RemoteDCs)
	require.True(t, rm.Managed)
	require.Eventually(t, func() bool {
		top := m.Topology()
		return top.RemoteDCsManaged && len(top.RemoteDCs) == 1 && top.RemoteDCs[0] == "dc2"
	}, 5*time.Second, 5*time.Millisecond)
	_, err = request(t, conn, topology.OpRemoveDC, topology.DCRequest{Name: "dc3"})
	requireCode(t, err, topology.CodeNotFound)
}

// TestDCChangeBusyUntilStoresBeat restarts the master: until every healthy
// store has beaten since, the first change of an unmanaged list is BUSY.
func TestDCChangeBusyUntilStoresBeat(t *testing.T) {
	_, conn := testBus(t)
	subject, err := bus.HeartbeatSubject(testDC)
	require.NoError(t, err)
	beat := func(id string, remotes ...string) {
		b, err := json.Marshal(topology.Heartbeat{Store: id, Addr: "127.0.0.1:7102", Seq: 1, RemoteDCs: remotes})
		require.NoError(t, err)
		require.NoError(t, conn.Publish(subject, b))
	}
	m := startMaster(t, conn)
	beat("s1", "dc2")
	waitStores(t, m, "s1")
	shutdown(t, m)

	m2 := startMaster(t, conn)
	require.True(t, hasStores(m2.Topology(), true, "s1"), "still healthy after the restart")
	_, err = request(t, conn, topology.OpRemoveDC, topology.DCRequest{Name: "dc2"})
	requireCode(t, err, topology.CodeBusy)
	beat("s1", "dc2")
	require.Eventually(t, func() bool {
		_, err := request(t, conn, topology.OpRemoveDC, topology.DCRequest{Name: "dc2"})
		return err == nil
	}, 5*time.Second, 20*time.Millisecond)
	require.True(t, m2.Topology().RemoteDCsManaged)
	require.Empty(t, m2.Topology().RemoteDCs)
}
