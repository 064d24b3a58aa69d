package server

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/vasto-kv/vasto/lww"
	"github.com/vasto-kv/vasto/wire"
)

func encodeRecord(t *testing.T, r lww.Record) string {
	t.Helper()
	b, err := lww.AppendRecord(nil, r)
	require.NoError(t, err)
	return string(b)
}

func TestServerVIngestKeepsVersionsAndLWW(t *testing.T) {
	srv, _ := testServer(t, nil)
	rc := testClient(t, srv)
	ctx := context.Background()
	old := lww.Version{Time: baseTime - 2000, DC: "dcx", Node: "s9"}
	newer := lww.Version{Time: baseTime - 1000, DC: "dcx", Node: "s9"}

	// A newer write already held is kept; the other records go in with
	// their versions, tombstones included.
	require.NoError(t, rc.Do(ctx, "VSET", "b", "live", "EVENTTIME", baseTime-500).Err())
	res, err := rc.Do(ctx, "VINGEST",
		"a", encodeRecord(t, lww.Record{Version: old, Kind: lww.KindValue, Value: []byte("va")}),
		"b", encodeRecord(t, lww.Record{Version: newer, Kind: lww.KindValue, Value: []byte("stale")}),
		"c", encodeRecord(t, lww.Record{Version: newer, Kind: lww.KindTombstone}),
	).Slice()
	require.NoError(t, err)
	require.Equal(t, []any{int64(2), int64(1)}, res)

	dump, err := rc.Do(ctx, "VDUMP").Slice()
	require.NoError(t, err)
	changes, err := decodeDump(dump)
	require.NoError(t, err)
	require.Len(t, changes, 3)
	require.Equal(t, old, changes[0].Record.Version)
	require.Equal(t, "va", string(changes[0].Record.Value))
	require.Equal(t, "live", string(changes[1].Record.Value))
	require.True(t, changes[2].Record.IsTombstone())
	require.Equal(t, newer, changes[2].Record.Version)

	// Again: nothing changes.
	res, err = rc.Do(ctx, "VINGEST",
		"a", encodeRecord(t, lww.Record{Version: old, Kind: lww.KindValue, Value: []byte("va")})).Slice()
	require.NoError(t, err)
	require.Equal(t, []any{int64(0), int64(1)}, res)
}

func TestServerVIngestRefusesBadInput(t *testing.T) {
	srv, _ := testServer(t, nil)
	rc := testClient(t, srv)
	ctx := context.Background()
	rec := encodeRecord(t, lww.Record{Version: lww.Version{Time: baseTime - 1000, DC: "d", Node: "n"}, Kind: lww.KindValue, Value: []byte("v")})
	for _, args := range [][]any{
		{"VINGEST", "a"},
		{"VINGEST", "a", "not a record"},
		{"VINGEST", "b", rec, "a", rec},
		{"VINGEST", "a", rec, "a", rec},
	} {
		err := rc.Do(ctx, args...).Err()
		require.Error(t, err, "%v", args)
		require.Equal(t, wire.CodeErr, code(err), "%v: %v", args, err)
	}
	n, err := rc.DBSize(ctx).Result()
	require.NoError(t, err)
	require.Zero(t, n)
}

func TestServerVDumpSnapshot(t *testing.T) {
	srv, _ := testServer(t, nil)
	rc := testClient(t, srv)
	ctx := context.Background()
	for i := 0; i < 30; i++ {
		require.NoError(t, rc.Set(ctx, fmt.Sprintf("k%02d", i), "old", 0).Err())
	}
	res, err := rc.Do(ctx, "VSNAPSHOT").Slice()
	require.NoError(t, err)
	require.Len(t, res, 2)
	id := res[0].(int64)
	require.Positive(t, res[1].(int64))
	for i := 0; i < 30; i += 3 {
		require.NoError(t, rc.Set(ctx, fmt.Sprintf("k%02d", i), "new", 0).Err())
	}
	require.NoError(t, rc.Set(ctx, "k99", "new", 0).Err())

	var n int
	start := ""
	for {
		args := []any{"VDUMP", "LIMIT", 7, "SNAPSHOT", id}
		if start != "" {
			args = append(args, "START", start)
		}
		page, err := rc.Do(ctx, args...).Slice()
		require.NoError(t, err)
		changes, err := decodeDump(page)
		require.NoError(t, err)
		for _, ch := range changes {
			require.Equal(t, "old", string(ch.Record.Value), string(ch.Key))
			n++
		}
		if page[0] == nil {
			break
		}
		start = page[0].(string)
	}
	require.Equal(t, 30, n)
	// The last page released it.
	require.Equal(t, wire.CodeErr, code(rc.Do(ctx, "VDUMP", "SNAPSHOT", id).Err()))
	require.Equal(t, int64(0), rc.Do(ctx, "VSNAPSHOT", "RELEASE", id).Val())

	res, err = rc.Do(ctx, "VSNAPSHOT").Slice()
	require.NoError(t, err)
	require.Equal(t, int64(1), rc.Do(ctx, "VSNAPSHOT", "RELEASE", res[0]).Val())
	require.Equal(t, wire.CodeErr, code(rc.Do(ctx, "VSNAPSHOT", "NOPE").Err()))
}

func TestServerSnapshotsBoundedAndExpire(t *testing.T) {
	srv, e := testServer(t, nil)
	rc := testClient(t, srv)
	ctx := context.Background()
	clock, ok := e.Config().Clock.(*lww.ManualClock)
	require.True(t, ok)
	var first int64
	for i := 0; i < maxSnapshots; i++ {
		res, err := rc.Do(ctx, "VSNAPSHOT").Slice()
		require.NoError(t, err)
		if i == 0 {
			first = res[0].(int64)
		}
	}
	require.Equal(t, wire.CodeErr, code(rc.Do(ctx, "VSNAPSHOT").Err()))

	// Idle ones are released when the next is taken.
	clock.Advance(snapshotIdle + time.Second)
	_, err := rc.Do(ctx, "VSNAPSHOT").Slice()
	require.NoError(t, err)
	require.Equal(t, wire.CodeErr, code(rc.Do(ctx, "VDUMP", "SNAPSHOT", first).Err()))
	require.Equal(t, int64(0), rc.Do(ctx, "VSNAPSHOT", "RELEASE", first).Val())
}
