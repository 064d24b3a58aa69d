package server

import (
	"context"
	"testing"

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
