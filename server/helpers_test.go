package server

import (
	"fmt"
	"testing"

	"github.com/hashicorp/go-hclog"

	"github.com/vasto-kv/vasto/internal/storetest"
	"github.com/vasto-kv/vasto/lww"
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

// keysOf returns n keys named prefix<i> that o owns (want) or does not.
func keysOf(o store.Owner, want bool, prefix string, n int) [][]byte {
	var keys [][]byte
	for i := 0; len(keys) < n; i++ {
		k := []byte(fmt.Sprintf("%s%d", prefix, i))
		if o.Owns(k) == want {
			keys = append(keys, k)
		}
	}
	return keys
}

// decodeDump turns a VDUMP reply read with go-redis into changes.
func decodeDump(res []any) ([]lww.Change, error) {
	if len(res) != 2 {
		return nil, fmt.Errorf("%w: VDUMP reply of %d elements", store.ErrCorrupt, len(res))
	}
	flat, ok := res[1].([]any)
	if !ok || len(flat)%2 != 0 {
		return nil, fmt.Errorf("%w: VDUMP entries", store.ErrCorrupt)
	}
	out := make([]lww.Change, 0, len(flat)/2)
	for i := 0; i < len(flat); i += 2 {
		k, _ := flat[i].(string)
		v, _ := flat[i+1].(string)
		rec, err := lww.DecodeRecord([]byte(v))
		if err != nil {
			return nil, fmt.Errorf("%w: VDUMP record of %q: %w", store.ErrCorrupt, k, err)
		}
		out = append(out, lww.Change{Key: []byte(k), Record: rec})
	}
	return out, nil
}
