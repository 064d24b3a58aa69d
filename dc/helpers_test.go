package dc

import (
	"context"
	"testing"

	"github.com/hashicorp/go-hclog"
	"github.com/stretchr/testify/require"

	"github.com/vasto-kv/vasto/lww"
	"github.com/vasto-kv/vasto/server"
	"github.com/vasto-kv/vasto/store"
)

// testLogger routes logs to t.Log.
func testLogger(t testing.TB) hclog.Logger {
	return hclog.New(&hclog.LoggerOptions{
		Name:   t.Name(),
		Level:  hclog.Debug,
		Output: testWriter{t},
	})
}

type testWriter struct{ t testing.TB }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Helper()
	w.t.Log(string(p))
	return len(p), nil
}

// baseTime is an arbitrary fixed wall-clock time for tests.
const baseTime = int64(1_700_000_000_000_000_000)

// testEngine opens an engine in a temp dir with a manual clock; cb may
// adjust the config. The engine is closed when the test ends.
func testEngine(t testing.TB, cb func(*store.Config)) (*store.Engine, *lww.ManualClock) {
	t.Helper()
	clock := lww.NewManualClock(baseTime)
	cfg := store.DefaultConfig(t.TempDir())
	cfg.Clock = clock
	cfg.Logger = testLogger(t)
	cfg.BlockCacheBytes = 8 << 20
	cfg.WriteBufferBytes = 4 << 20
	if cb != nil {
		cb(&cfg)
	}
	e, err := store.Open(cfg)
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, e.Close()) })
	return e, clock
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
