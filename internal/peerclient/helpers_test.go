package peerclient_test

import (
	"context"
	"testing"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"

	"github.com/vasto-kv/vasto/server"
	"github.com/vasto-kv/vasto/store"
)

// testServer starts a store server on a random loopback port over a fresh
// engine holding the default keyspace, and stops it when the test ends.
func testServer(t testing.TB) *server.Server {
	t.Helper()
	cfg := store.DefaultConfig(t.TempDir())
	cfg.BlockCacheBytes = 8 << 20
	cfg.WriteBufferBytes = 4 << 20
	e, err := store.Open(cfg)
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, e.Close()) })
	_, err = e.CreateShard(server.DefaultKeyspace, 0)
	require.NoError(t, err)
	srv, err := server.New(server.DefaultConfig("127.0.0.1:0", e))
	require.NoError(t, err)
	require.NoError(t, srv.Start(context.Background()))
	t.Cleanup(func() { require.NoError(t, srv.Shutdown(context.Background())) })
	return srv
}

// testClient returns a go-redis client of the server, closed at the end.
func testClient(t testing.TB, srv *server.Server) *redis.Client {
	t.Helper()
	rc := redis.NewClient(&redis.Options{Addr: srv.Addr().String(), Protocol: 2, DisableIdentity: true, PoolSize: 4})
	t.Cleanup(func() { _ = rc.Close() })
	return rc
}
