package server

import (
	"context"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"

	"github.com/vasto-kv/vasto/store"
)

// testServer starts a store server on a random loopback port over a fresh
// engine holding the default keyspace, and stops it when the test ends.
func testServer(t testing.TB, cb func(*Config)) (*Server, *store.Engine) {
	t.Helper()
	e, _ := testEngine(t, nil)
	_, err := e.CreateShard(DefaultKeyspace, 0)
	require.NoError(t, err)
	cfg := DefaultConfig("127.0.0.1:0", e)
	cfg.Logger = testLogger(t)
	if cb != nil {
		cb(&cfg)
	}
	srv, err := New(cfg)
	require.NoError(t, err)
	require.NoError(t, srv.Start(context.Background()))
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		require.NoError(t, srv.Shutdown(ctx))
	})
	return srv, e
}

// testClient returns a go-redis client of the server, closed at the end.
func testClient(t testing.TB, srv *Server) *redis.Client {
	t.Helper()
	rc := redis.NewClient(&redis.Options{Addr: srv.Addr().String(), Protocol: 2, DisableIdentity: true, PoolSize: 4})
	t.Cleanup(func() { _ = rc.Close() })
	return rc
}
