package topology

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestCheckRemoteDCs(t *testing.T) {
	require.NoError(t, CheckRemoteDCs("dc1", nil))
	require.NoError(t, CheckRemoteDCs("dc1", []string{"dc2", "dc3"}))
	for _, bad := range [][]string{
		{"dc1"},        // the local DC
		{"dc3", "dc2"}, // not sorted
		{"dc2", "dc2"}, // twice
	} {
		require.ErrorIs(t, CheckRemoteDCs("dc1", bad), ErrBadRemoteDCs, "%v", bad)
	}
	for _, inject := range []string{"dc2.>", "dc*", "", "dc 2", "a.b"} {
		require.ErrorIs(t, CheckRemoteDCs("dc1", []string{inject}), ErrBadName, "%q", inject)
	}
	many := make([]string, MaxRemoteDCs+1)
	for i := range many {
		many[i] = "d" + string(rune('a'+i/26)) + string(rune('a'+i%26))
	}
	require.ErrorIs(t, CheckRemoteDCs("dc1", many), ErrBadRemoteDCs)
}

func TestDecodeRejectsBadRemoteDCs(t *testing.T) {
	for _, doc := range []string{
		`{"dc":"dc1","version":1,"remote_dcs":["dc1"],"remote_dcs_managed":true}`,
		`{"dc":"dc1","version":1,"remote_dcs":["vasto.>"],"remote_dcs_managed":true}`,
		`{"dc":"dc1","version":1,"remote_dcs":["dc3","dc2"],"remote_dcs_managed":true}`,
	} {
		_, err := Decode([]byte(doc))
		require.ErrorIs(t, err, ErrCorrupt, doc)
	}
}

func TestRemotesFollowTheManagedList(t *testing.T) {
	configured := []string{"dc2"}
	var none *Topology
	require.Equal(t, configured, none.Remotes(configured), "no topology yet: the configuration")
	top := New("dc1")
	require.Equal(t, configured, top.Remotes(configured), "not managed: the configuration")
	top.RemoteDCsManaged = true
	require.Empty(t, top.Remotes(configured), "managed and empty: no remote DC, whatever the configuration")
	top.RemoteDCs = []string{"dc3"}
	got := top.Remotes(configured)
	require.Equal(t, []string{"dc3"}, got)
	got[0] = "x"
	require.Equal(t, []string{"dc3"}, top.RemoteDCs, "a copy")
}

// TestGoldenRemoteDCsDocument pins the topology document's encoding of the
// remote DCs: masters and stores of different versions read it.
func TestGoldenRemoteDCsDocument(t *testing.T) {
	path := filepath.Join("testdata", "remote_dcs.golden")
	top := New("dc1")
	top.Version = 7
	top.RemoteDCs = []string{"dc2", "dc3"}
	top.RemoteDCsManaged = true
	got, err := top.Encode()
	require.NoError(t, err)
	unmanaged, err := New("dc1").Encode()
	require.NoError(t, err)
	got = append(append(append(got, '\n'), unmanaged...), '\n')
	if os.Getenv("VASTO_UPDATE_GOLDEN") != "" {
		require.NoError(t, os.WriteFile(path, got, 0o644))
	}
	want, err := os.ReadFile(path)
	require.NoError(t, err)
	require.Equal(t, string(want), string(got))
	back, err := Decode(got[:len(got)-len(unmanaged)-2])
	require.NoError(t, err)
	require.Equal(t, top.RemoteDCs, back.RemoteDCs)
	require.True(t, back.RemoteDCsManaged)
}
