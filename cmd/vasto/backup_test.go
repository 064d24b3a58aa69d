package main

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/stretchr/testify/require"

	"github.com/vasto-kv/vasto/internal/devcluster"
)

func TestCLIBackupRestore(t *testing.T) {
	startCLIDC(t, 120*time.Second, func(cfg *devcluster.Config) { cfg.Logger = hclog.NewNullLogger() })
	createAndPut(t, "cb", "2", "2", "k1", "v1")
	code, _, errs := vasto(t, "put", "cb", "k2", "v2", "--event-time", "1700000000000000000")
	require.Equal(t, 0, code, errs)
	dir := filepath.Join(t.TempDir(), "b")

	code, _, errs = vasto(t, "backup", "cb")
	require.Equal(t, 2, code, errs)
	code, out, errs := vasto(t, "backup", "cb", "--to", dir)
	require.Equal(t, 0, code, errs)
	require.Contains(t, out, "backup of keyspace cb")
	require.Contains(t, out, "2 shards, 2 records")
	require.Contains(t, errs, "backup: shards 2/2")

	code, out, errs = vasto(t, "restore", dir, "--check")
	require.Equal(t, 0, code, errs)
	require.Contains(t, out, "every file checks")

	code, _, errs = vasto(t, "keyspace", "delete", "cb")
	require.Equal(t, 0, code, errs)
	require.Eventually(t, func() bool {
		code, _, _ := vasto(t, "keyspace", "describe", "cb")
		return code != 0
	}, 20*time.Second, 100*time.Millisecond)
	code, out, errs = vasto(t, "restore", dir, "--replicas", "2", "--shards", "3")
	require.Equal(t, 0, code, errs)
	require.Contains(t, out, "into new keyspace cb (3 shards): 2 records")
	require.Contains(t, out, "verified live record counts: 6/6 replicas match the backup")
	code, out, errs = vasto(t, "get", "cb", "k2", "-v")
	require.Equal(t, 0, code, errs)
	require.Contains(t, out, "v2")
	require.Contains(t, out, "1700000000000000000")

	// Again into the same keyspace: allowed, said, nothing written.
	code, out, errs = vasto(t, "restore", dir)
	require.Equal(t, 0, code, errs)
	require.Contains(t, out, "0 written")
	require.Contains(t, out, "note: keyspace cb held 2 live records before")

	// A corrupt file: refused, nothing created.
	f := filepath.Join(dir, "shard-00000.vbk")
	b, err := os.ReadFile(f)
	require.NoError(t, err)
	b[len(b)-1] ^= 0xff
	require.NoError(t, os.WriteFile(f, b, 0o600))
	code, _, errs = vasto(t, "restore", dir, "--keyspace", "cb2")
	require.Equal(t, 1, code)
	require.Contains(t, errs, "corrupt shard file")
	code, _, _ = vasto(t, "keyspace", "describe", "cb2")
	require.NotEqual(t, 0, code)
}
