package store_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/vasto-kv/vasto/server"
	"github.com/vasto-kv/vasto/store"
)

func init() {
	store.StartRESPServer = func(t testing.TB, e *store.Engine) store.RESPServer {
		t.Helper()
		srv, err := server.New(server.DefaultConfig("127.0.0.1:0", e))
		require.NoError(t, err)
		require.NoError(t, srv.Start(context.Background()))
		t.Cleanup(func() { require.NoError(t, srv.Shutdown(context.Background())) })
		return srv
	}
}
