package storetest

import (
	"testing"

	"github.com/hashicorp/go-hclog"
	"github.com/stretchr/testify/require"

	"github.com/vasto-kv/vasto/lww"
	"github.com/vasto-kv/vasto/store"
)

// BaseTime is an arbitrary fixed wall-clock time for tests.
const BaseTime = int64(1_700_000_000_000_000_000)

// Logger routes logs to t.Log.
func Logger(t testing.TB) hclog.Logger {
	return hclog.New(&hclog.LoggerOptions{Name: t.Name(), Level: hclog.Debug, Output: writer{t}})
}

type writer struct{ t testing.TB }

func (w writer) Write(p []byte) (int, error) {
	w.t.Helper()
	w.t.Log(string(p))
	return len(p), nil
}

// Engine opens an engine in a temp dir with a manual clock at BaseTime;
// cb may adjust the config. The engine is closed when the test ends.
func Engine(t testing.TB, cb func(*store.Config)) (*store.Engine, *lww.ManualClock) {
	t.Helper()
	clock := lww.NewManualClock(BaseTime)
	cfg := store.DefaultConfig(t.TempDir())
	cfg.Clock = clock
	cfg.Logger = Logger(t)
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
