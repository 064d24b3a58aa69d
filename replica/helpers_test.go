package replica

import (
	"testing"

	"github.com/hashicorp/go-hclog"
	"github.com/stretchr/testify/require"

	"github.com/vasto-kv/vasto/lww"
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

// testShard returns shard 0 of keyspace "ks" on a fresh engine.
func testShard(t testing.TB, cb func(*store.Config)) (*store.Shard, *lww.ManualClock) {
	t.Helper()
	e, clock := testEngine(t, cb)
	s, err := e.CreateShard("ks", 0)
	require.NoError(t, err)
	return s, clock
}
