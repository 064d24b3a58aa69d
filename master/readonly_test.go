package master

import (
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/vasto-kv/vasto/topology"
)

// TestHeartbeatReadOnlyShardsReachTheTopology: the read-only shards a store
// reports are copied into its topology entry (a change of the topology),
// kept while it keeps reporting them, and dropped once it stops.
func TestHeartbeatReadOnlyShardsReachTheTopology(t *testing.T) {
	s := newTestState(t)
	beat := hb("s1", "ks/0", "ks/1")
	require.True(t, s.OnHeartbeat(beat, t0))
	v := s.Version()

	why := "IO error: No space left on device: While appending to file: 000009.log"
	beat.ReadOnly = map[string]string{"ks/1": why}
	require.True(t, s.OnHeartbeat(beat, t0+1))
	require.Equal(t, v+1, s.Version())
	st := s.Topology().Stores["s1"]
	require.Equal(t, map[string]string{"ks/1": why}, st.ReadOnly)
	require.Equal(t, []string{"ks/0", "ks/1"}, st.Serving, "a read-only shard still serves reads")
	require.Equal(t, map[string]string{"ks/1": why}, s.Stores().Stores[0].ReadOnly)

	// Copies are deep.
	st.ReadOnly["ks/0"] = "x"
	require.Len(t, s.Topology().Stores["s1"].ReadOnly, 1)

	// The same report again changes nothing.
	beat.ReadOnly = map[string]string{"ks/1": why}
	require.False(t, s.OnHeartbeat(beat, t0+2))
	require.Equal(t, v+1, s.Version())

	// The topology survives encoding.
	top, err := topology.Decode(mustEncode(t, s.Topology()))
	require.NoError(t, err)
	require.Equal(t, why, top.Stores["s1"].ReadOnly["ks/1"])

	// Writable again.
	beat.ReadOnly = nil
	require.True(t, s.OnHeartbeat(beat, t0+3))
	require.Nil(t, s.Topology().Stores["s1"].ReadOnly)

	// A store that joins read-only is registered so; long reasons are cut.
	long := strings.Repeat("r", topology.MaxReadOnlyReason+100)
	require.True(t, s.OnHeartbeat(topology.Heartbeat{Store: "s2", Addr: "127.0.0.1:7100", ReadOnly: map[string]string{"ks/0": long}}, t0+4))
	require.Equal(t, long[:topology.MaxReadOnlyReason], s.Topology().Stores["s2"].ReadOnly["ks/0"])
}

func TestHeartbeatReadOnlyEntriesAreChecked(t *testing.T) {
	ok := topology.Heartbeat{Store: "s1", Addr: "127.0.0.1:7001", ReadOnly: map[string]string{"ks/0": "why"}}
	require.NoError(t, CheckHeartbeat(ok))
	for _, bad := range []string{"ks", "ks/x", "ks/01", "a.b/0", "ks/1024", ""} {
		h := ok
		h.ReadOnly = map[string]string{bad: "why"}
		require.ErrorIs(t, CheckHeartbeat(h), ErrBadHeartbeat, bad)
	}
	h := ok
	h.ReadOnly = map[string]string{}
	for i := 0; i <= MaxServing; i++ {
		h.ReadOnly[fmt.Sprintf("ks%d/0", i)] = "why"
	}
	require.ErrorIs(t, CheckHeartbeat(h), ErrBadHeartbeat)

	s := newTestState(t)
	h = ok
	h.ReadOnly = map[string]string{"bad": "why"}
	require.False(t, s.OnHeartbeat(h, t0), "a heartbeat with a bad entry is ignored")
	require.Empty(t, s.Topology().Stores)
}

func mustEncode(t *testing.T, top *topology.Topology) []byte {
	t.Helper()
	b, err := top.Encode()
	require.NoError(t, err)
	return b
}
