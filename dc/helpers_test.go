package dc

import (
	"context"
	"testing"

	"github.com/hashicorp/go-hclog"
	"github.com/stretchr/testify/require"

	"github.com/vasto-kv/vasto/internal/storetest"
	"github.com/vasto-kv/vasto/lww"
	"github.com/vasto-kv/vasto/server"
	"github.com/vasto-kv/vasto/store"
)

// testLogger routes logs to t.Log.
func testLogger(t testing.TB) hclog.Logger { return storetest.Logger(t) }

// baseTime is an arbitrary fixed wall-clock time for tests.
const baseTime = storetest.BaseTime

// testEngine opens an engine in a temp dir with a manual clock; cb may
// adjust the config. The engine is closed when the test ends.
func testEngine(t testing.TB, cb func(*store.Config)) (*store.Engine, *lww.ManualClock) {
	t.Helper()
	return storetest.Engine(t, cb)
}

func rec(t int64, dc, node, value string) lww.Record {
	return lww.Record{Version: lww.Version{Time: t, DC: dc, Node: node}, Kind: lww.KindValue, Value: []byte(value)}
}

// startRESPServer starts a RESP server serving e on a random loopback port
// and shuts it down when the test ends.
func startRESPServer(t testing.TB, e *store.Engine) *server.Server {
	t.Helper()
	srv, err := server.New(server.DefaultConfig("127.0.0.1:0", e))
	require.NoError(t, err)
	require.NoError(t, srv.Start(context.Background()))
	t.Cleanup(func() { require.NoError(t, srv.Shutdown(context.Background())) })
	return srv
}
