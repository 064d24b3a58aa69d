package store

import (
	"testing"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"
)

// testServer starts a store server on a random loopback port over a fresh
// engine holding the default keyspace, and stops it when the test ends.
func testServer(t testing.TB) (RESPServer, *Engine) {
	t.Helper()
	e, _ := testEngine(t, nil)
	_, err := e.CreateShard(defaultKeyspace, 0)
	require.NoError(t, err)
	return StartRESPServer(t, e), e
}

// testClient returns a go-redis client of the server, closed at the end.
func testClient(t testing.TB, srv RESPServer) *redis.Client {
	t.Helper()
	rc := redis.NewClient(&redis.Options{Addr: srv.Addr().String(), Protocol: 2, DisableIdentity: true, PoolSize: 4})
	t.Cleanup(func() { _ = rc.Close() })
	return rc
}

// defaultKeyspace is the keyspace a connection uses until it selects
// another (server.DefaultKeyspace).
const defaultKeyspace = "default"
