package replica

import (
	"testing"

	"github.com/hashicorp/go-hclog"
	"github.com/stretchr/testify/require"

	"github.com/vasto-kv/vasto/internal/storetest"
	"github.com/vasto-kv/vasto/lww"
	"github.com/vasto-kv/vasto/store"
)

// testLogger routes logs to t.Log.
func testLogger(t testing.TB) hclog.Logger { return storetest.Logger(t) }

// testEngine opens an engine in a temp dir with a manual clock; cb may
// adjust the config. The engine is closed when the test ends.
func testEngine(t testing.TB, cb func(*store.Config)) (*store.Engine, *lww.ManualClock) {
	t.Helper()
	return storetest.Engine(t, cb)
}

// testShard returns shard 0 of keyspace "ks" on a fresh engine.
func testShard(t testing.TB, cb func(*store.Config)) (*store.Shard, *lww.ManualClock) {
	t.Helper()
	e, clock := testEngine(t, cb)
	s, err := e.CreateShard("ks", 0)
	require.NoError(t, err)
	return s, clock
}
