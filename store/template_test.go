package store

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestShardsStartFromTheTemplate: new shards are copies of the engine's
// empty template database, each its own database (its own identity), that
// take writes and keep them across a reopen; a copy left half-done by a
// crash is removed at open and does not stop the shard being created.
func TestShardsStartFromTheTemplate(t *testing.T) {
	cfg := DefaultConfig(t.TempDir())
	cfg.Logger = testLogger(t)
	cfg.BlockCacheBytes = 8 << 20
	e, err := Open(cfg)
	require.NoError(t, err)
	a, err := e.CreateShard("ks", 0)
	require.NoError(t, err)
	b, err := e.CreateShard("ks", 1)
	require.NoError(t, err)
	require.DirExists(t, filepath.Join(cfg.Dir, templateDir))

	idA, err := os.ReadFile(filepath.Join(a.Dir(), "IDENTITY"))
	require.NoError(t, err)
	idB, err := os.ReadFile(filepath.Join(b.Dir(), "IDENTITY"))
	require.NoError(t, err)
	require.NotEmpty(t, idA)
	require.NotEqual(t, string(idA), string(idB), "two shards share a database identity")

	ctx := context.Background()
	_, err = a.Put(ctx, []byte("k"), []byte("a"))
	require.NoError(t, err)
	_, err = b.Put(ctx, []byte("k"), []byte("b"))
	require.NoError(t, err)
	require.NoError(t, e.Close())

	// A crash in the middle of copying the template for ks/2.
	half := filepath.Join(cfg.Dir, "ks", "2"+cloneSuffix)
	require.NoError(t, os.MkdirAll(half, 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(half, "CURRENT"), nil, 0o644))

	e, err = Open(cfg)
	require.NoError(t, err)
	defer func() { require.NoError(t, e.Close()) }()
	require.Equal(t, []ShardID{{"ks", 0}, {"ks", 1}}, e.Shards())
	require.NoDirExists(t, half)
	for shard, want := range map[uint32]string{0: "a", 1: "b"} {
		s, err := e.Shard("ks", shard)
		require.NoError(t, err)
		r, err := s.Get([]byte("k"))
		require.NoError(t, err)
		require.Equal(t, want, string(r.Value))
	}
	c, err := e.CreateShard("ks", 2)
	require.NoError(t, err)
	_, err = c.Get([]byte("k"))
	require.ErrorIs(t, err, ErrNotFound)
}
